//! The action engine through the binary (issue 4): actions and their spellings,
//! selection, ordering, parallel subsets and services, conditions, triggers,
//! flags, status and its cache, locks, logs, dry-run, driver panics and
//! `app.script`.
//!
//! Services are built from the `<group>.test` drivers, whose `record` keyword
//! names a file where every action appends `<svc> <rid> <action> <start ms>
//! <end ms>`: what ran, in which order and when, as an operator would check.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use doppel_e2e::{TestContext, assert_line, run};

/// Snapshot a command's whole output with the context's filters, plus: the
/// test driver's source location in panic messages, and the one-line warnings
/// about driver files of other crates being rebuilt next to doppel (they are
/// the loader's business, see drivers.rs).
macro_rules! engine_snapshot {
    ($e:expr, $name:expr, $cmd:expr) => {{
        let mut filters = $e.ctx.filters();
        filters.push((r" at tests/test-drivers/common/src/lib\.rs:\d+".to_owned(), " at [SOURCE]".to_owned()));
        filters.push((r"(?m)^warning: skipped driver .*\n".to_owned(), String::new()));
        let filters: Vec<(&str, &str)> = filters.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        insta::with_settings!({filters => filters, prepend_module_to_snapshot => false}, {
            insta_cmd::assert_cmd_snapshot!($name, $cmd);
        });
    }};
}

/// One line of a record file.
#[derive(Clone, Debug)]
struct Rec {
    svc: String,
    rid: String,
    action: String,
    start: u128,
    end: u128,
}

/// A root on node `n1`, with helpers for service files, runs and records.
struct Eng {
    ctx: TestContext,
}

impl Eng {
    fn new() -> Eng {
        let ctx = TestContext::new();
        ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
        Eng { ctx }
    }

    fn root(&self) -> String {
        self.ctx.root().display().to_string()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.ctx.root().join(rel)
    }

    /// Writes a service file; `@ROOT@` becomes the root, `@REC@` the record file.
    fn service(&self, name: &str, text: &str) {
        let text = text
            .replace("@REC@", &format!("{}/record", self.root()))
            .replace("@ROOT@", &self.root());
        self.ctx.service(name, &text);
    }

    /// A hook script appending its first argument and the trigger environment to
    /// `<root>/hooks`.
    fn hook(&self) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.ctx.write(
            "hook.sh",
            &format!(
                "#!/bin/sh\necho \"$1|$DOPPEL_SVCNAME|$DOPPEL_RID|$DOPPEL_ACTION|$OPENSVC_SVCNAME|$OPENSVC_RID|$OPENSVC_ACTION\" >> {}/hooks\n",
                self.root()
            ),
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A stand-in tool, `<root>/marker.sh NAME`, that appends `NAME start` to
    /// `<root>/markers`, takes a second, then appends `NAME end`: which calls
    /// overlapped shows in the order of the lines, without timing anything.
    fn marker_tool(&self) -> String {
        self.ctx.write(
            "marker.sh",
            &format!(
                "echo \"$1 start\" >> {root}/markers\nsleep 1\necho \"$1 end\" >> {root}/markers\n",
                root = self.root()
            ),
        );
        format!("/bin/sh {}/marker.sh", self.root())
    }

    /// The lines of `<root>/markers`, then forgets them.
    fn take_markers(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.path("markers")).unwrap_or_default();
        let _ = std::fs::remove_file(self.path("markers"));
        text.lines().map(str::to_owned).collect()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        self.ctx.doppel(args)
    }

    /// Runs doppel; returns (code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(&mut self.cmd(args))
    }

    /// Runs doppel, expecting exit 0; returns stderr (the log).
    fn ok(&self, args: &[&str]) -> String {
        self.ctx.ok(args)
    }

    /// Runs doppel, expecting exit `want`; returns stderr.
    fn fails(&self, args: &[&str], want: i32) -> String {
        self.ctx.expect(args, want)
    }

    fn records(&self) -> Vec<Rec> {
        let text = std::fs::read_to_string(self.path("record")).unwrap_or_default();
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                assert_eq!(f.len(), 5, "bad record line {l:?}");
                Rec {
                    svc: f[0].into(),
                    rid: f[1].into(),
                    action: f[2].into(),
                    start: f[3].parse().unwrap(),
                    end: f[4].parse().unwrap(),
                }
            })
            .collect()
    }

    /// The rids recorded, in order, then forgets them.
    fn take_rids(&self) -> Vec<String> {
        let rids = self.records().into_iter().map(|r| r.rid).collect();
        let _ = std::fs::remove_file(self.path("record"));
        rids
    }

    /// `<rid> <action>` recorded, in order, then forgets them.
    fn take_actions(&self) -> Vec<String> {
        let out = self
            .records()
            .into_iter()
            .map(|r| format!("{} {}", r.rid, r.action))
            .collect();
        let _ = std::fs::remove_file(self.path("record"));
        out
    }

    /// `print status --format json` of one service (from the cache, refreshed
    /// when `refresh`).
    fn status(&self, svc: &str, refresh: bool) -> serde_json::Value {
        let mut args = vec!["-s", svc, "print", "status", "--format", "json"];
        if refresh {
            args.push("--refresh");
        }
        let (code, stdout, stderr) = self.run(&args);
        assert_eq!(code, 0, "{stderr}");
        let doc: serde_json::Value =
            serde_json::from_str(&stdout).expect("print status --format json is JSON");
        doc.as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == svc)
            .expect("the service")
            .clone()
    }

    /// The status of every resource, `rid=status`.
    fn states(&self, svc: &str) -> Vec<String> {
        let s = self.status(svc, true);
        s["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}={}",
                    r["rid"].as_str().unwrap(),
                    r["status"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Starts doppel in the background.
    fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn doppel")
    }

    /// Waits until `child` holds the `file` lock of `svc` (its record names it).
    fn wait_lock(&self, svc: &str, file: &str, child: &mut Child) {
        let path = self.path(&format!("var/lib/doppel/{svc}/{file}"));
        let want = format!("\"pid\":{}", child.id());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::fs::read_to_string(&path).is_ok_and(|t| t.contains(&want)) {
                return;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "the background action ended before taking its lock"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{} never held by pid {}", path.display(), child.id());
    }
}

/// The log lines (`* SVC.RID - LEVEL - message`) of a console output.
fn log_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("* ")).collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------------------
// Actions and their spellings
// ---------------------------------------------------------------------------

/// Resources in file order app, task, fs, sync, disk: every standard action
/// reaches all of them, in group order (sync < disk < fs < app < task) for
/// start-like actions and the reverse for stop-like ones.
const GROUPS: &str = "
[app#0]
type = test
record = @REC@

[task#0]
type = test
record = @REC@

[fs#0]
type = test
record = @REC@

[sync#0]
type = test
record = @REC@

[disk#0]
type = test
record = @REC@
";

#[test]
fn standard_actions_walk_the_groups_in_order() {
    let e = Eng::new();
    e.service("svc", GROUPS);
    let forward = ["sync#0", "disk#0", "fs#0", "app#0", "task#0"];
    let backward: Vec<&str> = forward.iter().rev().copied().collect();
    for (action, order) in [
        ("provision", &forward[..]),
        ("start", &forward[..]),
        ("run", &forward[..]),
        ("stop", &backward[..]),
        ("unprovision", &backward[..]),
    ] {
        e.ok(&["-s", "svc", action]);
        let want: Vec<String> = order.iter().map(|rid| format!("{rid} {action}")).collect();
        assert_eq!(e.take_actions(), want, "{action}");
    }
    // The state the driver keeps follows start and stop.
    e.ok(&["-s", "svc", "start"]);
    assert_eq!(e.status("svc", false)["avail"], "up");
    e.ok(&["-s", "svc", "stop"]);
    assert_eq!(e.status("svc", false)["avail"], "down");
}

#[test]
fn sync_actions_all_spellings_and_silent_pass_over() {
    let e = Eng::new();
    // app.script declares no sync action: it is passed over without a word.
    e.service(
        "svc",
        "
[sync#1]
type = test
record = @REC@

[sync#0]
type = test
record = @REC@

[app#0]
type = script
start = true
",
    );
    for (args, action) in [
        (&["sync", "update"][..], "sync_update"),
        (&["sync", "resync"], "sync_resync"),
        (&["sync", "break"], "sync_break"),
        (&["sync", "restore"], "sync_restore"),
        (&["sync", "nodes"], "sync_nodes"),
        (&["sync", "drp"], "sync_drp"),
        (&["syncresync"], "sync_resync"),
        (&["syncupdate"], "sync_update"),
        (&["syncbreak"], "sync_break"),
    ] {
        let mut full = vec!["-s", "svc"];
        full.extend_from_slice(args);
        let stderr = e.ok(&full);
        assert_eq!(
            e.take_actions(),
            vec![format!("sync#0 {action}"), format!("sync#1 {action}")],
            "{args:?}"
        );
        assert!(
            !stderr.contains("APP#0"),
            "app#0 must be passed over silently:\n{stderr}"
        );
    }
    // sync all: nodes, drp, then update, each over the resources in order.
    e.ok(&["-s", "svc", "sync", "all"]);
    assert_eq!(
        e.take_actions(),
        strs(&[
            "sync#0 sync_nodes",
            "sync#1 sync_nodes",
            "sync#0 sync_drp",
            "sync#1 sync_drp",
            "sync#0 sync_update",
            "sync#1 sync_update"
        ])
    );
    e.ok(&["-s", "svc", "syncall"]);
    assert_eq!(e.take_actions().len(), 6);
}

#[test]
fn driver_declared_actions_run_and_unknown_actions_are_usage_errors() {
    let e = Eng::new();
    e.service(
        "svc",
        "
[fs#1]
type = test
record = @REC@

[app#0]
type = script
start = true

[app#1]
type = test
record = @REC@
",
    );
    e.service("scripted", "[app#0]\ntype = script\nstart = true\n");
    // `poke` is declared by the test drivers: app.script has none and is passed over.
    let stderr = e.ok(&["-s", "svc", "poke"]);
    assert_eq!(e.take_actions(), strs(&["fs#1 poke", "app#1 poke"]));
    assert_line(&stderr, "* SVC.FS#1 - INFO - poke done");
    assert!(!stderr.contains("APP#0"), "{stderr}");
    // Options of driver actions parse like any action's.
    e.ok(&["-s", "svc", "poke", "--rid", "app#1", "--opt", "depth=2"]);
    assert_eq!(e.take_actions(), strs(&["app#1 poke"]));
    // Aimed at a resource whose driver lacks it: nothing to do, said clearly.
    let stderr = e.fails(&["-s", "svc", "poke", "--rid", "app#0"], 2);
    assert!(
        stderr.contains(
            "doppel: svc: no selected resource implements poke (app#0 app.script: start, stop)"
        ),
        "{stderr}"
    );
    // No driver of the service declares it.
    let stderr = e.fails(&["-s", "scripted", "poke"], 2);
    assert!(
        stderr.contains(
            "unknown action 'poke' for service scripted: no resource's driver declares it"
        ),
        "{stderr}"
    );
    engine_snapshot!(
        e,
        "engine_unknown_action",
        e.cmd(&["-s", "svc", "frobnicate"])
    );
    assert!(e.records().is_empty());
}

// ---------------------------------------------------------------------------
// Selection
// ---------------------------------------------------------------------------

const SELECTION: &str = "
[sync#0]
type = test
record = @REC@
tags = a

[fs#1]
type = test
record = @REC@
tags = a b
subset = x

[fs#2]
type = test
record = @REC@
tags = b
subset = x

[fs#10]
type = test
record = @REC@
subset = y

[app#1]
type = test
record = @REC@
tags = a b c
";

#[test]
fn rid_tags_and_subsets_select_and_intersect() {
    let e = Eng::new();
    e.service("sel", SELECTION);
    let cases: &[(&[&str], &[&str])] = &[
        (&["--rid", "fs#1"], &["fs#1"]),
        (&["--rid", "fs"], &["fs#1", "fs#2", "fs#10"]),
        (&["--rid", "fs#1*"], &["fs#1", "fs#10"]),
        (&["--rid", "*#1"], &["fs#1", "app#1"]),
        (&["--rid", "app,sync#0"], &["sync#0", "app#1"]),
        (&["--tags", "a"], &["sync#0", "fs#1", "app#1"]),
        (&["--tags", "a,b"], &["sync#0", "fs#1", "fs#2", "app#1"]),
        (&["--tags", "a+b"], &["fs#1", "app#1"]),
        (&["--tags", "b+c,a+b"], &["fs#1", "app#1"]),
        (&["--subsets", "x"], &["fs#1", "fs#2"]),
        (&["--subsets", "x,y"], &["fs#1", "fs#2", "fs#10"]),
        (&["--subsets", "x", "--tags", "a"], &["fs#1"]),
        (
            &["--rid", "fs", "--tags", "b", "--subsets", "x"],
            &["fs#1", "fs#2"],
        ),
        (&["--rid", "fs#1*", "--subsets", "y"], &["fs#10"]),
    ];
    for (args, want) in cases {
        let mut full = vec!["-s", "sel", "start"];
        full.extend_from_slice(args);
        e.ok(&full);
        assert_eq!(e.take_rids(), strs(want), "{args:?}");
    }
}

#[test]
fn nothing_selected_is_a_clear_usage_error() {
    let e = Eng::new();
    e.service("sel", SELECTION);
    for args in [
        &["--rid", "ip#0"][..],
        &["--tags", "nope"],
        &["--rid", "app", "--subsets", "x"],
        &["--tags", "a+b+c+d"],
    ] {
        let mut full = vec!["-s", "sel", "start"];
        full.extend_from_slice(args);
        let stderr = e.fails(&full, 2);
        assert_line(
            &stderr,
            "doppel: sel: no resource matches the given --rid, --tags and --subsets",
        );
    }
    assert!(e.records().is_empty());
}

#[test]
fn service_selectors_name_list_and_glob() {
    let e = Eng::new();
    for name in ["alpha", "beta", "gamma", "delta"] {
        e.service(name, "[app#1]\ntype = test\nrecord = @REC@\n");
    }
    let svcs = |e: &Eng| {
        let out: Vec<String> = e.records().into_iter().map(|r| r.svc).collect();
        let _ = std::fs::remove_file(e.path("record"));
        out
    };
    e.ok(&["-s", "beta", "start"]);
    assert_eq!(svcs(&e), strs(&["beta"]));
    e.ok(&["-s", "gamma,alpha", "start"]);
    assert_eq!(svcs(&e), strs(&["gamma", "alpha"]));
    e.ok(&["-s", "*a", "start"]);
    assert_eq!(svcs(&e), strs(&["alpha", "beta", "delta", "gamma"]));
    e.ok(&["-s", "*", "stop"]);
    assert_eq!(svcs(&e).len(), 4);
    let stderr = e.fails(&["-s", "alhpa", "start"], 2);
    assert!(
        stderr.contains("no service matches \"alhpa\" (did you mean alpha?)"),
        "{stderr}"
    );
    assert!(e.records().is_empty());
}

// ---------------------------------------------------------------------------
// Ordering and concurrency
// ---------------------------------------------------------------------------

#[test]
fn rids_follow_natural_order_inside_groups() {
    let e = Eng::new();
    e.service(
        "nat",
        "
[fs#10]
type = test
record = @REC@

[app#1]
type = test
record = @REC@

[fs#2]
type = test
record = @REC@

[fs#1]
type = test
record = @REC@

[sync#0]
type = test
record = @REC@

[disk#1]
type = test
record = @REC@
",
    );
    e.ok(&["-s", "nat", "start"]);
    assert_eq!(
        e.take_rids(),
        strs(&["sync#0", "disk#1", "fs#1", "fs#2", "fs#10", "app#1"])
    );
    e.ok(&["-s", "nat", "stop"]);
    assert_eq!(
        e.take_rids(),
        strs(&["app#1", "fs#10", "fs#2", "fs#1", "disk#1", "sync#0"])
    );
}

/// True when every interval of `recs` overlaps every other (they ran together).
fn all_overlap(recs: &[&Rec]) -> bool {
    let last_start = recs.iter().map(|r| r.start).max().unwrap();
    let first_end = recs.iter().map(|r| r.end).min().unwrap();
    last_start < first_end
}

#[test]
fn a_parallel_subset_runs_together_and_others_in_sequence() {
    let e = Eng::new();
    e.service(
        "par",
        "
[subset#fs:a]
parallel = true

[fs#1]
type = test
record = @REC@
subset = a
duration = 1s

[fs#2]
type = test
record = @REC@
subset = a
duration = 1s

[fs#3]
type = test
record = @REC@
subset = a
duration = 1s

[fs#4]
type = test
record = @REC@
subset = b
duration = 1s

[fs#5]
type = test
record = @REC@
subset = b
duration = 1s
",
    );
    let stderr = e.ok(&["-s", "par", "start"]);
    let recs = e.records();
    let get = |rid: &str| {
        recs.iter()
            .find(|r| r.rid == rid)
            .unwrap_or_else(|| panic!("{rid} did not run"))
    };
    let a = [get("fs#1"), get("fs#2"), get("fs#3")];
    assert!(
        all_overlap(&a),
        "the parallel subset ran in sequence: {recs:?}"
    );
    let span = a.iter().map(|r| r.end).max().unwrap() - a.iter().map(|r| r.start).min().unwrap();
    assert!(span < 2500, "3 × 1s in parallel took {span} ms");
    // Subset b is not parallel: one after the other, after subset a.
    let (f4, f5) = (get("fs#4"), get("fs#5"));
    assert!(f4.end <= f5.start, "fs#4 and fs#5 overlap: {recs:?}");
    assert!(
        a.iter().all(|r| r.end <= f4.start),
        "subset b started before subset a ended: {recs:?}"
    );
    assert_line(
        &stderr,
        "* PAR - INFO - parallel start resources fs#1,fs#2,fs#3",
    );
    // Concurrent output stays readable: whole lines, each naming its service and rid.
    for l in log_lines(&stderr) {
        assert!(
            l.starts_with("* PAR.FS#") || l.starts_with("* PAR - "),
            "{l}"
        );
    }
    for rid in ["FS#1", "FS#2", "FS#3"] {
        assert_line(&stderr, &format!("* PAR.{rid} - INFO - start done"));
    }
}

#[test]
fn parallel_runs_services_concurrently() {
    let e = Eng::new();
    for name in ["p1", "p2"] {
        e.service(name, "[fs#1]\ntype = test\nrecord = @REC@\nduration = 1s\n");
    }
    e.ok(&["-s", "p1,p2", "start", "--parallel"]);
    let recs = e.records();
    assert_eq!(recs.len(), 2);
    assert!(
        all_overlap(&recs.iter().collect::<Vec<_>>()),
        "--parallel ran the services in sequence: {recs:?}"
    );
    let _ = std::fs::remove_file(e.path("record"));
    e.ok(&["-s", "p1,p2", "stop"]);
    let recs = e.records();
    assert_eq!((recs[0].svc.as_str(), recs[1].svc.as_str()), ("p1", "p2"));
    assert!(
        recs[0].end <= recs[1].start,
        "without --parallel the services run one after the other: {recs:?}"
    );
}

#[test]
fn status_refreshes_resources_of_different_drivers_concurrently() {
    let e = Eng::new();
    let tool = e.marker_tool();
    e.service(
        "mixed",
        &format!(
            "[app#0]\ntype = test\nstatus = up\nquery = {tool} app\n\n\
             [fs#0]\ntype = test\nstatus = up\nquery = {tool} fs\n"
        ),
    );
    e.ok(&["-s", "mixed", "status"]);
    let markers = e.take_markers();
    assert_eq!(markers.len(), 4, "{markers:?}");
    // app.test and fs.test are two drivers (two processes): both calls start
    // before either ends.
    assert!(
        markers[..2].iter().all(|m| m.ends_with(" start")),
        "the two drivers' status calls ran one after the other: {markers:?}"
    );
    // The same refresh ends an action.
    e.ok(&["-s", "mixed", "start"]);
    let markers = e.take_markers();
    assert!(
        markers[..2].iter().all(|m| m.ends_with(" start")),
        "the refresh ending start ran the drivers one after the other: {markers:?}"
    );
}

#[test]
fn print_status_refresh_takes_several_services_at_once_in_selection_order() {
    let e = Eng::new();
    let tool = e.marker_tool();
    for name in ["r1", "r2"] {
        e.service(
            name,
            &format!("[fs#0]\ntype = test\nstatus = up\nquery = {tool} {name}\n"),
        );
    }
    let (code, stdout, stderr) = e.run(&["-s", "r1,r2", "print", "status", "--refresh"]);
    assert_eq!(code, 0, "{stderr}");
    let markers = e.take_markers();
    assert_eq!(markers.len(), 4, "{markers:?}");
    assert!(
        markers[..2].iter().all(|m| m.ends_with(" start")),
        "print status --refresh took the services one after the other: {markers:?}"
    );
    // Shown in the selection's order, whichever finished first.
    let r1 = stdout.find("r1").expect(&stdout);
    let r2 = stdout.find("r2").expect(&stdout);
    assert!(r1 < r2, "{stdout}");
}

#[test]
fn status_refreshes_the_resources_of_one_driver_in_turn() {
    // One driver process serves the resources of its type: a call crashing it
    // must find no sibling call in flight there, so they run one at a time.
    let e = Eng::new();
    let tool = e.marker_tool();
    e.service(
        "same",
        &format!(
            "[fs#0]\ntype = test\nstatus = up\nquery = {tool} fs0\n\n\
             [fs#1]\ntype = test\nstatus = up\nquery = {tool} fs1\n\n\
             [app#0]\ntype = test\nstatus = up\nquery = {tool} app\n"
        ),
    );
    e.ok(&["-s", "same", "status"]);
    let markers = e.take_markers();
    let fs: Vec<&str> = markers
        .iter()
        .map(String::as_str)
        .filter(|m| m.starts_with("fs"))
        .collect();
    assert_eq!(
        fs,
        ["fs0 start", "fs0 end", "fs1 start", "fs1 end"],
        "{markers:?}"
    );
    // ...while app.test's call ran beside them.
    let app_start = markers.iter().position(|m| m == "app start").unwrap();
    let fs0_end = markers.iter().position(|m| m == "fs0 end").unwrap();
    assert!(app_start < fs0_end, "{markers:?}");
    // The status lists the resources in the service's order, whatever finished first.
    let cached = e.status("same", false);
    let rids: Vec<&str> = cached["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rid"].as_str().unwrap())
        .collect();
    assert_eq!(rids, ["fs#0", "fs#1", "app#0"]);
}

#[test]
fn a_reentrant_driver_has_its_resources_refreshed_concurrently() {
    let mut e = Eng::new();
    e.ctx.env("DOPPEL_TEST_DRIVER_REENTRANT", "fs");
    let tool = e.marker_tool();
    e.service(
        "re",
        &format!(
            "[fs#0]\ntype = test\nstatus = up\nquery = {tool} fs0\n\n\
             [fs#1]\ntype = test\nstatus = up\nquery = {tool} fs1\n\n\
             [app#0]\ntype = test\nstatus = up\nquery = {tool} app0\n\n\
             [app#1]\ntype = test\nstatus = up\nquery = {tool} app1\n"
        ),
    );
    let (_, stdout, _) = e.run(&["drivers", "info", "fs.test"]);
    assert_line(
        &stdout,
        "  reentrant:    yes (a service's resources of this type are asked their status concurrently)",
    );
    let (_, stdout, _) = e.run(&["drivers", "info", "app.test"]);
    assert!(!stdout.contains("reentrant"), "{stdout}");
    e.ok(&["-s", "re", "status"]);
    let markers = e.take_markers();
    let pos = |m: &str| {
        markers
            .iter()
            .position(|l| l == m)
            .unwrap_or_else(|| panic!("no {m}: {markers:?}"))
    };
    // fs.test says it is reentrant: its two calls overlap...
    assert!(
        pos("fs0 start") < pos("fs1 end") && pos("fs1 start") < pos("fs0 end"),
        "the reentrant driver's resources were asked one after the other: {markers:?}"
    );
    // ...app.test does not: one after the other.
    let app: Vec<&str> = markers
        .iter()
        .map(String::as_str)
        .filter(|m| m.starts_with("app"))
        .collect();
    assert_eq!(
        app,
        ["app0 start", "app0 end", "app1 start", "app1 end"],
        "{markers:?}"
    );
}

#[test]
fn max_parallel_commands_bounds_the_tools_running_at_once() {
    let e = Eng::new();
    let tool = e.marker_tool();
    for name in ["c1", "c2"] {
        e.service(
            name,
            &format!(
                "[app#0]\ntype = test\nstatus = up\nquery = {tool} {name}.app\n\n\
                 [fs#0]\ntype = test\nstatus = up\nquery = {tool} {name}.fs\n"
            ),
        );
    }
    // Without a limit in the node config (64), two services of two drivers each
    // run four tools at once.
    e.ok(&["-s", "c1,c2", "status", "--parallel"]);
    let markers = e.take_markers();
    assert!(
        markers[..4].iter().all(|m| m.ends_with(" start")),
        "{markers:?}"
    );
    // One at a time: every tool ends before the next starts.
    e.ctx.write(
        "etc/doppel/doppel.toml",
        "nodename = \"n1\"\nmax_parallel_commands = 1\n",
    );
    e.ok(&["-s", "c1,c2", "status", "--parallel"]);
    let markers = e.take_markers();
    assert_eq!(markers.len(), 8, "{markers:?}");
    for pair in markers.chunks(2) {
        let name = pair[0]
            .strip_suffix(" start")
            .unwrap_or_else(|| panic!("{markers:?}"));
        assert_eq!(pair[1], format!("{name} end"), "{markers:?}");
    }
    e.ctx.write(
        "etc/doppel/doppel.toml",
        "nodename = \"n1\"\nmax_parallel_commands = 0\n",
    );
    let stderr = e.fails(&["-s", "c1", "status"], 2);
    assert!(
        stderr.contains("etc/doppel/doppel.toml:2: max_parallel_commands must be at least 1"),
        "{stderr}"
    );
}

#[test]
fn parallel_takes_a_window_of_services_at_most_64() {
    let e = Eng::new();
    for name in ["w1", "w2", "w3"] {
        e.service(name, "[fs#1]\ntype = test\nrecord = @REC@\nduration = 1s\n");
    }
    e.ok(&["-s", "w1,w2,w3", "start", "--parallel=2"]);
    let mut recs = e.records();
    assert_eq!(recs.len(), 3, "{recs:?}");
    recs.sort_by_key(|r| r.start);
    // Two at a time: the third starts once one of the first two has ended.
    assert!(all_overlap(&[&recs[0], &recs[1]]), "{recs:?}");
    assert!(
        recs[2].start >= recs[0].end.min(recs[1].end),
        "--parallel=2 ran three services at once: {recs:?}"
    );
    let stderr = e.fails(&["-s", "w1,w2,w3", "stop", "--parallel=65"], 2);
    assert_line(
        &stderr,
        "doppel: --parallel=65: at most 64 services run at a time (each holds its log, lock and driver calls while it runs)",
    );
    let stderr = e.fails(&["-s", "w1", "stop", "--parallel=0"], 2);
    assert_line(
        &stderr,
        "doppel: --parallel=0: give at least 1 service at a time",
    );
}

// ---------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------

#[test]
fn an_unmet_condition_fails_the_resource_action_with_a_clear_message() {
    let e = Eng::new();
    e.service(
        "cond",
        "
[fs#1]
type = test
record = @REC@
initial = up

[sync#0]
type = test
record = @REC@
optional = false
sync_update_depends = fs#1(down,stdby down)
",
    );
    let stderr = e.fails(&["-s", "cond", "sync", "update"], 1);
    let message = "sync#0: sync_update requires fs#1 in (down, stdby down), current state up";
    assert_line(&stderr, &format!("* COND.SYNC#0 - ERROR - {message}"));
    assert_line(
        &stderr,
        &format!("doppel: cond: sync update failed: {message}"),
    );
    // fs#1 implements sync_update too and comes after sync#0: never reached.
    assert!(e.records().is_empty(), "{:?}", e.records());
    // Met: the action runs.
    e.ok(&["-s", "cond", "stop", "--rid", "fs#1"]);
    let _ = e.take_actions();
    e.ok(&["-s", "cond", "sync", "update", "--rid", "sync#0"]);
    assert_eq!(e.take_actions(), strs(&["sync#0 sync_update"]));
}

#[test]
fn conditions_see_the_state_left_by_earlier_resources_and_optional_ones_are_ignored() {
    let e = Eng::new();
    e.service(
        "cond",
        "
[fs#1]
type = test
record = @REC@

[app#1]
type = test
record = @REC@
optional = true
start_requires = fs#1(down)

[app#2]
type = test
record = @REC@
start_depends = fs#1
",
    );
    // fs#1 was down; it starts first, so app#1's condition fails (ignored, optional)
    // and app#2's (`up, stdby up` by default) holds.
    let stderr = e.ok(&["-s", "cond", "start"]);
    assert_eq!(e.take_rids(), strs(&["fs#1", "app#2"]));
    assert_line(
        &stderr,
        "* COND.APP#1 - ERROR - app#1: start requires fs#1 in (down), current state up",
    );
    assert_line(
        &stderr,
        "* COND.APP#1 - INFO - ignore start error on optional resource",
    );
}

// ---------------------------------------------------------------------------
// Triggers
// ---------------------------------------------------------------------------

#[test]
fn triggers_run_in_order_with_the_service_ones_around_and_get_the_environment() {
    let e = Eng::new();
    e.hook();
    e.service(
        "trig",
        "
[DEFAULT]
pre_start = @ROOT@/hook.sh svc-pre
blocking_pre_start = @ROOT@/hook.sh svc-blocking-pre
post_start = @ROOT@/hook.sh svc-post
blocking_post_start = @ROOT@/hook.sh svc-blocking-post

[fs#1]
type = test
record = @ROOT@/hooks
pre_start = @ROOT@/hook.sh pre
blocking_pre_start = @ROOT@/hook.sh blocking-pre
post_start = @ROOT@/hook.sh post
blocking_post_start = @ROOT@/hook.sh blocking-post
post_stop = @ROOT@/hook.sh \"two words\"
command = sh -c \"echo rid=$DOPPEL_RID action=$OPENSVC_ACTION\"

[app#1]
type = test
record = @ROOT@/hooks
",
    );
    engine_snapshot!(e, "engine_triggers_start", e.cmd(&["-s", "trig", "start"]));
    let hooks = std::fs::read_to_string(e.path("hooks")).unwrap();
    let lines: Vec<String> = hooks
        .lines()
        .map(|l| {
            if l.starts_with("trig ") {
                l.split(' ').take(3).collect::<Vec<_>>().join(" ")
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_eq!(
        lines,
        strs(&[
            "svc-pre|trig||start|trig||start",
            "svc-blocking-pre|trig||start|trig||start",
            "pre|trig|fs#1|start|trig|fs#1|start",
            "blocking-pre|trig|fs#1|start|trig|fs#1|start",
            "trig fs#1 start",
            "post|trig|fs#1|start|trig|fs#1|start",
            "blocking-post|trig|fs#1|start|trig|fs#1|start",
            "trig app#1 start",
            "svc-post|trig||start|trig||start",
            "svc-blocking-post|trig||start|trig||start",
        ])
    );
    // A plain command line is split like a shell's: quotes group words.
    std::fs::remove_file(e.path("hooks")).unwrap();
    e.ok(&["-s", "trig", "stop", "--rid", "fs#1"]);
    let hooks = std::fs::read_to_string(e.path("hooks")).unwrap();
    assert_eq!(
        hooks.lines().last().unwrap(),
        "two words|trig|fs#1|stop|trig|fs#1|stop"
    );
}

#[test]
fn triggers_with_pipes_ands_or_semicolons_run_through_the_shell() {
    let e = Eng::new();
    e.service(
        "sh",
        "
[fs#1]
type = test
pre_start = echo piped | tr i I > @ROOT@/pipe
blocking_pre_start = true && echo anded > @ROOT@/and
post_start = echo semi > @ROOT@/semi; true
blocking_post_start = echo plain > @ROOT@/plain
",
    );
    let stderr = e.ok(&["-s", "sh", "start"]);
    let read = |f: &str| {
        std::fs::read_to_string(e.path(f)).unwrap_or_else(|_| panic!("{f} not written:\n{stderr}"))
    };
    assert_eq!(read("pipe"), "pIped\n");
    assert_eq!(read("and"), "anded\n");
    assert_eq!(read("semi"), "semi\n");
    // No shell: `>` is an argument of echo, whose output is logged.
    assert!(!e.path("plain").exists());
    assert_line(
        &stderr,
        &format!("* SH.FS#1 - INFO - plain > {}/plain", e.root()),
    );
}

#[test]
fn a_failing_non_blocking_trigger_warns_and_the_action_goes_on() {
    let e = Eng::new();
    e.service(
        "nb",
        "
[fs#1]
type = test
record = @REC@
pre_start = false
post_start = /nonexistent/hook --now
",
    );
    let stderr = e.ok(&["-s", "nb", "start"]);
    assert_eq!(e.take_rids(), strs(&["fs#1"]));
    assert_line(
        &stderr,
        "* NB.FS#1 - WARNING - pre_start: false non-blocking error [1]",
    );
    assert_line(
        &stderr,
        "* NB.FS#1 - WARNING - post_start: /nonexistent/hook --now non-blocking error [/nonexistent/hook: command not found]",
    );
    assert!(
        !stderr.contains("exited with code"),
        "each failure is logged once:\n{stderr}"
    );
}

#[test]
fn a_failing_blocking_trigger_fails_the_resource_unless_optional() {
    let e = Eng::new();
    e.service(
        "bl",
        "
[fs#1]
type = test
record = @REC@
blocking_pre_start = false

[app#1]
type = test
record = @REC@
",
    );
    let stderr = e.fails(&["-s", "bl", "start"], 1);
    assert!(
        e.records().is_empty(),
        "neither fs#1 nor what follows it ran: {:?}",
        e.records()
    );
    assert_line(
        &stderr,
        "* BL.FS#1 - ERROR - blocking_pre_start: false blocking error [1]",
    );
    assert_line(
        &stderr,
        "doppel: bl: start failed: fs#1: blocking_pre_start: false blocking error [1]",
    );

    e.service(
        "opt",
        "
[fs#1]
type = test
record = @REC@
optional = true
blocking_post_start = false

[app#1]
type = test
record = @REC@
",
    );
    let stderr = e.ok(&["-s", "opt", "start"]);
    assert_eq!(e.take_rids(), strs(&["fs#1", "app#1"]));
    assert_line(
        &stderr,
        "* OPT.FS#1 - ERROR - blocking_post_start: false blocking error [1]",
    );
    assert_line(
        &stderr,
        "* OPT.FS#1 - INFO - ignore start error on optional resource",
    );

    // A blocking service trigger stops the action before any resource.
    e.service(
        "svcbl",
        "[DEFAULT]\nblocking_pre_stop = false\n\n[fs#1]\ntype = test\nrecord = @REC@\n",
    );
    let stderr = e.fails(&["-s", "svcbl", "stop"], 1);
    assert!(e.records().is_empty());
    assert_line(
        &stderr,
        "doppel: svcbl: stop failed: blocking_pre_stop: false blocking error [1]",
    );
}

#[test]
fn a_hung_trigger_is_killed_at_trigger_timeout() {
    let e = Eng::new();
    e.service(
        "hung",
        "
[DEFAULT]
trigger_timeout = 1s

[fs#1]
type = test
record = @REC@
pre_start = sleep 30

[fs#2]
type = test
record = @REC@
blocking_pre_start = sleep 30; echo never
",
    );
    let started = Instant::now();
    let stderr = e.fails(&["-s", "hung", "start"], 1);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "two hung hooks with a 1s timeout took {took:?}"
    );
    // The non-blocking one: killed, reported, the action goes on.
    assert_line(
        &stderr,
        "* HUNG.FS#1 - WARNING - pre_start: sleep 30 non-blocking error [timed out after 1s, killed]",
    );
    assert_eq!(e.take_rids(), strs(&["fs#1"]));
    // The blocking one, through a shell: the shell and its children are killed.
    assert_line(
        &stderr,
        "* HUNG.FS#2 - ERROR - blocking_pre_start: sleep 30; echo never blocking error [timed out after 1s, killed]",
    );
    assert!(!stderr.contains("- INFO - never"), "{stderr}");
}

#[test]
fn dry_run_prints_the_triggers_without_running_them() {
    let e = Eng::new();
    e.service(
        "dry",
        "
[DEFAULT]
pre_start = touch @ROOT@/svc-pre

[fs#1]
type = test
pre_start = touch @ROOT@/pre
blocking_post_start = touch @ROOT@/post; true
",
    );
    let stderr = e.ok(&["-s", "dry", "start", "--dry-run"]);
    let root = e.root();
    assert_line(
        &stderr,
        &format!("* DRY - INFO - dry-run: pre_start: touch {root}/svc-pre"),
    );
    assert_line(
        &stderr,
        &format!("* DRY.FS#1 - INFO - dry-run: pre_start: touch {root}/pre"),
    );
    assert_line(
        &stderr,
        &format!("* DRY.FS#1 - INFO - dry-run: blocking_post_start: touch {root}/post; true"),
    );
    for f in ["svc-pre", "pre", "post"] {
        assert!(!e.path(f).exists(), "{f} ran under --dry-run");
    }
    // Nothing changed: fs#1 is still down.
    assert_eq!(e.states("dry"), strs(&["fs#1=down"]));
}

// ---------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------

#[test]
fn disabled_resources_and_services_are_skipped() {
    let e = Eng::new();
    e.service(
        "dis",
        "
[fs#1]
type = test
record = @REC@

[fs#2]
type = test
record = @REC@
disable = true
initial = up
",
    );
    e.ok(&["-s", "dis", "start"]);
    assert_eq!(e.take_rids(), strs(&["fs#1"]));
    e.ok(&["-s", "dis", "start", "--rid", "fs#2"]);
    assert!(e.records().is_empty());
    let s = e.status("dis", false);
    let fs2 = &s["resources"][1];
    assert_eq!(
        (
            fs2["rid"].as_str(),
            fs2["status"].as_str(),
            fs2["disabled"].as_bool()
        ),
        (Some("fs#2"), Some("n/a"), Some(true))
    );
    assert_eq!(s["avail"], "up");

    e.service(
        "off",
        "[DEFAULT]\ndisable = true\n\n[fs#1]\ntype = test\nrecord = @REC@\n",
    );
    let stderr = e.ok(&["-s", "off", "start"]);
    assert!(e.records().is_empty());
    assert_line(
        &stderr,
        "* OFF - INFO - service disabled: start has nothing to do",
    );
}

#[test]
fn noaction_and_nostatus_tags() {
    let e = Eng::new();
    e.service(
        "tags",
        "
[fs#1]
type = test
record = @REC@
initial = up
tags = noaction

[fs#2]
type = test
record = @REC@
tags = nostatus

[app#1]
type = test
record = @REC@
",
    );
    let stderr = e.ok(&["-s", "tags", "stop"]);
    assert_eq!(e.take_rids(), strs(&["app#1", "fs#2"]));
    assert_line(&stderr, "* TAGS.FS#1 - INFO - noaction tag: skip stop");
    // noaction: the status is still asked (and the resource is optional by default);
    // nostatus: n/a whatever the driver would say.
    let s = e.status("tags", true);
    let r = s["resources"].as_array().unwrap();
    assert_eq!(
        (r[0]["status"].as_str(), r[0]["optional"].as_bool()),
        (Some("up"), Some(true))
    );
    assert_eq!(r[1]["status"], "n/a");
    assert_eq!(r[1]["messages"][0]["text"], "nostatus tag");
    // A driver action that changes nothing (poke is declared state-changing) is skipped too.
    e.ok(&["-s", "tags", "poke", "--rid", "fs#1"]);
    assert!(e.records().is_empty());
}

#[test]
fn always_on_resources_are_standby_and_stop_passes_over_them_unless_forced() {
    let e = Eng::new();
    e.service(
        "sb",
        "
[fs#1]
type = test
record = @REC@
always_on = n1

[fs#2]
type = test
record = @REC@
always_on = nodes

[fs#3]
type = test
record = @REC@
always_on = n2
",
    );
    assert_eq!(
        e.states("sb"),
        strs(&["fs#1=stdby down", "fs#2=stdby down", "fs#3=down"])
    );
    e.ok(&["-s", "sb", "start"]);
    assert_eq!(e.take_rids(), strs(&["fs#1", "fs#2", "fs#3"]));
    assert_eq!(
        e.states("sb"),
        strs(&["fs#1=stdby up", "fs#2=stdby up", "fs#3=up"])
    );
    let stderr = e.ok(&["-s", "sb", "stop"]);
    assert_eq!(e.take_rids(), strs(&["fs#3"]));
    assert_line(
        &stderr,
        "* SB.FS#2 - INFO - skip 'stop' on standby resource (--force to override)",
    );
    assert_line(
        &stderr,
        "* SB.FS#1 - INFO - skip 'stop' on standby resource (--force to override)",
    );
    let s = e.status("sb", false);
    assert_eq!(s["avail"], "stdby up");
    e.ok(&["-s", "sb", "stop", "--force"]);
    assert_eq!(e.take_rids(), strs(&["fs#3", "fs#2", "fs#1"]));
    assert_eq!(
        e.states("sb"),
        strs(&["fs#1=stdby down", "fs#2=stdby down", "fs#3=down"])
    );
}

// ---------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------

#[test]
fn status_applies_sync_max_delay() {
    let e = Eng::new();
    e.service(
        "delay",
        "
[DEFAULT]
sync_max_delay = 1h

[sync#0]
type = test
status = up
last_sync_ago = 2h

[sync#1]
type = test
status = up
last_sync_ago = 10m

[sync#2]
type = test
status = up
last_sync_ago = 45m
sync_max_delay = 30

[sync#3]
type = test
status = down
last_sync_ago = 3d
",
    );
    let s = e.status("delay", true);
    let r = s["resources"].as_array().unwrap();
    let states: Vec<&str> = r.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(states, ["warn", "up", "warn", "down"]);
    let msg = |i: usize| {
        r[i]["messages"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let re = regex::Regex::new(r"^last sync on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC is older than sync_max_delay \((1h|30m)\)$").unwrap();
    assert!(
        re.is_match(&msg(0)) && msg(0).ends_with("(1h)"),
        "{}",
        msg(0)
    );
    assert!(
        re.is_match(&msg(2)) && msg(2).ends_with("(30m)"),
        "{}",
        msg(2)
    );
    assert_eq!(r[0]["messages"][0]["level"], "warn");
    assert!(r[1]["messages"].as_array().unwrap().is_empty());
    assert!(
        r[3]["messages"].as_array().unwrap().is_empty(),
        "a down sync is not checked for delay"
    );
    assert!(r[0]["last_sync"].as_str().is_some());
}

#[test]
fn status_aggregates_avail_and_overall() {
    let e = Eng::new();
    let svc = |name: &str, resources: &str| e.service(name, resources);
    // sync up counts as n/a, sync down as warn; sync resources never enter avail
    // (om3), whether optional or not.
    svc(
        "a1",
        "[app#1]\ntype = test\ninitial = up\n\n[sync#0]\ntype = test\nstatus = up\n",
    );
    svc(
        "a2",
        "[app#1]\ntype = test\ninitial = up\n\n[sync#0]\ntype = test\nstatus = down\n",
    );
    svc(
        "a3",
        "[sync#0]\ntype = test\nstatus = up\noptional = false\n",
    );
    svc(
        "a4",
        "[app#1]\ntype = test\ninitial = up\n\n[sync#0]\ntype = test\nstatus = down\noptional = false\n",
    );
    svc(
        "a5",
        "[app#1]\ntype = test\ninitial = up\n\n[fs#1]\ntype = test\n",
    );
    svc(
        "a6",
        "[app#1]\ntype = test\nstatus = warn\n\n[fs#1]\ntype = test\ninitial = up\n",
    );
    let (code, stdout, stderr) = e.run(&["-s", "a*", "status", "--format", "json"]);
    assert_eq!(code, 1, "some services are not up: {stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let got: Vec<String> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} avail={} overall={} optional={}",
                s["service"].as_str().unwrap(),
                s["avail"].as_str().unwrap(),
                s["overall"].as_str().unwrap(),
                s["optional"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        got,
        strs(&[
            "a1 avail=up overall=up optional=n/a",
            "a2 avail=up overall=warn optional=warn",
            "a3 avail=n/a overall=n/a optional=n/a",
            "a4 avail=up overall=warn optional=warn",
            "a5 avail=warn overall=warn optional=n/a",
            "a6 avail=warn overall=warn optional=n/a",
        ])
    );
}

/// One service showing every column of the tree: flags, states, messages, last sync.
const TREE: &str = "
[sync#0]
type = test
status = up
last_sync_ago = 2h
sync_max_delay = 1h

[sync#1]
type = test
status = up
last_sync_ago = 5m

[fs#1]
type = test
initial = up
monitor = true

[fs#2]
type = test
disable = true

[fs#3]
type = test
always_on = n1
initial = up
tags = noaction

[app#1]
type = test
tags = nostatus

[app#2]
type = test
panic = status
";

#[test]
fn print_status_draws_a_tree_and_json_carries_the_same() {
    let e = Eng::new();
    e.service("tree", TREE);
    engine_snapshot!(
        e,
        "engine_print_status_tree",
        e.cmd(&["-s", "tree", "print", "status"])
    );
    let s = e.status("tree", false);
    assert_eq!(
        (s["avail"].as_str(), s["overall"].as_str()),
        (Some("up"), Some("warn"))
    );
    let r = s["resources"].as_array().unwrap();
    let rids: Vec<&str> = r.iter().map(|r| r["rid"].as_str().unwrap()).collect();
    assert_eq!(
        rids,
        ["sync#0", "sync#1", "fs#1", "fs#2", "fs#3", "app#1", "app#2"]
    );
    assert_eq!(r[0]["type"], "sync.test");
    assert_eq!(r[4]["status"], "stdby up");
    assert_eq!(
        (r[4]["standby"].as_bool(), r[4]["optional"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(r[2]["monitor"], true);
    assert_eq!(r[6]["status"], "undef");
    assert_eq!(r[6]["messages"][0]["level"], "error");
    assert!(
        r[6]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("driver testapp panicked in status: status was told to panic")
    );
    // --rid, --tags and --subsets narrow the resources shown.
    let shown = |args: &[&str]| {
        let mut full = vec!["-s", "tree", "print", "status", "--format", "json"];
        full.extend_from_slice(args);
        let (code, stdout, stderr) = e.run(&full);
        assert_eq!(code, 0, "{stderr}");
        let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        doc[0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rid"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(shown(&["--rid", "sync"]), strs(&["sync#0", "sync#1"]));
    assert_eq!(
        shown(&["--tags", "noaction,nostatus"]),
        strs(&["fs#3", "app#1"])
    );
    assert_eq!(
        shown(&["--rid", "fs", "--tags", "noaction"]),
        strs(&["fs#3"])
    );
    let stderr = e.fails(&["-s", "tree", "print", "status", "--rid", "ip"], 2);
    assert_line(
        &stderr,
        "doppel: no resource matches the given --rid, --tags and --subsets",
    );
}

#[test]
fn the_status_cache_is_refreshed_by_status_and_after_actions() {
    let e = Eng::new();
    e.service("cache", "[fs#1]\ntype = test\n");
    let cache = e.path("var/lib/doppel/cache/status.json");
    assert!(!cache.exists());
    let (code, stdout, _) = e.run(&["-s", "cache", "status"]);
    assert_eq!(code, 1, "down: status exits 1");
    assert!(
        stdout.starts_with(&format!("{:<32}down\n", "cache")),
        "{stdout}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    assert_eq!(doc["avail"], "down");
    // After an action, without asking.
    e.ok(&["-s", "cache", "start"]);
    assert_eq!(e.status("cache", false)["avail"], "up");
    // print status reads the cache; --refresh and `status` ask the drivers.
    e.service("cache", "[fs#1]\ntype = test\nstatus = warn\n");
    assert_eq!(e.status("cache", false)["avail"], "up");
    assert_eq!(e.status("cache", true)["avail"], "warn");
    e.service("cache", "[fs#1]\ntype = test\nstatus = undef\n");
    e.ok(&["-s", "cache", "status"]);
    assert_eq!(e.status("cache", false)["resources"][0]["status"], "undef");
}

#[test]
fn a_corrupt_status_cache_is_reported_and_rebuilt() {
    let e = Eng::new();
    e.service("cc", "[fs#1]\ntype = test\ninitial = up\n");
    let cache = e.path("var/lib/doppel/cc/status.json");
    let valid = |path: &PathBuf| {
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(path).unwrap()).is_ok()
    };
    for (garbage, args) in [
        (
            "{\"service\": \"cc\", \"av",
            &["-s", "cc", "print", "status"][..],
        ),
        ("", &["-s", "cc", "status"]),
        ("\u{0}\u{0}\u{0}", &["-s", "cc", "start"]),
        ("[1, 2", &["-s", "cc", "stop"]),
    ] {
        e.ctx.write("var/lib/doppel/cc/status.json", garbage);
        let stderr = e.ok(args);
        let line = stderr
            .lines()
            .find(|l| l.contains("is corrupt"))
            .unwrap_or_else(|| panic!("{args:?}: no warning:\n{stderr}"));
        assert!(
            line.ends_with(": rebuilding it")
                && (line.starts_with("warning: status cache ")
                    || line.starts_with("* CC - WARNING - status cache ")),
            "{line}"
        );
        assert!(valid(&cache), "{args:?} did not rebuild the cache");
    }
    assert_eq!(e.status("cc", false)["avail"], "down");
}

// ---------------------------------------------------------------------------
// Locks
// ---------------------------------------------------------------------------

#[test]
fn a_second_action_times_out_naming_the_holder_but_syncs_have_their_own_lock() {
    let e = Eng::new();
    e.service(
        "lk",
        "
[fs#1]
type = test
record = @REC@
duration = 4s

[sync#0]
type = test
record = @REC@
",
    );
    let mut holder = e.spawn(&["-s", "lk", "start", "--rid", "fs#1"]);
    e.wait_lock("lk", "lock.generic", &mut holder);
    let started = Instant::now();
    let stderr = e.fails(&["-s", "lk", "stop", "--waitlock", "1s"], 1);
    let waited = started.elapsed();
    let want = format!(
        "timed out after 1s waiting for the action lock of svc lk: held by pid {} running 'start' since ",
        holder.id()
    );
    assert!(
        stderr.contains(&format!("doppel: lk: stop failed: {want}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "* LK - INFO - waiting up to 1s for the action lock held by pid {} running 'start'",
            holder.id()
        )),
        "{stderr}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "did not wait: {waited:?}"
    );
    // A sync update takes the sync lock: it runs while the start holds the action lock.
    e.ok(&[
        "-s",
        "lk",
        "sync",
        "update",
        "--rid",
        "sync#0",
        "--waitlock",
        "1s",
    ]);
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the sync did not run during the start (the start already ended)"
    );
    assert!(holder.wait().unwrap().success());
    let recs = e.records();
    let sync = recs
        .iter()
        .find(|r| r.action == "sync_update")
        .expect("sync update ran");
    let start = recs
        .iter()
        .find(|r| r.action == "start")
        .expect("start ran");
    assert!(sync.start > start.start && sync.end < start.end, "{recs:?}");
    assert!(!recs.iter().any(|r| r.action == "stop"));
}

#[test]
fn a_dead_holder_never_blocks() {
    let e = Eng::new();
    e.service(
        "dead",
        "
[fs#1]
type = test
duration = 60s

[app#1]
type = test
record = @REC@
",
    );
    let mut holder = e.spawn(&["-s", "dead", "start", "--rid", "fs#1"]);
    e.wait_lock("dead", "lock.generic", &mut holder);
    let pid = holder.id();
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Its record is still in the file, but the kernel released the lock.
    let record = std::fs::read_to_string(e.path("var/lib/doppel/dead/lock.generic")).unwrap();
    assert!(record.contains(&format!("\"pid\":{pid}")), "{record}");
    let started = Instant::now();
    let stderr = e.ok(&["-s", "dead", "start", "--rid", "app#1", "--waitlock", "1s"]);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!stderr.contains("waiting"), "{stderr}");
    assert_eq!(e.take_rids(), strs(&["app#1"]));
}

// ---------------------------------------------------------------------------
// Logs and dry-run
// ---------------------------------------------------------------------------

#[test]
fn logs_follow_the_seed_format_on_the_console_and_in_the_file() {
    let e = Eng::new();
    e.service(
        "lg",
        "
[fs#1]
type = test
command = sh -c \"echo out; echo err >&2\"

[fs#2]
type = test
command = sh -c \"echo partial; echo bad >&2; exit 3\"
",
    );
    engine_snapshot!(e, "engine_logs_start", e.cmd(&["-s", "lg", "start"]));
    let (_, _, console) = e.run(&["-s", "lg", "stop", "--rid", "fs#1"]);
    // The file gets the same records, each with a timestamp.
    let file = std::fs::read_to_string(e.path("var/log/doppel/lg.log")).unwrap();
    let stamp = regex::Regex::new(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \* ").unwrap();
    let stripped = stamp.replace_all(&file, "* ");
    // ... plus, in the file only, who asked for each action and how it ended.
    assert!(
        stripped.contains("* LG - INFO - stop requested by "),
        "{file}"
    );
    assert!(
        stripped.ends_with("* LG - INFO - stop ended: ok\n"),
        "{file}"
    );
    let stripped: String = stripped
        .lines()
        .filter(|l| !l.contains(" requested by ") && !l.contains(" ended: "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        stripped.ends_with(&console),
        "file:\n{file}\nconsole:\n{console}"
    );
    assert!(stamp.is_match(&file));
    // The command line is logged before it runs, its stdout at INFO after it.
    let lines = log_lines(&console);
    let cmd = lines
        .iter()
        .position(|l| *l == "* LG.FS#1 - INFO - sh -c 'echo out; echo err >&2'")
        .expect(&console);
    assert_eq!(lines[cmd + 1], "* LG.FS#1 - INFO - out");
    assert_eq!(
        lines[cmd + 2],
        "* LG.FS#1 - WARNING - command succesful but stderr"
    );
    assert!(
        console.contains("command succesful but stderr\n\nerr\n"),
        "{console}"
    );
}

#[test]
fn dry_run_logs_state_changing_commands_and_still_runs_queries() {
    let e = Eng::new();
    e.service(
        "dr",
        "
[fs#1]
type = test
command = touch @ROOT@/changed
query = touch @ROOT@/queried

[app#1]
type = test
start_depends = fs#1(down)
",
    );
    let stderr = e.ok(&["-s", "dr", "start", "--dry-run"]);
    assert_line(
        &stderr,
        &format!("* DR.FS#1 - INFO - dry-run: touch {}/changed", e.root()),
    );
    assert!(
        !e.path("changed").exists(),
        "a state-changing command ran under --dry-run"
    );
    // app#1's condition asked fs#1's status: its read-only query ran.
    assert!(
        e.path("queried").exists(),
        "the read-only query did not run"
    );
    // Nothing changed and no lock was taken.
    assert!(!e.path("var/lib/doppel/dr/lock.generic").exists());
    assert_eq!(e.states("dr"), strs(&["fs#1=down", "app#1=down"]));
    // Without --dry-run the command runs.
    e.ok(&["-s", "dr", "start", "--rid", "fs#1"]);
    assert!(e.path("changed").exists());
}

// ---------------------------------------------------------------------------
// Driver panics (issue 2 item 6)
// ---------------------------------------------------------------------------

#[test]
fn a_driver_panicking_in_open_fails_that_resource_only() {
    let e = Eng::new();
    e.service("pa", "[fs#1]\ntype = test\nrecord = @REC@\npanic = open\n\n[app#1]\ntype = test\nrecord = @REC@\n");
    e.service("pb", "[app#1]\ntype = test\nrecord = @REC@\n");
    let stderr = e.fails(&["-s", "pa,pb", "start"], 1);
    assert!(
        stderr.contains(
            "* PA.FS#1 - ERROR - driver testfs panicked in open: open was told to panic at "
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "doppel: pa: start failed: fs#1: driver testfs panicked in open: open was told to panic"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("RUST_BACKTRACE") && !stderr.contains("thread '"),
        "{stderr}"
    );
    // pa stopped at fs#1; pb went on.
    let done: Vec<String> = e
        .records()
        .iter()
        .map(|r| format!("{} {}", r.svc, r.rid))
        .collect();
    assert_eq!(done, strs(&["pb app#1"]));
    let s = e.status("pa", false);
    assert_eq!(s["resources"][0]["status"], "undef");
    assert!(
        s["resources"][0]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("driver testfs panicked in open")
    );
}

#[test]
fn a_driver_panicking_in_an_action_or_status_is_an_error_not_a_crash() {
    let e = Eng::new();
    e.service(
        "pc",
        "
[fs#1]
type = test
record = @REC@
panic = start

[app#1]
type = test
record = @REC@
",
    );
    let stderr = e.fails(&["-s", "pc", "start"], 1);
    assert!(
        stderr.contains(
            "* PC.FS#1 - ERROR - driver testfs panicked in action: start was told to panic at "
        ),
        "{stderr}"
    );
    assert!(e.records().is_empty());
    // The same resource still answers other calls.
    e.ok(&["-s", "pc", "stop"]);
    assert_eq!(e.take_actions(), strs(&["app#1 stop", "fs#1 stop"]));
    // Optional: logged and passed over.
    e.service("pc", "[fs#1]\ntype = test\nrecord = @REC@\npanic = start\noptional = true\n\n[app#1]\ntype = test\nrecord = @REC@\n");
    let stderr = e.ok(&["-s", "pc", "start"]);
    assert_line(
        &stderr,
        "* PC.FS#1 - INFO - ignore start error on optional resource",
    );
    assert_eq!(e.take_rids(), strs(&["app#1"]));

    // A panic in status: undef with the error, the other resources and services fine.
    e.service(
        "pd",
        "[fs#1]\ntype = test\ninitial = up\n\n[app#1]\ntype = test\npanic = status\n",
    );
    let (code, stdout, stderr) = e.run(&["-s", "pc,pd", "status", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let pd = &doc[1];
    assert_eq!(pd["resources"][0]["status"], "up");
    assert_eq!(pd["resources"][1]["status"], "undef");
    assert!(
        pd["resources"][1]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("driver testapp panicked in status: status was told to panic")
    );
    assert_eq!(doc[0]["avail"], "up");
    // A condition on it sees undef.
    e.service(
        "pd",
        "[fs#1]\ntype = test\nstart_depends = app#1\n\n[app#1]\ntype = test\npanic = status\n",
    );
    let stderr = e.fails(&["-s", "pd", "start", "--rid", "fs#1"], 1);
    assert_line(
        &stderr,
        "doppel: pd: start failed: fs#1: start requires app#1 in (up, stdby up), current state undef",
    );
}

// ---------------------------------------------------------------------------
// app.script
// ---------------------------------------------------------------------------

#[test]
fn app_script_runs_start_and_stop_and_reports_check() {
    let e = Eng::new();
    e.service(
        "web",
        "
[app#1]
type = script
start = touch @ROOT@/running
stop = rm -f @ROOT@/running
check = test -f @ROOT@/running

[app#2]
type = script
start = echo hello from app2
",
    );
    assert_eq!(e.states("web"), strs(&["app#1=down", "app#2=n/a"]));
    let s = e.status("web", false);
    assert_eq!(s["resources"][0]["messages"], serde_json::json!([]));
    let stderr = e.ok(&["-s", "web", "start"]);
    assert!(e.path("running").exists());
    assert_line(
        &stderr,
        &format!("* WEB.APP#1 - INFO - touch {}/running", e.root()),
    );
    assert_line(&stderr, "* WEB.APP#2 - INFO - echo hello from app2");
    assert_line(&stderr, "* WEB.APP#2 - INFO - hello from app2");
    assert_eq!(e.status("web", false)["resources"][0]["status"], "up");
    assert_eq!(e.status("web", false)["avail"], "up");
    e.ok(&["-s", "web", "stop"]);
    assert!(!e.path("running").exists());
    assert_eq!(e.states("web"), strs(&["app#1=down", "app#2=n/a"]));
}

#[test]
fn app_script_start_and_stop_are_idempotent() {
    let e = Eng::new();
    e.service(
        "web",
        "
[app#1]
type = script
start = touch @ROOT@/running
stop = rm -f @ROOT@/running
check = test -f @ROOT@/running
",
    );
    e.ok(&["-s", "web", "start"]);
    // Up: a second start runs nothing but the check.
    let stderr = e.ok(&["-s", "web", "start"]);
    assert_line(&stderr, "* WEB.APP#1 - INFO - already started");
    assert!(!stderr.contains("touch"), "{stderr}");
    e.ok(&["-s", "web", "stop"]);
    // Down: a second stop runs nothing.
    let stderr = e.ok(&["-s", "web", "stop"]);
    assert_line(&stderr, "* WEB.APP#1 - INFO - already stopped");
    assert!(!stderr.contains("rm -f"), "{stderr}");

    // check exit 0 = up, 1 = down, any other code warn, with the code shown.
    e.service(
        "half",
        "[app#1]\ntype = script\nstart = touch @ROOT@/half\ncheck = test -f @ROOT@/nothing || exit 3\n",
    );
    let s = e.status("half", false);
    assert_eq!(s["resources"][0]["status"], "warn");
    assert_eq!(
        s["resources"][0]["messages"][0]["text"],
        "check exited with code 3"
    );
    // Warn is not up: start runs.
    e.ok(&["-s", "half", "start"]);
    assert!(e.path("half").exists());
}
