//! Bad input (issue 15): every mistake an operator can make on the command line or
//! in a file gets one clear line and a non-zero exit, nothing is silently accepted,
//! and what validates is what runs. One section per rule: schedules, unknown
//! options, durations, files migrated from OpenSVC 2, exit codes, global options.

use doppel_e2e::{TestContext, assert_line, run};

/// A root whose node is `n1`.
fn node_n1() -> TestContext {
    let ctx = TestContext::new();
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    ctx
}

// ---------------------------------------------------------------------------
// Global options anywhere
// ---------------------------------------------------------------------------

#[test]
fn global_options_are_accepted_after_a_driver_action() {
    let ctx = node_n1();
    ctx.service("svc", "[app#1]\ntype = test\n");
    // --format json after a driver action: the JSON report, as after `start`.
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "svc", "poke", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json report");
    assert_eq!(report[0]["action"], "poke");
    assert_eq!(report[0]["ok"], true);
    // -q after a driver action: nothing on the console but errors.
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "svc", "poke", "-q"]));
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));
    // -v and -s after the action, as for built-in actions.
    let stderr = ctx.ok(&["poke", "-v", "-s", "svc"]);
    assert_line(&stderr, "* SVC.APP#1 - INFO - poke done");
    let stderr = ctx.ok(&["start", "-s", "svc", "--format", "text", "-v"]);
    assert_line(&stderr, "* SVC.APP#1 - INFO - start done");
    // -q and -v conflict wherever they are written.
    let stderr = ctx.expect(&["-s", "svc", "poke", "-q", "-v"], 2);
    assert!(stderr.contains("'--quiet' cannot be used with"), "{stderr}");
}
