//! doppel killed with SIGKILL in the middle of an action (issue 24): the tool
//! command it started goes on as an orphan. For symclone, drd and nimadm
//! against their simulators (made slow through their own knobs), at kill
//! points drawn from a seeded generator, each time:
//!
//! - no state file is torn (every JSON file under var/lib/doppel parses);
//! - the orphan is found and named by status (`in progress: ... is still
//!   running (pid N)`), and a second action refuses to start over it;
//! - once the orphan ends, the next status reconciles the run from what the
//!   tool left (the recorded state then equals the simulator's truth), and the
//!   next action is correct;
//! - `--waitlock` waits for the orphan instead of refusing;
//! - a driver that cannot reconcile (`app.script`) leaves the resource `undef`
//!   with the reason, until an action runs on it again.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use doppel_e2e::{TestContext, run, target_dir};

/// A small deterministic generator (64-bit LCG): kill delays that vary between
/// points but are the same on every run of the tests.
struct Lcg(u64);

impl Lcg {
    fn next_ms(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

fn inflight_dir(ctx: &TestContext, svc: &str, rid: &str) -> PathBuf {
    ctx.root()
        .join("var/lib/doppel")
        .join(svc)
        .join(rid)
        .join("inflight")
}

/// The in-flight records of a resource (parsed).
fn records(ctx: &TestContext, svc: &str, rid: &str) -> Vec<serde_json::Value> {
    let Ok(entries) = std::fs::read_dir(inflight_dir(ctx, svc, rid)) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| serde_json::from_str(&t).expect("an in-flight record is never torn"))
        .collect()
}

/// Every JSON state file under var/lib/doppel parses: nothing torn.
fn assert_no_torn_state(ctx: &TestContext) {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&ctx.root().join("var/lib/doppel"), &mut files);
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') {
            // A temporary of write_atomic: never the file itself.
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let json = name.ends_with(".json") || name.starts_with("client.");
        if json && !text.is_empty() {
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                "torn state file {}: {text:?}",
                f.display()
            );
        }
    }
}

fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(text) => {
            let state = text
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            !matches!(state, Some("Z" | "X"))
        }
        Err(_) => false,
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `doppel <args>`, waits until its tool command is recorded, sleeps
/// `delay` and kills doppel with SIGKILL. Returns the orphan's record.
fn kill_mid_action(
    ctx: &TestContext,
    svc: &str,
    rid: &str,
    args: &[&str],
    delay: Duration,
) -> serde_json::Value {
    let mut child: Child = ctx
        .doppel(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn doppel");
    wait_for("a recorded tool command", Duration::from_secs(20), || {
        assert!(
            child.try_wait().unwrap().is_none(),
            "doppel {args:?} ended before its tool command was recorded"
        );
        !records(ctx, svc, rid).is_empty()
    });
    std::thread::sleep(delay);
    let record = records(ctx, svc, rid)
        .into_iter()
        .next()
        .expect("a record while the tool runs");
    child.kill().expect("SIGKILL doppel");
    child.wait().unwrap();
    assert_eq!(record["doppel_pid"].as_u64(), Some(u64::from(child.id())));
    record
}

/// `print status --refresh --format json` of `rid`: (status, ["level: text"]).
fn status_of(ctx: &TestContext, svc: &str, rid: &str) -> (String, Vec<String>) {
    ctx.refreshed_status(svc, rid)
}

/// What every kill point checks while the orphan runs: a second action
/// refuses to start over it (one line naming it, exit 1), and status names it
/// as in progress. Returns the pid.
fn check_orphan(
    ctx: &TestContext,
    svc: &str,
    rid: &str,
    record: &serde_json::Value,
    command: &str,
    again: &[&str],
) -> u64 {
    assert_no_torn_state(ctx);
    let pid = record["pid"].as_u64().unwrap();
    assert!(alive(pid), "the tool outlives the doppel that started it");
    let running = format!("is still running (pid {pid})");
    let (code, stdout, stderr) = run(&mut ctx.doppel(again));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let line = stdout
        .lines()
        .chain(stderr.lines())
        .find(|l| l.contains(&running) && l.contains("not starting"))
        .unwrap_or_else(|| panic!("no refusal naming the orphan:\n{stdout}{stderr}"));
    assert!(
        line.contains(&format!("{rid}: {command} started ")),
        "{line}"
    );
    // The records are scanned before the driver's status query, which a tool
    // may block (drd) until the orphan ends: the orphan is seen either way.
    let (_, messages) = status_of(ctx, svc, rid);
    assert!(
        messages.iter().any(
            |m| m.starts_with(&format!("warn: in progress: {command} started "))
                && m.ends_with(&format!("by a doppel that is gone {running}"))
        ),
        "{messages:?}"
    );
    pid
}

/// The line the doppel that reconciled the run logged (a status or an action).
fn reconciled_line(ctx: &TestContext, svc: &str, command: &str) -> String {
    let log = std::fs::read_to_string(ctx.root().join(format!("var/log/doppel/{svc}.log")))
        .unwrap_or_default();
    log.lines()
        .rev()
        .find(|l| l.contains(&format!("reconciled: {command} started ")))
        .unwrap_or_else(|| panic!("no reconciliation of {command} in the log:\n{log}"))
        .to_owned()
}

fn wait_gone(pid: u64) {
    wait_for(
        &format!("the orphan {pid} to end"),
        Duration::from_secs(30),
        || !alive(pid),
    );
}

// --- nimadm -----------------------------------------------------------------------------------

struct Nim {
    ctx: TestContext,
}

impl Nim {
    fn new(clients: &str, phase_seconds: &str) -> Nim {
        let mut ctx = TestContext::new();
        let sim = ctx.root().join("sim");
        ctx.write(
            "etc/doppel/doppel.toml",
            &format!(
                "nodename = \"nim1\"\n\n[driver.nimadm]\nbin = \"{}\"\nlog_dir = \"{}\"\n",
                target_dir().display(),
                sim.join("nim/var/adm/ras/alt_mig").display()
            ),
        );
        ctx.env("DOPPEL_SIM_ROOT", sim.display().to_string());
        ctx.env("DOPPEL_NIMADM_POLL_MS", "50");
        ctx.service(
            "mig",
            &format!(
                "[DEFAULT]\nnodes = nim1\n\n[task#0]\ntype = nimadm\nclients = {clients}\nlpp_source = lpp_7200\n\
                 spot = spot_7200\ndisks = hdisk1\naccept_licenses = true\noptional = false\n"
            ),
        );
        let n = Nim { ctx };
        n.sim(&["setup", "--clients", &clients.replace(' ', ",")]);
        n.sim(&["set", "phase-seconds", phase_seconds]);
        n
    }

    #[track_caller]
    fn sim(&self, args: &[&str]) -> String {
        self.ctx.tool_ok("nimsim", args)
    }

    /// The simulator's truth: the client's alternate disk state, `none` without one.
    fn truth(&self, client: &str) -> String {
        let c: serde_json::Value =
            serde_json::from_str(&self.sim(&["client", "show", client])).unwrap();
        c["alt"]["state"].as_str().unwrap_or("none").to_owned()
    }

    /// What doppel recorded of the client.
    fn recorded(&self, client: &str) -> serde_json::Value {
        let path = self
            .ctx
            .root()
            .join(format!("var/lib/doppel/mig/task#0/kv/client.{client}"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

#[test]
fn nimadm_killed_mid_migration_is_found_refused_and_reconciled() {
    let mut rng = Lcg(24);
    // 12 phases of 0.25s: a 3s migration; doppel killed at a point within it.
    for point in 0..2 {
        let nim = Nim::new("lpar1", "0.25");
        if point == 1 {
            // This time the orphan fails at phase 7 (and cleans up after itself).
            nim.sim(&["fail", "phase", "7", "--client", "lpar1"]);
        }
        let delay = Duration::from_millis(rng.next_ms(1500));
        let record = kill_mid_action(&nim.ctx, "mig", "task#0", &["-s", "mig", "run"], delay);
        assert_eq!(record["action"], "run");
        assert_eq!(record["argv"][1], "-c");
        let pid = check_orphan(
            &nim.ctx,
            "mig",
            "task#0",
            &record,
            "nimadm",
            &["-s", "mig", "run"],
        );
        wait_gone(pid);
        // The next status reconciles from lsnim and the client's log.
        let (_, messages) = status_of(&nim.ctx, "mig", "task#0");
        let reconciled = reconciled_line(&nim.ctx, "mig", "nimadm");
        assert!(
            records(&nim.ctx, "mig", "task#0").is_empty(),
            "the record is cleared"
        );
        assert_no_torn_state(&nim.ctx);
        let recorded = nim.recorded("lpar1");
        match point {
            0 => {
                assert_eq!(nim.truth("lpar1"), "migrated");
                assert_eq!(recorded["migration"], "migrated", "{recorded}");
                assert_eq!(recorded["phase"], 12);
                assert!(
                    reconciled.contains("client lpar1: migrated (12/12 phases"),
                    "{reconciled}"
                );
                // The next run knows: already migrated, skipped.
                let out = nim.ctx.ok(&["-s", "mig", "run"]);
                assert!(out.contains("already migrated on"), "{out}");
            }
            _ => {
                // Cleaned up by nimadm itself: no alternate disk left.
                assert_eq!(nim.truth("lpar1"), "none");
                assert_eq!(recorded["migration"], "failed", "{recorded}");
                assert_eq!(recorded["phase"], 7);
                assert_eq!(recorded["cleaned_up"], true);
                assert!(
                    reconciled.contains("client lpar1: failed at phase 7/12"),
                    "{reconciled}"
                );
                assert!(
                    messages
                        .iter()
                        .any(|m| m.contains("lpar1: failed at phase 7/12")),
                    "{messages:?}"
                );
                // The fault is spent: the next run migrates it.
                nim.ctx.ok(&["-s", "mig", "run"]);
                assert_eq!(nim.truth("lpar1"), "migrated");
                assert_eq!(nim.recorded("lpar1")["migration"], "migrated");
            }
        }
    }
}

#[test]
fn waitlock_waits_for_the_orphan_then_runs() {
    let nim = Nim::new("lpar1 lpar2", "0.15");
    let record = kill_mid_action(
        &nim.ctx,
        "mig",
        "task#0",
        &["-s", "mig", "run", "--clients", "lpar1"],
        Duration::from_millis(200),
    );
    let pid = record["pid"].as_u64().unwrap();
    assert!(alive(pid));
    let out = nim.ctx.ok(&["-s", "mig", "run", "--waitlock", "30s"]);
    assert!(
        out.contains("waiting up to 30s for task#0: nimadm started "),
        "{out}"
    );
    assert!(!alive(pid));
    assert!(out.contains("reconciled: nimadm started "), "{out}");
    // lpar1 was migrated by the orphan (reconciled, then skipped), lpar2 by this run.
    assert!(out.contains("client lpar1: already migrated on"), "{out}");
    for c in ["lpar1", "lpar2"] {
        assert_eq!(nim.truth(c), "migrated");
        assert_eq!(nim.recorded(c)["migration"], "migrated");
    }
}

// --- drd --------------------------------------------------------------------------------------

struct Drd {
    ctx: TestContext,
}

impl Drd {
    fn new() -> Drd {
        let mut ctx = TestContext::new();
        let sim = ctx.root().join("sim");
        ctx.write(
            "etc/doppel/doppel.toml",
            &format!(
                "nodename = \"hpux01\"\n\n[driver.drd]\nbin = \"{}\"\nsysroot = \"{}\"\n",
                target_dir().display(),
                sim.join("drd").display()
            ),
        );
        ctx.env("DOPPEL_SIM_ROOT", sim.display().to_string());
        ctx.env("DOPPEL_SIM_TIME_SCALE", "0.05");
        ctx.service(
            "root",
            "[DEFAULT]\nnodes = hpux01\n\n[sync#0]\ntype = drd\ntarget = /dev/disk/disk2\n",
        );
        let d = Drd { ctx };
        d.tool("drdsim", &["init", "--sample", "--hostname", "hpux01"]);
        // 40s and 30s of tool time: 2s and 1.5s here.
        d.tool("drdsim", &["set", "clone-seconds", "40"]);
        d.tool("drdsim", &["set", "sync-seconds", "30"]);
        d
    }

    #[track_caller]
    fn tool(&self, tool: &str, args: &[&str]) -> String {
        self.ctx.tool_ok(tool, args)
    }
}

#[test]
fn drd_killed_mid_clone_and_mid_sync_is_found_refused_and_reconciled() {
    let mut rng = Lcg(6);
    let d = Drd::new();
    for (action, command, window_ms) in [
        (&["-s", "root", "provision"][..], "drd clone", 1500),
        (&["-s", "root", "sync", "update"][..], "drd sync", 1000),
    ] {
        let delay = Duration::from_millis(rng.next_ms(window_ms));
        let record = kill_mid_action(&d.ctx, "root", "sync#0", action, delay);
        let pid = check_orphan(&d.ctx, "root", "sync#0", &record, command, action);
        wait_gone(pid);
        let (status, messages) = status_of(&d.ctx, "root", "sync#0");
        let reconciled = reconciled_line(&d.ctx, "root", command);
        // What drd status says, reconciled and shown: the clone is there.
        assert!(
            reconciled.contains("drd status says the clone is up"),
            "{reconciled}"
        );
        assert_eq!(status, "up", "{messages:?}");
        assert!(records(&d.ctx, "root", "sync#0").is_empty());
        assert_no_torn_state(&d.ctx);
    }
    // The next action is correct: a sync goes through.
    d.ctx.ok(&["-s", "root", "sync", "update"]);
}

// --- symclone ---------------------------------------------------------------------------------

const SID: &str = "000197900123";

#[test]
fn symclone_killed_mid_activate_is_found_refused_and_reconciled() {
    let mut ctx = TestContext::new();
    let target = target_dir().display().to_string();
    let host = ctx.root().join("host").display().to_string();
    ctx.write(
        "etc/doppel/doppel.toml",
        &format!(
            "nodename = \"n1\"\n\n[driver.symclone]\nbin = \"{target}\"\nsysroot = \"{host}\"\n\
             sg_turs = \"{target}/sg_turs\"\nmultipath = \"{target}/multipath\"\n"
        ),
    );
    ctx.env(
        "DOPPEL_SIM_ROOT",
        ctx.root().join("sim").display().to_string(),
    );
    // symclone's -i 20: 0.2s between its lock retries.
    ctx.env("DOPPEL_SIM_TIME_SCALE", "0.01");
    ctx.env("DOPPEL_SYMCLONE_POLL_MS", "50");
    ctx.service(
        "svc",
        &format!("[DEFAULT]\nnodes = n1\n\n[sync#0]\ntype = symclone\nsymid = {SID}\npairs = 00B60:00B61 00B62:00B63\n"),
    );
    let sim = |tool: &str, args: &[&str]| ctx.tool_ok(tool, args);
    sim(
        "symsim",
        &[
            "array",
            "create",
            SID,
            "--devs",
            "00B60:00B65",
            "--copy-seconds",
            "0",
        ],
    );
    sim("symsim", &["sysfs", &host]);
    let pairs = ctx.write("pairs", "00B60 00B61\n00B62 00B63\n");
    let pairs = pairs.display().to_string();
    sim(
        "symclone",
        &[
            "-sid",
            SID,
            "-f",
            &pairs,
            "create",
            "-differential",
            "-precopy",
            "-noprompt",
        ],
    );
    // The simulator's truth: `<tgt> <state>` of every clone session.
    let truth = || {
        let doc: serde_json::Value =
            serde_json::from_str(&sim("symsim", &["array", "show", SID])).unwrap();
        doc["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p["tgt"].as_str().unwrap(),
                    p["state"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    let mut rng = Lcg(5);
    for _point in 0..2 {
        // The array lock is contended for 8 attempts: symclone activate waits
        // (retrying every 0.2s) long enough to be killed under.
        sim("symsim", &["fail", "lock", "--count", "8"]);
        let delay = Duration::from_millis(rng.next_ms(1200));
        let action = ["-s", "svc", "sync", "break"];
        let record = kill_mid_action(&ctx, "svc", "sync#0", &action, delay);
        assert!(
            record["argv"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "activate"),
            "{record}"
        );
        let pid = check_orphan(&ctx, "svc", "sync#0", &record, "symclone", &action);
        wait_gone(pid);
        let (status, messages) = status_of(&ctx, "svc", "sync#0");
        let reconciled = reconciled_line(&ctx, "svc", "symclone");
        assert!(
            reconciled.contains("symclone query says the pairs are"),
            "{reconciled}"
        );
        assert!(records(&ctx, "svc", "sync#0").is_empty());
        assert_no_torn_state(&ctx);
        // The orphan's activate went through: the array says so, and so does status.
        assert_eq!(truth(), ["00B61 Copied", "00B63 Copied"]);
        assert_eq!(status, "up", "{messages:?}");
        // The next action is correct: resync then break again.
        ctx.ok(&["-s", "svc", "sync", "resync"]);
    }
}

// --- a driver that cannot reconcile -----------------------------------------------------------

#[test]
fn a_driver_that_cannot_reconcile_leaves_the_resource_undef_until_an_action() {
    use std::os::unix::fs::PermissionsExt;
    let ctx = TestContext::new();
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    let script = ctx.write(
        "app.sh",
        "#!/bin/sh\nstate=\"$(dirname \"$0\")/app.state\"\ncase \"$1\" in\n  start) sleep 1.5; touch \"$state\" ;;\n  stop) rm -f \"$state\" ;;\n  check) test -f \"$state\" ;;\nesac\n",
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = script.display();
    ctx.service(
        "app",
        &format!("[DEFAULT]\nnodes = n1\n\n[app#0]\ntype = script\nstart = {s} start\nstop = {s} stop\ncheck = {s} check\n"),
    );
    let record = kill_mid_action(
        &ctx,
        "app",
        "app#0",
        &["-s", "app", "start"],
        Duration::from_millis(100),
    );
    let pid = check_orphan(
        &ctx,
        "app",
        "app#0",
        &record,
        "app.sh start",
        &["-s", "app", "start"],
    );
    wait_gone(pid);
    let (status, messages) = status_of(&ctx, "app", "app#0");
    assert_eq!(status, "undef", "{messages:?}");
    assert!(
        messages.iter().any(|m| m.starts_with(
            "error: driver app.script cannot reconcile an interrupted run: app.sh start started "
        ) && m
            .ends_with(&format!("by a doppel that is gone has ended (pid {pid})"))),
        "{messages:?}"
    );
    // An action establishes the state again and forgets the record.
    let out = ctx.ok(&["-s", "app", "start"]);
    assert!(
        out.contains("start goes on and its result replaces it"),
        "{out}"
    );
    assert!(records(&ctx, "app", "app#0").is_empty());
    assert_eq!(status_of(&ctx, "app", "app#0").0, "up");
}

// --- alt_disk ---------------------------------------------------------------------------------

#[test]
fn alt_disk_killed_mid_copy_is_reconciled_from_lspv() {
    let mut ctx = TestContext::new();
    ctx.write(
        "etc/doppel/doppel.toml",
        &format!(
            "nodename = \"n1\"\n\n[driver.alt_disk]\nbin = \"{}\"\n",
            target_dir().display()
        ),
    );
    ctx.env(
        "DOPPEL_SIM_ROOT",
        ctx.root().join("sim").display().to_string(),
    );
    ctx.env("DOPPEL_SIM_TIME_SCALE", "1");
    ctx.service(
        "alt",
        "[DEFAULT]\nnodes = n1\n\n[disk#0]\ntype = alt_disk\ndisks = hdisk1\n",
    );
    let tool = |tool: &str, args: &[&str]| ctx.tool_ok(tool, args);
    tool("aixsim", &["init"]);
    tool("aixsim", &["set", "copy-seconds", "1.5"]);
    let action = ["-s", "alt", "provision"];
    let record = kill_mid_action(&ctx, "alt", "disk#0", &action, Duration::from_millis(300));
    let pid = check_orphan(&ctx, "alt", "disk#0", &record, "alt_disk_copy", &action);
    wait_gone(pid);
    let (status, messages) = status_of(&ctx, "alt", "disk#0");
    let reconciled = reconciled_line(&ctx, "alt", "alt_disk_copy");
    assert!(
        reconciled.contains("lspv shows altinst_rootvg on hdisk1: phase(s) 123 recorded as done"),
        "{reconciled}"
    );
    // The truth (lspv) and the record agree.
    let lspv = tool("lspv", &[]);
    assert!(
        lspv.lines()
            .any(|l| l.starts_with("hdisk1 ") && l.contains("altinst_rootvg")),
        "{lspv}"
    );
    let kv = |key: &str| {
        std::fs::read_to_string(
            ctx.root()
                .join(format!("var/lib/doppel/alt/disk#0/kv/{key}")),
        )
        .unwrap()
    };
    assert_eq!(kv("disks"), "hdisk1");
    assert_eq!(kv("phases"), "123");
    assert_eq!(status, "up", "{messages:?}");
    assert_no_torn_state(&ctx);
}

// --- the daemon -------------------------------------------------------------------------------

#[test]
fn the_daemon_skips_a_scheduled_run_over_an_orphan_then_reconciles_it() {
    let nim = Nim::new("lpar1", "0.25");
    let action = ["-s", "mig", "run"];
    let record = kill_mid_action(
        &nim.ctx,
        "mig",
        "task#0",
        &action,
        Duration::from_millis(100),
    );
    let pid = record["pid"].as_u64().unwrap();
    // The run is scheduled on Mondays; 2024-05-06 is one.
    let text =
        std::fs::read_to_string(nim.ctx.root().join("etc/doppel/services/mig.conf")).unwrap();
    nim.ctx
        .service("mig", &format!("{text}schedule = 00:00-01:00@61 mon\n"));
    let (code, stdout, stderr) =
        run(&mut nim
            .ctx
            .doppel(["daemon", "--once", "--now", "2024-05-06T00:30:00Z"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(alive(pid), "the orphan outlived the tick: {stderr}");
    assert!(
        stderr.contains("skip: task#0: nimadm started ")
            && stderr.contains(&format!(
                "is still running (pid {pid}): not starting run over it"
            )),
        "{stderr}"
    );
    wait_gone(pid);
    // The daemon's next tick (its status refresh) reconciles it.
    let (code, stdout, stderr) =
        run(&mut nim
            .ctx
            .doppel(["daemon", "--once", "--now", "2024-05-06T01:30:00Z"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(records(&nim.ctx, "mig", "task#0").is_empty(), "{stderr}");
    assert!(
        reconciled_line(&nim.ctx, "mig", "nimadm").contains("client lpar1: migrated (12/12 phases")
    );
    assert_eq!(nim.truth("lpar1"), "migrated");
    assert_eq!(nim.recorded("lpar1")["migration"], "migrated");
}
