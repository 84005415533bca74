//! Production safety (docs/operator-guide.md, "Safety rules"): doppel acts only on
//! this node's services, refuses destructive actions under a running service,
//! means what `optional` says, never calls an action nothing implements a success,
//! and takes no orders from files others can write.

use std::os::unix::fs::PermissionsExt as _;

use doppel_e2e::{TestContext, assert_line, run};

/// A root whose node is `n1`, with a record file drivers append their calls to.
struct Node {
    ctx: TestContext,
}

impl Node {
    fn new() -> Node {
        let ctx = TestContext::new();
        ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
        Node { ctx }
    }

    /// Writes a service; `@REC@` is the record file.
    fn service(&self, name: &str, text: &str) {
        let rec = self.ctx.root().join("record").display().to_string();
        self.ctx.service(name, &text.replace("@REC@", &rec));
    }

    /// `<svc> <rid> <action>` of every driver call since the last look.
    fn calls(&self) -> Vec<String> {
        let path = self.ctx.root().join("record");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        text.lines()
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .collect()
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(&mut self.ctx.doppel(args))
    }

    #[track_caller]
    fn expect(&self, args: &[&str], want: i32) -> String {
        self.ctx.expect(args, want)
    }

    /// `print status --refresh --format json`, the list.
    fn status_json(&self, selector: &str) -> (i32, Vec<serde_json::Value>) {
        let (code, stdout, stderr) = self.run(&[
            "-s",
            selector,
            "print",
            "status",
            "--refresh",
            "--format",
            "json",
        ]);
        let doc: serde_json::Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
        (code, doc.as_array().expect("a list").clone())
    }
}

const NOT_MINE: &str = "
[DEFAULT]
nodes = othernode

[fs#1]
type = test
record = @REC@

[sync#0]
type = test
record = @REC@
schedule = @0
";

const MINE: &str = "
[fs#1]
type = test
record = @REC@
";

// ---------------------------------------------------------------------------
// 1. Node ownership
// ---------------------------------------------------------------------------

#[test]
fn a_service_of_other_nodes_is_refused_by_name_even_with_force() {
    let n = Node::new();
    n.service("notmine", NOT_MINE);
    for args in [
        &["-s", "notmine", "start"][..],
        &["-s", "notmine", "start", "--force"],
        &["-s", "notmine", "sync", "update"],
        &["-s", "notmine", "stop", "--dry-run"],
    ] {
        let stderr = n.expect(args, 2);
        assert_eq!(
            stderr, "doppel: notmine: this node (n1) is not in nodes (othernode) or drpnodes\n",
            "{args:?}"
        );
    }
    assert!(n.calls().is_empty(), "nothing ran");
}

#[test]
fn a_pattern_passes_over_services_of_other_nodes() {
    let n = Node::new();
    n.service("notmine", NOT_MINE);
    n.service("mine", MINE);
    let stderr = n.expect(&["-s", "*", "start"], 0);
    assert_line(
        &stderr,
        "* NOTMINE - INFO - start skipped: this node (n1) is not in nodes (othernode) or drpnodes",
    );
    assert_eq!(n.calls(), ["mine fs#1 start"]);
    // Quiet means quiet.
    let (code, _, stderr) = n.run(&["-q", "-s", "*", "stop"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
}

#[test]
fn print_status_shows_a_service_of_other_nodes_as_na_with_the_reason() {
    let n = Node::new();
    n.service("notmine", NOT_MINE);
    n.service("mine", MINE);
    let (code, list) = n.status_json("*");
    assert_eq!(code, 0);
    let notmine = list.iter().find(|s| s["service"] == "notmine").unwrap();
    assert_eq!(notmine["avail"], "n/a");
    assert_eq!(notmine["overall"], "n/a");
    assert_eq!(
        notmine["reason"],
        "this node (n1) is not in nodes (othernode) or drpnodes"
    );
    assert_eq!(notmine["resources"], serde_json::json!([]));
    let (code, stdout, _) = n.run(&["-s", "notmine", "print", "status", "--refresh"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        format!(
            "{:<32}n/a\n`- info: this node (n1) is not in nodes (othernode) or drpnodes\n",
            "notmine"
        )
    );
    // `status` (the action) too, and no driver was asked.
    let (code, stdout, _) = n.run(&["-s", "notmine", "status"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("notmine"), "{stdout}");
    assert!(stdout.contains("n/a"), "{stdout}");
    assert!(n.calls().is_empty());
}

#[test]
fn the_daemon_never_schedules_a_service_of_other_nodes() {
    let n = Node::new();
    n.service("notmine", NOT_MINE);
    let (code, _, stderr) = n.run(&["daemon", "--once", "--now", "2024-05-06T00:30:00Z"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(n.calls().is_empty(), "no scheduled sync ran");
    let log = std::fs::read_to_string(n.ctx.root().join("var/log/doppel/notmine.log")).unwrap();
    assert!(
        log.contains(
            "not scheduled on this node: this node (n1) is not in nodes (othernode) or drpnodes"
        ),
        "{log}"
    );
    assert!(
        !n.ctx
            .root()
            .join("var/lib/doppel/notmine/status.json")
            .exists(),
        "not even a status refresh"
    );
}

#[test]
fn a_drp_node_starts_the_service_but_does_not_push_syncs() {
    let n = Node::new();
    n.service(
        "dr",
        "[DEFAULT]\nnodes = prod1\ndrpnodes = n1\n\n[sync#0]\ntype = test\nrecord = @REC@\n\n[fs#1]\ntype = test\nrecord = @REC@\n",
    );
    n.expect(&["-s", "dr", "start"], 0);
    assert_eq!(n.calls(), ["dr sync#0 start", "dr fs#1 start"]);
    n.expect(&["-s", "dr", "sync", "update"], 0);
    assert_eq!(n.calls(), ["dr sync#0 sync_update", "dr fs#1 sync_update"]);
    for (args, action) in [
        (&["-s", "dr", "sync", "nodes"][..], "sync nodes"),
        (&["-s", "dr", "sync", "drp"], "sync drp"),
    ] {
        let stderr = n.expect(args, 2);
        assert_eq!(
            stderr,
            format!(
                "doppel: dr: {action} runs on a primary node (nodes: prod1); this node (n1) is a drpnode\n"
            )
        );
    }
    // sync all runs what a DRP node may: the local update.
    let stderr = n.expect(&["-s", "dr", "sync", "all"], 0);
    assert_line(
        &stderr,
        "* DR - INFO - sync nodes: not on a drpnode, skipped",
    );
    assert_line(&stderr, "* DR - INFO - sync drp: not on a drpnode, skipped");
    assert_eq!(n.calls(), ["dr sync#0 sync_update", "dr fs#1 sync_update"]);
}

// ---------------------------------------------------------------------------
// 2. Destructive actions while the service runs (any driver: the test driver's
//    `wipe` is marked destructive in its manifest; symclone's are in symclone.rs)
// ---------------------------------------------------------------------------

#[test]
fn a_destructive_driver_action_is_refused_while_a_non_sync_resource_is_up() {
    let n = Node::new();
    n.service(
        "svc",
        "[sync#0]\ntype = test\nrecord = @REC@\n\n[app#0]\ntype = test\nrecord = @REC@\n\n[app#1]\ntype = test\nstatus = warn\n",
    );
    n.expect(&["-s", "svc", "start", "--rid", "app#0"], 0);
    n.calls();
    let stderr = n.expect(&["-s", "svc", "wipe"], 1);
    assert_eq!(
        stderr,
        "* SVC - ERROR - refusing wipe: app#0 is up, app#1 is warn (stop the service first, or --force)\n\
         doppel: svc: wipe failed: refusing wipe: app#0 is up, app#1 is warn (stop the service first, or --force)\n"
    );
    assert!(n.calls().is_empty());
    // --force: done, with a warning.
    let stderr = n.expect(&["-s", "svc", "wipe", "--rid", "sync#0", "--force"], 0);
    assert_line(
        &stderr,
        "* SVC - WARNING - wipe although app#0 is up, app#1 is warn (--force)",
    );
    assert_eq!(n.calls(), ["svc sync#0 wipe",]);
    // A non-destructive driver action runs under a running service.
    n.expect(&["-s", "svc", "poke", "--rid", "sync#0"], 0);
    assert_eq!(n.calls(), ["svc sync#0 poke"]);
    // Down: allowed.
    n.expect(&["-s", "svc", "stop", "--rid", "app#0"], 0);
    n.service(
        "svc",
        "[sync#0]\ntype = test\nrecord = @REC@\n\n[app#0]\ntype = test\nrecord = @REC@\n",
    );
    n.calls();
    n.expect(&["-s", "svc", "wipe"], 0);
    assert_eq!(n.calls(), ["svc sync#0 wipe", "svc app#0 wipe"]);
}

// ---------------------------------------------------------------------------
// 3. optional means what the template says
// ---------------------------------------------------------------------------

#[test]
fn a_failed_sync_stops_the_start_unless_optional() {
    let n = Node::new();
    let svc = "[sync#0]\ntype = test\nfail = start\nrecord = @REC@\n\n[app#0]\ntype = test\nrecord = @REC@\n";
    n.service("svc", svc);
    let stderr = n.expect(&["-s", "svc", "start"], 1);
    assert_line(
        &stderr,
        "doppel: svc: start failed: sync#0: start was told to fail",
    );
    assert_eq!(n.calls(), ["svc sync#0 start"], "the app never started");
    // The same for a task.
    n.service("job", "[task#0]\ntype = test\nfail = start\n");
    let stderr = n.expect(&["-s", "job", "start"], 1);
    assert_line(
        &stderr,
        "doppel: job: start failed: task#0: start was told to fail",
    );
    // optional = true: logged and passed over.
    n.service(
        "svc",
        &format!("{svc}\n[DEFAULT]\n").replace("fail = start\n", "fail = start\noptional = true\n"),
    );
    let stderr = n.expect(&["-s", "svc", "start"], 0);
    assert_line(
        &stderr,
        "* SVC.SYNC#0 - INFO - ignore start error on optional resource",
    );
    assert_eq!(n.calls(), ["svc sync#0 start", "svc app#0 start"]);
}

// ---------------------------------------------------------------------------
// 4. An action nothing implements is not a success
// ---------------------------------------------------------------------------

#[test]
fn an_action_no_resource_implements_is_a_usage_error_naming_what_they_do() {
    let n = Node::new();
    n.service(
        "web",
        "[app#0]\ntype = script\nstart = true\n\n[app#1]\ntype = script\nstop = true\n",
    );
    for (args, action) in [
        (&["-s", "web", "provision"][..], "provision"),
        (&["-s", "web", "run"], "run"),
        (&["-s", "web", "sync", "restore"], "sync restore"),
        (&["-s", "web", "sync", "all"], "sync all"),
    ] {
        let stderr = n.expect(args, 2);
        assert_eq!(
            stderr,
            format!(
                "doppel: web: no selected resource implements {action} (app#0,app#1 app.script: start, stop)\n"
            ),
        );
    }
    // start and stop mean something for every service, even when no resource has
    // anything to do (symclone has no stop).
    n.service(
        "clones",
        "[sync#0]\ntype = symclone\nsymid = 000197900123\npairs = 00B60:00B61\n",
    );
    n.expect(&["-s", "clones", "stop"], 0);
    std::fs::remove_file(n.ctx.root().join("etc/doppel/services/clones.conf")).unwrap();
    // Over a pattern: one info line per service without an implementer, the others run.
    n.service("jobs", "[task#0]\ntype = test\nrecord = @REC@\n");
    let stderr = n.expect(&["-s", "*", "run"], 0);
    assert_line(
        &stderr,
        "* WEB - INFO - run skipped: no selected resource implements run (app#0,app#1 app.script: start, stop)",
    );
    assert_eq!(n.calls(), ["jobs task#0 run"]);
    // ... and when none has one, that is an error.
    n.service("www", "[app#0]\ntype = script\nstart = true\n");
    let stderr = n.expect(&["-s", "w*", "run"], 2);
    assert_line(&stderr, "doppel: run ran on none of the selected services");
}

// ---------------------------------------------------------------------------
// 7. Root-only inputs
// ---------------------------------------------------------------------------

fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_service_file_others_can_write_is_refused_with_the_fix() {
    let n = Node::new();
    n.service("open", MINE);
    n.service("mine", MINE);
    let file = n.ctx.root().join("etc/doppel/services/open.conf");
    chmod(&file, 0o666);
    let stderr = n.expect(&["-s", "open", "start"], 2);
    // (owner: whoever runs the tests, root in CI)
    let head = format!(
        "refusing service file {}: writable by group or others (mode 0666, owner ",
        file.display()
    );
    let tail = format!("); fix with chmod go-w {}", file.display());
    let line = stderr
        .lines()
        .find(|l| l.contains(&head))
        .unwrap_or_else(|| panic!("{stderr}"))
        .to_owned();
    assert!(line.ends_with(&tail), "{line}");
    let line = line[line.find("refusing").unwrap()..].to_owned();
    assert!(n.calls().is_empty());
    // The other services still run; the exit code says something was wrong.
    let stderr = n.expect(&["-s", "*", "start"], 2);
    assert!(stderr.contains(&line), "{stderr}");
    assert_eq!(n.calls(), ["mine fs#1 start"]);
    // validate says it too.
    let (code, stdout, _) = n.run(&["-s", "open", "validate"]);
    assert_eq!(code, 2);
    assert!(stdout.contains(&line), "{stdout}");
    chmod(&file, 0o644);
    n.expect(&["-s", "open", "start"], 0);
}

#[test]
fn a_services_directory_others_can_write_refuses_every_service_in_it() {
    let n = Node::new();
    n.service("mine", MINE);
    let dir = n.ctx.root().join("etc/doppel/services");
    chmod(&dir, 0o777);
    let stderr = n.expect(&["-s", "mine", "start"], 2);
    assert!(
        stderr.contains(&format!(
            "refusing services directory {}: writable by group or others (mode 0777, owner ",
            dir.display(),
        )) && stderr.contains(&format!("fix with chmod go-w {}", dir.display())),
        "{stderr}"
    );
    assert!(n.calls().is_empty());
    chmod(&dir, 0o755);
}

#[test]
fn a_node_config_or_bin_directory_others_can_write_is_refused() {
    let n = Node::new();
    n.service("mine", MINE);
    let config = n.ctx.root().join("etc/doppel/doppel.toml");
    chmod(&config, 0o646);
    let stderr = n.expect(&["-s", "mine", "start"], 2);
    assert!(
        stderr.starts_with(&format!(
            "doppel: cannot read the node configuration: {}: refusing node config {}: writable by group or others (mode 0646, owner ",
            config.display(),
            config.display(),
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(&format!("; fix with chmod go-w {}\n", config.display())),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line");
    chmod(&config, 0o644);
    let bin = n.ctx.root().join("tools");
    std::fs::create_dir(&bin).unwrap();
    chmod(&bin, 0o775);
    n.ctx.write(
        "etc/doppel/doppel.toml",
        &format!(
            "nodename = \"n1\"\n[driver.symclone]\nbin = \"{}\"\n",
            bin.display()
        ),
    );
    let stderr = n.expect(&["drivers", "list"], 2);
    assert!(
        stderr.contains(&format!(
            "refusing [driver.symclone] bin directory {}: writable by group or others (mode 0775",
            bin.display()
        )),
        "{stderr}"
    );
    assert!(n.calls().is_empty());
}

#[test]
fn planted_symlinks_are_never_followed() {
    let n = Node::new();
    n.service("mine", MINE);
    let target = n.ctx.root().join("precious");
    std::fs::write(&target, "keep\n").unwrap();
    let log = n.ctx.root().join("var/log/doppel/mine.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &log).unwrap();
    let stderr = n.expect(&["-s", "mine", "start"], 2);
    assert!(
        stderr.contains(&format!(
            "refusing log file {}: it is a symlink (to {}), which doppel never follows; remove it",
            log.display(),
            target.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
    assert!(n.calls().is_empty());
    std::fs::remove_file(&log).unwrap();

    // A lock file.
    let lock = n.ctx.root().join("var/lib/doppel/mine/lock.generic");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let stderr = n.expect(&["-s", "mine", "start"], 1);
    assert!(stderr.contains("refusing lock file"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
    std::fs::remove_file(&lock).unwrap();

    // A status cache: reported, rebuilt in place of the link, the target untouched.
    n.expect(&["-s", "mine", "start"], 0);
    let cache = n.ctx.root().join("var/lib/doppel/mine/status.json");
    std::fs::remove_file(&cache).unwrap();
    std::os::unix::fs::symlink(&target, &cache).unwrap();
    let (code, _, stderr) = n.run(&["-s", "mine", "print", "status"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("it is a symlink, which doppel never follows"),
        "{stderr}"
    );
    assert!(
        !std::fs::symlink_metadata(&cache)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
}

#[test]
fn a_tool_path_others_can_write_is_refused() {
    let n = Node::new();
    n.service("mine", MINE);
    let tool = n.ctx.write("tools/lspv", "#!/bin/sh\n");
    std::fs::set_permissions(
        tool.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    chmod(&tool, 0o757);
    n.ctx.write(
        "etc/doppel/doppel.toml",
        &format!(
            "nodename = \"n1\"\n[driver.alt_disk]\nlspv = \"{}\"\n",
            tool.display()
        ),
    );
    let stderr = n.expect(&["-s", "mine", "start"], 2);
    assert!(
        stderr.contains(&format!(
            "refusing [driver.alt_disk] lspv program {}: writable by group or others (mode 0757",
            tool.display()
        )),
        "{stderr}"
    );
    chmod(&tool, 0o755);
    n.expect(&["-s", "mine", "start"], 0);
}
