//! End-to-end tests of the nimadm simulator binaries (nimadm, nimsim), each test
//! with its own `$DOPPEL_SIM_ROOT`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use doppel_sim::testing::Out;

struct Sim {
    dir: tempfile::TempDir,
}

fn bin(name: &str) -> &'static str {
    match name {
        "nimadm" => env!("CARGO_BIN_EXE_nimadm"),
        "nimsim" => env!("CARGO_BIN_EXE_nimsim"),
        other => panic!("unknown binary {other}"),
    }
}

const MIGRATE: &[&str] = &["-l", "lpp_7200", "-s", "spot_7200", "-Y"];

impl Sim {
    /// lpar1..lpar3 (disks hdisk0-2, rootvg hdisk0), spot_7200 and lpp_7200, 0.02 s per phase.
    fn new() -> Sim {
        let s = Sim {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        s.run("nimsim", &["setup", "--clients", "lpar1,lpar2,lpar3"])
            .ok();
        s.run("nimsim", &["set", "phase-seconds", "0.02"]).ok();
        s
    }

    fn cmd(&self, name: &str, args: &[&str]) -> Command {
        let mut c = Command::new(bin(name));
        c.args(args)
            .env("DOPPEL_SIM_ROOT", self.dir.path())
            .env_remove("DOPPEL_SIM_TIME_SCALE")
            .env_remove("ADM_ACCEPT_LICENSES");
        c
    }

    fn run(&self, name: &str, args: &[&str]) -> Out {
        Out::of(&mut self.cmd(name, args))
    }

    fn migrate(&self, client: &str, disks: &str, extra: &[&str]) -> Out {
        let mut args = vec!["-c", client, "-d", disks];
        args.extend_from_slice(MIGRATE);
        args.extend_from_slice(extra);
        self.run("nimadm", &args)
    }

    fn spawn_migrate(&self, client: &str) -> Child {
        let mut args = vec!["-c", client, "-d", "hdisk1"];
        args.extend_from_slice(MIGRATE);
        self.cmd("nimadm", &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn")
    }

    fn client(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.run("nimsim", &["client", "show", name]).ok().stdout)
            .expect("json")
    }

    fn runs(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.run("nimsim", &["runs"]).ok().stdout).expect("json")
    }
}

fn banners(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("Executing nimadm phase ")
                .and_then(|r| r.trim_end_matches('.').parse().ok())
        })
        .collect()
}

#[test]
fn full_migration_prints_the_12_phases_and_logs_them() {
    let s = Sim::new();
    let out = s.migrate("lpar1", "hdisk1", &[]).ok();
    assert_eq!(banners(&out.stdout), (1..=12).collect::<Vec<_>>());
    assert!(
        out.stdout.starts_with("Initializing the NIM master.\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Initializing log: /var/adm/ras/alt_mig/lpar1_alt_mig.log\n")
    );
    assert!(
        out.stdout
            .contains("Client alt_disk_install command: alt_disk_copy -M 7.2 -P1 -d \"hdisk1\"")
    );
    assert!(
        out.stdout
            .contains("Bootlist is set to the boot disk: hdisk1 blv=hd5")
    );
    assert!(
        out.stdout
            .trim_end()
            .ends_with("Cleaning up alt_disk_migration on client lpar1."),
        "{}",
        out.stdout
    );
    let log = s
        .dir
        .path()
        .join("nim/var/adm/ras/alt_mig/lpar1_alt_mig.log");
    assert_eq!(
        s.run("nimsim", &["log", "lpar1"]).ok().stdout.trim(),
        log.display().to_string()
    );
    let text = std::fs::read_to_string(&log).expect("log");
    assert_eq!(banners(&text), (1..=12).collect::<Vec<_>>());
    let c = s.client("lpar1");
    assert_eq!(c["alt"]["state"], "migrated");
    assert_eq!(c["alt"]["phase_done"], 12);
    assert_eq!(c["bootlist"], serde_json::json!(["hdisk1"]));
    assert_eq!(
        c["level"], "7100-05-06-2028",
        "the client still runs the old level until it reboots"
    );
    // A second migration finds the altinst_rootvg and asks for a cleanup.
    let again = s.migrate("lpar1", "hdisk1", &[]).fails();
    assert!(
        again
            .stderr
            .contains("belong to volume group altinst_rootvg"),
        "{}",
        again.stderr
    );
    assert!(
        again
            .stderr
            .contains("Run \"nimadm -C -c lpar1 -s spot_7200\" first."),
        "{}",
        again.stderr
    );
    // -C clears it (the -C <client> form of AIX 5.2 too) and the bootlist goes back.
    let clean = s.run("nimadm", &["-C", "lpar1", "-s", "spot_7200"]).ok();
    assert!(
        clean
            .stdout
            .contains("Removing altinst_rootvg from disk(s) hdisk1."),
        "{}",
        clean.stdout
    );
    let c = s.client("lpar1");
    assert!(c["alt"].is_null());
    assert_eq!(c["bootlist"], serde_json::json!(["hdisk0"]));
    let nothing = s
        .run("nimadm", &["-C", "-c", "lpar1", "-s", "spot_7200"])
        .ok();
    assert!(
        nothing
            .stdout
            .contains("There is no alt_disk_migration to clean up"),
        "{}",
        nothing.stdout
    );
}

#[test]
fn options_show_in_the_phases() {
    let s = Sim::new();
    for (t, n) in [
        ("script", "premig"),
        ("script", "postmig"),
        ("installp_bundle", "extra"),
        ("exclude_files", "excl"),
    ] {
        s.run("nimsim", &["resource", "add", t, n]).ok();
    }
    let out = s
        .migrate(
            "lpar2",
            "hdisk1 hdisk2",
            &[
                "-j", "nimadmvg", "-a", "premig", "-z", "postmig", "-b", "extra", "-e", "excl",
                "-B",
            ],
        )
        .ok();
    for needle in [
        "alt_disk_copy -M 7.2 -P1 -d \"hdisk1 hdisk2\"",
        "Creating nimadm cache file systems on volume group nimadmvg.",
        "Executing pre-migration script resource premig.",
        "Executing post-migration script resource postmig.",
        "Installing the filesets of installp_bundle extra.",
        "Excluding the files listed in exclude_files resource excl.",
        "alt_disk_copy -M 7.2 -P3 -B -d \"hdisk1 hdisk2\"",
        "The bootlist is not changed (-B).",
    ] {
        assert!(
            out.stdout.contains(needle),
            "missing {needle:?} in\n{}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("nfsd"), "no NFS with -j");
    assert_eq!(s.client("lpar2")["bootlist"], serde_json::json!(["hdisk0"]));
    // A resource of the wrong type is refused.
    s.run("nimadm", &["-C", "-c", "lpar2", "-s", "spot_7200"])
        .ok();
    let bad = s.migrate("lpar2", "hdisk1", &["-a", "extra"]).fails();
    assert!(
        bad.stderr
            .contains("is a installp_bundle resource, not a script resource"),
        "{}",
        bad.stderr
    );
}

#[test]
fn reboot_boots_the_migrated_disks() {
    let s = Sim::new();
    let out = s.migrate("lpar3", "hdisk2", &["-r"]).ok();
    assert!(
        out.stdout
            .contains("Rebooting client lpar3 from disk(s) hdisk2 (-r)."),
        "{}",
        out.stdout
    );
    let c = s.client("lpar3");
    assert_eq!(c["level"], "7200-05-03-2148");
    assert_eq!(c["rootvg"], serde_json::json!(["hdisk2"]));
    assert_eq!(c["old_rootvg"], serde_json::json!(["hdisk0"]));
    assert!(c["alt"].is_null());
    let again = s.migrate("lpar3", "hdisk1", &[]).fails();
    assert!(
        again.stderr.contains("needs a higher version or release"),
        "{}",
        again.stderr
    );
}

#[test]
fn single_phases_run_in_order() {
    let s = Sim::new();
    let bad = s.migrate("lpar1", "hdisk1", &["-P", "2"]).fails();
    assert!(
        bad.stderr
            .contains("has no alt_disk_migration in progress (start with phase 1)"),
        "{}",
        bad.stderr
    );
    for p in 1..=5 {
        let out = s.migrate("lpar1", "hdisk1", &[&format!("-P{p}")]).ok();
        assert_eq!(banners(&out.stdout), [p]);
    }
    let log = std::fs::read_to_string(
        s.dir
            .path()
            .join("nim/var/adm/ras/alt_mig/lpar1_alt_mig.log"),
    )
    .unwrap();
    assert_eq!(
        banners(&log),
        [1, 2, 3, 4, 5],
        "phases after the first append to the log"
    );
    let skip = s.migrate("lpar1", "hdisk1", &["-P", "7"]).fails();
    assert!(
        skip.stderr
            .contains("the last completed phase for client lpar1 is 5 (run phase 6 next)"),
        "{}",
        skip.stderr
    );
    let other = s.migrate("lpar1", "hdisk2", &["-P", "6"]).fails();
    assert!(
        other.stderr.contains("is on disk(s) hdisk1, not hdisk2"),
        "{}",
        other.stderr
    );
    let c = s.client("lpar1");
    assert_eq!(
        (c["alt"]["state"].as_str(), c["alt"]["phase_done"].as_u64()),
        (Some("migrating"), Some(5))
    );
    let full = s.migrate("lpar1", "hdisk1", &[]).fails();
    assert!(
        full.stderr
            .contains("incomplete alt_disk_migration (5 of 12 phases done)"),
        "{}",
        full.stderr
    );
    for p in 6..=12 {
        s.migrate("lpar1", "hdisk1", &["-P", &p.to_string()]).ok();
    }
    assert_eq!(s.client("lpar1")["alt"]["state"], "migrated");
    for p in ["0", "13", "x"] {
        let out = s.migrate("lpar2", "hdisk1", &["-P", p]).fails();
        assert!(
            out.stderr.contains("the phases are 1 to 12"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn a_phase_fault_fails_the_client_and_nimadm_cleans_up() {
    let s = Sim::new();
    s.run("nimsim", &["fail", "phase", "6", "--client", "lpar2"])
        .ok();
    // Another client is not affected.
    s.migrate("lpar1", "hdisk1", &[]).ok();
    let out = s.migrate("lpar2", "hdisk1", &[]).fails();
    assert_eq!(out.code, 1);
    assert_eq!(banners(&out.stdout), [1, 2, 3, 4, 5, 6]);
    assert!(
        out.stderr.contains(
            "Error executing nimadm phase 6 (migrate the filesets with installp) on client lpar2"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("Cleaning up alt_disk_migration on client lpar2.")
    );
    assert!(
        s.client("lpar2")["alt"].is_null(),
        "nimadm cleaned up after itself"
    );
    // The fault fired once: the next run succeeds.
    s.migrate("lpar2", "hdisk1", &[]).ok();
    let runs = s.runs();
    let failed: Vec<_> = runs.iter().filter(|r| r["result"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0]["client"].as_str(), failed[0]["phase"].as_u64()),
        (Some("lpar2"), Some(6))
    );
}

#[test]
fn a_failure_without_cleanup_needs_nimadm_c() {
    let s = Sim::new();
    s.run(
        "nimsim",
        &[
            "fail",
            "phase",
            "3",
            "--client",
            "lpar3",
            "--no-cleanup",
            "--rc",
            "7",
            "--message",
            "mount: RPC timed out",
        ],
    )
    .ok();
    let out = s.migrate("lpar3", "hdisk1", &[]).fails();
    assert_eq!(out.code, 7);
    assert!(
        out.stderr.contains("mount: RPC timed out"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("run \"nimadm -C -c lpar3 -s spot_7200\""),
        "{}",
        out.stderr
    );
    let c = s.client("lpar3");
    assert_eq!(
        (
            c["alt"]["state"].as_str(),
            c["alt"]["failed_phase"].as_u64()
        ),
        (Some("failed"), Some(3))
    );
    assert_eq!(c["alt"]["exports"], true);
    let again = s.migrate("lpar3", "hdisk1", &[]).fails();
    assert!(
        again
            .stderr
            .contains("failed in phase 3 and was not cleaned up"),
        "{}",
        again.stderr
    );
    let clean = s
        .run("nimadm", &["-C", "-c", "lpar3", "-s", "spot_7200"])
        .ok();
    assert!(
        clean
            .stdout
            .contains("Removing the alt_inst exports of client lpar3."),
        "{}",
        clean.stdout
    );
    s.migrate("lpar3", "hdisk1", &[]).ok();
    // Debug mode (-D) also leaves the failure in place.
    s.run("nimadm", &["-C", "-c", "lpar3", "-s", "spot_7200"])
        .ok();
    s.run("nimsim", &["fail", "phase", "8"]).ok();
    s.migrate("lpar3", "hdisk1", &["-D"]).fails();
    assert_eq!(s.client("lpar3")["alt"]["state"], "failed");
    // A failing cleanup.
    s.run("nimsim", &["fail", "cleanup", "--client", "lpar3"])
        .ok();
    let bad = s
        .run("nimadm", &["-C", "-c", "lpar3", "-s", "spot_7200"])
        .fails();
    assert!(bad.stderr.contains("Unable to clean up"), "{}", bad.stderr);
    assert_eq!(s.client("lpar3")["alt"]["state"], "failed");
    s.run("nimadm", &["-C", "-c", "lpar3", "-s", "spot_7200"])
        .ok();
    assert!(s.client("lpar3")["alt"].is_null());
}

#[test]
fn one_lock_per_client() {
    let s = Sim::new();
    s.run("nimsim", &["set", "phase-seconds", "0.1"]).ok();
    let mut first = s.spawn_migrate("lpar1");
    let mut other = s.spawn_migrate("lpar2");
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.client("lpar1")["busy_pid"].is_null() {
        assert!(
            Instant::now() < deadline,
            "the first nimadm never took its lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = s.migrate("lpar1", "hdisk2", &[]).fails();
    assert!(
        second
            .stderr
            .contains("Another nimadm operation is in progress for client lpar1 (process "),
        "{}",
        second.stderr
    );
    let cleanup = s
        .run("nimadm", &["-C", "-c", "lpar1", "-s", "spot_7200"])
        .fails();
    assert!(
        cleanup
            .stderr
            .contains("Another nimadm operation is in progress"),
        "{}",
        cleanup.stderr
    );
    assert!(first.wait().unwrap().success());
    assert!(other.wait().unwrap().success());
    assert!(s.client("lpar1")["busy_pid"].is_null());
    // lpar1 and lpar2 migrated at the same time.
    let runs = s.runs();
    let span = |c: &str| {
        let r = runs
            .iter()
            .find(|r| r["client"] == c && r["kind"] == "migrate" && r["result"] == "ok")
            .expect("run");
        (r["start"].as_f64().unwrap(), r["end"].as_f64().unwrap())
    };
    let (a, b) = (span("lpar1"), span("lpar2"));
    assert!(a.0 < b.1 && b.0 < a.1, "runs overlap: {a:?} {b:?}");
    assert_eq!(s.client("lpar1")["alt"]["state"], "migrated");
}

#[test]
fn phase_time_is_simulated_and_scaled() {
    let s = Sim::new();
    s.run(
        "nimsim",
        &["set", "phase-seconds", "0.1", "--client", "lpar1"],
    )
    .ok();
    assert_eq!(
        s.run("nimsim", &["get", "phase-seconds", "--client", "lpar1"])
            .ok()
            .stdout
            .trim(),
        "0.1"
    );
    assert_eq!(
        s.run("nimsim", &["get", "phase-seconds"])
            .ok()
            .stdout
            .trim(),
        "0.02"
    );
    let t = Instant::now();
    s.migrate("lpar1", "hdisk1", &[]).ok();
    assert!(
        t.elapsed() >= Duration::from_millis(1200),
        "12 phases of 0.1 s took {:?}",
        t.elapsed()
    );
    s.run(
        "nimsim",
        &["set", "phase-seconds", "100", "--client", "lpar2"],
    )
    .ok();
    let t = Instant::now();
    let mut args = vec!["-c", "lpar2", "-d", "hdisk1"];
    args.extend_from_slice(MIGRATE);
    let o = s
        .cmd("nimadm", &args)
        .env("DOPPEL_SIM_TIME_SCALE", "0.0005")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "scaled: {:?}",
        t.elapsed()
    );
}

#[test]
fn wake_and_sleep() {
    let s = Sim::new();
    let w = ["-W", "-c", "lpar1", "-s", "spot_7200", "-d", "hdisk1"];
    let none = s.run("nimadm", &w).fails();
    assert!(
        none.stderr.contains("the client has no altinst_rootvg"),
        "{}",
        none.stderr
    );
    s.migrate("lpar1", "hdisk1", &[]).ok();
    let woke = s.run("nimadm", &w).ok();
    assert!(
        woke.stdout.contains("alt_rootvg_op -W -d hdisk1"),
        "{}",
        woke.stdout
    );
    assert_eq!(s.client("lpar1")["alt"]["state"], "awake");
    assert!(s.run("nimadm", &w).fails().stderr.contains("already awake"));
    let wrong = s
        .run(
            "nimadm",
            &["-W", "-c", "lpar1", "-s", "spot_7200", "-d", "hdisk2"],
        )
        .fails();
    assert!(
        wrong.stderr.contains("already awake") || wrong.stderr.contains("not hdisk2"),
        "{}",
        wrong.stderr
    );
    let slept = s
        .run("nimadm", &["-S", "-c", "lpar1", "-s", "spot_7200"])
        .ok();
    assert!(
        slept.stdout.contains("Putting altinst_rootvg to sleep."),
        "{}",
        slept.stdout
    );
    assert_eq!(s.client("lpar1")["alt"]["state"], "migrated");
    assert!(
        s.run("nimadm", &["-S", "-c", "lpar1", "-s", "spot_7200"])
            .fails()
            .stderr
            .contains("is not awake (it is migrated)")
    );
    let log = std::fs::read_to_string(
        s.dir
            .path()
            .join("nim/var/adm/ras/alt_mig/lpar1_alt_mig.log"),
    )
    .unwrap();
    assert!(
        log.contains("Waking up altinst_rootvg disk(s).")
            && log.contains("Putting altinst_rootvg to sleep."),
        "{log}"
    );
}

#[test]
fn refusals() {
    let s = Sim::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["-l", "lpp_7200", "-s", "spot_7200", "-d", "hdisk1", "-Y"],
            "The -c flag (NIM client) is required.",
        ),
        (
            &["-c", "lpar1", "-s", "spot_7200", "-d", "hdisk1", "-Y"],
            "The -l flag (lpp_source) is required.",
        ),
        (
            &["-c", "lpar1", "-l", "lpp_7200", "-s", "spot_7200", "-Y"],
            "The -d flag (target disks) is required.",
        ),
        (
            &[
                "-c",
                "lpar1",
                "-l",
                "lpp_7200",
                "-s",
                "spot_7200",
                "-d",
                "hdisk1",
                "-Y",
                "-B",
                "-r",
            ],
            "-B and -r flags cannot be used together",
        ),
        (&["-H"], "Not a recognized flag: H"),
        (
            &["-C", "-W", "-c", "lpar1", "-s", "spot_7200"],
            "cannot be used together",
        ),
        (
            &[
                "-c",
                "lpar9",
                "-l",
                "lpp_7200",
                "-s",
                "spot_7200",
                "-d",
                "hdisk1",
                "-Y",
            ],
            "\"lpar9\" is not a NIM standalone client",
        ),
        (
            &[
                "-c", "lpar1", "-l", "lpp_7200", "-s", "spot_9", "-d", "hdisk1", "-Y",
            ],
            "Unable to find spot resource \"spot_9\"",
        ),
        (
            &[
                "-c",
                "lpar1",
                "-l",
                "lpp_7200",
                "-s",
                "spot_7200",
                "-d",
                "hdisk1",
            ],
            "license agreements have not been accepted",
        ),
        (
            &[
                "-c",
                "lpar1",
                "-l",
                "lpp_7200",
                "-s",
                "spot_7200",
                "-d",
                "hdisk0",
                "-Y",
            ],
            "Disk hdisk0 belongs to the rootvg of client lpar1",
        ),
        (
            &[
                "-c",
                "lpar1",
                "-l",
                "lpp_7200",
                "-s",
                "spot_7200",
                "-d",
                "hdisk7",
                "-Y",
            ],
            "Disk hdisk7 does not exist on client lpar1",
        ),
        (&["-T", "mksysb1", "-c", "lpar1"], "not simulated"),
    ];
    for (args, needle) in cases {
        let out = s.run("nimadm", args).fails();
        assert!(
            out.stderr.contains(needle),
            "{args:?}: expected {needle:?} in\n{}",
            out.stderr
        );
    }
    assert!(
        s.run("nimadm", &["-H"])
            .stderr
            .contains("Usage: nimadm -l lpp_source")
    );
    // ADM_ACCEPT_LICENSES=yes stands for -Y.
    let o = s
        .cmd(
            "nimadm",
            &[
                "-c",
                "lpar1",
                "-l",
                "lpp_7200",
                "-s",
                "spot_7200",
                "-d",
                "hdisk1",
            ],
        )
        .env("ADM_ACCEPT_LICENSES", "yes")
        .output()
        .unwrap();
    assert!(o.status.success());
    // SPOT and lpp_source at different levels; -M syncs them.
    s.run(
        "nimsim",
        &[
            "resource",
            "add",
            "lpp_source",
            "lpp_7300",
            "--level",
            "7300-02-01-2346",
        ],
    )
    .ok();
    let mismatch = s
        .run(
            "nimadm",
            &[
                "-c",
                "lpar2",
                "-l",
                "lpp_7300",
                "-s",
                "spot_7200",
                "-d",
                "hdisk1",
                "-Y",
            ],
        )
        .fails();
    assert!(
        mismatch.stderr.contains("are not at the same level"),
        "{}",
        mismatch.stderr
    );
    s.run("nimadm", &["-M", "-s", "spot_7200", "-l", "lpp_7300"])
        .ok();
    s.run(
        "nimadm",
        &[
            "-c",
            "lpar2",
            "-l",
            "lpp_7300",
            "-s",
            "spot_7200",
            "-d",
            "hdisk1",
            "-Y",
        ],
    )
    .ok();
    // Without DOPPEL_SIM_ROOT.
    let o = Command::new(bin("nimadm"))
        .env_remove("DOPPEL_SIM_ROOT")
        .args(["-c", "x", "-l", "l", "-s", "s", "-d", "hdisk1", "-Y"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("DOPPEL_SIM_ROOT is not set"));
    // nimsim refusals.
    assert!(
        s.run("nimsim", &["fail", "phase"])
            .fails()
            .stderr
            .contains("needs the phase number")
    );
    assert!(
        s.run("nimsim", &["fail", "phase", "3", "--client", "nope"])
            .fails()
            .stderr
            .contains("not a NIM standalone client")
    );
    assert!(
        s.run("nimsim", &["resource", "add", "disk", "x"])
            .fails()
            .stderr
            .contains("unknown resource type")
    );
}
