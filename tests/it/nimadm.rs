//! `task.nimadm` end to end (issue 8): the real `doppel` binary and its nimadm
//! driver against the nimadm simulator (tests/sim-nim): several clients at once
//! within max_parallel, a failing client cleaned up and reported while the
//! others succeed, single-phase runs, the service lock against a second run
//! and the simulator's per-client lock against a second service, dry-run,
//! wake/sleep/unprovision, status and validation.
//!
//! Every test has its own root and simulated NIM master (`nimsim setup`:
//! clients at 7100 with hdisk0 in rootvg and free hdisk1/hdisk2, spot_7200 and
//! lpp_7200), with a short simulated time per phase.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use doppel_e2e::{TestContext, doppel_snapshot, run, target_dir};

struct Nim {
    ctx: TestContext,
}

/// A `migrate` service with one nimadm resource over `clients`; `extra` lines
/// are appended to its section.
fn service_text(clients: &str, extra: &str) -> String {
    format!(
        "[DEFAULT]\nnodes = nim1\n\n[task#0]\ntype = nimadm\nclients = {clients}\nlpp_source = lpp_7200\nspot = spot_7200\n\
         disks = hdisk1\naccept_licenses = true\noptional = false\n{extra}"
    )
}

impl Nim {
    /// A NIM master with `clients` (comma separated), `phase_seconds` per phase.
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
        let n = Nim { ctx };
        n.sim_ok(&["setup", "--clients", clients]);
        n.sim_ok(&["set", "phase-seconds", phase_seconds]);
        n
    }

    fn service(&self, name: &str, text: &str) {
        self.ctx.service(name, text);
    }

    #[track_caller]
    fn sim_ok(&self, args: &[&str]) -> String {
        self.ctx.tool_ok("nimsim", args)
    }

    fn client(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.sim_ok(&["client", "show", name])).expect("client JSON")
    }

    /// The simulator's runs, oldest first.
    fn runs(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.sim_ok(&["runs"])).expect("runs JSON")
    }

    /// Runs doppel expecting exit `want`; returns stderr (the log).
    fn doppel(&self, args: &[&str], want: i32) -> String {
        let (code, stdout, stderr) = run(&mut self.ctx.doppel(args));
        assert_eq!(
            code, want,
            "doppel {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stderr
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.ctx
            .doppel(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn doppel")
    }

    /// Waits until a nimadm works on `client`.
    fn wait_busy(&self, client: &str, child: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.client(client)["busy_pid"].is_null() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the background run ended before nimadm started on {client}"
            );
            assert!(
                Instant::now() < deadline,
                "nimadm never started on {client}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The refreshed status of task#0 (JSON) and its messages as `<level>: <text>`.
    fn status(&self, svc: &str) -> (String, Vec<String>) {
        self.ctx.refreshed_status(svc, "task#0")
    }
}

fn has(stderr: &str, needle: &str) -> bool {
    stderr.lines().any(|l| l.contains(needle))
}

#[track_caller]
fn assert_has(stderr: &str, needle: &str) {
    assert!(has(stderr, needle), "missing {needle:?} in:\n{stderr}");
}

/// (start, end) of each client's successful migration, from the simulator.
fn spans(runs: &[serde_json::Value]) -> Vec<(String, f64, f64)> {
    runs.iter()
        .filter(|r| r["kind"] == "migrate" && r["result"] == "ok")
        .map(|r| {
            (
                r["client"].as_str().unwrap().to_owned(),
                r["start"].as_f64().unwrap(),
                r["end"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The most migrations running at the same time.
fn peak(spans: &[(String, f64, f64)]) -> usize {
    let mut events: Vec<(f64, i32)> = spans
        .iter()
        .flat_map(|(_, s, e)| [(*s, 1), (*e, -1)])
        .collect();
    // At equal times, an end comes before a start.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in events {
        now += d;
        max = max.max(now);
    }
    max as usize
}

#[test]
fn nimadm_five_clients_two_at_a_time() {
    let n = Nim::new("lpar1,lpar2,lpar3,lpar4,lpar5", "0.1");
    n.service(
        "migrate",
        &service_text(
            "lpar1 lpar2 lpar3 lpar4 lpar5",
            "max_parallel = 2\nclient_disks = lpar5:hdisk2\n",
        ),
    );
    let (state, messages) = n.status("migrate");
    assert_eq!(state, "n/a", "{messages:?}");
    let started = Instant::now();
    let stderr = n.doppel(&["-s", "migrate", "run"], 0);
    let wall = started.elapsed().as_secs_f64();
    assert_has(
        &stderr,
        "* MIGRATE.TASK#0 - INFO - migration of 5 client(s): lpar1 lpar2 lpar3 lpar4 lpar5 (2 at a time)",
    );
    assert_has(
        &stderr,
        &format!(
            "* MIGRATE.TASK#0 - INFO - client lpar5: migration started: {}/nimadm -c lpar5 -l lpp_7200 -s spot_7200 -d hdisk2 -Y -B",
            target_dir().display()
        ),
    );
    for c in ["lpar1", "lpar2", "lpar3", "lpar4", "lpar5"] {
        // A live progress line per phase, with the client's prefix.
        for p in [1, 6, 12] {
            assert_has(
                &stderr,
                &format!("* MIGRATE.TASK#0 - INFO - client {c}: phase {p}/12 ("),
            );
        }
        assert_has(
            &stderr,
            &format!("* MIGRATE.TASK#0 - INFO - client {c}: migrated (12/12 phases) in "),
        );
        assert_eq!(n.client(c)["alt"]["state"], "migrated", "{c}");
    }
    assert_has(
        &stderr,
        "* MIGRATE.TASK#0 - INFO - 5/5 clients migrated in ",
    );
    // nimadm's own lines are in the service log at debug level, prefixed too.
    let log = std::fs::read_to_string(n.ctx.root().join("var/log/doppel/migrate.log")).unwrap();
    assert!(
        log.contains("* MIGRATE.TASK#0 - DEBUG - client lpar3: Executing nimadm phase 7."),
        "{log}"
    );

    // Never more than 2 at once, and about 3 client-durations rather than 5.
    let spans = spans(&n.runs());
    assert_eq!(spans.len(), 5, "{spans:?}");
    assert_eq!(peak(&spans), 2, "max_parallel 2: {spans:?}");
    let durations: Vec<f64> = spans.iter().map(|(_, s, e)| e - s).collect();
    let sum: f64 = durations.iter().sum();
    let mean = sum / 5.0;
    let window = spans.iter().map(|s| s.2).fold(f64::MIN, f64::max)
        - spans.iter().map(|s| s.1).fold(f64::MAX, f64::min);
    // Back to back, the five would take `sum`; two at a time, about 0.6 of it.
    assert!(
        window < 0.8 * sum,
        "migrations spread over {window:.2}s for {sum:.2}s of work: {spans:?}"
    );
    assert!(
        wall < 4.5 * mean + 2.0,
        "doppel run took {wall:.2}s, client duration {mean:.2}s (5 in a row would be {sum:.2}s)"
    );

    let (state, messages) = n.status("migrate");
    assert_eq!(state, "up", "{messages:?}");
    assert_eq!(messages.len(), 5);
    assert!(
        messages[0].starts_with("info: lpar1: migrated (12/12 phases) on "),
        "{messages:?}"
    );
    // A second run has nothing to do: every client is migrated.
    let stderr = n.doppel(&["-s", "migrate", "run"], 0);
    assert_has(&stderr, "client lpar1: already migrated on ");
    assert_has(&stderr, "0/5 clients migrated in ");
    assert_eq!(n.runs().len(), 5, "no nimadm ran");
}

#[test]
fn nimadm_failing_client_is_cleaned_up_and_reported() {
    let n = Nim::new("lpar1,lpar2,lpar3", "0.05");
    n.service(
        "migrate",
        &service_text("lpar1 lpar2 lpar3", "max_parallel = 3\n"),
    );
    // lpar2's migration fails in phase 6 and nimadm leaves it as it is.
    n.sim_ok(&["fail", "phase", "6", "--client", "lpar2", "--no-cleanup"]);
    let stderr = n.doppel(&["-s", "migrate", "run"], 1);
    assert_has(
        &stderr,
        "* MIGRATE.TASK#0 - ERROR - client lpar2: FAILED at phase 6/12 (migrate the filesets with installp) after ",
    );
    assert_has(
        &stderr,
        &format!(
            "* MIGRATE.TASK#0 - INFO - client lpar2: cleaning up the failed migration: {}/nimadm -C -c lpar2 -s spot_7200",
            target_dir().display()
        ),
    );
    assert_has(
        &stderr,
        "* MIGRATE.TASK#0 - INFO - client lpar2: cleaned up",
    );
    assert_has(
        &stderr,
        "* MIGRATE.TASK#0 - INFO - 2/3 clients migrated in ",
    );
    let summary = "doppel: migrate: run failed: task#0: 1 of 3 clients failed: lpar2 at phase 6/12 (migrate the filesets with installp): \
                   nimadm: Error executing nimadm phase 6 (migrate the filesets with installp) on client lpar2: simulated failure. \
                   nimadm: The failed migration of client lpar2 was not cleaned up (the cleanup failed): run \"nimadm -C -c lpar2 -s spot_7200\". \
                   (exit code 1); cleaned up";
    assert!(
        stderr.lines().any(|l| l == summary),
        "missing {summary:?} in\n{stderr}"
    );
    // The others migrated; lpar2 was cleaned up by doppel's nimadm -C.
    assert_eq!(n.client("lpar1")["alt"]["state"], "migrated");
    assert_eq!(n.client("lpar3")["alt"]["state"], "migrated");
    assert!(n.client("lpar2")["alt"].is_null(), "{}", n.client("lpar2"));
    let runs = n.runs();
    let lpar2: Vec<String> = runs
        .iter()
        .filter(|r| r["client"] == "lpar2")
        .map(|r| {
            format!(
                "{} {} {}",
                r["kind"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
                r["phase"]
            )
        })
        .collect();
    assert_eq!(lpar2, ["migrate failed 6", "cleanup ok null"]);
    let (state, messages) = n.status("migrate");
    assert_eq!(state, "warn");
    let warnings: Vec<&String> = messages
        .iter()
        .filter(|m| m.starts_with("warn: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{messages:?}");
    assert!(
        warnings[0].starts_with(
            "warn: lpar2: failed at phase 6/12 (migrate the filesets with installp) on "
        ),
        "{warnings:?}"
    );
    assert!(
        warnings[0].ends_with("; cleaned up (nimadm -C)"),
        "{warnings:?}"
    );
    doppel_snapshot!(
        n.ctx,
        "nimadm_status_one_failed",
        n.ctx.doppel(["-s", "migrate", "print", "status"])
    );
    // The failed client alone, again: it migrates, and the service is up.
    let stderr = n.doppel(&["-s", "migrate", "run", "--clients", "lpar2"], 0);
    assert_has(&stderr, "1/1 clients migrated in ");
    assert_eq!(n.status("migrate").0, "up");

    // Without cleanup_on_failure the failed migration stays for the operator.
    n.service(
        "keep",
        &service_text("lpar3", "cleanup_on_failure = false\n"),
    );
    n.doppel(&["-s", "keep", "unprovision"], 0);
    n.sim_ok(&["fail", "phase", "2", "--client", "lpar3", "--no-cleanup"]);
    let stderr = n.doppel(&["-s", "keep", "run"], 1);
    assert!(!has(&stderr, "cleaning up"), "{stderr}");
    assert_eq!(n.client("lpar3")["alt"]["state"], "failed");
    let (_, messages) = n.status("keep");
    assert!(
        messages[0].ends_with("; not cleaned up (nimadm -C -c lpar3 -s spot_7200)"),
        "{messages:?}"
    );
}

#[test]
fn nimadm_single_phase_runs() {
    let n = Nim::new("lpar1,lpar2", "0.02");
    n.service("migrate", &service_text("lpar1 lpar2", ""));
    let stderr = n.doppel(&["-s", "migrate", "run", "--phase", "1"], 0);
    assert_has(
        &stderr,
        "* MIGRATE.TASK#0 - INFO - phase 1/12 (alt_disk_install phase 1: clone rootvg to altinst_rootvg) of 2 client(s): lpar1 lpar2 (2 at a time)",
    );
    assert_has(
        &stderr,
        &format!(
            "client lpar1: phase 1/12 started: {}/nimadm -c lpar1 -l lpp_7200 -s spot_7200 -d hdisk1 -Y -B -P 1",
            target_dir().display()
        ),
    );
    assert_has(&stderr, "2/2 clients ran phase 1/12 in ");
    for p in 2..=3 {
        let stderr = n.doppel(&["-s", "migrate", "run", "--phase", &p.to_string()], 0);
        assert_has(&stderr, &format!("client lpar2: phase {p}/12 ("));
    }
    assert_eq!(n.client("lpar2")["alt"]["phase_done"], 3);
    // Out of order: nimadm refuses before doing anything, so no cleanup undoes phases 1-3.
    let stderr = n.doppel(
        &["-s", "migrate", "run", "--phase", "5", "--clients", "lpar2"],
        1,
    );
    assert_has(
        &stderr,
        "* MIGRATE.TASK#0 - ERROR - client lpar2: FAILED before any phase after ",
    );
    assert_has(
        &stderr,
        "the last completed phase for client lpar2 is 3 (run phase 4 next)",
    );
    assert_has(
        &stderr,
        "client lpar2: nothing to clean up: nimadm stopped before its first phase",
    );
    assert_eq!(n.client("lpar2")["alt"]["phase_done"], 3);
    let (_, messages) = n.status("migrate");
    assert!(
        messages.iter().any(|m| m
            .starts_with("warn: lpar2: failed before any phase (refused by nimadm's checks) on ")),
        "{messages:?}"
    );
    n.doppel(
        &["-s", "migrate", "run", "--phase", "4", "--clients", "lpar2"],
        0,
    );
    assert_eq!(n.client("lpar2")["alt"]["phase_done"], 4);
    // lpar1 goes on phase by phase to the end.
    for p in 4..=12 {
        n.doppel(
            &[
                "-s",
                "migrate",
                "run",
                "--phase",
                &p.to_string(),
                "--clients",
                "lpar1",
            ],
            0,
        );
        if p == 6 {
            let (state, messages) = n.status("migrate");
            assert_eq!(state, "warn");
            assert!(
                messages.iter().any(|m| m.starts_with(
                    "warn: lpar1: phases 1-6/12 done (single-phase runs, the last on "
                )),
                "{messages:?}"
            );
        }
    }
    assert_eq!(n.client("lpar1")["alt"]["state"], "migrated");
    let kinds: Vec<String> = n
        .runs()
        .iter()
        .filter(|r| r["client"] == "lpar1")
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        (1..=12).map(|p| format!("phase {p}")).collect::<Vec<_>>()
    );
    let (state, messages) = n.status("migrate");
    assert_eq!(state, "warn", "lpar2 is half way: {messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("info: lpar1: migrated (12/12 phases) on ")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("warn: lpar2: phases 1-4/12 done")),
        "{messages:?}"
    );
    // Bad phase numbers are refused before anything runs.
    for bad in ["0", "13", "six"] {
        let stderr = n.doppel(&["-s", "migrate", "run", "--phase", bad], 2);
        assert_has(
            &stderr,
            &format!("--phase {bad}: nimadm phases are 1 to 12"),
        );
    }
    let stderr = n.doppel(&["-s", "migrate", "run", "--clients", "lpar1,lpar7"], 2);
    assert_has(
        &stderr,
        "--clients: lpar7 not among the clients of task#0 (lpar1 lpar2)",
    );
}

#[test]
fn nimadm_second_concurrent_run_is_refused_by_the_lock() {
    // Long enough phases that the first run is still on lpar1 (7 s) after the checks.
    let n = Nim::new("lpar1,lpar2", "0.6");
    n.service("migrate", &service_text("lpar1 lpar2", ""));
    // Another service sharing lpar1 (a mistake the simulator's per-client lock catches).
    n.service(
        "other",
        &service_text("lpar1", "client_disks = lpar1:hdisk2\n"),
    );
    let mut first = n.spawn(&["-s", "migrate", "run"]);
    n.wait_busy("lpar1", &mut first);
    let stderr = n.doppel(&["-s", "other", "run"], 1);
    assert_has(
        &stderr,
        "* OTHER.TASK#0 - ERROR - client lpar1: FAILED before any phase after ",
    );
    assert_has(
        &stderr,
        "Another nimadm operation is in progress for client lpar1 (process ",
    );
    assert_has(
        &stderr,
        "client lpar1: nothing to clean up: nimadm stopped before its first phase",
    );
    let stderr = n.doppel(&["-s", "migrate", "run", "--waitlock", "1s"], 1);
    let want = format!(
        "doppel: migrate: run failed: timed out after 1s waiting for the action lock of svc migrate: held by pid {} running 'run' since ",
        first.id()
    );
    assert!(stderr.contains(&want), "missing {want:?} in\n{stderr}");
    let out = first.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert_has(&log, "2/2 clients migrated in ");
    assert_eq!(
        n.client("lpar1")["alt"]["disks"],
        serde_json::json!(["hdisk1"]),
        "the first run's migration is intact"
    );
}

#[test]
fn nimadm_dry_run_wake_sleep_and_unprovision() {
    let n = Nim::new("lpar1,lpar2", "0.02");
    n.service(
        "migrate",
        &service_text(
            "lpar1 lpar2",
            "cache_vg = nimadmvg\nset_bootlist = false\nnfs_mount_options = vers=3\n",
        ),
    );
    let stderr = n.doppel(&["-s", "migrate", "run", "--dry-run"], 0);
    let bin = target_dir().display().to_string();
    assert_has(
        &stderr,
        &format!(
            "* MIGRATE.TASK#0 - INFO - dry-run: {bin}/nimadm -c lpar2 -l lpp_7200 -s spot_7200 -d hdisk1 -Y -j nimadmvg -m vers=3 -B"
        ),
    );
    assert_has(
        &stderr,
        "dry-run: 2 of 2 clients would run nimadm, 2 at a time: lpar1 lpar2",
    );
    assert!(n.runs().is_empty(), "nothing ran");
    assert_eq!(n.status("migrate").0, "n/a");

    let stderr = n.doppel(&["-s", "migrate", "run"], 0);
    assert_has(&stderr, "client lpar1: phase 2/12 (");
    let c = n.client("lpar1");
    assert_eq!(
        (c["alt"]["state"].as_str(), c["bootlist"].clone()),
        (Some("migrated"), serde_json::json!(["hdisk0"])),
        "-B keeps the bootlist"
    );

    let stderr = n.doppel(&["-s", "migrate", "wake", "--clients", "lpar2"], 0);
    assert_has(
        &stderr,
        &format!(
            "* MIGRATE.TASK#0 - INFO - client lpar2: {bin}/nimadm -W -c lpar2 -s spot_7200 -d hdisk1 -m vers=3"
        ),
    );
    assert_has(
        &stderr,
        "* MIGRATE.TASK#0 - INFO - client lpar2: Waking up altinst_rootvg disk(s).",
    );
    assert_eq!(n.client("lpar2")["alt"]["state"], "awake");
    let (state, messages) = n.status("migrate");
    assert_eq!(state, "up");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("info: lpar2: altinst_rootvg is awake")),
        "{messages:?}"
    );
    // sleep on both: lpar1 is not awake, so nimadm -S fails for it.
    let stderr = n.doppel(&["-s", "migrate", "sleep"], 1);
    assert_has(
        &stderr,
        "client lpar1: sleep FAILED: nimadm: The altinst_rootvg of client lpar1 is not awake (it is migrated).",
    );
    assert_has(
        &stderr,
        "task#0: sleep 1 of 2 clients failed: lpar1: nimadm: The altinst_rootvg of client lpar1 is not awake (it is migrated).",
    );
    assert_eq!(n.client("lpar2")["alt"]["state"], "migrated");
    assert_eq!(n.status("migrate").0, "warn");

    let stderr = n.doppel(&["-s", "migrate", "unprovision"], 0);
    assert_has(
        &stderr,
        &format!("client lpar1: {bin}/nimadm -C -c lpar1 -s spot_7200"),
    );
    assert_has(&stderr, "2/2 clients cleaned up: lpar1 lpar2");
    assert!(n.client("lpar1")["alt"].is_null() && n.client("lpar2")["alt"].is_null());
    let (state, messages) = n.status("migrate");
    assert_eq!(state, "n/a", "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("info: lpar1: not migrated (cleaned up on ")),
        "{messages:?}"
    );
}

#[test]
fn nimadm_validation_and_licenses() {
    let n = Nim::new("lpar1,lpar2", "0.02");
    n.service(
        "bad",
        "[DEFAULT]\nnodes = nim1\n\n[task#0]\ntype = nimadm\nclients = lpar1 lpar2 lpar2\nlpp_source = lpp_7200\nspot = spot_7200\n\
         client_disks = lpar1:hdisk1 lpar3:hdisk2\nmax_parallel = 0\nset_bootlist = false\nreboot = true\n",
    );
    doppel_snapshot!(
        n.ctx,
        "nimadm_validate_bad",
        n.ctx.doppel(["-s", "bad", "validate"])
    );
    n.service(
        "nolic",
        &service_text("lpar1 lpar2", "").replace("accept_licenses = true\n", ""),
    );
    let stderr = n.doppel(&["-s", "nolic", "run"], 2);
    assert_has(
        &stderr,
        "task#0: accept_licenses is not set: nimadm installs licensed software and needs -Y to accept the license agreements; \
         review them, then set accept_licenses = true",
    );
    assert!(n.runs().is_empty());
    let (code, stdout, stderr) = run(&mut n.ctx.doppel(["template", "task.nimadm"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("clients") && stdout.contains("max_parallel"),
        "{stdout}"
    );
}

#[test]
fn nimadm_leaves_the_bootlist_alone_unless_the_service_asks() {
    // doppel's bootlist rule, the same as disk.alt_disk's (issue 22).
    let n = Nim::new("lpar1,lpar2", "0.02");
    n.service("migrate", &service_text("lpar1", ""));
    let stdout = {
        let (code, stdout, stderr) =
            run(&mut n.ctx.doppel(["-s", "migrate", "print", "config", "--eval"]));
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    let line = stdout
        .lines()
        .find(|l| l.starts_with("task#0.set_bootlist"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["task#0.set_bootlist", "=", "false", "#", "default"]
    );
    let bin = target_dir().display().to_string();
    let stderr = n.doppel(&["-s", "migrate", "run"], 0);
    assert_has(
        &stderr,
        &format!(
            "migration started: {bin}/nimadm -c lpar1 -l lpp_7200 -s spot_7200 -d hdisk1 -Y -B"
        ),
    );
    assert_eq!(n.client("lpar1")["bootlist"], serde_json::json!(["hdisk0"]));

    n.service("migrate", &service_text("lpar2", "set_bootlist = true\n"));
    let stderr = n.doppel(&["-s", "migrate", "run"], 0);
    let wanted =
        format!("migration started: {bin}/nimadm -c lpar2 -l lpp_7200 -s spot_7200 -d hdisk1 -Y");
    assert!(
        stderr.lines().any(|l| l.ends_with(&wanted)),
        "no -B with set_bootlist = true:\n{stderr}"
    );
    assert_eq!(n.client("lpar2")["bootlist"], serde_json::json!(["hdisk1"]));
}
