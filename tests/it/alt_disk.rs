//! `disk.alt_disk` end to end (issue 7): the real `doppel` binary and its alt_disk
//! driver against the AIX simulator (tests/sim-aix): provision with exclusion
//! patterns, phase-by-phase runs, refresh, cleanup, bootlist on and off, refusal
//! of a disk in use, the tool's own failures, dry-run, wake/sleep, a reboot from
//! the clone, status and validation.
//!
//! Every test has its own root and simulated machine (`aixsim init`: hdisk0 in
//! rootvg with the sample tree, free hdisk1 and hdisk2, an instant copy).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use doppel_e2e::{TestContext, assert_lines_in_order, doppel_snapshot, run, target_dir};

struct Aix {
    ctx: TestContext,
}

/// A service with one alt_disk resource; `extra` lines are appended to its section.
fn service_text(disks: &str, extra: &str) -> String {
    format!("[DEFAULT]\nnodes = n1\n\n[disk#0]\ntype = alt_disk\ndisks = {disks}\n{extra}")
}

impl Aix {
    fn new() -> Aix {
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
        ctx.env("DOPPEL_SIM_TIME_SCALE", "0");
        let a = Aix { ctx };
        a.sim_ok("aixsim", &["init"]);
        a
    }

    fn root(&self) -> String {
        self.ctx.root().display().to_string()
    }

    /// Writes `etc/doppel/services/<name>.conf` (`@ROOT@` is the root).
    fn service(&self, name: &str, text: &str) {
        self.ctx
            .service(name, &text.replace("@ROOT@", &self.root()));
    }

    /// Writes a file under the root; returns its path.
    fn file(&self, rel: &str, text: &str, mode: u32) -> String {
        let p = self.ctx.write(rel, text);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p.display().to_string()
    }

    #[track_caller]
    fn sim_ok(&self, tool: &str, args: &[&str]) -> String {
        self.ctx.tool_ok(tool, args)
    }

    /// The volume group lspv shows for `disk` (`None` for none), and `active`.
    fn vg(&self, disk: &str) -> (String, bool) {
        let out = self.sim_ok("lspv", &[]);
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(disk))
            .unwrap_or_else(|| panic!("{disk}:\n{out}"));
        let f: Vec<&str> = line.split_whitespace().collect();
        (f[2].to_owned(), f.get(3) == Some(&"active"))
    }

    fn tree(&self, vg: &str) -> PathBuf {
        self.ctx.root().join("sim/aix/vg").join(vg)
    }

    fn bootlist(&self) -> String {
        self.sim_ok("bootlist", &["-m", "normal", "-o"])
    }

    fn cmd(&self, args: &[&str]) -> Command {
        self.ctx.doppel(args)
    }

    /// Runs doppel expecting exit 0; returns stderr (the log).
    fn ok(&self, args: &[&str]) -> String {
        self.ctx.ok(args)
    }

    /// Runs doppel expecting exit `want`; returns stderr.
    fn fails(&self, args: &[&str], want: i32) -> String {
        self.ctx.expect(args, want)
    }

    /// The refreshed status of disk#0 (JSON).
    fn status(&self, svc: &str) -> serde_json::Value {
        self.ctx.refreshed_resource(svc, "disk#0")
    }

    /// `<level>: <text>` of the status messages.
    fn messages(status: &serde_json::Value) -> Vec<String> {
        doppel_e2e::status_messages(status)
    }

    /// The log line of a driver command (`<bin>/<tool> <args>`).
    fn line(&self, svc: &str, args: &str) -> String {
        format!(
            "* {}.DISK#0 - INFO - {}/{args}",
            svc.to_uppercase(),
            target_dir().display()
        )
    }
}

#[test]
fn provision_with_exclusion_patterns() {
    let a = Aix::new();
    a.file("exclude.anchored", "^./tmp/\n", 0o644);
    a.file("exclude.unanchored", "tmp\n", 0o644);
    a.service(
        "alt",
        &service_text("hdisk1", "exclude_list = @ROOT@/exclude.anchored\n"),
    );
    doppel_snapshot!(
        a.ctx,
        "alt_disk_provision",
        a.cmd(&["-s", "alt", "provision"])
    );
    assert_eq!(a.vg("hdisk1"), ("altinst_rootvg".into(), false));
    let clone = a.tree("altinst_rootvg");
    assert!(clone.join("tmp").is_dir(), "^./tmp/ keeps /tmp");
    assert!(
        !clone.join("tmp/install.log").exists() && !clone.join("tmp/session").exists(),
        "but not its content"
    );
    assert!(
        clone.join("var/tmp/cache.db").is_file(),
        "an anchored pattern spares /var/tmp"
    );
    assert!(clone.join("home/admin/tmpnotes.txt").is_file());
    assert!(clone.join("etc/hosts").is_file());

    a.ok(&["-s", "alt", "unprovision"]);
    a.service(
        "alt",
        &service_text("hdisk1", "exclude_list = @ROOT@/exclude.unanchored\n"),
    );
    let log = a.ok(&["-s", "alt", "provision"]);
    assert!(
        log.contains(&a.line(
            "alt",
            &format!(
                "alt_disk_copy -d hdisk1 -e {}/exclude.unanchored -B",
                a.root()
            )
        )),
        "{log}"
    );
    assert!(
        !clone.join("tmp").exists(),
        "an unanchored pattern excludes every match: ./tmp"
    );
    assert!(!clone.join("var/tmp").exists(), "./var/tmp");
    assert!(
        !clone.join("home/admin/tmpnotes.txt").exists(),
        "./home/admin/tmpnotes.txt"
    );
    assert!(clone.join("home/admin/.profile").is_file());
}

#[test]
fn phase_by_phase_with_a_customization_script() {
    let a = Aix::new();
    a.file(
        "customize.sh",
        "#!/bin/sh\necho \"customizing the clone in $DOPPEL_SIM_ALT_INST\"\necho 'built by doppel' > \"$DOPPEL_SIM_ALT_INST/etc/motd\"\n",
        0o755,
    );
    a.service(
        "alt",
        &service_text(
            "hdisk1 hdisk2",
            "script = @ROOT@/customize.sh\nset_bootlist = true\n",
        ),
    );
    let log = a.fails(&["-s", "alt", "provision", "--phase", "2"], 1);
    assert!(log.contains("--phase 2 continues a clone made by phase 1, but hdisk1 is in volume group None: run --phase 1 first"), "{log}");
    let log = a.fails(&["-s", "alt", "provision", "--phase", "4"], 2);
    assert!(
        log.contains("--phase 4: alt_disk_copy -P accepts 1, 2, 3, 12, 23 or all"),
        "{log}"
    );

    let log = a.ok(&["-s", "alt", "provision", "--phase", "1"]);
    let script = format!("{}/customize.sh", a.root());
    assert!(
        log.contains(&a.line(
            "alt",
            &format!("alt_disk_copy -d 'hdisk1 hdisk2' -s {script} -P1")
        )),
        "{log}"
    );
    assert!(
        log.contains("* ALT.DISK#0 - INFO - cloned rootvg to hdisk1 hdisk2 (phase 1)"),
        "{log}"
    );
    assert_eq!(
        a.vg("hdisk1"),
        ("altinst_rootvg".into(), true),
        "phase 1 leaves the clone mounted"
    );
    assert_eq!(a.vg("hdisk2"), ("altinst_rootvg".into(), true));
    let st = a.status("alt");
    assert_eq!(st["status"], "warn");
    assert!(
        Aix::messages(&st).contains(&"warn: altinst_rootvg is unfinished (phases done: 1): continue with `provision --phase 23`".to_owned()),
        "{st}"
    );
    let log = a.fails(&["-s", "alt", "provision"], 1);
    assert!(
        log.contains(
            "already holds an unfinished altinst_rootvg (phases done: 1): continue with --phase 23"
        ),
        "{log}"
    );

    let log = a.ok(&["-s", "alt", "provision", "--phase", "2"]);
    assert!(
        log.contains(&a.line(
            "alt",
            &format!("alt_disk_copy -d 'hdisk1 hdisk2' -s {script} -P2")
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "customizing the clone in {}",
            a.tree("altinst_rootvg").display()
        )),
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(a.tree("altinst_rootvg").join("etc/motd")).unwrap(),
        "built by doppel\n"
    );
    assert_eq!(
        a.bootlist(),
        "hdisk0 blv=hd5 pathid=0\n",
        "phase 3 sets the bootlist, not phase 2"
    );

    let log = a.ok(&["-s", "alt", "provision", "--phase", "3"]);
    assert!(
        log.contains("Bootlist is set to the boot disk: hdisk1 blv=hd5"),
        "{log}"
    );
    assert_eq!(
        a.vg("hdisk1"),
        ("altinst_rootvg".into(), false),
        "phase 3 puts altinst_rootvg to sleep"
    );
    let st = a.status("alt");
    assert_eq!(st["status"], "up", "{st}");
    let log = a.ok(&["-s", "alt", "provision"]);
    assert!(
        log.contains("altinst_rootvg already on hdisk1 hdisk2: nothing to do"),
        "{log}"
    );
}

#[test]
fn refresh_takes_a_new_copy() {
    let a = Aix::new();
    a.service("alt", &service_text("hdisk1", ""));
    a.ok(&["-s", "alt", "provision"]);
    let first = a.status("alt")["last_sync"].as_str().unwrap().to_owned();
    std::fs::write(a.tree("rootvg").join("etc/hosts"), "10.0.0.1 db1\n").unwrap();
    let log = a.ok(&["-s", "alt", "sync", "update"]);
    assert_lines_in_order(
        &log,
        &[
            &a.line("alt", "alt_rootvg_op -X altinst_rootvg"),
            &a.line("alt", "alt_disk_copy -d hdisk1 -B"),
            "* ALT.DISK#0 - INFO - removed the previous altinst_rootvg on hdisk1",
            "* ALT.DISK#0 - INFO - cloned rootvg to hdisk1 (all phases)",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(a.tree("altinst_rootvg").join("etc/hosts")).unwrap(),
        "10.0.0.1 db1\n"
    );
    let st = a.status("alt");
    assert_eq!(st["status"], "up");
    assert_ne!(
        st["last_sync"].as_str().unwrap(),
        first,
        "the clone time moved"
    );
    let log = a.fails(&["-s", "alt", "sync", "update", "--phase", "23"], 2);
    assert!(
        log.contains("sync update rebuilds the clone from phase 1"),
        "{log}"
    );
}

#[test]
fn unprovision_removes_the_clone() {
    let a = Aix::new();
    a.service("alt", &service_text("hdisk1", ""));
    a.ok(&["-s", "alt", "provision"]);
    let log = a.ok(&["-s", "alt", "unprovision"]);
    assert_lines_in_order(
        &log,
        &[
            &a.line("alt", "alt_rootvg_op -X altinst_rootvg"),
            "* ALT.DISK#0 - INFO - removed altinst_rootvg from hdisk1",
        ],
    );
    assert_eq!(a.vg("hdisk1"), ("None".into(), false));
    assert!(!a.tree("altinst_rootvg").exists());
    let st = a.status("alt");
    assert_eq!(st["status"], "down");
    assert_eq!(Aix::messages(&st)[0], "info: no altinst_rootvg on hdisk1");
    assert!(st["last_sync"].is_null());
    let log = a.ok(&["-s", "alt", "unprovision"]);
    assert_eq!(
        log,
        "* ALT.DISK#0 - INFO - no altinst_rootvg on hdisk1 (None): nothing to remove\n"
    );
}

#[test]
fn bootlist_on_and_off() {
    let a = Aix::new();
    a.service("alt", &service_text("hdisk1", ""));
    a.ok(&["-s", "alt", "provision"]);
    assert_eq!(
        a.bootlist(),
        "hdisk0 blv=hd5 pathid=0\n",
        "set_bootlist = false passes -B"
    );
    let st = a.status("alt");
    assert!(
        Aix::messages(&st)
            .contains(&"info: next boot: hdisk0 (rootvg); bootlist -m normal: hdisk0".to_owned()),
        "{st}"
    );

    a.service("alt", &service_text("hdisk1", "set_bootlist = true\n"));
    let log = a.ok(&["-s", "alt", "sync", "update"]);
    assert!(
        log.contains(&a.line("alt", "alt_disk_copy -d hdisk1")),
        "{log}"
    );
    assert!(
        log.contains("* ALT.DISK#0 - INFO - the normal bootlist points at hdisk1"),
        "{log}"
    );
    assert_eq!(a.bootlist(), "hdisk1 blv=hd5 pathid=0\n");
    doppel_snapshot!(
        a.ctx,
        "alt_disk_status_up",
        a.cmd(&["-s", "alt", "print", "status", "--refresh"])
    );
}

#[test]
fn refusal_on_a_disk_in_use() {
    let a = Aix::new();
    a.sim_ok("aixsim", &["vg", "create", "datavg", "--disks", "hdisk2"]);
    a.service("alt", &service_text("hdisk1 hdisk2", ""));
    doppel_snapshot!(
        a.ctx,
        "alt_disk_disk_in_use",
        a.cmd(&["-s", "alt", "provision"])
    );
    for action in [&["sync", "update"][..], &["wake"][..]] {
        let mut args = vec!["-s", "alt"];
        args.extend_from_slice(action);
        let log = a.fails(&args, 1);
        assert!(
            log.contains("hdisk2 belongs to volume group datavg"),
            "{action:?}: {log}"
        );
    }
    assert_eq!(a.vg("hdisk1"), ("None".into(), false), "nothing ran");
    let st = a.status("alt");
    assert_eq!(st["status"], "warn");
    assert!(
        Aix::messages(&st).contains(
            &"warn: hdisk2 belongs to volume group datavg, not altinst_rootvg".to_owned()
        )
    );
    // The running system's disk too.
    a.service("root", &service_text("hdisk0", ""));
    let log = a.fails(&["-s", "root", "provision"], 1);
    assert!(
        log.contains("hdisk0 belongs to volume group rootvg (the running system's)"),
        "{log}"
    );
}

#[test]
fn the_tools_own_failures_come_through() {
    let a = Aix::new();
    a.sim_ok("aixsim", &["disk", "add", "hdisk3", "--size", "2g"]);
    a.service("small", &service_text("hdisk3", ""));
    let log = a.fails(&["-s", "small", "provision"], 1);
    assert!(
        log.contains("alt_disk_copy exited with code 1: 0505-124 alt_disk_install: The target disk(s) hdisk3 are too small: 2048 megabytes, the rootvg needs 6144 megabytes."),
        "{log}"
    );
    assert_eq!(a.vg("hdisk3"), ("None".into(), false));
    assert!(
        a.ctx
            .root()
            .join("var/lib/doppel/small/disk#0/kv/cloned_at")
            .metadata()
            .is_err(),
        "no clone time recorded"
    );

    a.file(
        "fail.sh",
        "#!/bin/sh\necho 'cannot customize' >&2\nexit 4\n",
        0o755,
    );
    a.service("alt", &service_text("hdisk1", "script = @ROOT@/fail.sh\n"));
    let log = a.fails(&["-s", "alt", "provision"], 1);
    assert!(log.contains("failed (exit code 4)"), "{log}");
    assert_eq!(
        a.vg("hdisk1"),
        ("None".into(), false),
        "alt_disk_copy cleaned up"
    );

    a.service("alt", &service_text("hdisk1", ""));
    a.sim_ok("aixsim", &["fail", "lspv"]);
    let st = a.status("alt");
    assert_eq!(st["status"], "undef");
    assert!(
        Aix::messages(&st)[0].starts_with("error: lspv exited with code 1"),
        "{st}"
    );
}

#[test]
fn dry_run_runs_nothing() {
    let a = Aix::new();
    a.service("alt", &service_text("hdisk1", "set_bootlist = true\n"));
    let log = a.ok(&["-s", "alt", "provision", "--dry-run"]);
    assert_eq!(
        log,
        format!(
            "* ALT.DISK#0 - INFO - dry-run: {}/alt_disk_copy -d hdisk1\n\
             * ALT.DISK#0 - INFO - would clone rootvg to hdisk1 (all phases)\n\
             * ALT.DISK#0 - INFO - the normal bootlist would point at hdisk1\n",
            target_dir().display()
        )
    );
    assert_eq!(a.vg("hdisk1"), ("None".into(), false));
    a.ok(&["-s", "alt", "provision"]);
    let log = a.ok(&["-s", "alt", "sync", "update", "--dry-run"]);
    assert!(
        log.contains(&format!(
            "dry-run: {}/alt_rootvg_op -X altinst_rootvg",
            target_dir().display()
        )),
        "{log}"
    );
    let log = a.ok(&["-s", "alt", "unprovision", "--dry-run"]);
    assert!(
        log.contains("would remove altinst_rootvg from hdisk1"),
        "{log}"
    );
    assert_eq!(a.vg("hdisk1"), ("altinst_rootvg".into(), false));
}

#[test]
fn wake_and_sleep() {
    let a = Aix::new();
    a.service("alt", &service_text("hdisk1", ""));
    let log = a.fails(&["-s", "alt", "wake"], 1);
    assert!(
        log.contains("no altinst_rootvg on hdisk1 to wake up: provision it first"),
        "{log}"
    );
    a.ok(&["-s", "alt", "provision"]);
    let log = a.ok(&["-s", "alt", "wake"]);
    assert!(
        log.contains(&a.line("alt", "alt_rootvg_op -W -d hdisk1")),
        "{log}"
    );
    assert_eq!(a.vg("hdisk1"), ("altinst_rootvg".into(), true));
    let st = a.status("alt");
    assert_eq!(st["status"], "up");
    assert!(Aix::messages(&st).contains(
        &"info: altinst_rootvg is awake (varied on, mounted under /alt_inst)".to_owned()
    ));
    assert!(
        a.ok(&["-s", "alt", "wake"])
            .contains("altinst_rootvg is already awake")
    );
    let log = a.ok(&["-s", "alt", "sleep"]);
    assert!(log.contains(&a.line("alt", "alt_rootvg_op -S")), "{log}");
    assert_eq!(a.vg("hdisk1"), ("altinst_rootvg".into(), false));
    assert!(
        a.ok(&["-s", "alt", "sleep"])
            .contains("altinst_rootvg is already asleep")
    );
}

#[test]
fn reboot_from_the_clone_reports_old_rootvg() {
    let a = Aix::new();
    a.service(
        "alt",
        &service_text("hdisk1", "set_bootlist = true\nreboot = true\n"),
    );
    let log = a.ok(&["-s", "alt", "provision"]);
    assert!(
        log.contains(&a.line("alt", "alt_disk_copy -d hdisk1 -r")),
        "{log}"
    );
    assert!(log.contains("the system reboots from hdisk1 (-r)"), "{log}");
    assert_eq!(a.vg("hdisk0"), ("old_rootvg".into(), false));
    assert_eq!(a.vg("hdisk1"), ("rootvg".into(), true));
    let st = a.status("alt");
    assert_eq!(st["status"], "warn");
    let m = Aix::messages(&st);
    assert!(
        m[0].starts_with("warn: the system runs from the clone: hdisk1 is rootvg now"),
        "{m:?}"
    );
    assert!(
        m[1].starts_with(
            "warn: old_rootvg on hdisk0: the former rootvg, left by a boot from the clone"
        ),
        "{m:?}"
    );
    let log = a.ok(&["-s", "alt", "unprovision"]);
    assert!(
        log.contains("the system runs from the clone, the former rootvg is old_rootvg on hdisk0"),
        "{log}"
    );
    let log = a.fails(&["-s", "alt", "sync", "update"], 1);
    assert!(
        log.contains("hdisk1 belongs to volume group rootvg (the running system's)"),
        "{log}"
    );
}

#[test]
fn an_old_clone_is_older_than_sync_max_delay() {
    let a = Aix::new();
    a.service("alt", &service_text("hdisk1", ""));
    a.ok(&["-s", "alt", "provision"]);
    assert_eq!(a.status("alt")["status"], "up");
    // A clone taken two days ago (default sync_max_delay: 1440 minutes).
    a.ctx.write(
        "var/lib/doppel/alt/disk#0/kv/cloned_at",
        "2020-03-01T10:00:00Z",
    );
    let st = a.status("alt");
    assert_eq!(st["status"], "warn");
    assert_eq!(st["last_sync"], "2020-03-01T10:00:00Z");
    assert!(
        Aix::messages(&st).contains(
            &"warn: last sync on 2020-03-01 10:00:00 UTC is older than sync_max_delay (1d)"
                .to_owned()
        ),
        "{st}"
    );
    a.service("alt", &service_text("hdisk1", "sync_max_delay = 100000d\n"));
    assert_eq!(a.status("alt")["status"], "up");
    // The one duration grammar: what validates is what doppel applies.
    a.service(
        "alt",
        &service_text("hdisk1", "sync_max_delay = 5000d 12h\n"),
    );
    a.ok(&["-s", "alt", "validate"]);
    assert_eq!(a.status("alt")["status"], "up");
    a.service("alt", &service_text("hdisk1", "sync_max_delay = 1d 12h\n"));
    assert_eq!(a.status("alt")["status"], "warn");
}

#[test]
fn validate_explains_invalid_combinations() {
    let a = Aix::new();
    a.service(
        "bad",
        "[DEFAULT]\nnodes = n1\n\n[disk#0]\ntype = alt_disk\ndisks = hdisk1 hdisk1\nreboot = true\nbundle = /tmp/update_all\n\
         console = /dev/vty0\nexclude_list = exclude.rootvg\n",
    );
    doppel_snapshot!(
        a.ctx,
        "alt_disk_validate",
        a.cmd(&["-s", "bad", "validate"])
    );
}

#[test]
fn template_lists_the_keywords() {
    let a = Aix::new();
    let (code, stdout, stderr) = run(&mut a.cmd(&["template", "disk.alt_disk"]));
    assert_eq!(code, 0, "{stderr}");
    for kw in [
        "disks",
        "exclude_list",
        "set_bootlist",
        "reboot",
        "images",
        "sync_max_delay",
        "copy_timeout",
    ] {
        assert!(
            stdout.contains(&format!("{kw} = ")) || stdout.contains(&format!(";{kw} = ")),
            "{kw} missing:\n{stdout}"
        );
    }
}

#[test]
fn each_tool_can_be_relocated_by_its_own_node_config_key() {
    // No `bin`: one key per tool (issue 22), here the simulators' paths.
    let a = Aix::new();
    let bin = target_dir().display().to_string();
    a.ctx.write(
        "etc/doppel/doppel.toml",
        &format!(
            "nodename = \"n1\"\n\n[driver.alt_disk]\nalt_disk_copy = \"{bin}/alt_disk_copy\"\n\
             alt_rootvg_op = \"{bin}/alt_rootvg_op\"\nlspv = \"{bin}/lspv\"\nbootlist = \"{bin}/bootlist\"\n"
        ),
    );
    a.service("alt", &service_text("hdisk1", ""));
    let log = a.ok(&["-s", "alt", "provision"]);
    assert!(
        log.contains(&format!(
            "* ALT.DISK#0 - INFO - {bin}/alt_disk_copy -d hdisk1 -B\n"
        )),
        "{log}"
    );
    assert_eq!(a.vg("hdisk1").0, "altinst_rootvg");
    let st = a.status("alt");
    assert_eq!(st["status"], "up", "{st}");
    let log = a.ok(&["-s", "alt", "unprovision"]);
    assert!(
        log.contains(&format!(
            "* ALT.DISK#0 - INFO - {bin}/alt_rootvg_op -X altinst_rootvg\n"
        )),
        "{log}"
    );

    // Without any key the AIX paths are used: /usr/bin/bootlist, not /usr/sbin.
    a.ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    let st = a.status("alt");
    assert_eq!(st["status"], "undef", "{st}");
    let (_, _, stderr) = run(&mut a.cmd(&["-v", "-s", "alt", "print", "status", "--refresh"]));
    assert!(stderr.contains("/usr/sbin/lspv"), "{stderr}");

    // A relative per-tool path is a configuration error.
    a.ctx.write(
        "etc/doppel/doppel.toml",
        "nodename = \"n1\"\n\n[driver.alt_disk]\nbootlist = \"bin/bootlist\"\n",
    );
    let (code, stdout, _) = run(&mut a.cmd(&["-s", "alt", "validate"]));
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stdout.contains(
            "node config [driver.alt_disk] bootlist = 'bin/bootlist': must be the full path of bootlist"
        ),
        "{stdout}"
    );
}

#[test]
fn print_config_eval_shows_the_bootlist_rule() {
    let a = Aix::new();
    a.service("alt", &service_text("hdisk1", ""));
    let (code, stdout, stderr) = run(&mut a.cmd(&["-s", "alt", "print", "config", "--eval"]));
    assert_eq!(code, 0, "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("disk#0.set_bootlist"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["disk#0.set_bootlist", "=", "False", "#", "default"]
    );
    // And the template says why.
    let (code, stdout, _) = run(&mut a.cmd(&["template", "disk.alt_disk"]));
    assert_eq!(code, 0);
    // The description is wrapped in `#` comment lines.
    let text = stdout
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("a resource changes what the machine boots next only when the service says set_bootlist = true"),
        "{stdout}"
    );
}

#[test]
fn alt_disk_copy_output_reaches_the_log_while_it_runs() {
    let a = Aix::new();
    a.service("alt", &service_text("hdisk1", ""));
    a.sim_ok("aixsim", &["set", "copy-seconds", "3"]);
    // Real time for this one: the copy takes 3 s.
    let mut child = a
        .cmd(&["-s", "alt", "provision"])
        .env("DOPPEL_SIM_TIME_SCALE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = a.ctx.root().join("var/log/doppel/alt.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // The line comes just before the 3 s copy: streamed, it is in the log seconds
    // before doppel ends; logged at the end, only after the copy.
    let seen = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text
            .contains("* ALT.DISK#0 - INFO - Backing-up the rootvg files and restoring them to the")
        {
            break Some(std::time::Instant::now());
        }
        if child.try_wait().unwrap().is_some() || std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let status = child.wait().unwrap();
    let ended = std::time::Instant::now();
    assert!(status.success());
    let seen = seen.expect("the line was logged");
    assert!(
        ended - seen >= std::time::Duration::from_millis(1500),
        "the copy's progress was logged only when it ended ({:?} before the end)",
        ended - seen
    );
}
