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

// ---------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------

#[test]
fn status_exits_0_only_when_the_service_is_up_or_na() {
    let ctx = node_n1();
    ctx.service("upsvc", "[app#1]\ntype = test\nstatus = up\n");
    ctx.service("downsvc", "[app#1]\ntype = test\nstatus = down\n");
    ctx.service("warnsvc", "[app#1]\ntype = test\nstatus = warn\n");
    ctx.service("nasvc", "[app#1]\ntype = test\nstatus = n/a\n");
    ctx.ok(&["-s", "upsvc", "status"]);
    ctx.ok(&["-s", "nasvc", "status"]);
    ctx.expect(&["-s", "downsvc", "status"], 1);
    ctx.expect(&["-s", "warnsvc", "status"], 1);
    // Several services: 0 only when every one is available; the JSON is complete.
    let (code, stdout, _) =
        run(&mut ctx.doppel(["-s", "upsvc,downsvc", "status", "--format", "json"]));
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report.as_array().map(Vec::len), Some(2));
    ctx.ok(&["-s", "upsvc,nasvc", "status"]);
    // print status reads; it says nothing through its exit code.
    ctx.ok(&["-s", "downsvc", "print", "status"]);
}

/// Runs `doppel args` with stderr a pipe whose reading end is already closed (as
/// under `doppel ... 2>&1 | head -1` once head has exited); returns the exit code.
fn exit_code_with_closed_stderr(ctx: &TestContext, args: &[&str]) -> i32 {
    let mut fds = [0i32; 2];
    // SAFETY: pipe() fills two fresh descriptors; the reading end is closed at
    // once and the writing end is handed over to the child (and closed here).
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "pipe");
    // SAFETY: fds[0] is ours, opened just above.
    unsafe { libc::close(fds[0]) };
    // SAFETY: fds[1] is ours and owned by the File from here on.
    let writer = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
    let status = ctx
        .doppel(args)
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .status()
        .expect("run doppel");
    status.code().unwrap_or(-1)
}

#[test]
fn a_closed_stderr_never_panics() {
    let ctx = node_n1();
    ctx.service("svc", "[app#1]\ntype = test\n");
    ctx.service("failing", "[app#1]\ntype = test\nfail = start\n");
    // Log lines on stderr, then success: still 0.
    assert_eq!(
        exit_code_with_closed_stderr(&ctx, &["-s", "svc", "start"]),
        0
    );
    // The failure summary line cannot be written: the exit code still says it.
    assert_eq!(
        exit_code_with_closed_stderr(&ctx, &["-s", "failing", "start"]),
        1
    );
    // A usage error (clap's message) and a configuration error.
    assert_eq!(
        exit_code_with_closed_stderr(&ctx, &["-s", "svc", "start", "--bogus"]),
        2
    );
    assert_eq!(
        exit_code_with_closed_stderr(&ctx, &["-s", "nosuch", "start"]),
        2
    );
    // A warning printed before the work (a log file that cannot be opened).
    ctx.service("nolog", "[app#1]\ntype = test\n");
    std::fs::create_dir_all(ctx.root().join("var/log/doppel/nolog.log")).expect("mkdir");
    assert_eq!(
        exit_code_with_closed_stderr(&ctx, &["-s", "nolog", "stop"]),
        0
    );
}

// ---------------------------------------------------------------------------
// Schedules are validated
// ---------------------------------------------------------------------------

#[test]
fn validate_parses_every_schedule_keyword_with_the_position_of_the_error() {
    let ctx = node_n1();
    let file = ctx.service(
        "sched",
        r#"[DEFAULT]
status_schedule = every 10 minutes

[sync#0]
type = test
schedule = 25:00-26:00@61 mon

[task#0]
type = test
schedule = ["09:00", "* :0"]

[task#1]
type = test
schedule = * :31 * feb

[task#2]
type = test
schedule = ["04:00-06:00@121 mon-fri", "! 05:00-05:30"]
"#,
    );
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "sched", "validate"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    let f = file.display();
    for line in [
        format!(
            "{f}:2: DEFAULT.status_schedule: schedule \"every 10 minutes\": at 1: invalid time \"every\": expected HH:MM or HH:MM:SS (00:00 to 23:59:59)"
        ),
        format!(
            "{f}:6: sync#0.schedule: schedule \"25:00-26:00@61 mon\": at 1: invalid time \"25:00\": expected HH:MM or HH:MM:SS (00:00 to 23:59:59)"
        ),
        format!(
            "{f}:10: task#0.schedule: schedule \"* :0\": at 4: day of month 0 never matches: count from 1 (first) or from -1 (last)"
        ),
        format!(
            "{f}:14: task#1.schedule: schedule \"* :31 * feb\": at 3: never matches: no date has these days, weeks and months together"
        ),
    ] {
        assert_line(&stdout, &line);
    }
    assert!(!stdout.contains("task#2"), "a valid schedule: {stdout}");
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    // `schedule check` uses the same parser, and an exclusion ends at its end.
    let stderr = ctx.expect(&["schedule", "check", "* :0"], 2);
    assert!(stderr.contains("day of month 0 never matches"), "{stderr}");
    let (code, stdout, stderr) = run(&mut ctx.doppel([
        "schedule",
        "check",
        r#"["*", "! 00:00-11:00"]"#,
        "--now",
        "2026-01-05T10:30:00Z",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("next: 2026-01-05T11:00:00Z"), "{stdout}");
}

// ---------------------------------------------------------------------------
// One duration grammar
// ---------------------------------------------------------------------------

#[test]
fn a_duration_that_validates_is_the_duration_the_driver_and_doppel_use() {
    let ctx = node_n1();
    // The driver reads last_sync_ago, doppel applies sync_max_delay: both with
    // blanks between the groups, which validate accepts.
    ctx.service(
        "late",
        "[sync#0]\ntype = test\ninitial = up\nlast_sync_ago = 1h 30m\nsync_max_delay = 1h 29m\n",
    );
    ctx.service(
        "fresh",
        "[sync#0]\ntype = test\ninitial = up\nlast_sync_ago = 1h 30m\nsync_max_delay = 1h 31m\n",
    );
    ctx.ok(&["-s", "late,fresh", "validate"]);
    let late = ctx.refreshed_resource("late", "sync#0");
    assert_eq!(late["status"], "warn", "{late}");
    let message = late["messages"][0]["text"].as_str().unwrap_or_default();
    assert!(
        message.ends_with("is older than sync_max_delay (1h29m)"),
        "{late}"
    );
    assert_eq!(ctx.refreshed_resource("fresh", "sync#0")["status"], "up");
    // What does not validate is refused with the reason, never replaced by a default.
    ctx.service("typo", "[sync#0]\ntype = test\nlast_sync_ago = 1h30\n");
    let (code, stdout, _) = run(&mut ctx.doppel(["-s", "typo", "validate"]));
    assert_eq!(code, 2);
    assert!(
        stdout.contains(
            r#"sync#0.last_sync_ago: expected a duration like 1h30m, got "1h30": missing unit (w, d, h, m or s) after the last number"#
        ),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------
// Unknown options are errors
// ---------------------------------------------------------------------------

#[test]
fn action_options_a_driver_does_not_read_are_usage_errors() {
    let ctx = node_n1();
    let record = ctx.root().join("record");
    ctx.service(
        "svc",
        &format!("[app#1]\ntype = test\nrecord = {}\n", record.display()),
    );
    // The test drivers read --opt depth for poke, nothing else.
    ctx.ok(&["-s", "svc", "poke", "--opt", "depth=2"]);
    let stderr = ctx.expect(&["-s", "svc", "poke", "--opt", "dpth=2"], 2);
    assert_line(
        &stderr,
        "doppel: --opt dpth: unknown option for poke (did you mean --opt depth?): no driver of the selected resources (app.test) reads it; they read --opt depth",
    );
    let stderr = ctx.expect(&["-s", "svc", "start", "--opt", "depth=2"], 2);
    assert!(
        stderr.contains("--opt depth: unknown option for start"),
        "{stderr}"
    );
    let stderr = ctx.expect(&["-s", "svc", "start", "--phase", "2"], 2);
    assert!(
        stderr.contains("--phase: unknown option for start: no driver of the selected resources (app.test) reads it; they read no option"),
        "{stderr}"
    );
    let ran = std::fs::read_to_string(&record).unwrap_or_default();
    assert_eq!(ran.lines().count(), 1, "only the good poke ran: {ran}");
}

#[test]
fn node_config_keys_no_driver_reads_are_errors_in_validate_and_before_actions() {
    let ctx = TestContext::new();
    let config = ctx.write(
        "etc/doppel/doppel.toml",
        "nodename = \"n1\"\n\n[driver.symclone]\nbinn = \"/opt/symcli/bin\"\n\n[driver.acme]\nbin = \"/x\"\n",
    );
    ctx.service("svc", "[app#1]\ntype = test\n");
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "svc", "validate"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    let c = config.display();
    assert_line(
        &stdout,
        &format!(
            "{c}:4: [driver.symclone] binn: unknown key (did you mean 'bin'?); driver symclone reads bin, multipath, sg_turs, sysroot"
        ),
    );
    // A table for a driver not installed here (a shared node config) only warns.
    assert_line(
        &stderr,
        &format!(
            "warning: {c}:6: [driver.acme]: no driver named acme is installed: the table is unused"
        ),
    );
    let (_, json, _) = run(&mut ctx.doppel(["-s", "svc", "validate", "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(doc[0]["section"], "driver.symclone");
    assert_eq!(doc[0]["keyword"], "binn");
    assert_eq!(doc[0]["line"], 4);
    // Before an action too: nothing runs with the default tool path.
    for args in [&["-s", "svc", "start"][..], &["daemon", "--once"]] {
        let stderr = ctx.expect(args, 2);
        assert!(
            stderr.contains("[driver.symclone] binn: unknown key"),
            "{args:?}: {stderr}"
        );
    }
    // A misspelled driver name is an error with did-you-mean.
    ctx.write(
        "etc/doppel/doppel.toml",
        "nodename = \"n1\"\n\n[driver.symclon]\nbin = \"/opt/symcli/bin\"\n",
    );
    let (code, stdout, _) = run(&mut ctx.doppel(["-s", "svc", "validate"]));
    assert_eq!(code, 2);
    assert!(
        stdout.contains("[driver.symclon]: no driver named symclon is installed: the table is unused (did you mean [driver.symclone]?)"),
        "{stdout}"
    );
    ctx.write(
        "etc/doppel/doppel.toml",
        "nodename = \"n1\"\n\n[driver.symclone]\nbin = \"/opt/symcli/bin\"\n",
    );
    ctx.ok(&["-s", "svc", "validate"]);
}

// ---------------------------------------------------------------------------
// Files migrated from OpenSVC 2
// ---------------------------------------------------------------------------

/// What `om svc create` and years of editing leave in a file: DEFAULT.id, cluster
/// keywords, an [env] section.
const OPENSVC2: &str = "\
[DEFAULT]
id = 6d0f0d4b-53a3-4f5c-9e8b-3f0b5d7c1a2e
nodes = n1
cluster_type = failover
env = PRD
app = ERP
orchestrate = no
comp_schedule = 00:00-06:00@361

[env]
base = /srv/erp

[app#0]
type = test
shared = true
";

#[test]
fn opensvc2_keywords_without_behaviour_are_accepted_and_noted_under_verbose() {
    let ctx = node_n1();
    let file = ctx.service("erp", OPENSVC2);
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "erp", "validate"]));
    assert_eq!((code, stdout.as_str()), (0, "erp: ok\n"), "{stderr}");
    let (code, stdout, _) = run(&mut ctx.doppel(["-s", "erp", "validate", "-v"]));
    assert_eq!(code, 0);
    let f = file.display();
    for (line, kw, what) in [
        (
            2,
            "DEFAULT.id",
            "OpenSVC's object id; doppel names a service by its file",
        ),
        (
            4,
            "DEFAULT.cluster_type",
            "cluster topology (doppel manages one node's services)",
        ),
        (
            5,
            "DEFAULT.env",
            "the service's environment label (PRD, DEV, ...)",
        ),
        (
            15,
            "app#0.shared",
            "provisioning by the cluster's placement leader only",
        ),
    ] {
        assert_line(
            &stdout,
            &format!("info: {f}:{line}: {kw}: OpenSVC keyword accepted and ignored: {what}"),
        );
    }
    ctx.ok(&["-s", "erp", "start"]);
}

#[test]
fn opensvc2_keywords_doppel_does_differently_say_what_to_write_instead() {
    let ctx = node_n1();
    let text = format!(
        "{OPENSVC2}\n[sync#0]\ntype = test\nsync_min_delay = 30\n\n[app#1]\ntype = simple\nstart = /opt/erp/bin/erpd\n"
    );
    let file = ctx.service("erp", &text);
    let (code, stdout, _) = run(&mut ctx.doppel(["-s", "erp", "validate"]));
    assert_eq!(code, 2, "{stdout}");
    let f = file.display();
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            format!(
                "{f}:19: sync#0.sync_min_delay: OpenSVC keyword not supported by doppel: the minimum delay between syncs is the @interval of schedule (schedule = 00:00-06:00@121) (see docs/opensvc-migration.md)"
            ),
            format!(
                "{f}:22: app#1.type: unknown driver type app.simple: OpenSVC's app.simple keeps its command running in the background; doppel's app driver is script, whose start command must return: write type = script and make start daemonize the application (see docs/opensvc-migration.md)"
            ),
        ]
    );
}
