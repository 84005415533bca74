//! `app.script` end to end: the commands' time limits (issue 22). Unset,
//! start and stop wait for their command; `start_timeout`, `stop_timeout`,
//! `check_timeout` limit one command, `timeout` all three, and check keeps a
//! 300-second limit of its own.

use std::time::{Duration, Instant};

use doppel_e2e::{TestContext, run};

/// A root on node n1 with `app.sh` (start sleeps `START_SECS`, then creates
/// `app.state`; stop sleeps `STOP_SECS` and removes it; check sleeps
/// `CHECK_SECS` and tests it) and a service `app` whose app#0 section has `extra`.
fn app(extra: &str) -> TestContext {
    use std::os::unix::fs::PermissionsExt;
    let ctx = TestContext::new();
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    let script = ctx.write(
        "app.sh",
        "#!/bin/sh\ndir=$(dirname \"$0\")\ncase \"$1\" in\n\
         start) sleep \"${START_SECS:-0}\"; touch \"$dir/app.state\" ;;\n\
         stop) sleep \"${STOP_SECS:-0}\"; rm -f \"$dir/app.state\" ;;\n\
         check) sleep \"${CHECK_SECS:-0}\"; test -f \"$dir/app.state\" ;;\nesac\n",
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = script.display();
    ctx.service(
        "app",
        &format!(
            "[DEFAULT]\nnodes = n1\n\n[app#0]\ntype = script\nstart = {s} start\nstop = {s} stop\n\
             check = {s} check\nenvironment = START_SECS=0 STOP_SECS=0 CHECK_SECS=0\n{extra}"
        ),
    );
    ctx
}

/// Sets the sleeps of app.sh (seconds, fractions allowed).
fn sleeps(ctx: &TestContext, start: &str, stop: &str, check: &str) {
    let path = ctx.root().join("etc/doppel/services/app.conf");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("environment = ") {
                format!("environment = START_SECS={start} STOP_SECS={stop} CHECK_SECS={check}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, text + "\n").unwrap();
}

#[test]
fn start_and_stop_wait_for_their_command_without_a_timeout() {
    // check_timeout limits check only: a start longer than it completes.
    let ctx = app("check_timeout = 1\n");
    sleeps(&ctx, "2", "2", "0");
    let begin = Instant::now();
    ctx.ok(&["-s", "app", "start"]);
    assert!(begin.elapsed() >= Duration::from_secs(2));
    assert!(
        ctx.root().join("app.state").exists(),
        "start ran to its end"
    );
    ctx.ok(&["-s", "app", "stop"]);
    assert!(
        !ctx.root().join("app.state").exists(),
        "stop ran to its end"
    );
    // The template says so.
    let (code, stdout, _) = run(&mut ctx.doppel(["template", "app.script"]));
    assert_eq!(code, 0);
    let text = stdout
        .lines()
        .map(|l| l.trim_start_matches('#'))
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "keyword: start_timeout",
        "keyword: stop_timeout",
        "keyword: check_timeout",
        "start and stop wait for the command to return however long it takes",
        ";start_timeout = 10m",
    ] {
        assert!(text.contains(needle), "{needle}: {stdout}");
    }
}

#[test]
fn start_timeout_kills_start_and_wins_over_timeout() {
    let ctx = app("timeout = 1h\nstart_timeout = 1\n");
    sleeps(&ctx, "30", "0", "0");
    let begin = Instant::now();
    let log = ctx.expect(&["-s", "app", "start"], 1);
    assert!(
        begin.elapsed() < Duration::from_secs(20),
        "killed after start_timeout: {log}"
    );
    assert!(log.contains("timed out"), "{log}");
    assert!(!ctx.root().join("app.state").exists());
}

#[test]
fn timeout_limits_stop_and_check() {
    let ctx = app("timeout = 1\n");
    ctx.write("app.state", "");
    sleeps(&ctx, "0", "30", "0");
    let begin = Instant::now();
    let log = ctx.expect(&["-s", "app", "stop"], 1);
    assert!(begin.elapsed() < Duration::from_secs(20), "{log}");
    assert!(log.contains("timed out"), "{log}");
    assert!(ctx.root().join("app.state").exists(), "stop was killed");

    sleeps(&ctx, "0", "0", "30");
    let begin = Instant::now();
    let st = ctx.refreshed_resource("app", "app#0");
    assert!(begin.elapsed() < Duration::from_secs(20));
    assert_eq!(st["status"], "undef", "{st}");
    assert!(st.to_string().contains("check timed out"), "{st}");

    // check_timeout wins over timeout.
    let path = ctx.root().join("etc/doppel/services/app.conf");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text + "check_timeout = 5\n").unwrap();
    sleeps(&ctx, "0", "0", "2");
    assert_eq!(ctx.refreshed_resource("app", "app#0")["status"], "up");
}
