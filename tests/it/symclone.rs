//! `sync.symclone` end to end (issue 5, item 7): the real `doppel` binary and its
//! symclone driver against the SYMCLI simulator (tests/sim), for every action,
//! `--dry-run`, each status case and the failures the simulator can inject.
//!
//! Every test has its own root and its own simulated array 000197900123 with
//! devices 00B60..00B65 and an instant copy (`--copy-seconds 0`). The clone
//! sessions are created beforehand with the simulator, as an array admin would
//! (`symclone -f <file> create -differential -precopy`): doppel drives them, it
//! does not create them.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use doppel_e2e::{
    TestContext, assert_line, assert_lines_in_order, doppel_snapshot, run, target_dir,
};

const SID: &str = "000197900123";

/// sync#0 on two pairs, no application.
const SYNC0: &str = "
[DEFAULT]
nodes = n1

[sync#0]
type = symclone
symid = 000197900123
pairs = 00B60:00B61 00B62:00B63
";

/// sync#0 and an `app.script` application using the clones (up while
/// `<root>/app.state` exists).
const WITH_APP: &str = "
[DEFAULT]
nodes = n1

[sync#0]
type = symclone
symid = 000197900123
pairs = 00B60:00B61 00B62:00B63

[app#0]
type = script
start = @ROOT@/app.sh start
stop = @ROOT@/app.sh stop
check = @ROOT@/app.sh check
";

struct Sym {
    ctx: TestContext,
}

impl Sym {
    /// A root on node n1 whose symclone tools are the simulators, with the array.
    fn new() -> Sym {
        Sym::with_bin(&target_dir().display().to_string())
    }

    /// Same, with `bin` as the driver's tool directory.
    fn with_bin(bin: &str) -> Sym {
        let mut ctx = TestContext::new();
        // The Linux device refresh after an activation works on a fake sysfs
        // under <root>/host, with the sg_turs and multipath simulators.
        let target = target_dir().display().to_string();
        let host = ctx.root().join("host").display().to_string();
        ctx.write(
            "etc/doppel/doppel.toml",
            &format!(
                "nodename = \"n1\"\n\n[driver.symclone]\nbin = \"{bin}\"\nsysroot = \"{host}\"\n\
                 sg_turs = \"{target}/sg_turs\"\nmultipath = \"{target}/multipath\"\n"
            ),
        );
        let sim_root = ctx.root().join("sim").display().to_string();
        ctx.env("DOPPEL_SIM_ROOT", sim_root);
        ctx.env("DOPPEL_SIM_TIME_SCALE", "0.01");
        ctx.env("DOPPEL_SYMCLONE_POLL_MS", "50");
        let s = Sym { ctx };
        s.sim_ok(
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
        s.sim_ok("symsim", &["sysfs", &host]);
        s
    }

    fn root(&self) -> String {
        self.ctx.root().display().to_string()
    }

    /// The pairs file doppel keeps for `rid` of `svc`.
    fn pairs_file(&self, svc: &str, rid: &str) -> PathBuf {
        self.ctx
            .root()
            .join(format!("var/lib/doppel/{svc}/{rid}/pairs"))
    }

    /// Writes a service file (`@ROOT@` is the root) and the app script.
    fn service(&self, name: &str, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        let app = self.ctx.write(
            "app.sh",
            "#!/bin/sh\nstate=\"$(dirname \"$0\")/app.state\"\ncase \"$1\" in\n  start) echo \"app started\"; touch \"$state\" ;;\n  stop) echo \"app stopped\"; rm -f \"$state\" ;;\n  check) test -f \"$state\" ;;\nesac\n",
        );
        std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o755)).unwrap();
        self.ctx
            .service(name, &text.replace("@ROOT@", &self.root()));
    }

    #[track_caller]
    fn sim_ok(&self, tool: &str, args: &[&str]) -> String {
        self.ctx.tool_ok(tool, args)
    }

    /// Creates differential precopy clone sessions for `pairs` (`src:dst`), through
    /// a device file as the driver uses.
    fn create_sessions(&self, pairs: &[&str]) {
        let text: Vec<String> = pairs.iter().map(|p| p.replace(':', " ")).collect();
        let file = self.ctx.write(
            &format!("setup-{}", pairs.join("_").replace(':', "-")),
            &text.join("\n"),
        );
        let file = file.display().to_string();
        self.sim_ok(
            "symclone",
            &[
                "-sid",
                SID,
                "-f",
                &file,
                "create",
                "-differential",
                "-precopy",
                "-noprompt",
            ],
        );
    }

    /// Activates the clones of `pairs` behind doppel's back.
    fn activate_directly(&self, pairs: &[&str]) {
        let text: Vec<String> = pairs.iter().map(|p| p.replace(':', " ")).collect();
        let file = self.ctx.write("direct-pairs", &text.join("\n"));
        self.sim_ok(
            "symclone",
            &[
                "-sid",
                SID,
                "-f",
                &file.display().to_string(),
                "-noprompt",
                "activate",
            ],
        );
    }

    /// `symsim array show`: the whole JSON document.
    fn array(&self) -> serde_json::Value {
        serde_json::from_str(&self.sim_ok("symsim", &["array", "show", SID])).expect("array JSON")
    }

    /// `<tgt> <state>` of every clone session, from `symsim array show`.
    fn states(&self) -> Vec<String> {
        let doc = self.array();
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
            .collect()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        self.ctx.doppel(args)
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(&mut self.cmd(args))
    }

    /// Runs doppel expecting exit 0; returns stderr (the log).
    fn ok(&self, args: &[&str]) -> String {
        self.ctx.ok(args)
    }

    /// Runs doppel expecting exit `want`; returns stderr.
    fn fails(&self, args: &[&str], want: i32) -> String {
        self.ctx.expect(args, want)
    }

    /// The refreshed status of one resource (JSON).
    fn resource_status(&self, svc: &str, rid: &str) -> serde_json::Value {
        self.ctx.refreshed_resource(svc, rid)
    }

    /// `<level>: <text>` of every message of a resource status.
    fn messages(status: &serde_json::Value) -> Vec<String> {
        doppel_e2e::status_messages(status)
    }

    /// `<bin>/symclone -sid <SID> -f <pairs file of rid> <args>`.
    fn symclone_cmd(&self, svc: &str, rid: &str, args: &str) -> String {
        format!(
            "{}/symclone -sid {SID} -f {} {args}",
            target_dir().display(),
            self.pairs_file(svc, rid).display()
        )
    }

    /// The log line of that command.
    fn symclone_line(&self, svc: &str, rid: &str, args: &str) -> String {
        format!(
            "* {}.{} - INFO - {}",
            svc.to_uppercase(),
            rid.to_uppercase(),
            self.symclone_cmd(svc, rid, args)
        )
    }
}

// --- actions ---------------------------------------------------------------------------------

#[test]
fn start_activates_the_clones_then_has_nothing_to_do() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    assert_eq!(s.states(), ["00B61 Precopy", "00B63 Precopy"]);
    doppel_snapshot!(s.ctx, "symclone_start", s.cmd(&["-s", "svc", "start"]));
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);
    // The pairs file: one `<src> <dst>` line per pair, no trailing newline.
    assert_eq!(
        std::fs::read_to_string(s.pairs_file("svc", "sync#0")).unwrap(),
        "00B60 00B61\n00B62 00B63"
    );
    // The log file holds the exact command line too.
    let log = std::fs::read_to_string(s.ctx.root().join("var/log/doppel/svc.log")).unwrap();
    // SYMCLI's progress on stderr is logged at INFO, as OpenSVC does (issue 22).
    assert!(
        log.contains("* SVC.SYNC#0 - INFO - command succesful but stderr"),
        "{log}"
    );
    assert!(!log.contains("WARNING"), "{log}");
    assert!(
        log.contains(&s.symclone_line(
            "svc",
            "sync#0",
            "-noprompt activate -i 20 -c 30 -consistent"
        )),
        "{log}"
    );

    let before = s.array()["sessions"].clone();
    let log = s.ok(&["-s", "svc", "start"]);
    assert_eq!(
        log,
        "* SVC.SYNC#0 - INFO - symclone target devices are already active\n"
    );
    assert_eq!(
        s.array()["sessions"],
        before,
        "a second start changes nothing"
    );
}

#[test]
fn sync_break_activates_the_clones() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    let log = s.ok(&["-s", "svc", "sync", "break"]);
    assert_lines_in_order(
        &log,
        &[
            &s.symclone_line(
                "svc",
                "sync#0",
                "-noprompt activate -i 20 -c 30 -consistent",
            ),
            "* SVC.SYNC#0 - INFO - 2 clone pair(s) activated",
        ],
    );
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);
    let log = s.ok(&["-s", "svc", "sync", "break"]);
    assert_eq!(
        log,
        "* SVC.SYNC#0 - INFO - symclone target devices are already active\n"
    );
}

#[test]
fn sync_update_recreates_then_activates_and_honours_consistent_and_precopy() {
    let s = Sym::new();
    s.service(
        "svc",
        &format!("{SYNC0}\n[sync#1]\ntype = symclone\nsymid = {SID}\npairs = 00B64:00B65\nconsistent = false\nprecopy = false\n"),
    );
    s.create_sessions(&["00B60:00B61", "00B62:00B63", "00B64:00B65"]);
    s.ok(&["-s", "svc", "start"]);
    let first = s.array()["sessions"].clone();

    let log = s.ok(&["-s", "svc", "sync", "update"]);
    assert_lines_in_order(
        &log,
        &[
            &s.symclone_line("svc", "sync#0", "-noprompt recreate -i 20 -c 30 -precopy"),
            &s.symclone_line(
                "svc",
                "sync#0",
                "-noprompt activate -i 20 -c 30 -consistent",
            ),
            "* SVC.SYNC#0 - INFO - 2 clone pair(s) activated",
            // consistent = false and precopy = false drop the flags.
            &s.symclone_line("svc", "sync#1", "-noprompt recreate -i 20 -c 30"),
            &s.symclone_line("svc", "sync#1", "-noprompt activate -i 20 -c 30"),
            "* SVC.SYNC#1 - INFO - 1 clone pair(s) activated",
        ],
    );
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied", "00B65 Copied"]);
    // A new point in time: every session was acted upon again.
    let second = s.array()["sessions"].clone();
    for (a, b) in first
        .as_array()
        .unwrap()
        .iter()
        .zip(second.as_array().unwrap())
    {
        assert!(
            b["last_action"].as_f64() > a["last_action"].as_f64(),
            "{a} -> {b}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(s.pairs_file("svc", "sync#1")).unwrap(),
        "00B64 00B65"
    );
}

#[test]
fn sync_resync_is_refused_while_the_service_is_up() {
    let s = Sym::new();
    s.service("svc", WITH_APP);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    let log = s.ok(&["-s", "svc", "start"]);
    assert_line(&log, "* SVC.APP#0 - INFO - app started");
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);

    // Up: refused by doppel (the manifest marks it destructive), nothing runs.
    let log = s.fails(&["-s", "svc", "sync", "resync"], 1);
    assert_eq!(
        log,
        "* SVC - ERROR - refusing sync resync: app#0 is up (stop the service first, or --force)\n\
         doppel: svc: sync resync failed: refusing sync resync: app#0 is up (stop the service first, or --force)\n"
    );
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);

    // Down: allowed.
    s.ok(&["-s", "svc", "stop"]);
    let log = s.ok(&["-s", "svc", "sync", "resync"]);
    assert_line(
        &log,
        &s.symclone_line("svc", "sync#0", "-noprompt recreate -i 20 -c 30 -precopy"),
    );
    assert_eq!(s.states(), ["00B61 Precopy", "00B63 Precopy"]);
    // Already recreated: nothing to do.
    let log = s.ok(&["-s", "svc", "sync", "resync"]);
    assert_eq!(
        log,
        "* SVC.SYNC#0 - INFO - symclone are already recreated\n"
    );

    // Up again, with --force: allowed, with a warning.
    s.ok(&["-s", "svc", "start"]);
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);
    let log = s.ok(&["-s", "svc", "sync", "resync", "--force"]);
    assert_lines_in_order(
        &log,
        &[
            "* SVC - WARNING - sync resync although app#0 is up (--force)",
            &s.symclone_line("svc", "sync#0", "-noprompt recreate -i 20 -c 30 -precopy"),
        ],
    );
    assert_eq!(s.states(), ["00B61 Precopy", "00B63 Precopy"]);
}

#[test]
fn sync_restore_restores_waits_and_terminates() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    // Not active yet: refused before any command.
    let log = s.fails(&["-s", "svc", "sync", "restore"], 1);
    assert!(
        log.ends_with("doppel: svc: sync restore failed: sync#0: 00B60:00B61, 00B62:00B63 not in active state (copied, copyinprog or copyonaccess)\n"),
        "{log}"
    );
    assert!(!log.contains("restore\n"), "{log}");

    s.ok(&["-s", "svc", "start"]);
    let before = s.array()["sessions"].clone();
    let log = s.ok(&["-s", "svc", "sync", "restore"]);
    assert_lines_in_order(
        &log,
        &[
            &s.symclone_line("svc", "sync#0", "-noprompt restore"),
            "* SVC.SYNC#0 - INFO - waiting for restored state (max 300s)",
            &s.symclone_line("svc", "sync#0", "verify -restored -i 10 -c 30"),
            &s.symclone_line("svc", "sync#0", "-noprompt terminate -restored"),
            "* SVC.SYNC#0 - INFO - 2 clone pair(s) restored",
        ],
    );
    assert!(log.contains("are in 'Restored' state."), "{log}");
    // The restore session is terminated: the clone sessions stay, Copied again.
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);
    let after = s.array()["sessions"].clone();
    assert_eq!(after.as_array().unwrap().len(), 2);
    for (a, b) in before
        .as_array()
        .unwrap()
        .iter()
        .zip(after.as_array().unwrap())
    {
        assert!(
            b["last_action"].as_f64() > a["last_action"].as_f64(),
            "{a} -> {b}"
        );
    }
    // symdev agrees.
    let xml = s.sim_ok(
        "symdev",
        &[
            "-sid",
            SID,
            "list",
            "-v",
            "-devs",
            "00B61,00B63",
            "-output",
            "xml_e",
        ],
    );
    assert_eq!(xml.matches("<state>Copied</state>").count(), 2, "{xml}");
    assert!(!xml.contains("Restored"), "{xml}");
}

#[test]
fn dry_run_logs_the_commands_and_changes_nothing() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    let pristine = s.array()["sessions"].clone();

    doppel_snapshot!(
        s.ctx,
        "symclone_start_dry_run",
        s.cmd(&["-s", "svc", "start", "--dry-run"])
    );
    assert_eq!(s.array()["sessions"], pristine);
    assert_eq!(s.states(), ["00B61 Precopy", "00B63 Precopy"]);

    // The read-only query runs under --dry-run (-v shows it, without "dry-run:").
    let log = s.ok(&["-s", "svc", "sync", "break", "--dry-run", "-v"]);
    let query = format!(
        "* SVC.SYNC#0 - DEBUG - {}/symdev -sid {SID} list -v -devs 00B61,00B63 -output xml_e",
        target_dir().display()
    );
    assert_line(&log, &query);
    assert!(!log.contains("activated"), "{log}");
    assert_eq!(s.array()["sessions"], pristine);

    // Active clones: the query tells there is nothing to do, dry-run or not.
    s.ok(&["-s", "svc", "start"]);
    let active = s.array()["sessions"].clone();
    let log = s.ok(&["-s", "svc", "start", "--dry-run"]);
    assert_eq!(
        log,
        "* SVC.SYNC#0 - INFO - symclone target devices are already active\n"
    );

    let dry = |args: &str| {
        format!(
            "* SVC.SYNC#0 - INFO - dry-run: {}",
            s.symclone_cmd("svc", "sync#0", args)
        )
    };
    let log = s.ok(&["-s", "svc", "sync", "update", "--dry-run"]);
    assert_lines_in_order(
        &log,
        &[
            &dry("-noprompt recreate -i 20 -c 30 -precopy"),
            "* SVC.SYNC#0 - INFO - dry-run: would wait for activable state (recreated, precopy or created, max 300s)",
            &dry("-noprompt activate -i 20 -c 30 -consistent"),
            "* SVC.SYNC#0 - INFO - dry-run: would wait for active state (copied, copyinprog or copyonaccess, max 300s)",
            "* SVC.SYNC#0 - INFO - would activate 2 clone pair(s)",
        ],
    );
    let log = s.ok(&["-s", "svc", "sync", "resync", "--dry-run"]);
    assert_eq!(
        log,
        format!("{}\n", dry("-noprompt recreate -i 20 -c 30 -precopy"))
    );
    let log = s.ok(&["-s", "svc", "sync", "restore", "--dry-run"]);
    assert_eq!(
        log,
        format!(
            "{}\n* SVC.SYNC#0 - INFO - dry-run: would wait for restored state (max 300s)\n{}\n* SVC.SYNC#0 - INFO - would restore 2 clone pair(s)\n",
            dry("-noprompt restore"),
            dry("-noprompt terminate -restored")
        )
    );
    assert_eq!(
        s.array()["sessions"],
        active,
        "no dry-run changed the array"
    );
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);

    // Recreated clones: `sync update --dry-run` runs the read-only verify and skips
    // the recreate.
    s.ok(&["-s", "svc", "sync", "resync"]);
    let recreated = s.array()["sessions"].clone();
    let log = s.ok(&["-s", "svc", "sync", "update", "--dry-run"]);
    assert_lines_in_order(
        &log,
        &[
            "* SVC.SYNC#0 - INFO - symclone are already recreated",
            &dry("-noprompt activate -i 20 -c 30 -consistent"),
        ],
    );
    assert!(!log.contains("recreate -i"), "{log}");
    assert_eq!(s.array()["sessions"], recreated);
}

// --- status ----------------------------------------------------------------------------------

#[test]
fn status_is_down_without_clone_sessions() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    let st = s.resource_status("svc", "sync#0");
    assert_eq!(st["status"], "down");
    assert_eq!(Sym::messages(&st), ["info: no clone session"]);
}

#[test]
fn status_warns_when_part_of_the_cloneset_is_active() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    s.activate_directly(&["00B62:00B63"]);
    assert_eq!(s.states(), ["00B61 Precopy", "00B63 Copied"]);
    let st = s.resource_status("svc", "sync#0");
    assert_eq!(st["status"], "warn");
    assert_eq!(Sym::messages(&st), ["warn: cloneset has 1/2 active devs"]);
}

#[test]
fn status_is_up_with_the_last_sync() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    s.ok(&["-s", "svc", "start"]);
    let st = s.resource_status("svc", "sync#0");
    assert_eq!(st["status"], "up");
    let messages = Sym::messages(&st);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let re =
        regex::Regex::new(r"^info: Last sync on \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$").unwrap();
    assert!(re.is_match(&messages[0]), "{messages:?}");
    assert!(
        st["last_sync"]
            .as_str()
            .unwrap()
            .starts_with(&messages[0][19..29]),
        "{st}"
    );
    doppel_snapshot!(
        s.ctx,
        "symclone_status_up",
        s.cmd(&["-s", "svc", "print", "status"])
    );
}

/// doppel ages the last sync against the real clock. The simulator's clock offset
/// only changes the `last_action` of the actions run while it is set: advancing it
/// afterwards (`symsim clock advance`) does not age an existing sync. So the sync is
/// made 3 minutes in the past (`symsim clock set -- -180`), then the clock reset.
#[test]
fn status_warns_when_the_last_sync_is_older_than_sync_max_delay() {
    let s = Sym::new();
    s.service("svc", &format!("{SYNC0}sync_max_delay = 1\n"));
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    s.ok(&["-s", "svc", "start"]);
    s.sim_ok("symsim", &["clock", "advance", "120"]);
    assert_eq!(
        s.resource_status("svc", "sync#0")["status"],
        "up",
        "clock advance does not age a sync"
    );
    s.sim_ok("symsim", &["clock", "reset"]);

    s.sim_ok("symsim", &["clock", "set", "--", "-180"]);
    s.ok(&["-s", "svc", "sync", "update"]);
    s.sim_ok("symsim", &["clock", "reset"]);
    let st = s.resource_status("svc", "sync#0");
    assert_eq!(st["status"], "warn", "{st}");
    let messages = Sym::messages(&st);
    let re = regex::Regex::new(r"^warn: last sync on \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+ is older than sync_max_delay \(1m\)$")
        .unwrap();
    assert!(messages.iter().any(|m| re.is_match(m)), "{messages:?}");
}

#[test]
fn status_is_undef_when_the_binary_is_missing() {
    let empty = tempfile::Builder::new()
        .prefix("doppel-symcli-")
        .tempdir()
        .unwrap();
    let s = Sym::with_bin(&empty.path().display().to_string());
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    let st = s.resource_status("svc", "sync#0");
    assert_eq!(st["status"], "undef");
    let symdev = empty.path().join("symdev").display().to_string();
    assert_eq!(
        Sym::messages(&st),
        [format!(
            "error: cannot run {symdev}: {symdev}: command not found"
        )]
    );
    // Actions fail, naming the resource.
    let log = s.fails(&["-s", "svc", "sync", "break"], 1);
    assert!(
        log.ends_with(&format!("doppel: svc: sync break failed: sync#0: cannot run {symdev}: {symdev}: command not found\n")),
        "{log}"
    );
}

#[test]
fn status_is_undef_on_malformed_xml() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    s.sim_ok("symsim", &["fail", "xml"]);
    let st = s.resource_status("svc", "sync#0");
    assert_eq!(st["status"], "undef");
    let messages = Sym::messages(&st);
    let prefix = format!(
        "error: cannot parse the XML output of {}/symdev: ",
        target_dir().display()
    );
    assert!(
        messages.len() == 1 && messages[0].starts_with(&prefix),
        "{messages:?}"
    );
    // The fault is spent: the next status reads the array again.
    assert_eq!(s.resource_status("svc", "sync#0")["status"], "up");
}

// --- failures --------------------------------------------------------------------------------

#[test]
fn a_failed_activate_fails_the_action() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    s.sim_ok("symsim", &["fail", "activate"]);
    let log = s.fails(&["-s", "svc", "sync", "break"], 1);
    let error = "symclone exited with code 1: The Clone 'ACTIVATE' operation FAILED: an error occurred on the Symmetrix (simulated fault)";
    assert_lines_in_order(
        &log,
        &[
            &s.symclone_line(
                "svc",
                "sync#0",
                "-noprompt activate -i 20 -c 30 -consistent",
            ),
            &format!("* SVC.SYNC#0 - ERROR - {error}"),
            &format!("doppel: svc: sync break failed: sync#0: {error}"),
        ],
    );
    assert!(!log.contains("activated"), "{log}");
    assert_eq!(s.states(), ["00B61 Precopy", "00B63 Precopy"]);

    // On start, a sync resource is not optional by default (the template, om3): a
    // failed activation fails the start, so nothing starts on clones that were
    // never activated. `optional = true` logs it and passes over.
    s.sim_ok("symsim", &["fail", "activate"]);
    let log = s.fails(&["-s", "svc", "start"], 1);
    assert!(
        log.ends_with(&format!("doppel: svc: start failed: sync#0: {error}\n")),
        "{log}"
    );
    s.service("svc", &format!("{SYNC0}optional = true\n"));
    s.sim_ok("symsim", &["fail", "activate"]);
    let log = s.ok(&["-s", "svc", "start"]);
    assert_line(
        &log,
        "* SVC.SYNC#0 - INFO - ignore start error on optional resource",
    );
    assert_eq!(s.states(), ["00B61 Precopy", "00B63 Precopy"]);
}

#[test]
fn never_activable_clones_time_out() {
    let s = Sym::new();
    s.service("svc", &format!("{SYNC0}recreate_timeout = 2s\n"));
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    s.ok(&["-s", "svc", "start"]);
    s.sim_ok("symsim", &["fail", "never-activable"]);
    let t0 = Instant::now();
    let log = s.fails(&["-s", "svc", "sync", "update"], 1);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "{took:?}\n{log}"
    );
    assert_line(
        &log,
        &s.symclone_line("svc", "sync#0", "-noprompt recreate -i 20 -c 30 -precopy"),
    );
    // The wait's progress is a transient line on a terminal; piped, it only reaches the log file.
    assert!(
        !log.contains("waiting for activable state: 0/2 devs ready"),
        "{log}"
    );
    let file = std::fs::read_to_string(s.ctx.root().join("var/log/doppel/svc.log")).unwrap();
    assert!(
        file.contains("* SVC.SYNC#0 - DEBUG - waiting for activable state: 0/2 devs ready ("),
        "{file}"
    );
    assert!(
        log.ends_with(
            "doppel: svc: sync update failed: sync#0: timed out waiting for activable state (2s; recreated, precopy or created): 0/2 devs ready; 00B61 RecreateInProg, 00B63 RecreateInProg\n"
        ),
        "{log}"
    );
    assert!(
        !log.contains("activate -i"),
        "no activate after the timeout:\n{log}"
    );
    assert_eq!(s.states(), ["00B61 RecreateInProg", "00B63 RecreateInProg"]);
    // Once the array lets go, the update goes through.
    s.sim_ok("symsim", &["clear"]);
    s.ok(&["-s", "svc", "sync", "update"]);
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);
}

#[test]
fn lock_contention_is_retried() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    // A contended activate: symclone's own -i 20 -c 30 retries it.
    s.sim_ok("symsim", &["fail", "lock", "--count", "1"]);
    let log = s.ok(&["-s", "svc", "start"]);
    assert_lines_in_order(
        &log,
        &[
            &s.symclone_line(
                "svc",
                "sync#0",
                "-noprompt activate -i 20 -c 30 -consistent",
            ),
            "The SYMAPI database file is locked by another process. Retrying in 20 second(s) (attempt 1 of 30)...",
            "* SVC.SYNC#0 - INFO - 2 clone pair(s) activated",
        ],
    );
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);

    // A contended status query at the start of an action: the driver retries it.
    s.ok(&["-s", "svc", "sync", "resync"]);
    s.sim_ok(
        "symsim",
        &["fail", "lock", "--count", "2", "--on", "symdev"],
    );
    let log = s.ok(&["-s", "svc", "sync", "break"]);
    let warn = |n: u32| {
        format!(
            "* SVC.SYNC#0 - WARNING - {}/symdev exited with code 2: The SYMAPI database file is locked by another process (attempt {n} of 5, retrying)",
            target_dir().display()
        )
    };
    assert_lines_in_order(
        &log,
        &[
            &warn(1),
            &warn(2),
            &s.symclone_line(
                "svc",
                "sync#0",
                "-noprompt activate -i 20 -c 30 -consistent",
            ),
        ],
    );
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);
}

// --- configuration ---------------------------------------------------------------------------

#[test]
fn validate_reports_bad_pairs_and_a_missing_symid() {
    let s = Sym::new();
    s.service(
        "bad",
        "[DEFAULT]\nnodes = n1\n\n[sync#0]\ntype = symclone\nsymid = 000197900123\npairs = 00B60-00B61\n\n[sync#1]\ntype = symclone\npairs = 00B62:00B63\n",
    );
    doppel_snapshot!(
        s.ctx,
        "symclone_validate",
        s.cmd(&["-s", "bad", "validate"])
    );
}

#[test]
fn template_contains_every_seed_block() {
    let s = Sym::new();
    let (code, ours, stderr) = s.run(&["template", "sync.symclone"]);
    assert_eq!(code, 0, "{stderr}");
    let seed = std::fs::read_to_string(
        doppel_e2e::workspace_root().join("core/tests/data/seed-symclone-template.txt"),
    )
    .unwrap();
    // Every seed block appears, byte for byte and in order; doppel may add blocks.
    let blocks: Vec<&str> = seed.split("\n#\n# keyword:").collect();
    assert!(blocks.len() > 20, "the seed has a block per keyword");
    let mut pos = 0;
    for (i, b) in blocks.iter().enumerate() {
        let needle = if i == 0 {
            b.to_string()
        } else {
            format!("\n#\n# keyword:{b}")
        };
        let needle = needle.trim_end_matches('\n');
        let found = ours[pos..]
            .find(needle)
            .unwrap_or_else(|| panic!("seed block {i} missing or out of order:\n{needle}"));
        pos += found + needle.len();
    }
    // doppel's own keywords are there too.
    for kw in ["recreate_timeout", "restore_timeout"] {
        assert!(
            ours.contains(&format!("# keyword:       {kw}\n")),
            "{kw} missing"
        );
    }
}

/// On a terminal, a wait shows one progress line redrawn in place (erased by the
/// next log line); piped output never has it (see the test above).
#[test]
fn waits_show_progress_on_a_terminal() {
    let s = Sym::new();
    s.service("svc", &format!("{SYNC0}recreate_timeout = 2s\n"));
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    s.ok(&["-s", "svc", "start"]);
    s.sim_ok("symsim", &["fail", "never-activable"]);
    let cmd = s.ctx.doppel(["-s", "svc", "sync", "update"]);
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect();
    // script(1) runs the command on a pseudo-terminal.
    let mut tty = std::process::Command::new("script");
    tty.args(["-qec", &line.join(" "), "/dev/null"]).env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            tty.env(k, v);
        }
    }
    let out = tty.output().expect("script(1) from util-linux");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(
        seen.contains("\r\x1b[2K* SVC.SYNC#0 - waiting for activable state: 0/2 devs ready ("),
        "{seen:?}"
    );
    assert!(
        seen.contains("timed out waiting for activable state"),
        "{seen:?}"
    );
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn sync_update_and_restore_are_refused_while_the_app_runs() {
    let s = Sym::new();
    s.service(
        "svc",
        &WITH_APP.replace("00B62:00B63\n", "00B62:00B63\nschedule = @1\n"),
    );
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    s.ok(&["-s", "svc", "start"]);
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);
    for (args, action) in [
        (&["-s", "svc", "sync", "update"][..], "sync update"),
        (&["-s", "svc", "sync", "restore"], "sync restore"),
        (&["-s", "svc", "sync", "update", "--dry-run"], "sync update"),
        (&["-s", "svc", "sync", "all"], "sync all"),
    ] {
        let log = s.fails(args, 1);
        assert_line(
            &log,
            &format!(
                "doppel: svc: {action} failed: refusing {action}: app#0 is up (stop the service first, or --force)"
            ),
        );
        assert!(!log.contains("recreate"), "{log}");
        assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"], "{args:?}");
    }
    // The scheduler passes it over with a log line instead of failing every night.
    let (code, _, stderr) = s.run(&["daemon", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);
    let log = std::fs::read_to_string(s.ctx.root().join("var/log/doppel/svc.log")).unwrap();
    assert!(
        log.contains(
            "skip: refusing sync update: app#0 is up (stop the service first, or --force)"
        ),
        "{log}"
    );
    // Stopped: the refresh runs.
    s.ok(&["-s", "svc", "stop"]);
    let log = s.ok(&["-s", "svc", "sync", "update"]);
    assert_line(
        &log,
        &s.symclone_line("svc", "sync#0", "-noprompt recreate -i 20 -c 30 -precopy"),
    );
}

#[test]
fn pairs_in_an_unexpected_state_are_down_whatever_the_last_sync() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    s.ok(&["-s", "svc", "start"]);
    assert_eq!(s.resource_status("svc", "sync#0")["status"], "up");
    for state in ["Failed", "Invalid", "Split", "RestInProg"] {
        s.sim_ok("symsim", &["pair", "state", "000197900123", "00B63", state]);
        let st = s.resource_status("svc", "sync#0");
        assert_eq!(st["status"], "down", "{state}: {st}");
        assert_eq!(
            Sym::messages(&st),
            [format!(
                "error: pair(s) in an unexpected state (neither active nor activable): 00B63 {state}"
            )],
            "{state}"
        );
    }
    s.sim_ok(
        "symsim",
        &["pair", "state", "000197900123", "00B63", "--clear"],
    );
    assert_eq!(s.resource_status("svc", "sync#0")["status"], "up");
}

// --- the Linux device refresh after an activation (issue 22) ----------------------------------

impl Sym {
    fn rescan_file(&self, disk: &str) -> PathBuf {
        self.ctx
            .root()
            .join("host/sys/block")
            .join(disk)
            .join("device/rescan")
    }

    fn rescanned(&self, disk: &str) -> String {
        std::fs::read_to_string(self.rescan_file(disk)).unwrap()
    }
}

#[test]
fn an_activation_rescans_the_targets_paths_and_reloads_their_multipath_map() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    // 00B61 is a multipath map over two SCSI paths; 00B63 a plain /dev/sde.
    let map = "/dev/mapper/360000970000197900123533030423631";
    s.sim_ok(
        "symsim",
        &[
            "dev",
            "set",
            SID,
            "00B61",
            "--pd-name",
            map,
            "--paths",
            "/dev/sdh,/dev/sdi",
        ],
    );
    let host = s.ctx.root().join("host").display().to_string();
    s.sim_ok("symsim", &["sysfs", &host]);
    // symdev shows the paths as Front_End ports, as Solutions Enabler does.
    let xml = s.sim_ok(
        "symdev",
        &[
            "-sid", SID, "list", "-v", "-devs", "00B61", "-output", "xml_e",
        ],
    );
    assert!(
        xml.contains("<pd_name>/dev/sdh</pd_name>") && xml.contains("<Front_End>"),
        "{xml}"
    );

    let log = s.ok(&["-s", "svc", "start"]);
    let target = target_dir().display().to_string();
    let rescan = |disk: &str| {
        format!(
            "* SVC.SYNC#0 - INFO - echo 1>{}",
            s.rescan_file(disk).display()
        )
    };
    assert_lines_in_order(
        &log,
        &[
            &s.symclone_line(
                "svc",
                "sync#0",
                "-noprompt activate -i 20 -c 30 -consistent",
            ),
            &rescan("sdh"),
            &rescan("sdi"),
            &format!("* SVC.SYNC#0 - INFO - {target}/sg_turs /dev/sdh"),
            &format!("* SVC.SYNC#0 - INFO - {target}/sg_turs /dev/sdi"),
            &format!("* SVC.SYNC#0 - INFO - {target}/multipath -v0 -r {map}"),
            &rescan("sde"),
            &format!("* SVC.SYNC#0 - INFO - {target}/sg_turs /dev/sde"),
            &format!("* SVC.SYNC#0 - INFO - {target}/multipath -v0 -r /dev/sde"),
            "* SVC.SYNC#0 - INFO - 2 clone pair(s) activated",
        ],
    );
    for disk in ["sdh", "sdi", "sde"] {
        assert_eq!(s.rescanned(disk), "1", "{disk}");
    }
    assert_eq!(
        s.rescanned("sdc"),
        "",
        "00B61's own name is not a path any more"
    );
    assert_eq!(s.rescanned("sdb"), "", "sources are not touched");

    // sync update activates too: the same refresh.
    for disk in ["sdh", "sdi", "sde"] {
        std::fs::write(s.rescan_file(disk), "").unwrap();
    }
    s.ok(&["-s", "svc", "sync", "update"]);
    for disk in ["sdh", "sdi", "sde"] {
        assert_eq!(s.rescanned(disk), "1", "{disk}");
    }
}

#[test]
fn a_target_not_visible_from_the_host_fails_the_activation() {
    let s = Sym::new();
    s.service("svc", SYNC0);
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    s.sim_ok(
        "symsim",
        &["dev", "set", SID, "00B63", "--pd-name", "Not Visible"],
    );
    let log = s.fails(&["-s", "svc", "start"], 1);
    assert!(
        log.contains(
            "00B63: pd name is 'Not Visible'. please scan scsi buses and run symcfg discover"
        ),
        "{log}"
    );
}

#[test]
fn rescan_false_leaves_the_host_devices_alone() {
    let s = Sym::new();
    s.service("svc", &format!("{SYNC0}rescan = false\n"));
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    let log = s.ok(&["-s", "svc", "start"]);
    assert!(
        !log.contains("sg_turs") && !log.contains("echo 1>"),
        "{log}"
    );
    assert_eq!(s.rescanned("sdc"), "");
    assert_eq!(s.states(), ["00B61 Copied", "00B63 Copied"]);
}

/// sync.symclone declares `reentrant`: a service's clone sets are queried at
/// once, so a status of several costs about one query, not one per set.
#[test]
fn the_clone_sets_of_a_service_are_queried_at_once() {
    use std::os::unix::fs::PermissionsExt;
    let tools = tempfile::Builder::new()
        .prefix("doppel-symcli-")
        .tempdir()
        .unwrap();
    let spans = tools.path().join("spans");
    // symdev that notes when it starts and ends around the simulator's answer.
    let symdev = tools.path().join("symdev");
    std::fs::write(
        &symdev,
        format!(
            "#!/bin/sh\necho \"start $(date +%s%N)\" >> {spans}\n\
             out=$({real} \"$@\"); code=$?\nsleep 0.4\n\
             echo \"end $(date +%s%N)\" >> {spans}\nprintf '%s\\n' \"$out\"\nexit $code\n",
            spans = spans.display(),
            real = target_dir().join("symdev").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&symdev, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = Sym::with_bin(&tools.path().display().to_string());
    s.service(
        "two",
        "[DEFAULT]\nnodes = n1\n\n\
         [sync#0]\ntype = symclone\nsymid = 000197900123\npairs = 00B60:00B61\n\n\
         [sync#1]\ntype = symclone\nsymid = 000197900123\npairs = 00B62:00B63\n",
    );
    s.create_sessions(&["00B60:00B61", "00B62:00B63"]);
    s.ctx.expect(&["-q", "-s", "two", "status"], 0);
    let text = std::fs::read_to_string(&spans).unwrap();
    let times = |what: &str| -> Vec<u128> {
        text.lines()
            .filter_map(|l| l.strip_prefix(what))
            .map(|t| t.trim().parse().unwrap())
            .collect()
    };
    let (starts, ends) = (times("start "), times("end "));
    assert_eq!((starts.len(), ends.len()), (2, 2), "{text}");
    // Both queries had started before the first one ended.
    assert!(
        starts.iter().max() < ends.iter().min(),
        "the queries ran one after the other:\n{text}"
    );
}
