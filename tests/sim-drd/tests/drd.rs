//! The `drd` simulator run as a program, against a temporary $DOPPEL_SIM_ROOT.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use doppel_sim::testing::Out;

struct Sim {
    root: tempfile::TempDir,
}

impl Sim {
    /// A fresh system with the sample tree and fast clones.
    fn new() -> Sim {
        let sim = Sim {
            root: tempfile::tempdir().unwrap(),
        };
        sim.admin(&[
            "init",
            "--sample",
            "--hostname",
            "hpux01",
            "--clone-seconds",
            "0",
            "--sync-seconds",
            "0",
        ]);
        sim
    }

    fn cmd(&self, bin: &str, args: &[&str]) -> Out {
        Out::of(
            Command::new(bin)
                .args(args)
                .env("DOPPEL_SIM_ROOT", self.root.path())
                .env("DOPPEL_SIM_TIME_SCALE", "1"),
        )
    }

    fn drd(&self, args: &[&str]) -> Out {
        self.cmd(env!("CARGO_BIN_EXE_drd"), args)
    }

    fn admin(&self, args: &[&str]) -> Out {
        let out = self.cmd(env!("CARGO_BIN_EXE_drdsim"), args);
        assert_eq!(out.code, 0, "drdsim {args:?}: {}", out.stderr);
        out
    }

    fn base(&self) -> PathBuf {
        self.root.path().join("drd")
    }

    fn original(&self, abs: &str) -> PathBuf {
        self.base()
            .join("original")
            .join(abs.trim_start_matches('/'))
    }

    fn clone_path(&self, abs: &str) -> PathBuf {
        self.base().join("clone").join(abs.trim_start_matches('/'))
    }

    fn list(&self, name: &str) -> Vec<String> {
        let text =
            std::fs::read_to_string(self.base().join("var/opt/drd/sync").join(name)).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    fn status_field(&self, label: &str) -> String {
        let out = self.drd(&["status"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let line = out
            .stderr
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{label}:")))
            .unwrap_or_else(|| panic!("{label} in {}", out.stderr));
        line.split_once(':').unwrap().1.trim().to_owned()
    }

    fn clone_ok(&self) {
        let out = self.drd(&["clone", "-t", "/dev/disk/disk2"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
}

/// Writes `text` to `path` and gives it a modification time `secs` from now.
fn write_at(path: &PathBuf, text: &str, secs: i64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    let when = if secs >= 0 {
        SystemTime::now() + Duration::from_secs(secs as u64)
    } else {
        SystemTime::now() - Duration::from_secs((-secs) as u64)
    };
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

fn end_banner(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("=======") && l.contains(" END "))
}

#[test]
fn usage_errors_and_help() {
    let sim = Sim::new();
    let out = sim.drd(&[]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("Usage: drd <mode>"), "{}", out.stderr);
    let out = sim.drd(&["sync", "-x", "overwrite=true"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("\"overwrite\" is not valid for the \"sync\" mode"),
        "{}",
        out.stderr
    );
    let out = sim.drd(&["clone", "-?"]);
    assert_eq!(out.code, 0);
    assert!(out.stderr.contains("-t target_device_file"));
    let out = sim.drd(&["sync", "-x", "-?"]);
    assert_eq!(out.code, 0);
    assert!(out.stderr.contains("exclude_list"));
    let out = sim.drd(&["runcmd", "swlist"]);
    assert_eq!(out.code, 1);
    let out = Command::new(env!("CARGO_BIN_EXE_drd"))
        .arg("status")
        .env_remove("DOPPEL_SIM_ROOT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DOPPEL_SIM_ROOT is not set"));
}

#[test]
fn status_without_clone_and_output_on_stderr() {
    let sim = Sim::new();
    let out = sim.drd(&["status"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.is_empty(), "drd status writes to stderr");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines[0].starts_with("=======  ")
            && lines[0].contains("  BEGIN Displaying DRD Clone Image Information (user=")
    );
    assert!(lines[0].ends_with("(jobid=hpux01-01)"), "{}", lines[0]);
    assert!(
        out.stderr
            .contains("  Original Disk:              /dev/disk/disk1\n")
    );
    assert!(out.stderr.contains("  Clone Disk:                 None\n"));
    assert!(out.stderr.contains("  Clone Creation Date:        None\n"));
    assert!(
        out.stderr
            .contains("  Booted Disk:                Original Disk (/dev/disk/disk1)\n")
    );
    assert!(
        end_banner(&out.stderr)
            .unwrap()
            .contains("END Displaying DRD Clone Image Information succeeded. (user=")
    );
    assert!(sim.base().join("var/opt/drd/drd.log").exists());
}

#[test]
fn clone_refuses_bad_targets() {
    let sim = Sim::new();
    for (target, text) in [
        (
            "/dev/disk/disk4",
            "is in use by the active volume group \"vg01\"",
        ),
        ("/dev/disk/disk1", "holds the booted system image"),
        ("/dev/disk/disk9", "cannot be found"),
    ] {
        let out = sim.drd(&["clone", "-t", target, "-x", "overwrite=true"]);
        assert_eq!(out.code, 1, "{target}");
        assert!(out.stderr.contains(text), "{}", out.stderr);
        assert!(
            end_banner(&out.stderr)
                .unwrap()
                .contains("END Clone System Image failed.")
        );
    }
    sim.admin(&["disk", "set", "/dev/disk/disk3", "--data"]);
    let out = sim.drd(&["clone", "-t", "/dev/disk/disk3"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("Use \"-x overwrite=true\" to overwrite it."),
        "{}",
        out.stderr
    );
    let out = sim.drd(&[
        "clone",
        "-p",
        "-t",
        "/dev/disk/disk3",
        "-x",
        "overwrite=true",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !sim.base().join("clone").exists(),
        "a preview creates nothing"
    );
    assert_eq!(sim.status_field("Clone Disk"), "None");
}

#[test]
fn clone_copies_the_tree_with_metadata() {
    let sim = Sim::new();
    let start = Instant::now();
    sim.admin(&["set", "clone-seconds", "0.4"]);
    sim.clone_ok();
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "clone takes its simulated time"
    );
    for abs in [
        "/etc/hosts",
        "/etc/passwd",
        "/opt/app/bin/app",
        "/opt/app/etc/app.conf",
        "/stand/vmunix",
        "/tmp",
    ] {
        let o = std::fs::symlink_metadata(sim.original(abs)).unwrap();
        let c = std::fs::symlink_metadata(sim.clone_path(abs)).unwrap();
        assert_eq!(o.mode(), c.mode(), "{abs}");
        assert_eq!(
            (o.mtime(), o.mtime_nsec()),
            (c.mtime(), c.mtime_nsec()),
            "{abs}"
        );
        assert_eq!((o.uid(), o.gid()), (c.uid(), c.gid()), "{abs}");
    }
    assert_eq!(
        std::fs::read_link(sim.clone_path("/sbin/init.d/app")).unwrap(),
        PathBuf::from("/opt/app/bin/app")
    );
    assert_eq!(sim.status_field("Clone Disk"), "/dev/disk/disk2");
    assert_ne!(sim.status_field("Clone Creation Date"), "None");
    assert_eq!(sim.status_field("Last Sync Date"), "None");
    // The clone disk now carries data: cloning onto it again needs overwrite=true.
    let out = sim.drd(&["clone", "-t", "/dev/disk/disk2"]);
    assert_eq!(out.code, 1);
    let out = sim.drd(&["clone", "-t", "/dev/disk/disk2", "-x", "overwrite=true"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// The documented rules, file by file.
#[test]
fn sync_copies_exactly_what_the_rules_allow() {
    let sim = Sim::new();
    sim.admin(&["ipd", "add", "/etc/rc.config.d/netconf"]);
    sim.clone_ok();
    // Changed on the original only: copied.
    write_at(
        &sim.original("/etc/hosts"),
        "127.0.0.1 localhost\n10.0.0.11 db\n",
        0,
    );
    std::fs::set_permissions(
        sim.original("/etc/hosts"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    write_at(&sim.original("/opt/app/new.conf"), "new\n", 0);
    // Non-synchronized locations.
    write_at(&sim.original("/tmp/scratch"), "x\n", 0);
    write_at(&sim.original("/etc/fstab"), "changed\n", 0);
    write_at(&sim.original("/stand/vmunix"), "new kernel\n", 0);
    // Changed on both sides: the clone's change wins.
    write_at(
        &sim.original("/etc/passwd"),
        "root:x:0:3::/:/sbin/sh\nnew:x:102:20::/:/sbin/sh\n",
        0,
    );
    write_at(
        &sim.clone_path("/etc/passwd"),
        "root:x:0:3::/:/sbin/sh\nswinstall-added:x:103:20::/:/sbin/sh\n",
        0,
    );
    // Excluded by the administrator.
    write_at(&sim.original("/opt/app/cache/data.bin"), "cache v2\n", 0);
    let exclude = sim.root.path().join("exclude");
    std::fs::write(&exclude, "# app cache\n/opt/app/cache\n").unwrap();
    // Original made older than the (untouched) clone copy.
    write_at(&sim.original("/etc/group"), "root::0:root\n", -10 * 86_400);
    // Non-volatile IPD file.
    write_at(
        &sim.original("/etc/rc.config.d/netconf"),
        "HOSTNAME=\"other\"\n",
        0,
    );
    // Deleted on the original: never deleted on the clone.
    std::fs::remove_file(sim.original("/home/admin/.profile")).unwrap();

    let x = format!("exclude_list={}", exclude.display());
    let preview = sim.drd(&["sync", "-p", "-x", &x]);
    assert_eq!(
        preview.code, 2,
        "a warning (files changed on the clone): {}",
        preview.stderr
    );
    assert!(
        end_banner(&preview.stderr)
            .unwrap()
            .contains("END Synchronize Inactive System Image succeeded.")
    );
    let expected = [
        "/etc/hosts",
        "/home/admin",
        "/opt/app",
        "/opt/app/new.conf",
        "/tmp",
    ];
    assert_eq!(sim.list("files_to_be_copied_by_drd_sync"), expected);
    assert!(
        !sim.clone_path("/opt/app/new.conf").exists(),
        "preview copies nothing"
    );
    assert_eq!(sim.status_field("Last Sync Date"), "None");
    assert_eq!(
        sim.list("filtered_out_by_non_synced_location_filter_sync_phase"),
        ["/etc/fstab", "/stand/vmunix", "/tmp/scratch"]
    );
    assert_eq!(
        sim.list("filtered_out_by_target_changed_filter_sync_phase"),
        ["/etc/passwd"]
    );
    assert_eq!(
        sim.list("filtered_out_by_target_newer_filter_sync_phase"),
        ["/etc/group"]
    );
    assert_eq!(
        sim.list("filtered_out_by_ipd_nonvolatile_filter_sync_phase"),
        ["/etc/rc.config.d/netconf"]
    );
    assert!(
        preview
            .stderr
            .contains("WARNING: 1 files changed on the inactive image"),
        "{}",
        preview.stderr
    );

    let out = sim.drd(&["sync", "-x", &x]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(sim.list("files_to_be_copied_by_drd_sync"), expected);
    assert_eq!(
        std::fs::read_to_string(sim.clone_path("/etc/hosts")).unwrap(),
        "127.0.0.1 localhost\n10.0.0.11 db\n"
    );
    let mode = std::fs::metadata(sim.clone_path("/etc/hosts"))
        .unwrap()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o600, "the mode is carried with the copy");
    assert_eq!(
        std::fs::read_to_string(sim.clone_path("/opt/app/new.conf")).unwrap(),
        "new\n"
    );
    assert!(!sim.clone_path("/tmp/scratch").exists());
    assert!(
        std::fs::read_to_string(sim.clone_path("/etc/passwd"))
            .unwrap()
            .contains("swinstall-added")
    );
    assert_eq!(
        std::fs::read_to_string(sim.clone_path("/opt/app/cache/data.bin")).unwrap(),
        "cache v1\n"
    );
    assert_eq!(
        std::fs::read_to_string(sim.clone_path("/etc/fstab"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    assert!(
        sim.clone_path("/home/admin/.profile").exists(),
        "sync never deletes"
    );
    assert_ne!(sim.status_field("Last Sync Date"), "None");
    for abs in ["/opt/app", "/home/admin", "/etc/hosts"] {
        let o = std::fs::symlink_metadata(sim.original(abs)).unwrap();
        let c = std::fs::symlink_metadata(sim.clone_path(abs)).unwrap();
        assert_eq!(
            (o.mtime(), o.mtime_nsec()),
            (c.mtime(), c.mtime_nsec()),
            "{abs}"
        );
    }

    // Nothing left to copy; the clone-changed file stays filtered.
    let again = sim.drd(&["sync", "-x", &x]);
    assert_eq!(again.code, 2);
    assert!(sim.list("files_to_be_copied_by_drd_sync").is_empty());
    assert_eq!(
        sim.list("filtered_out_by_target_changed_filter_sync_phase"),
        ["/etc/passwd"]
    );
    // The documented workaround: erase the clone's copy, sync again.
    // (Erasing it changes the clone's /etc: that directory is now "changed on the clone".)
    std::fs::remove_file(sim.clone_path("/etc/passwd")).unwrap();
    let out = sim.drd(&["sync"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        sim.list("filtered_out_by_target_changed_filter_sync_phase"),
        ["/etc"]
    );
    assert!(
        sim.list("files_to_be_copied_by_drd_sync")
            .contains(&"/etc/passwd".to_owned())
    );
    assert!(
        std::fs::read_to_string(sim.clone_path("/etc/passwd"))
            .unwrap()
            .contains("new:x:102")
    );
    // Without the exclude list, the cache file goes too.
    assert!(
        sim.list("files_to_be_copied_by_drd_sync")
            .contains(&"/opt/app/cache/data.bin".to_owned())
    );
}

#[test]
fn volatile_ipd_files_follow_their_templates() {
    let sim = Sim::new();
    write_at(
        &sim.original("/usr/newconfig/etc/hosts"),
        "template\n",
        -3600,
    );
    sim.admin(&["ipd", "add", "--volatile", "/etc/hosts"]);
    sim.clone_ok();
    write_at(&sim.original("/etc/hosts"), "edited\n", 0);
    assert_eq!(sim.drd(&["sync", "-p"]).code, 0);
    assert_eq!(sim.list("files_to_be_copied_by_drd_sync"), ["/etc/hosts"]);
    // A different template on the clone: the volatile file is filtered out.
    write_at(
        &sim.clone_path("/usr/newconfig/etc/hosts"),
        "other template\n",
        0,
    );
    assert_eq!(
        sim.drd(&["sync", "-p"]).code,
        2,
        "the template changed on the clone: a warning"
    );
    assert!(sim.list("files_to_be_copied_by_drd_sync").is_empty());
    assert_eq!(
        sim.list("filtered_out_by_ipd_volatile_filter_sync_phase"),
        ["/etc/hosts"]
    );
}

#[test]
fn sync_needs_a_clone_and_the_original_booted() {
    let sim = Sim::new();
    let out = sim.drd(&["sync"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("ERROR:   There is no inactive system image to synchronize"),
        "{}",
        out.stderr
    );
    assert!(
        end_banner(&out.stderr)
            .unwrap()
            .contains("END Synchronize Inactive System Image failed.")
    );
    sim.clone_ok();
    let out = sim.drd(&["sync", "-x", "exclude_list=/nonexistent/list"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("The exclude list \"/nonexistent/list\" cannot be read")
    );
    assert_eq!(sim.drd(&["activate", "-x", "reboot=true"]).code, 0);
    assert_eq!(
        sim.status_field("Booted Disk"),
        "Clone Disk (/dev/disk/disk2)"
    );
    let out = sim.drd(&["sync"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("booted from the clone"),
        "{}",
        out.stderr
    );
}

#[test]
fn activate_deactivate_reboot_and_mount() {
    let sim = Sim::new();
    let out = sim.drd(&["activate"]);
    assert_eq!(out.code, 1, "no clone to activate");
    sim.clone_ok();
    let out = sim.drd(&["activate", "-p", "-x", "reboot=false"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stderr
            .contains("* Primary bootpath : 0/1/1/0.1.0 [/dev/disk/disk2] after activate."),
        "{}",
        out.stderr
    );
    assert_eq!(
        sim.status_field("Activated Disk"),
        "Original Disk (/dev/disk/disk1)"
    );
    let out = sim.drd(&["activate", "-x", "reboot=false"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stderr
            .contains("* Primary bootpath : 0/1/1/0.0.0 [/dev/disk/disk1] before activate.")
    );
    assert!(out.stderr.contains("* Activating Inactive System Image"));
    assert!(!out.stderr.contains("Rebooting"));
    assert_eq!(
        sim.status_field("Activated Disk"),
        "Clone Disk (/dev/disk/disk2)"
    );
    assert_eq!(sim.drd(&["deactivate"]).code, 0);
    assert_eq!(
        sim.status_field("Activated Disk"),
        "Original Disk (/dev/disk/disk1)"
    );
    assert_eq!(sim.drd(&["activate"]).code, 0);
    sim.admin(&["reboot"]);
    assert_eq!(
        sim.status_field("Booted Disk"),
        "Clone Disk (/dev/disk/disk2)"
    );
    // Mounting while booted from the clone mounts the original as sysimage_000.
    assert_eq!(sim.drd(&["mount"]).code, 0);
    let link = sim.base().join("var/opt/drd/mnts/sysimage_000");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        sim.base().join("original")
    );
    assert_eq!(sim.drd(&["umount"]).code, 0);
    assert!(!link.exists());
    // Cloning while booted from the clone: the booted image becomes the original.
    let out = sim.drd(&["clone", "-t", "/dev/disk/disk1", "-x", "overwrite=true"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.status_field("Original Disk"), "/dev/disk/disk2");
    assert_eq!(sim.status_field("Clone Disk"), "/dev/disk/disk1");
    assert_eq!(
        sim.status_field("Booted Disk"),
        "Original Disk (/dev/disk/disk2)"
    );
}

#[test]
fn mount_shows_the_clone_tree() {
    let sim = Sim::new();
    sim.clone_ok();
    let out = sim.drd(&["mount"]);
    assert_eq!(out.code, 0);
    assert!(out.stderr.contains("* Mounting Inactive System Image"));
    let mnt = sim.base().join("var/opt/drd/mnts/sysimage_001");
    assert!(mnt.join("etc/hosts").exists());
    let out = sim.drd(&["mount"]);
    assert_eq!(out.code, 0);
    assert!(out.stderr.contains("already mounted"));
    assert_eq!(sim.drd(&["umount"]).code, 0);
    assert!(!mnt.exists());
}

#[test]
fn faults_make_the_banner_and_exit_code_disagree() {
    let sim = Sim::new();
    sim.clone_ok();
    write_at(&sim.original("/etc/hosts"), "changed\n", 0);
    // A failure banner with exit code 0.
    sim.admin(&[
        "fail",
        "sync",
        "--rc",
        "0",
        "--message",
        "pax: write error on the clone",
    ]);
    let out = sim.drd(&["sync"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stderr
            .contains("ERROR:   pax: write error on the clone")
    );
    assert!(
        end_banner(&out.stderr)
            .unwrap()
            .contains("END Synchronize Inactive System Image failed.")
    );
    assert_ne!(
        std::fs::read_to_string(sim.clone_path("/etc/hosts")).unwrap(),
        "changed\n"
    );
    // The fault fired once.
    assert!(sim.admin(&["faults"]).stdout.contains("\"faults\": []"));
    // Success, but the END banner is lost.
    sim.admin(&["fail", "truncate", "--on", "sync"]);
    let out = sim.drd(&["sync"]);
    assert_eq!(out.code, 0);
    assert!(end_banner(&out.stderr).is_none(), "{}", out.stderr);
    // A succeeded banner with exit code 1.
    sim.admin(&["fail", "rc", "--on", "status"]);
    let out = sim.drd(&["status"]);
    assert_eq!(out.code, 1);
    assert!(end_banner(&out.stderr).unwrap().contains("succeeded."));
    // Preview-only faults.
    sim.admin(&["fail", "clone", "--on", "preview", "--always"]);
    assert_eq!(sim.drd(&["clone", "-p", "-t", "/dev/disk/disk3"]).code, 1);
    assert_eq!(sim.drd(&["clone", "-p", "-t", "/dev/disk/disk3"]).code, 1);
    sim.admin(&["clear"]);
    assert_eq!(sim.drd(&["clone", "-p", "-t", "/dev/disk/disk3"]).code, 0);
}

#[test]
fn verbosity_filters_lines_but_never_banners() {
    let sim = Sim::new();
    let out = sim.drd(&["clone", "-t", "/dev/disk/disk2", "-x", "verbosity=0"]);
    assert_eq!(out.code, 0);
    let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    let out = sim.drd(&["status", "-q", "-q", "-q"]);
    assert!(!out.stderr.contains("Clone Disk"));
    assert!(end_banner(&out.stderr).is_some());
    write_at(&sim.original("/etc/hosts"), "changed\n", 0);
    let out = sim.drd(&["sync", "-v", "-v"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.contains("    - Copying /etc/hosts"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("  * 1 files copied"));
}
