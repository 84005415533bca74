//! `sync.drd` end to end (issue 6, item 5): the real `doppel` binary and its drd
//! driver against the DRD simulator (tests/sim-drd), whose `drd sync` copies
//! between two real trees: clone, edit the original, preview, sync, and check
//! file by file what reached the clone; status transitions; activate/deactivate;
//! mount/umount; failures, including a failure banner with exit code 0.
//!
//! Every test has its own root and simulated system (`drdsim init --sample`:
//! booted disk1, free disk2/disk3, disk4 in use by vg01).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use doppel_e2e::{TestContext, doppel_snapshot, run, target_dir};

/// The root disk's clone on disk2, with an exclude list and a one-day sync_max_delay.
const ROOT_SVC: &str = "
[DEFAULT]
nodes = hpux01

[sync#0]
type = drd
target = /dev/disk/disk2
exclude_list = @ROOT@/etc/drd_exclude
sync_max_delay = 1d
";

struct Lab {
    ctx: TestContext,
}

impl Lab {
    fn new() -> Lab {
        Lab::with_service(ROOT_SVC)
    }

    /// A root on node hpux01 whose drd is the simulator, a sample system, and the
    /// service `root` (`@ROOT@` replaced by the root).
    fn with_service(text: &str) -> Lab {
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
        ctx.write(
            "etc/drd_exclude",
            "# the application cache is rebuilt at boot\n/opt/app/cache\n",
        );
        let root = ctx.root().display().to_string();
        ctx.service("root", &text.replace("@ROOT@", &root));
        let lab = Lab { ctx };
        lab.sim_ok(&["init", "--sample", "--hostname", "hpux01"]);
        lab
    }

    #[track_caller]
    fn sim_ok(&self, args: &[&str]) -> String {
        self.ctx.tool_ok("drdsim", args)
    }

    fn image(&self, which: &str, abs: &str) -> PathBuf {
        self.ctx
            .root()
            .join("sim/drd")
            .join(which)
            .join(abs.trim_start_matches('/'))
    }

    fn original(&self, abs: &str) -> PathBuf {
        self.image("original", abs)
    }

    fn clone_path(&self, abs: &str) -> PathBuf {
        self.image("clone", abs)
    }

    fn read_clone(&self, abs: &str) -> String {
        std::fs::read_to_string(self.clone_path(abs))
            .unwrap_or_else(|e| panic!("{abs} on the clone: {e}"))
    }

    fn list(&self, name: &str) -> Vec<String> {
        let text =
            std::fs::read_to_string(self.ctx.root().join("sim/drd/var/opt/drd/sync").join(name))
                .unwrap();
        text.lines().map(str::to_owned).collect()
    }

    /// Runs doppel: (exit code, stdout + stderr).
    fn run(&self, args: &[&str]) -> (i32, String) {
        let (code, stdout, stderr) = run(&mut self.ctx.doppel(args));
        (code, format!("{stdout}{stderr}"))
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out) = self.run(args);
        assert_eq!(code, 0, "doppel {args:?}\n{out}");
        out
    }

    fn fails(&self, args: &[&str]) -> String {
        let (code, out) = self.run(args);
        assert_eq!(code, 1, "doppel {args:?}\n{out}");
        out
    }

    /// The refreshed status of sync#0: (state, ["level: text", ...], last_sync).
    fn status(&self) -> (String, Vec<String>, Option<String>) {
        let r = self.ctx.refreshed_resource("root", "sync#0");
        (
            r["status"].as_str().unwrap_or_default().to_owned(),
            doppel_e2e::status_messages(&r),
            r["last_sync"].as_str().map(str::to_owned),
        )
    }

    fn provision(&self) {
        let out = self.ok(&["-s", "root", "provision"]);
        assert!(
            out.contains("clone of the root disk created on /dev/disk/disk2"),
            "{out}"
        );
    }
}

/// Writes `text` at `path` with a modification time `secs` seconds from now.
fn write_at(path: &PathBuf, text: &str, secs: i64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    let now = SystemTime::now();
    let when = if secs >= 0 {
        now + Duration::from_secs(secs as u64)
    } else {
        now - Duration::from_secs((-secs) as u64)
    };
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

#[test]
fn clone_edit_preview_sync_copies_exactly_the_right_files() {
    let lab = Lab::new();
    lab.provision();
    assert_eq!(
        lab.read_clone("/etc/hosts"),
        std::fs::read_to_string(lab.original("/etc/hosts")).unwrap()
    );

    // Edits on the booted original.
    write_at(
        &lab.original("/etc/hosts"),
        "127.0.0.1 localhost\n10.0.0.20 newdb\n",
        0,
    );
    write_at(
        &lab.original("/opt/app/etc/feature.conf"),
        "feature=on\n",
        0,
    );
    write_at(&lab.original("/tmp/build.log"), "transient\n", 0);
    write_at(&lab.original("/opt/app/cache/data.bin"), "cache v2\n", 0);
    std::fs::remove_file(lab.original("/home/admin/.profile")).unwrap();
    // /etc/passwd changed on both: on the clone first (as a drd runcmd swinstall would), then on the original.
    write_at(
        &lab.clone_path("/etc/passwd"),
        "root:x:0:3::/:/sbin/sh\nswagent:x:104:20::/:/sbin/sh\n",
        -60,
    );
    write_at(
        &lab.original("/etc/passwd"),
        "root:x:0:3::/:/sbin/sh\noperator:x:105:20::/:/sbin/sh\n",
        0,
    );

    // The preview: what would be copied, nothing copied.
    let out = lab.ok(&["-s", "root", "sync", "update", "--dry-run"]);
    let list = "/var/opt/drd/sync/files_to_be_copied_by_drd_sync";
    assert!(
        out.contains(&format!(
            "dry-run: drd sync would copy 5 file(s) to the clone (listed in {list})"
        )),
        "{out}"
    );
    assert!(
        out.contains("dry-run: 1 file(s) changed on the clone would not be overwritten"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "dry-run: {}/drd sync -x exclude_list=",
            target_dir().display()
        )),
        "{out}"
    );
    assert!(
        !lab.clone_path("/opt/app/etc/feature.conf").exists(),
        "the preview copied a file"
    );
    // Directories whose entries changed are listed too (their metadata is copied).
    let expected = [
        "/etc/hosts",
        "/home/admin",
        "/opt/app/etc",
        "/opt/app/etc/feature.conf",
        "/tmp",
    ];
    assert_eq!(lab.list("files_to_be_copied_by_drd_sync"), expected);
    let (_, messages, _) = lab.status();
    assert!(
        messages.iter().any(|m| m.contains("created, never synced")),
        "{messages:?}"
    );
    // -v names the files.
    let out = lab.ok(&["-v", "-s", "root", "sync", "update", "--dry-run"]);
    assert!(
        out.contains("would copy /opt/app/etc/feature.conf"),
        "{out}"
    );
    assert!(
        out.contains("changed on the clone, kept: /etc/passwd"),
        "{out}"
    );

    // The sync.
    let out = lab.ok(&["-s", "root", "sync", "update"]);
    assert!(
        out.contains(&format!("5 file(s) copied to the clone (listed in {list})")),
        "{out}"
    );
    assert!(
        out.contains("END Synchronize Inactive System Image succeeded."),
        "{out}"
    );
    assert!(
        out.contains("drd sync succeeded with warnings (exit code 2)"),
        "{out}"
    );
    assert_eq!(lab.list("files_to_be_copied_by_drd_sync"), expected);
    assert_eq!(
        lab.read_clone("/etc/hosts"),
        "127.0.0.1 localhost\n10.0.0.20 newdb\n"
    );
    assert_eq!(lab.read_clone("/opt/app/etc/feature.conf"), "feature=on\n");
    assert!(
        lab.read_clone("/etc/passwd").contains("swagent"),
        "the clone's own change must survive"
    );
    assert_eq!(
        lab.list("filtered_out_by_target_changed_filter_sync_phase"),
        ["/etc/passwd"]
    );
    assert_eq!(
        lab.read_clone("/opt/app/cache/data.bin"),
        "cache v1\n",
        "excluded"
    );
    assert!(
        !lab.clone_path("/tmp/build.log").exists(),
        "/tmp is not synchronized"
    );
    assert_eq!(
        lab.list("filtered_out_by_non_synced_location_filter_sync_phase"),
        ["/tmp/build.log"]
    );
    assert!(
        lab.clone_path("/home/admin/.profile").exists(),
        "drd sync never deletes"
    );
    let (state, messages, last) = lab.status();
    assert_eq!(state, "up");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("info: clone on /dev/disk/disk2, last synced")),
        "{messages:?}"
    );
    assert!(last.is_some());

    // Nothing more to copy.
    let out = lab.ok(&["-s", "root", "sync", "update"]);
    assert!(out.contains("0 file(s) copied to the clone"), "{out}");
}

#[test]
fn status_transitions() {
    let lab = Lab::new();
    let (state, messages, last) = lab.status();
    assert_eq!(state, "down");
    assert_eq!(
        messages,
        ["info: no clone of the root disk (drd status: Clone Disk None); provision creates it"]
    );
    assert!(last.is_none());

    lab.provision();
    let (state, _, last) = lab.status();
    assert_eq!(state, "up");
    let created = last.expect("the creation date stands for the last sync");

    // Two days without a sync: sync_max_delay (1d) makes it warn.
    lab.sim_ok(&["backdate", "172800"]);
    let (state, messages, last) = lab.status();
    assert_eq!(state, "warn", "{messages:?}");
    assert_ne!(last.as_deref(), Some(created.as_str()));
    lab.ok(&["-s", "root", "sync", "update"]);
    assert_eq!(lab.status().0, "up");

    lab.ok(&["-s", "root", "activate"]);
    let (state, messages, _) = lab.status();
    assert_eq!(state, "warn");
    assert!(messages.contains(&"warn: the clone (/dev/disk/disk2) is activated: the next boot starts from it ('deactivate' undoes this)".to_owned()), "{messages:?}");
    let out = lab.ok(&["-s", "root", "deactivate"]);
    assert!(
        out.contains("Primary bootpath : 0/1/1/0.0.0 [/dev/disk/disk1] after deactivate."),
        "{out}"
    );
    assert_eq!(lab.status().0, "up");

    // Activated, then rebooted: booted from the clone.
    lab.ok(&["-s", "root", "activate"]);
    lab.sim_ok(&["reboot"]);
    let (state, messages, _) = lab.status();
    assert_eq!(state, "warn");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("warn: the system is booted from the clone (/dev/disk/disk2)")),
        "{messages:?}"
    );
    let out = lab.fails(&["-s", "root", "sync", "update"]);
    assert!(
        out.contains("drd sync failed: The system is booted from the clone image."),
        "{out}"
    );
}

#[test]
fn activate_dry_run_previews_and_mount_umount() {
    let lab = Lab::new();
    lab.provision();
    let out = lab.ok(&["-s", "root", "activate", "--dry-run"]);
    assert!(
        out.contains(&format!(
            "dry-run: {}/drd activate -x reboot=false",
            target_dir().display()
        )),
        "{out}"
    );
    assert_eq!(lab.status().0, "up", "a dry run activates nothing");

    let link = lab.ctx.root().join("sim/drd/var/opt/drd/mnts/sysimage_001");
    lab.ok(&["-s", "root", "mount"]);
    assert_eq!(
        std::fs::read_to_string(link.join("etc/hosts")).unwrap(),
        lab.read_clone("/etc/hosts")
    );
    lab.ok(&["-s", "root", "umount"]);
    assert!(!link.exists());
}

#[test]
fn provision_failures_and_noop() {
    // Not optional by default: a failed provision fails the action.
    let lab = Lab::with_service(&ROOT_SVC.replace("/dev/disk/disk2", "/dev/disk/disk4"));
    let out = lab.fails(&["-s", "root", "provision"]);
    assert!(
        out.contains("drd clone failed: The disk \"/dev/disk/disk4\" is in use by the active volume group \"vg01\" and cannot be the target of a clone."),
        "{out}"
    );
    // optional = true: logged, then passed over.
    let svc = format!(
        "{}optional = true\n",
        ROOT_SVC.replace("/dev/disk/disk2", "/dev/disk/disk4")
    );
    let optional = Lab::with_service(&svc);
    let out = optional.ok(&["-s", "root", "provision"]);
    assert!(
        out.contains("is in use by the active volume group \"vg01\""),
        "{out}"
    );
    assert!(
        out.contains("ignore provision error on optional resource"),
        "{out}"
    );
    // The dry run's preview finds it too, without cloning.
    let out = lab.fails(&["-s", "root", "provision", "--dry-run"]);
    assert!(
        out.contains("is in use by the active volume group"),
        "{out}"
    );
    assert!(!lab.clone_path("/etc").exists());

    // A disk with data needs overwrite = true.
    let svc = format!(
        "{}optional = false\n",
        ROOT_SVC.replace("/dev/disk/disk2", "/dev/disk/disk3")
    );
    let lab = Lab::with_service(&svc);
    lab.sim_ok(&["disk", "set", "/dev/disk/disk3", "--data"]);
    let out = lab.fails(&["-s", "root", "provision"]);
    assert!(
        out.contains("Use \"-x overwrite=true\" to overwrite it."),
        "{out}"
    );
    lab.ctx.service(
        "root",
        &format!("{svc}overwrite = true\n")
            .replace("@ROOT@", &lab.ctx.root().display().to_string()),
    );
    lab.ok(&["-s", "root", "provision"]);
    let out = lab.ok(&["-s", "root", "provision"]);
    assert!(
        out.contains("a clone of the root disk already exists on /dev/disk/disk3"),
        "{out}"
    );
}

#[test]
fn sync_without_a_clone_fails() {
    let lab = Lab::new();
    let out = lab.fails(&["-s", "root", "sync", "update"]);
    assert!(
        out.contains("drd sync failed: There is no inactive system image to synchronize: create one with \"drd clone\"."),
        "{out}"
    );
    let out = lab.fails(&["-s", "root", "sync", "update", "--dry-run"]);
    assert!(out.contains("There is no inactive system image"), "{out}");
}

#[test]
fn the_end_banner_decides_whatever_the_exit_code() {
    let lab = Lab::new();
    lab.provision();
    write_at(&lab.original("/etc/hosts"), "changed\n", 0);

    // drd exits 0 but its banner says failed: the action fails.
    lab.sim_ok(&[
        "fail",
        "sync",
        "--rc",
        "0",
        "--message",
        "pax: /etc/hosts: write error on the clone",
    ]);
    let out = lab.fails(&["-s", "root", "sync", "update"]);
    assert!(
        out.contains("drd sync failed (its END banner says failed, although it exited 0): pax: /etc/hosts: write error on the clone"),
        "{out}"
    );
    assert_ne!(lab.read_clone("/etc/hosts"), "changed\n");
    assert!(lab.status().1.iter().any(|m| m.contains("never synced")));

    // drd exits 0 but the END banner never came: failure, outcome unknown.
    lab.sim_ok(&["fail", "truncate", "--on", "sync"]);
    let out = lab.fails(&["-s", "root", "sync", "update"]);
    assert!(
        out.contains("drd sync printed no END banner (exit code 0): its outcome is unknown"),
        "{out}"
    );

    // A succeeded banner with exit code 1: success, with a warning.
    lab.sim_ok(&["fail", "rc", "--on", "mount"]);
    let out = lab.ok(&["-s", "root", "mount"]);
    assert!(
        out.contains("drd mount reported success in its END banner but ended with exit code 1"),
        "{out}"
    );

    // drd status failing: the status is undef.
    lab.sim_ok(&["fail", "status", "--rc", "0", "--always"]);
    let (state, messages, _) = lab.status();
    assert_eq!(state, "undef");
    assert!(
        messages[0].starts_with(
            "error: drd status failed (its END banner says failed, although it exited 0)"
        ),
        "{messages:?}"
    );
}

#[test]
fn resync_needs_force_and_recreates_the_clone() {
    let lab = Lab::new();
    lab.provision();
    write_at(&lab.clone_path("/etc/motd"), "installed on the clone\n", 0);
    let out = lab.fails(&["-s", "root", "sync", "resync"]);
    assert!(out.contains("use --force"), "{out}");
    let out = lab.ok(&["-s", "root", "sync", "resync", "--dry-run"]);
    assert!(
        out.contains(&format!(
            "dry-run: {}/drd clone -t /dev/disk/disk2 -x overwrite=true",
            target_dir().display()
        )),
        "{out}"
    );
    assert!(lab.clone_path("/etc/motd").exists());
    lab.ok(&["-s", "root", "sync", "resync", "--force"]);
    assert!(
        !lab.clone_path("/etc/motd").exists(),
        "the clone was re-created from the original"
    );
    assert_eq!(lab.status().0, "up");
}

#[test]
fn validate_and_driver_info() {
    let lab = Lab::with_service(
        "[DEFAULT]\nnodes = hpux01\n\n[sync#0]\ntype = drd\ntarget = disk2\nexclude_list = exclude.txt\nverbosity = 7\n",
    );
    let (code, out) = lab.run(&["-s", "root", "validate"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("'disk2' is not a device file"), "{out}");
    assert!(
        out.contains("'exclude.txt' must be an absolute path"),
        "{out}"
    );
    assert!(out.contains("verbosity"), "{out}");
    doppel_snapshot!(
        lab.ctx,
        "drd_drivers_info",
        lab.ctx.doppel(["drivers", "info", "sync.drd"])
    );
}
