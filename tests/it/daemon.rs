//! The scheduler through the binary: `doppel daemon --once --now T` runs what is due
//! at T (scheduled syncs, status refreshes, restarts) and records it under
//! `var/lib/doppel/<svc>/scheduler/`; `print schedule` shows the tasks; the loop
//! lets a running sync finish on SIGTERM.
//!
//! 2024-05-06 and 2024-05-13 are Mondays, 2024-05-07 a Tuesday. Every `--now` has a
//! `Z`, so the schedules are read in UTC whatever the machine's time zone.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use doppel_e2e::{TestContext, doppel_snapshot, run};

const MONDAY: &str = "2024-05-06T00:30:00Z";

/// A root whose node is `n1`, with service `demo` from `conf`; `{calls}` in `conf`
/// is the file the test driver appends its calls to.
fn setup(conf: &str) -> TestContext {
    let ctx = TestContext::new();
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    let calls = ctx.root().join("calls");
    ctx.service(
        "demo",
        &conf.replace("{calls}", &calls.display().to_string()),
    );
    ctx
}

fn once(ctx: &TestContext, now: &str) -> (i32, String, String) {
    run(&mut ctx.doppel(["daemon", "--once", "--now", now]))
}

/// `<rid> <action>` of every recorded driver call, in order.
fn calls(ctx: &TestContext) -> Vec<String> {
    std::fs::read_to_string(ctx.root().join("calls"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn sched_file(ctx: &TestContext, name: &str) -> PathBuf {
    ctx.root().join("var/lib/doppel/demo/scheduler").join(name)
}

/// The content of a scheduler record, trimmed.
fn record(ctx: &TestContext, name: &str) -> Option<String> {
    std::fs::read_to_string(sched_file(ctx, name))
        .ok()
        .map(|s| s.trim().to_owned())
}

const SYNC: &str = "\
[DEFAULT]
nodes = n1

[sync#0]
type = test
schedule = 00:00-01:00@61 mon
record = {calls}
";

#[test]
fn a_due_sync_runs_and_records_its_start_and_success() {
    let ctx = setup(SYNC);
    ctx.service("broken", "[sync#0]\ntype = nope\n");
    let (code, stdout, stderr) = once(&ctx, MONDAY);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(calls(&ctx), ["sync#0 sync_update"]);
    assert!(
        stderr.contains(
            r#"* DEMO.SYNC#0 - INFO - scheduled sync_update (schedule "00:00-01:00@61 mon")"#
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("* DEMO.SYNC#0 - INFO - scheduled sync_update succeeded"),
        "{stderr}"
    );
    assert_eq!(
        record(&ctx, "last_sync_update_sync#0").as_deref(),
        Some(MONDAY)
    );
    assert_eq!(
        record(&ctx, "last_sync_update_sync#0.success").as_deref(),
        Some(MONDAY)
    );
    // The invalid service costs one warning line and nothing else.
    let broken: Vec<&str> = stderr.lines().filter(|l| l.contains("BROKEN")).collect();
    assert_eq!(broken.len(), 1, "{stderr}");
    assert!(
        broken[0].starts_with(
            "* BROKEN.SCHEDULER - WARNING - invalid service file (1 error(s), first: "
        ),
        "{stderr}"
    );
    assert!(broken[0].ends_with("ignored until it changes"), "{stderr}");
    // The same records in the service log.
    let log =
        std::fs::read_to_string(ctx.root().join("var/log/doppel/demo.log")).expect("service log");
    assert!(
        log.contains("DEMO.SYNC#0 - INFO - scheduled sync_update"),
        "{log}"
    );
}

#[test]
fn a_sync_that_is_not_due_does_not_run() {
    let ctx = setup(SYNC);
    // Outside the window (a Tuesday).
    let (code, _, stderr) = once(&ctx, "2024-05-07T00:30:00Z");
    assert_eq!(code, 0, "{stderr}");
    assert!(calls(&ctx).is_empty());
    assert!(
        stderr.contains(
            "* DEMO.SYNC#0 - INFO - skip sync_update: not due: not in allowed days (next run 2024-05-13T00:00:00Z)"
        ),
        "{stderr}"
    );
    assert_eq!(record(&ctx, "last_sync_update_sync#0"), None);

    // In the window, but the interval has not elapsed since the last run (a G2
    // epoch-float record, 20 minutes ago).
    std::fs::create_dir_all(sched_file(&ctx, "")).unwrap();
    std::fs::write(
        sched_file(&ctx, "last_sync_update_sync#0"),
        "1714954200.5\n",
    )
    .unwrap(); // 00:10:00.5
    let (code, _, stderr) = once(&ctx, MONDAY);
    assert_eq!(code, 0, "{stderr}");
    assert!(calls(&ctx).is_empty(), "{stderr}");
    assert!(
        stderr.contains("skip sync_update: not due: last run too recent (interval 61m)"),
        "{stderr}"
    );
    assert_eq!(
        record(&ctx, "last_sync_update_sync#0").as_deref(),
        Some("1714954200.5"),
        "untouched"
    );
}

#[test]
fn a_failed_sync_is_retried_in_the_next_window() {
    let ctx = setup(&format!("{SYNC}fail = sync_update\n"));
    let (code, _, stderr) = once(&ctx, "2024-05-06T00:10:00Z");
    assert_eq!(code, 1, "a failed task fails --once: {stderr}");
    assert_eq!(calls(&ctx), ["sync#0 sync_update"]);
    assert!(stderr.contains("* DEMO.SYNC#0 - ERROR - scheduled sync_update failed: sync#0: sync_update was told to fail"), "{stderr}");
    assert_eq!(
        record(&ctx, "last_sync_update_sync#0").as_deref(),
        Some("2024-05-06T00:10:00Z")
    );
    assert_eq!(record(&ctx, "last_sync_update_sync#0.success"), None);

    // Same window, 30 minutes later: the 61 minute interval has not elapsed.
    let (code, _, stderr) = once(&ctx, "2024-05-06T00:40:00Z");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(calls(&ctx).len(), 1, "{stderr}");
    assert!(
        stderr.contains("last run too recent (interval 61m) (next run 2024-05-13T00:00:00Z)"),
        "{stderr}"
    );

    // The next window: tried again.
    let (code, _, stderr) = once(&ctx, "2024-05-13T00:10:00Z");
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(calls(&ctx), ["sync#0 sync_update", "sync#0 sync_update"]);
    assert_eq!(
        record(&ctx, "last_sync_update_sync#0").as_deref(),
        Some("2024-05-13T00:10:00Z")
    );
    assert_eq!(record(&ctx, "last_sync_update_sync#0.success"), None);
}

#[test]
fn an_unmet_condition_skips_the_sync_with_a_log_line() {
    let ctx = setup(&format!(
        "{SYNC}sync_update_depends = fs#1(down)\n\n[sync#1]\ntype = test\nschedule = 00:00-01:00@61 mon\nrecord = {{calls}}\n\n[fs#1]\ntype = test\ninitial = up\n"
    ));
    let (code, _, stderr) = once(&ctx, MONDAY);
    assert_eq!(code, 0, "a skip is not a failure: {stderr}");
    assert_eq!(
        calls(&ctx),
        ["sync#1 sync_update"],
        "sync#0 skipped, sync#1 ran"
    );
    assert!(
        stderr.contains("* DEMO.SYNC#0 - INFO - skip: sync#0: sync_update requires fs#1 in (down), current state up"),
        "{stderr}"
    );
    assert_eq!(
        record(&ctx, "last_sync_update_sync#0").as_deref(),
        Some(MONDAY),
        "the run started"
    );
    assert_eq!(record(&ctx, "last_sync_update_sync#0.success"), None);
    assert_eq!(
        record(&ctx, "last_sync_update_sync#1.success").as_deref(),
        Some(MONDAY)
    );
}

#[test]
fn a_busy_sync_lock_records_nothing_and_is_retried_later() {
    let ctx = setup(&format!("{SYNC}\n[sync#1]\ntype = test\nduration = 4s\n"));
    // A manual sync of sync#1 holds the sync lock for 4 seconds.
    let mut manual = ctx
        .doppel(["-s", "demo", "sync", "update", "--rid", "sync#1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let lock = ctx.root().join("var/lib/doppel/demo/lock.generic.sync");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&lock).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "the manual sync never took its lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, _, stderr) = once(&ctx, MONDAY);
    assert!(manual.wait().expect("wait").success());
    assert_eq!(code, 0, "{stderr}");
    assert!(calls(&ctx).is_empty(), "{stderr}");
    assert!(
        stderr.contains("* DEMO.SYNC#0 - INFO - skip sync_update: the sync lock is held by pid "),
        "{stderr}"
    );
    assert!(stderr.contains("retry on the next tick"), "{stderr}");
    assert_eq!(
        record(&ctx, "last_sync_update_sync#0"),
        None,
        "nothing recorded"
    );

    // The lock is free now: the same time is still due.
    let (code, _, stderr) = once(&ctx, MONDAY);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(calls(&ctx), ["sync#0 sync_update"]);
}

#[test]
fn status_schedule_refreshes_the_status_cache() {
    let ctx = setup("[DEFAULT]\nstatus_schedule = @30\n\n[fs#1]\ntype = test\ninitial = up\n");
    let cache = ctx.root().join("var/lib/doppel/demo/status.json");
    let (code, _, stderr) = once(&ctx, "2024-05-06T12:00:00Z");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(r#"* DEMO.SCHEDULER - INFO - scheduled status (schedule "@30")"#),
        "{stderr}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).expect("status cache")).unwrap();
    assert_eq!(doc["avail"], "up");
    assert_eq!(
        record(&ctx, "last_status").as_deref(),
        Some("2024-05-06T12:00:00Z")
    );
    assert_eq!(
        record(&ctx, "last_status.success").as_deref(),
        Some("2024-05-06T12:00:00Z")
    );

    std::fs::remove_file(&cache).unwrap();
    let (_, _, stderr) = once(&ctx, "2024-05-06T12:20:00Z");
    assert!(!cache.exists(), "not due after 20 minutes");
    assert!(
        stderr.contains(
            "* DEMO.SCHEDULER - INFO - skip status: not due: last run too recent (interval 30m)"
        ),
        "{stderr}"
    );

    let (code, _, stderr) = once(&ctx, "2024-05-06T12:30:00Z");
    assert_eq!(code, 0, "{stderr}");
    assert!(cache.exists(), "refreshed after 30 minutes: {stderr}");
}

#[test]
fn a_down_resource_with_restart_is_started_at_most_restart_times() {
    let ctx = setup(
        "[app#0]\ntype = test\ninitial = up\n\n\
         [fs#1]\ntype = test\nrestart = 2\nrecord = {calls}\n\n\
         [fs#2]\ntype = test\nrestart = 1\nfail = start\nrecord = {calls}\n\n\
         [fs#3]\ntype = test\nrecord = {calls}\n",
    );
    let (code, _, stderr) = once(&ctx, MONDAY);
    assert_eq!(code, 1, "fs#2 could not be restarted: {stderr}");
    assert_eq!(
        calls(&ctx),
        ["fs#1 start", "fs#2 start"],
        "fs#3 has no restart"
    );
    assert!(
        stderr.contains("* DEMO.FS#1 - INFO - down: restart 1/2 (start --rid fs#1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("* DEMO.FS#1 - INFO - restarted"),
        "{stderr}"
    );
    assert!(
        stderr.contains("* DEMO.FS#2 - WARNING - restart 1/1 did not bring it up (down): no more restarts until it is up again"),
        "{stderr}"
    );
    assert_eq!(record(&ctx, "restart_count_fs#2").as_deref(), Some("1"));
    assert_eq!(
        record(&ctx, "last_restart_fs#1.success").as_deref(),
        Some(MONDAY)
    );

    // fs#1 is up: its count is reset; fs#2 used its only restart.
    let (code, _, stderr) = once(&ctx, "2024-05-06T00:31:00Z");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(calls(&ctx).len(), 2, "no new start: {stderr}");
    assert!(
        stderr.contains("* DEMO.FS#1 - INFO - up again: restart count reset"),
        "{stderr}"
    );
    assert_eq!(record(&ctx, "restart_count_fs#1"), None);
}

#[test]
fn a_stopped_service_is_not_restarted() {
    // Everything down (as after `doppel stop`): the daemon must not undo the stop.
    let ctx = setup("[fs#1]\ntype = test\nrestart = 3\nrecord = {calls}\n");
    let (code, _, stderr) = once(&ctx, MONDAY);
    assert_eq!(code, 0, "{stderr}");
    assert!(calls(&ctx).is_empty(), "{stderr}");
}

const PRINTED: &str = "\
[DEFAULT]
status_schedule = @5

[sync#0]
type = test
schedule = [\"00:00-01:00@61 mon\", \"02:00-03:00@61 tue-sun\"]
record = {calls}

[sync#1]
type = test
schedule@n1 = ~04:00-06:00
fail = sync_update

[sync#2]
type = test

[task#0]
type = test
schedule = @0

[fs#1]
type = test
restart = 2
";

#[test]
fn print_schedule_lists_every_task() {
    let ctx = setup(PRINTED);
    let (code, _, stderr) = once(&ctx, MONDAY);
    assert_eq!(code, 0, "{stderr}");
    let _ = once(&ctx, "2024-05-06T05:59:59Z");
    doppel_snapshot!(
        ctx,
        "daemon_print_schedule",
        ctx.doppel(["-s", "demo", "print", "schedule"])
            .env("TZ", "UTC")
    );

    let (code, json, stderr) = run(ctx
        .doppel(["-s", "demo", "print", "schedule", "--format", "json"])
        .env("TZ", "UTC"));
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let rows = doc.as_array().expect("a list");
    let keys: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["rid"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let want = [
        ("status", "-"),
        ("sync_update", "sync#0"),
        ("sync_update", "sync#1"),
        ("run", "task#0"),
        ("restart", "fs#1"),
    ];
    assert_eq!(keys, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
    assert_eq!(rows[0]["schedule"], "@5");
    assert_eq!(rows[0]["source"], "demo.conf:2");
    assert_eq!(rows[1]["last_run"], MONDAY);
    assert_eq!(rows[1]["last_success"], MONDAY);
    assert_eq!(rows[2]["source"], "demo.conf:11 (schedule@n1)");
    assert!(
        rows[2]["last_run"].is_string(),
        "sync#1 ran in its spread window: {stderr}"
    );
    assert!(rows[2]["last_success"].is_null());
    assert!(rows[3]["next_run"].is_null(), "@0 never runs");
    assert!(
        rows[1]["next_run"]
            .as_str()
            .is_some_and(|t| t.ends_with("T00:00:00Z") || t.ends_with("T02:00:00Z"))
    );
    assert_eq!(
        rows[4]["restart"],
        serde_json::json!({"max": 2, "count": 0})
    );
    assert!(rows[4]["schedule"].is_null());
}

#[test]
fn sigterm_lets_the_running_sync_finish() {
    let ctx = setup("[sync#0]\ntype = test\nschedule = @1h\nduration = 2s\nrecord = {calls}\n");
    let daemon: std::process::Child = ctx
        .doppel(["daemon"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn daemon");
    let started = sched_file(&ctx, "last_sync_update_sync#0");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(
            Instant::now() < deadline,
            "the daemon never started the sync"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = daemon.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        calls(&ctx),
        ["sync#0 sync_update"],
        "the sync finished: {stderr}"
    );
    assert!(
        sched_file(&ctx, "last_sync_update_sync#0.success").exists(),
        "{stderr}"
    );
    assert!(
        stderr.contains("doppel daemon: SIGTERM: stopping"),
        "{stderr}"
    );
    assert!(stderr.contains("doppel daemon: stopped"), "{stderr}");
}

#[test]
fn a_started_service_gets_its_only_resource_restarted_but_not_after_a_stop() {
    // One resource: once it falls down nothing of the service is up, so only the
    // recorded intent tells the daemon the operator meant it to run.
    let ctx = setup("[fs#1]\ntype = test\nrestart = 3\nrecord = {calls}\n");
    let (code, _, stderr) = run(&mut ctx.doppel(["-s", "demo", "start"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(ctx.root().join("var/lib/doppel/demo/intent")).unwrap(),
        "started\n"
    );
    // The resource falls down behind doppel's back.
    ctx.write("var/lib/doppel/demo/fs#1/kv/state", "down");
    let (code, _, stderr) = run(&mut ctx.doppel(["-s", "demo", "status"]));
    assert_eq!(code, 1, "a down service: status exits 1\n{stderr}");
    let (code, _, stderr) = once(&ctx, MONDAY);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        calls(&ctx),
        ["fs#1 start", "fs#1 start"],
        "started, then restarted: {stderr}"
    );

    // An operator's stop is respected.
    let (code, _, stderr) = run(&mut ctx.doppel(["-s", "demo", "stop"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = once(&ctx, "2024-05-06T00:31:00Z");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        calls(&ctx),
        ["fs#1 start", "fs#1 start", "fs#1 stop"],
        "no restart after a stop: {stderr}"
    );
}
