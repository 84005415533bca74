//! Unit tests with a fake host whose `nimadm` writes phase banners to a log
//! file as it goes, sleeping a few milliseconds per phase.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use doppel_plugin_api::{CommandRequest, ErrorKind, HostServices, MessageLevel};

use crate::records::Migration;

use super::*;

struct Fake {
    log_dir: tempfile::TempDir,
    logs: Mutex<Vec<(Level, String, Instant)>>,
    /// Commands with the time they started and ended.
    commands: Mutex<Vec<(Vec<String>, Instant, Instant)>>,
    state: Mutex<BTreeMap<String, String>>,
    dry_run: bool,
    /// client → phase at which its migration fails.
    fail_at: BTreeMap<String, u8>,
    fail_cleanup: bool,
    /// Clients whose nimadm refuses to start (no phase runs).
    refuse: Vec<String>,
    phase_ms: u64,
    running: AtomicUsize,
    max_running: AtomicUsize,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            log_dir: tempfile::tempdir().unwrap(),
            logs: Mutex::new(Vec::new()),
            commands: Mutex::new(Vec::new()),
            state: Mutex::new(BTreeMap::new()),
            dry_run: false,
            fail_at: BTreeMap::new(),
            fail_cleanup: false,
            refuse: Vec::new(),
            phase_ms: 2,
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
        }
    }

    fn commands(&self) -> Vec<String> {
        self.commands
            .lock()
            .unwrap()
            .iter()
            .map(|(a, _, _)| a[1..].join(" "))
            .collect()
    }

    fn lines(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .map(|(_, m, _)| m.clone())
            .collect()
    }

    fn has_line(&self, needle: &str) -> bool {
        self.lines().iter().any(|l| l.contains(needle))
    }

    fn migrate(&self, argv: &[String]) -> CommandOutput {
        let arg = |f: &str| {
            argv.iter()
                .position(|a| a == f)
                .map(|i| argv[i + 1].clone())
        };
        let client = arg("-c").unwrap();
        let phases: Vec<u8> = match arg("-P") {
            Some(p) => vec![p.parse().unwrap()],
            None => (1..=12).collect(),
        };
        if self.refuse.contains(&client) {
            return CommandOutput::exited(
                1,
                "Initializing the NIM master.\n",
                &format!(
                    "nimadm: Another nimadm operation is in progress for client {client}.\nnimadm: Wait for it to end.\n"
                ),
            );
        }
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        let path = self.log_dir.path().join(format!("{client}_alt_mig.log"));
        if phases[0] == 1 {
            let _ = std::fs::remove_file(&path);
        }
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let mut stdout = String::from("Initializing the NIM master.\n");
        let mut result = CommandOutput::exited(0, "", "");
        for p in phases {
            let banner = format!("+----+\nExecuting nimadm phase {p}.\n+----+\n");
            stdout.push_str(&banner);
            log.write_all(banner.as_bytes()).unwrap();
            log.flush().unwrap();
            std::thread::sleep(Duration::from_millis(self.phase_ms));
            if self.fail_at.get(&client) == Some(&p) {
                result.exit_code = Some(1);
                result.stderr =
                    format!("nimadm: Error executing nimadm phase {p} on client {client}.\n");
                break;
            }
        }
        result.stdout = stdout;
        self.running.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

impl HostServices for Fake {
    fn log(&self, level: Level, message: &str) {
        self.logs
            .lock()
            .unwrap()
            .push((level, message.to_owned(), Instant::now()));
    }

    fn run_command(&self, request: &CommandRequest) -> Result<CommandOutput, Error> {
        if self.dry_run && !request.read_only {
            self.log(Level::Info, &format!("dry-run: {}", request.display()));
            return Ok(CommandOutput::skipped());
        }
        let start = Instant::now();
        let argv = &request.argv;
        assert_eq!(argv[0], "/sim/bin/nimadm");
        assert!(
            request.quiet,
            "nimadm output is logged by the driver, with the client prefix"
        );
        let out = if argv[1] == "-C" {
            if self.fail_cleanup {
                CommandOutput::exited(1, "", "nimadm: Unable to clean up.\n")
            } else {
                CommandOutput::exited(0, "Cleaning up alt_disk_migration on the NIM master.\n", "")
            }
        } else if argv[1] == "-W" || argv[1] == "-S" {
            CommandOutput::exited(0, "done\n", "")
        } else {
            self.migrate(argv)
        };
        self.commands
            .lock()
            .unwrap()
            .push((argv.clone(), start, Instant::now()));
        Ok(out)
    }

    fn state_get(&self, key: &str) -> Option<String> {
        self.state.lock().unwrap().get(key).cloned()
    }

    fn state_put(&self, key: &str, value: &str) -> Result<(), Error> {
        if !self.dry_run {
            self.state
                .lock()
                .unwrap()
                .insert(key.to_owned(), value.to_owned());
        }
        Ok(())
    }

    fn cancelled(&self) -> bool {
        false
    }

    fn call(&self, method: &str, _request: &serde_json::Value) -> Result<serde_json::Value, Error> {
        Err(Error::unsupported(method))
    }
}

fn config(keywords: &[(&str, &str)], log_dir: &std::path::Path) -> ResourceConfig {
    let mut k: BTreeMap<String, String> = [
        ("clients", "lpar1 lpar2 lpar3 lpar4 lpar5"),
        ("lpp_source", "lpp_7200"),
        ("spot", "spot_7200"),
        ("disks", "hdisk1"),
        ("accept_licenses", "true"),
        ("max_parallel", "2"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    for (a, b) in keywords {
        if b.is_empty() {
            k.remove(*a);
        } else {
            k.insert((*a).to_owned(), (*b).to_owned());
        }
    }
    let mut config = ResourceConfig::new("migrate", "task#0", "nim1")
        .driver_option("bin", "/sim/bin/")
        .driver_option("log_dir", log_dir.display().to_string())
        .state_dir("/nonexistent");
    config.keywords = k;
    config
}

fn driver(fake: &Arc<Fake>, keywords: &[(&str, &str)]) -> Nimadm {
    let host = Host::new(fake.clone());
    Nimadm {
        config: config(keywords, fake.log_dir.path()),
        host,
        poll: Duration::from_millis(2),
    }
}

fn act(
    d: &Nimadm,
    action: &str,
    options: &[(&str, &str)],
    force: bool,
    dry_run: bool,
) -> Result<ActionOutcome, Error> {
    let mut request = options
        .iter()
        .fold(ActionRequest::new(action), |r, (k, v)| r.option(k, v));
    request.dry_run = dry_run;
    request.force = force;
    d.action(&request)
}

fn record(fake: &Fake, client: &str) -> Record {
    serde_json::from_str(&fake.state_get(&format!("client.{client}")).expect("record")).unwrap()
}

#[test]
fn manifest_declares_the_task_and_its_actions() {
    let m = Nimadm::manifest();
    assert_eq!(m.type_name(), "task.nimadm");
    let actions: Vec<&str> = m.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(actions, ["run", "unprovision", "wake", "sleep"]);
    let required: Vec<&str> = m
        .keywords
        .iter()
        .filter(|k| k.required)
        .map(|k| k.name.as_str())
        .collect();
    assert_eq!(required, ["clients", "lpp_source", "spot"]);
}

#[test]
fn validate_reports_each_problem_with_its_keyword() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Nimadm::validate(&config(&[], dir.path())).is_empty());
    let problems = Nimadm::validate(&config(
        &[
            ("clients", "lpar1 lpar1 bad/name lpar3"),
            ("disks", ""),
            (
                "client_disks",
                "lpar1:hdisk1,hdisk2 lpar9:hdisk1 oops lpar1:hdisk4",
            ),
            ("max_parallel", "0"),
            ("set_bootlist", "false"),
            ("reboot", "true"),
        ],
        dir.path(),
    ));
    let text: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.keyword.as_deref().unwrap_or("-"), p.message))
        .collect();
    for needle in [
        "clients: client 'lpar1' is listed twice",
        "clients: 'bad/name' is not a NIM client name",
        "client_disks: 'lpar9:hdisk1' names lpar9, which is not in clients",
        "client_disks: 'oops' is malformed",
        "client_disks: client lpar1 appears twice",
        "disks: client lpar3 has no target disk",
        "max_parallel: must be at least 1, got 0",
        "reboot: reboot = true needs set_bootlist = true",
    ] {
        assert!(
            text.iter().any(|t| t.starts_with(needle)),
            "missing {needle:?} in {text:#?}"
        );
    }
}

#[test]
fn command_lines() {
    let fake = Arc::new(Fake::new());
    let d = driver(
        &fake,
        &[
            ("client_disks", "lpar2:hdisk2,hdisk3"),
            ("cache_vg", "nimadmvg"),
            ("pre_migration", "premig"),
            ("post_migration", "postmig"),
            ("bundle", "extra"),
            ("exclude_files", "excl"),
            ("image_data", "idata"),
            ("bosinst_data", "bdata"),
            ("nfs_mount_options", "vers=3"),
            ("set_bootlist", "true"),
            ("reboot", "true"),
        ],
    );
    let s = d.settings().unwrap();
    assert_eq!(
        d.migrate_argv(&s, "lpar2", None).join(" "),
        "/sim/bin/nimadm -c lpar2 -l lpp_7200 -s spot_7200 -d hdisk2 hdisk3 -Y -j nimadmvg -a premig -z postmig \
         -b extra -e excl -i idata -o bdata -m vers=3 -r"
    );
    assert_eq!(
        d.migrate_argv(&s, "lpar2", None)[8],
        "hdisk2 hdisk3",
        "several disks in one -d argument"
    );
    assert_eq!(
        d.op_argv(&s, "lpar1", Op::Cleanup).join(" "),
        "/sim/bin/nimadm -C -c lpar1 -s spot_7200"
    );
    assert_eq!(
        d.op_argv(&s, "lpar2", Op::Wake)[1..].join(" "),
        "-W -c lpar2 -s spot_7200 -d hdisk2 hdisk3 -m vers=3"
    );
    assert_eq!(
        d.op_argv(&s, "lpar1", Op::Sleep)[1..].join(" "),
        "-S -c lpar1 -s spot_7200"
    );
    let d = driver(&fake, &[("set_bootlist", "no")]);
    let s = d.settings().unwrap();
    assert_eq!(
        d.migrate_argv(&s, "lpar1", Some(6))[1..].join(" "),
        "-c lpar1 -l lpp_7200 -s spot_7200 -d hdisk1 -Y -B -P 6"
    );
    // doppel's bootlist rule (issue 22): without set_bootlist, -B, as disk.alt_disk.
    let d = driver(&fake, &[]);
    let s = d.settings().unwrap();
    assert_eq!(
        d.migrate_argv(&s, "lpar1", None)[1..].join(" "),
        "-c lpar1 -l lpp_7200 -s spot_7200 -d hdisk1 -Y -B"
    );
    assert_eq!(
        Nimadm::manifest()
            .find_keyword("set_bootlist")
            .unwrap()
            .default
            .as_deref(),
        Some("false")
    );
    let d = driver(&fake, &[("set_bootlist", "yes")]);
    let s = d.settings().unwrap();
    assert_eq!(
        d.migrate_argv(&s, "lpar1", None)[1..].join(" "),
        "-c lpar1 -l lpp_7200 -s spot_7200 -d hdisk1 -Y"
    );
    assert_eq!(
        d.log_path("lpar1"),
        fake.log_dir.path().join("lpar1_alt_mig.log")
    );
}

#[test]
fn run_refuses_without_accepted_licenses() {
    let fake = Arc::new(Fake::new());
    let d = driver(&fake, &[("accept_licenses", "")]);
    let e = act(&d, "run", &[], false, false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);
    assert!(
        e.message
            .contains("accept_licenses is not set: nimadm installs licensed software and needs -Y"),
        "{}",
        e.message
    );
    assert!(fake.commands().is_empty());
    // Cleanup does not need it.
    act(&d, "unprovision", &[], false, false).unwrap();
}

#[test]
fn clients_migrate_max_parallel_at_a_time() {
    let fake = Arc::new(Fake::new());
    let d = driver(&fake, &[]);
    assert_eq!(d.status().unwrap().state, Status::NotApplicable);
    let out = act(&d, "run", &[], false, false).unwrap();
    assert!(
        out.messages[0].starts_with("5/5 clients migrated in "),
        "{:?}",
        out.messages
    );
    assert!(
        out.messages[0].ends_with(": lpar1 lpar2 lpar3 lpar4 lpar5"),
        "{:?}",
        out.messages
    );
    assert_eq!(fake.max_running.load(Ordering::SeqCst), 2);
    assert_eq!(fake.commands().len(), 5);
    for c in ["lpar1", "lpar5"] {
        let r = record(&fake, c);
        assert_eq!(
            (r.migration, r.phase, r.result.as_str()),
            (Migration::Migrated, 12, "ok")
        );
        assert!(fake.has_line(&format!("client {c}: migrated (12/12 phases) in ")));
    }
    let status = d.status().unwrap();
    assert_eq!(status.state, Status::Up);
    assert_eq!(status.messages.len(), 5);
    assert!(
        status.messages[0]
            .text
            .starts_with("lpar1: migrated (12/12 phases) on "),
        "{:?}",
        status.messages
    );
    // A second run skips the migrated clients; --force cleans them up first.
    let again = act(&d, "run", &[("clients", "lpar1,lpar2")], false, false).unwrap();
    assert!(again.noop);
    assert!(
        again.messages[0].contains("skipped (already migrated): lpar1 lpar2"),
        "{:?}",
        again.messages
    );
    assert_eq!(fake.commands().len(), 5);
    assert!(fake.has_line("client lpar1: already migrated on "));
    act(&d, "run", &[("clients", "lpar2")], true, false).unwrap();
    let cmds = fake.commands();
    assert_eq!(cmds[5], "-C -c lpar2 -s spot_7200");
    assert!(cmds[6].starts_with("-c lpar2 "), "{cmds:?}");
}

#[test]
fn progress_lines_come_while_nimadm_runs() {
    let mut f = Fake::new();
    f.phase_ms = 15;
    let fake = Arc::new(f);
    let d = driver(&fake, &[("clients", "lpar1"), ("progress_interval", "1h")]);
    act(&d, "run", &[], false, false).unwrap();
    let ended = fake.commands.lock().unwrap()[0].2;
    let logs = fake.logs.lock().unwrap().clone();
    for p in [1, 6, 12] {
        let needle = format!("client lpar1: phase {p}/12 ({}), elapsed ", phase_label(p));
        let (_, _, at) = logs
            .iter()
            .find(|(_, m, _)| m.starts_with(&needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {logs:#?}"));
        if p < 12 {
            assert!(*at < ended, "phase {p} progress logged while nimadm ran");
        }
    }
    // Every nimadm line at debug level, with the client prefix.
    assert!(
        logs.iter()
            .any(|(l, m, _)| *l == Level::Debug && m == "client lpar1: Executing nimadm phase 3.")
    );
    assert!(logs.iter().any(|(l, m, _)| *l == Level::Info
        && m.starts_with("client lpar1: migration started: /sim/bin/nimadm -c lpar1 ")));
}

#[test]
fn a_failed_client_is_cleaned_up_and_reported_while_the_others_go_on() {
    let mut f = Fake::new();
    f.fail_at.insert("lpar3".into(), 6);
    let fake = Arc::new(f);
    let d = driver(&fake, &[]);
    let e = act(&d, "run", &[], false, false).unwrap_err();
    assert_eq!(
        e.message,
        "1 of 5 clients failed: lpar3 at phase 6/12 (migrate the filesets with installp): nimadm: Error executing \
         nimadm phase 6 on client lpar3. (exit code 1); cleaned up"
    );
    let cmds = fake.commands();
    assert_eq!(
        cmds.iter()
            .filter(|c| c.starts_with("-C "))
            .collect::<Vec<_>>(),
        ["-C -c lpar3 -s spot_7200"]
    );
    assert_eq!(
        cmds.iter().filter(|c| c.starts_with("-c ")).count(),
        5,
        "the other clients still ran"
    );
    assert!(fake.has_line(
        "client lpar3: FAILED at phase 6/12 (migrate the filesets with installp) after "
    ));
    assert!(fake.has_line("4/5 clients migrated in "));
    let r = record(&fake, "lpar3");
    assert_eq!(
        (r.migration, r.phase, r.cleaned_up),
        (Migration::Failed, 6, Some(true))
    );
    let status = d.status().unwrap();
    assert_eq!(status.state, Status::Warn);
    let warn: Vec<&str> = status
        .messages
        .iter()
        .filter(|m| m.level == MessageLevel::Warn)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(warn.len(), 1, "{warn:?}");
    assert!(
        warn[0].starts_with("lpar3: failed at phase 6/12 (migrate the filesets with installp) on "),
        "{warn:?}"
    );
    assert!(warn[0].ends_with("; cleaned up (nimadm -C)"), "{warn:?}");
}

#[test]
fn no_cleanup_when_disabled_and_a_failed_cleanup_is_reported() {
    let mut f = Fake::new();
    f.fail_at.insert("lpar1".into(), 2);
    let fake = Arc::new(f);
    let d = driver(
        &fake,
        &[("clients", "lpar1 lpar2"), ("cleanup_on_failure", "false")],
    );
    let e = act(&d, "run", &[], false, false).unwrap_err();
    assert!(e.message.ends_with("(exit code 1)"), "{}", e.message);
    assert!(!fake.commands().iter().any(|c| c.starts_with("-C")));
    assert!(d.status().unwrap().messages.iter().any(|m| {
        m.text
            .ends_with("; not cleaned up (nimadm -C -c lpar1 -s spot_7200)")
    }));

    let mut f = Fake::new();
    f.fail_at.insert("lpar1".into(), 2);
    f.fail_cleanup = true;
    let fake = Arc::new(f);
    let d = driver(&fake, &[("clients", "lpar1 lpar2")]);
    let e = act(&d, "run", &[], false, false).unwrap_err();
    assert!(e.message.ends_with("; cleanup failed too"), "{}", e.message);
    assert!(fake.has_line("client lpar1: cleanup failed: nimadm: Unable to clean up."));
    assert!(d.status().unwrap().messages.iter().any(|m| {
        m.text
            .ends_with("NOT cleaned up: nimadm -C -c lpar1 -s spot_7200 failed")
    }));
}

#[test]
fn single_phases_and_client_selection() {
    let fake = Arc::new(Fake::new());
    let d = driver(&fake, &[]);
    let out = act(
        &d,
        "run",
        &[("phase", "1"), ("clients", "lpar2, lpar4")],
        false,
        false,
    )
    .unwrap();
    assert!(
        out.messages[0].starts_with("2/2 clients ran phase 1/12 in "),
        "{:?}",
        out.messages
    );
    let cmds = fake.commands();
    assert_eq!(cmds.len(), 2);
    assert!(cmds.iter().all(|c| c.ends_with("-P 1")), "{cmds:?}");
    assert_eq!(record(&fake, "lpar2").migration, Migration::Partial);
    for p in 2..=12 {
        act(
            &d,
            "run",
            &[("phase", &p.to_string()), ("clients", "lpar2")],
            false,
            false,
        )
        .unwrap();
    }
    assert_eq!(record(&fake, "lpar2").migration, Migration::Migrated);
    let status = d.status().unwrap();
    assert_eq!(
        status.state,
        Status::Warn,
        "lpar4 is half way, others not run"
    );
    let texts: Vec<&str> = status.messages.iter().map(|m| m.text.as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("lpar4: phases 1-1/12 done (single-phase runs")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t == &"lpar1: not migrated"),
        "{texts:?}"
    );
    for bad in ["0", "13", "x"] {
        let e = act(&d, "run", &[("phase", bad)], false, false).unwrap_err();
        assert!(
            e.message.contains("nimadm phases are 1 to 12"),
            "{}",
            e.message
        );
    }
    let e = act(&d, "run", &[("clients", "lpar1,lpar9")], false, false).unwrap_err();
    assert_eq!(
        e.message,
        "--clients: lpar9 not among the clients of task#0 (lpar1 lpar2 lpar3 lpar4 lpar5)"
    );
}

#[test]
fn dry_run_runs_nothing_and_records_nothing() {
    let mut f = Fake::new();
    f.dry_run = true;
    let fake = Arc::new(f);
    let d = driver(&fake, &[]);
    let out = act(&d, "run", &[], false, true).unwrap();
    assert_eq!(
        out.messages,
        ["dry-run: 5 of 5 clients would run nimadm, 2 at a time: lpar1 lpar2 lpar3 lpar4 lpar5"]
    );
    assert!(fake.commands().is_empty());
    assert!(fake.state.lock().unwrap().is_empty());
    assert_eq!(
        fake.lines()
            .iter()
            .filter(|l| l.starts_with("dry-run: /sim/bin/nimadm -c "))
            .count(),
        5
    );
    act(&d, "unprovision", &[], false, true).unwrap();
    assert_eq!(
        fake.lines()
            .iter()
            .filter(|l| l.starts_with("dry-run: /sim/bin/nimadm -C "))
            .count(),
        5
    );
}

#[test]
fn unprovision_wake_and_sleep() {
    let fake = Arc::new(Fake::new());
    let d = driver(&fake, &[("clients", "lpar1 lpar2")]);
    act(&d, "run", &[], false, false).unwrap();
    let out = act(&d, "wake", &[("clients", "lpar1")], false, false).unwrap();
    assert_eq!(out.messages, ["1/1 clients woken up: lpar1"]);
    assert!(record(&fake, "lpar1").awake);
    assert!(
        d.status()
            .unwrap()
            .messages
            .iter()
            .any(|m| m.text.contains("lpar1: altinst_rootvg is awake"))
    );
    act(&d, "sleep", &[], false, false).unwrap();
    assert!(!record(&fake, "lpar1").awake);
    let out = act(&d, "unprovision", &[], false, false).unwrap();
    assert_eq!(out.messages, ["2/2 clients cleaned up: lpar1 lpar2"]);
    let mut cmds = fake.commands();
    // Clients run concurrently: within one action, their commands come in any order.
    cmds[3..5].sort();
    cmds[5..7].sort();
    assert_eq!(
        &cmds[2..],
        [
            "-W -c lpar1 -s spot_7200 -d hdisk1",
            "-S -c lpar1 -s spot_7200",
            "-S -c lpar2 -s spot_7200",
            "-C -c lpar1 -s spot_7200",
            "-C -c lpar2 -s spot_7200"
        ]
    );
    let status = d.status().unwrap();
    assert_eq!(status.state, Status::NotApplicable);
    assert!(
        status
            .messages
            .iter()
            .any(|m| m.text.starts_with("lpar1: not migrated (cleaned up on ")),
        "{:?}",
        status.messages
    );

    let mut f = Fake::new();
    f.fail_cleanup = true;
    let fake = Arc::new(f);
    let d = driver(&fake, &[("clients", "lpar1 lpar2")]);
    let e = act(&d, "unprovision", &[], false, false).unwrap_err();
    assert_eq!(
        e.message,
        "cleanup 2 of 2 clients failed: lpar1: nimadm: Unable to clean up.; lpar2: nimadm: Unable to clean up."
    );
    let status = d.status().unwrap();
    assert_eq!(status.state, Status::Warn);
    assert!(
        status
            .messages
            .iter()
            .any(|m| m.text.starts_with("lpar1: cleanup failed on ")),
        "{:?}",
        status.messages
    );
}

#[test]
fn status_of_an_unfinished_run_and_of_a_bad_config() {
    let fake = Arc::new(Fake::new());
    let d = driver(&fake, &[("clients", "lpar1 lpar2")]);
    let r = Record {
        migration: Migration::Running,
        phase: 4,
        operation: "migrate".into(),
        result: "running".into(),
        started: "2024-05-01T10:00:00Z".into(),
        ..Record::default()
    };
    fake.state_put("client.lpar1", &serde_json::to_string(&r).unwrap())
        .unwrap();
    let status = d.status().unwrap();
    assert_eq!(status.state, Status::Warn);
    assert!(
        status.messages[0].text.contains(
            "not finished: at phase 4/12 (pre-migration script), running, or interrupted"
        ),
        "{:?}",
        status.messages
    );
    fake.state_put("client.lpar2", "{garbage").unwrap();
    assert_eq!(d.status().unwrap().state, Status::Warn);
    let d = driver(&fake, &[("clients", "")]);
    let status = d.status().unwrap();
    assert_eq!(status.state, Status::Undef);
    assert!(
        status.messages[0]
            .text
            .starts_with("task#0: clients: no client"),
        "{:?}",
        status.messages
    );
}

#[test]
fn a_client_refused_before_any_phase_is_not_cleaned_up() {
    let mut f = Fake::new();
    f.refuse.push("lpar2".into());
    let fake = Arc::new(f);
    let d = driver(&fake, &[("clients", "lpar1 lpar2")]);
    let e = act(&d, "run", &[], false, false).unwrap_err();
    assert_eq!(
        e.message,
        "1 of 2 clients failed: lpar2 before any phase: nimadm: Another nimadm operation is in progress for client \
         lpar2. nimadm: Wait for it to end. (exit code 1)"
    );
    assert!(
        !fake.commands().iter().any(|c| c.starts_with("-C")),
        "a cleanup could undo the other nimadm's work"
    );
    assert!(
        fake.has_line("client lpar2: nothing to clean up: nimadm stopped before its first phase")
    );
    let status = d.status().unwrap();
    let text: Vec<&str> = status.messages.iter().map(|m| m.text.as_str()).collect();
    assert!(
        text.iter().any(|t| t
            .starts_with("lpar2: failed before any phase (refused by nimadm's checks) on ")
            && t.ends_with("(exit code 1)")),
        "{text:?}"
    );
}
