//! A selection spanning several services: a broken service file is reported (one
//! line, and `"valid": false` in JSON) and hides nothing; the others are shown and
//! acted on; the exit code says something was wrong (issue: "one broken file hides
//! every service").

use doppel_e2e::{TestContext, assert_line, run};

fn node() -> TestContext {
    let ctx = TestContext::new();
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    ctx.service("alpha", "[app#0]\ntype = test\n");
    ctx.service("beta", "[app#0]\ntype = test\ninitial = up\n");
    // A typo: `tpye`.
    ctx.service("broken", "[app#0]\ntpye = test\n");
    ctx
}

fn broken_line(ctx: &TestContext) -> String {
    let file = ctx.root().join("etc/doppel/services/broken.conf");
    format!(
        "doppel: broken: 1 configuration error(s), first: {}:1: app#0.type: missing keyword 'type' (installed app drivers: app.script, app.test) (run `doppel -s broken validate`)",
        file.display()
    )
}

#[test]
fn print_status_shows_the_healthy_services_and_reports_the_broken_one() {
    let ctx = node();
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "*", "print", "status"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_eq!(stderr, format!("{}\n", broken_line(&ctx)));
    assert!(stdout.starts_with("alpha "), "{stdout}");
    assert!(stdout.contains("\nbeta "), "{stdout}");
    assert!(
        stdout.contains("\nbroken                          undef\n"),
        "{stdout}"
    );
    assert!(stdout.contains("|- error: "), "{stdout}");
    assert!(
        stdout.contains("app#0.type: missing keyword 'type'"),
        "{stdout}"
    );

    let (code, stdout, _) =
        run(&mut ctx.doppel(["-s", "*", "print", "status", "--format", "json"]));
    assert_eq!(code, 2);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let by_name = |n: &str| {
        doc.as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("alpha")["valid"], true);
    assert_eq!(by_name("alpha")["avail"], "down");
    assert_eq!(by_name("beta")["avail"], "up");
    let broken = by_name("broken");
    assert_eq!(broken["valid"], false);
    assert_eq!(broken["avail"], "undef");
    let problems = broken["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{broken}");
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .contains("app#0.type: missing keyword 'type'"),
        "{broken}"
    );
}

#[test]
fn the_status_action_and_other_actions_go_on_for_the_healthy_services() {
    let ctx = node();
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "*", "status", "--format", "json"]));
    assert_eq!(code, 2, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<(&str, bool)> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["service"].as_str().unwrap(),
                o["valid"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("alpha", true), ("beta", true), ("broken", false)]);
    assert_eq!(doc[2]["problems"].as_array().unwrap().len(), 1);

    // An action: the healthy ones start; only configuration was wrong: exit 2.
    let stderr = ctx.expect(&["-s", "*", "start"], 2);
    assert_line(&stderr, &broken_line(&ctx));
    let (_, stdout, _) =
        run(&mut ctx.doppel(["-s", "alpha", "print", "status", "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc[0]["avail"], "up", "alpha started");

    // An action that fails somewhere too: exit 1.
    ctx.service("gamma", "[app#0]\ntype = test\nfail = stop\n");
    let stderr = ctx.expect(&["-s", "*", "stop"], 1);
    assert_line(&stderr, &broken_line(&ctx));
    assert_line(
        &stderr,
        "doppel: gamma: stop failed: app#0: stop was told to fail",
    );

    // Named alone, the broken service still gets every problem, exit 2.
    let stderr = ctx.expect(&["-s", "broken", "start"], 2);
    assert!(
        stderr.starts_with(
            "doppel: service broken has 1 configuration error(s); nothing was done:\n"
        ),
        "{stderr}"
    );
}

/// Runs `doppel <args>` with at most `fds` open descriptors (`ulimit -n`).
fn with_fd_limit(ctx: &TestContext, fds: u32, args: &[&str]) -> (i32, String, String) {
    let doppel = ctx.doppel(args);
    let mut shell = std::process::Command::new("sh");
    shell
        .arg("-c")
        .arg(format!("ulimit -n {fds} && exec \"$0\" \"$@\""));
    shell.arg(doppel.get_program()).args(doppel.get_args());
    shell
        .env_clear()
        .envs(doppel.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    run(&mut shell)
}

fn two_hundred_services(ctx: &TestContext) {
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    for i in 0..200 {
        ctx.service(
            &format!("svc{i:03}"),
            "[app#0]\ntype = test\ninitial = up\n",
        );
    }
}

#[test]
fn two_hundred_services_need_no_more_than_a_few_open_files() {
    let ctx = TestContext::new();
    two_hundred_services(&ctx);
    // Each service's log is opened when its turn comes: 64 descriptors do.
    let (code, stdout, stderr) =
        with_fd_limit(&ctx, 64, &["-s", "*", "status", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 200);
    assert!(!stderr.contains("Too many open files"), "{stderr}");
    // --parallel=N holds at most N services (their logs, and for a moment their
    // cache files and in-flight directories) at a time: 200 at once would not fit.
    let (code, stdout, stderr) = with_fd_limit(
        &ctx,
        128,
        &["-s", "*", "status", "--parallel=32", "--format", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 200);
    assert!(!stderr.contains("Too many open files"), "{stderr}");
}

#[test]
fn the_daemon_holds_no_descriptor_per_service() {
    let ctx = TestContext::new();
    two_hundred_services(&ctx);
    let (code, _, stderr) = with_fd_limit(
        &ctx,
        64,
        &["daemon", "--once", "--now", "2024-05-06T10:00:00Z"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("Too many open files"), "{stderr}");
    // Every service's log still gets its records.
    let log = std::fs::read_to_string(ctx.root().join("var/log/doppel/svc199.log"))
        .expect("svc199's log");
    assert!(!log.is_empty());
}
