//! End-to-end tests of the AIX simulator binaries (lspv, bootlist,
//! alt_disk_copy, alt_rootvg_op, aixsim), each test with its own `$DOPPEL_SIM_ROOT`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use doppel_sim::testing::Out;

struct Sim {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

fn bin(name: &str) -> &'static str {
    match name {
        "lspv" => env!("CARGO_BIN_EXE_lspv"),
        "bootlist" => env!("CARGO_BIN_EXE_bootlist"),
        "alt_disk_copy" => env!("CARGO_BIN_EXE_alt_disk_copy"),
        "alt_rootvg_op" => env!("CARGO_BIN_EXE_alt_rootvg_op"),
        "aixsim" => env!("CARGO_BIN_EXE_aixsim"),
        other => panic!("unknown binary {other}"),
    }
}

impl Sim {
    fn new() -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let sim = Sim {
            env: vec![
                (
                    "DOPPEL_SIM_ROOT".into(),
                    dir.path().join("sim").display().to_string(),
                ),
                ("DOPPEL_SIM_TIME_SCALE".into(), "0".into()),
            ],
            dir,
        };
        sim.run("aixsim", &["init"]).ok();
        sim
    }

    fn cmd(&self, tool: &str, args: &[&str]) -> Command {
        let mut c = Command::new(bin(tool));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn run(&self, tool: &str, args: &[&str]) -> Out {
        Out::of(&mut self.cmd(tool, args))
    }

    fn machine(&self) -> PathBuf {
        self.dir.path().join("sim/aix")
    }

    fn tree(&self, vg: &str) -> PathBuf {
        self.machine().join("vg").join(vg)
    }

    /// (disk, vg, active) rows of lspv.
    fn lspv(&self) -> Vec<(String, String, bool)> {
        self.run("lspv", &[])
            .ok()
            .stdout
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[0].to_owned(),
                    f[2].to_owned(),
                    f.get(3) == Some(&"active"),
                )
            })
            .collect()
    }

    fn vg_of(&self, disk: &str) -> String {
        self.lspv()
            .into_iter()
            .find(|r| r.0 == disk)
            .map(|r| r.1)
            .unwrap()
    }

    fn file(&self, name: &str, text: &str, mode: u32) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p.display().to_string()
    }
}

#[test]
fn lspv_lists_the_default_machine_in_aix_columns() {
    let sim = Sim::new();
    let out = sim.run("lspv", &[]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(
        lines[0].starts_with("hdisk0          00f6db0a"),
        "{}",
        lines[0]
    );
    assert_eq!(&lines[0][52..], "rootvg          active");
    assert_eq!(&lines[1][52..], "None");
    // The parser of the IBM Ansible module reads the same fields.
    let re = regex_lite(lines[1]);
    assert_eq!(re, ("hdisk1".into(), "None".into()));
    let detail = sim.run("lspv", &["hdisk0"]).ok().stdout;
    assert!(detail.starts_with("PHYSICAL VOLUME:    hdisk0"), "{detail}");
    assert!(detail.contains("VOLUME GROUP:     rootvg"));
    assert!(
        sim.run("lspv", &["hdisk1"])
            .fails_with(1)
            .stderr
            .contains("is not assigned to")
    );
    assert!(
        sim.run("lspv", &["hdisk9"])
            .fails_with(1)
            .stderr
            .contains("was not found")
    );
    sim.run("aixsim", &["disk", "add", "hdisk10", "--no-pvid"])
        .ok();
    sim.run("aixsim", &["disk", "add", "hdisk3"]).ok();
    let names: Vec<String> = sim.lspv().into_iter().map(|r| r.0).collect();
    assert_eq!(names, ["hdisk0", "hdisk1", "hdisk2", "hdisk3", "hdisk10"]);
    assert!(
        sim.run("lspv", &[])
            .ok()
            .stdout
            .contains("hdisk10         none                                None")
    );
}

/// `^(hdisk\S+)\s+(\S+)\s+(\S+)` as the Ansible alt_disk module matches lspv lines.
fn regex_lite(line: &str) -> (String, String) {
    let f: Vec<&str> = line.split_whitespace().collect();
    (f[0].to_owned(), f[2].to_owned())
}

#[test]
fn bootlist_sets_and_shows_one_line_per_path() {
    let sim = Sim::new();
    assert_eq!(
        sim.run("bootlist", &["-m", "normal", "-o"]).ok().stdout,
        "hdisk0 blv=hd5 pathid=0\n"
    );
    sim.run("aixsim", &["disk", "set", "hdisk1", "--paths", "2"])
        .ok();
    sim.run(
        "bootlist",
        &["-m", "normal", "hdisk1", "hdisk0", "blv=hd5", "pathid=0"],
    )
    .ok();
    assert_eq!(
        sim.run("bootlist", &["-m", "normal", "-o"]).ok().stdout,
        "hdisk1 blv=hd5 pathid=0\nhdisk1 blv=hd5 pathid=1\nhdisk0 blv=hd5 pathid=0\n"
    );
    let shown = sim
        .run("bootlist", &["-m", "both", "-o", "hdisk0", "blv=hd5"])
        .ok()
        .stdout;
    assert_eq!(shown, "hdisk0 blv=hd5 pathid=0\n");
    assert_eq!(
        sim.run("bootlist", &["-m", "service", "-o"]).ok().stdout,
        "hdisk0 blv=hd5 pathid=0\n"
    );
    assert!(
        sim.run("bootlist", &["-m", "normal", "hdisk9"])
            .fails_with(1)
            .stderr
            .contains("Device hdisk9 is not valid")
    );
    assert!(
        sim.run("bootlist", &["-m", "normal", "blv=hd5"])
            .fails_with(1)
            .stderr
            .contains("precedes all devices")
    );
    assert!(
        sim.run("bootlist", &["-o"])
            .fails_with(1)
            .stderr
            .contains("A mode (-m) must be specified")
    );
    assert!(
        sim.run("bootlist", &["-m", "normal"])
            .fails_with(1)
            .stderr
            .contains("Specify a device")
    );
    sim.run("bootlist", &["-m", "normal", "-i"]).ok();
    assert_eq!(sim.run("bootlist", &["-m", "normal", "-o"]).ok().stdout, "");
    sim.run("aixsim", &["fail", "bootlist"]).ok();
    assert!(
        sim.run("bootlist", &["-m", "normal", "hdisk0"])
            .fails_with(1)
            .stderr
            .contains("Unable to set the boot list")
    );
    sim.run("bootlist", &["-m", "normal", "hdisk0"]).ok();
}

#[test]
fn clone_with_default_bootlist_prints_the_documented_lines() {
    let sim = Sim::new();
    let out = sim.run("alt_disk_copy", &["-d", "hdisk1"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "Calling mkszfile to create new /image.data file.");
    assert_eq!(lines[1], "Checking disk sizes.");
    assert_eq!(
        lines[2],
        "Creating cloned rootvg volume group and associated logical volumes."
    );
    assert!(lines.contains(&"Creating logical volume alt_hd5."));
    assert!(lines.contains(&"Creating /alt_inst/usr file system"));
    assert!(lines.contains(&"Backing-up the rootvg files and restoring them to the"));
    assert!(lines.contains(&"Modifying ODM on cloned disk."));
    assert!(lines.contains(&"Building boot image on cloned disk."));
    assert!(lines.contains(&"forced unmount of /alt_inst/var"));
    assert!(lines.contains(&"Fixing file system superblocks..."));
    assert_eq!(
        *lines.last().unwrap(),
        "Bootlist is set to the boot disk: hdisk1 blv=hd5"
    );
    assert_eq!(out.stderr, "");
    // altinst_rootvg is a varied-off placeholder; the bootlist points at the clone.
    assert!(
        sim.lspv()
            .contains(&("hdisk1".into(), "altinst_rootvg".into(), false))
    );
    assert_eq!(
        sim.run("bootlist", &["-m", "normal", "-o"]).ok().stdout,
        "hdisk1 blv=hd5 pathid=0\n"
    );
    assert_eq!(
        std::fs::read_to_string(sim.tree("altinst_rootvg").join("etc/hosts")).unwrap(),
        "127.0.0.1 loopback localhost\n"
    );
    // A second clone needs the first one removed.
    let again = sim.run("alt_disk_copy", &["-d", "hdisk2"]).fails_with(1);
    assert!(
        again
            .stderr
            .contains("Volume group altinst_rootvg already exists on hdisk1."),
        "{}",
        again.stderr
    );
    let on_itself = sim.run("alt_disk_copy", &["-d", "hdisk1"]).fails_with(1);
    assert!(
        on_itself
            .stderr
            .contains("hdisk1 belongs to volume group altinst_rootvg."),
        "{}",
        on_itself.stderr
    );
    assert!(on_itself.stderr.contains("alt_rootvg_op -X altinst_rootvg"));
}

#[test]
fn minus_b_keeps_the_bootlist_and_grouped_flags_parse() {
    let sim = Sim::new();
    let out = sim.run(
        "alt_disk_copy",
        &["-Bd", "hdisk1 hdisk2", "-Pall", "-z", "c", "-z", ""],
    );
    let out = out.ok();
    assert!(!out.stdout.contains("Bootlist is set"), "{}", out.stdout);
    assert_eq!(
        sim.run("bootlist", &["-m", "normal", "-o"]).ok().stdout,
        "hdisk0 blv=hd5 pathid=0\n"
    );
    assert_eq!(sim.vg_of("hdisk1"), "altinst_rootvg");
    assert_eq!(sim.vg_of("hdisk2"), "altinst_rootvg");
    assert_eq!(
        sim.run("alt_rootvg_op", &["-q", "-d", "hdisk2"])
            .ok()
            .stdout,
        "hdisk1\n"
    );
}

#[test]
fn exclude_patterns_follow_grep() {
    let sim = Sim::new();
    std::fs::create_dir_all(sim.tree("rootvg").join("scratch/sub")).unwrap();
    std::fs::write(sim.tree("rootvg").join("scratch/sub/f"), "x").unwrap();
    std::fs::write(sim.tree("rootvg").join("scratchpad"), "x").unwrap();
    let anchored = sim.file("exclude.anchored", "^./tmp/\n^./scratch$\n", 0o644);
    sim.run("alt_disk_copy", &["-d", "hdisk1", "-B", "-e", &anchored])
        .ok();
    let t = sim.tree("altinst_rootvg");
    assert!(t.join("tmp").is_dir(), "^./tmp/ keeps /tmp itself");
    assert!(
        !t.join("tmp/install.log").exists() && !t.join("tmp/session").exists(),
        "but not its content"
    );
    assert!(
        t.join("var/tmp/cache.db").is_file(),
        "an anchored pattern leaves /var/tmp alone"
    );
    assert!(t.join("home/admin/tmpnotes.txt").is_file());
    assert!(
        t.join("scratch/sub/f").is_file(),
        "^./scratch$ drops the directory entry only; restore recreates parents"
    );
    assert!(t.join("scratchpad").is_file());
    let list = std::fs::read_to_string(sim.machine().join("backup.list")).unwrap();
    assert!(list.lines().all(|l| l.starts_with("./")));
    assert!(
        list.contains("./tmp\n")
            && !list.contains("./tmp/install.log")
            && !list.contains("./scratch\n")
    );

    sim.run("alt_rootvg_op", &["-X"]).ok();
    assert!(!t.exists(), "-X removes the clone");
    let unanchored = sim.file("exclude.unanchored", "tmp\n", 0o644);
    let out = sim
        .run(
            "alt_disk_copy",
            &["-d", "hdisk1", "-B", "-V", "-e", &unanchored],
        )
        .ok();
    assert!(out.stdout.contains("./etc/hosts\n"), "-V lists the files");
    assert!(!t.join("tmp").exists());
    assert!(!t.join("var/tmp").exists());
    assert!(!t.join("home/admin/tmpnotes.txt").exists());
    assert!(t.join("home/admin/.profile").is_file());

    sim.run("alt_rootvg_op", &["-X", "altinst_rootvg"]).ok();
    let bad = sim.file("exclude.bad", "^./ok\n[unclosed\n", 0o644);
    let out = sim
        .run("alt_disk_copy", &["-d", "hdisk1", "-e", &bad])
        .fails_with(1);
    assert!(out.stderr.contains("line 2"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "nothing ran");
}

#[test]
fn the_seed_rules_between_flags() {
    let sim = Sim::new();
    let cases: &[(&[&str], &str)] = &[
        (&[], "The -d flag (target disks) is required."),
        (
            &["-d", "hdisk1", "-B", "-r"],
            "The -r flag cannot be used with the -B flag.",
        ),
        (
            &["-d", "hdisk1", "-b", "update_all"],
            "The -l flag must be used with the -b flag.",
        ),
        (
            &["-d", "hdisk1", "-F", "IX123456"],
            "The -l flag must be used with the -F flag.",
        ),
        (
            &["-d", "hdisk1", "-w", "bos.rte"],
            "The -l flag must be used with the -w flag.",
        ),
        (
            &["-d", "hdisk1", "-c", "/dev/vty0"],
            "The -c flag is only valid with the -O flag.",
        ),
        (
            &["-d", "hdisk1", "-e", "exclude.list"],
            "must be a full path name.",
        ),
        (
            &["-d", "hdisk1", "-e", "/nonexistent/exclude"],
            "No such file or directory",
        ),
        (
            &["-d", "hdisk1", "-P4"],
            "Invalid phase option 4. Valid values are 1, 2, 3, 12, 23 or all.",
        ),
        (&["-d", "hdisk1 hdisk1"], "hdisk1 is listed twice"),
        (
            &["-d", "hdisk9"],
            "hdisk9 is not a physical volume of this system",
        ),
        (&["-k"], "Not a recognized flag: k"),
        (&["-d"], "Flag requires a parameter: d"),
        (&["-d", "hdisk1", "extra"], "unexpected argument 'extra'"),
    ];
    for (args, message) in cases {
        let out = sim.run("alt_disk_copy", args).fails_with(1);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    let not_exec = sim.file("custom.sh", "#!/bin/sh\n", 0o644);
    let out = sim
        .run("alt_disk_copy", &["-d", "hdisk1", "-s", &not_exec])
        .fails_with(1);
    assert!(out.stderr.contains("is not executable"), "{}", out.stderr);
    assert!(
        sim.lspv().iter().all(|r| r.1 != "altinst_rootvg"),
        "nothing was created"
    );
}

#[test]
fn disks_in_use_or_too_small_are_refused() {
    let sim = Sim::new();
    sim.run("aixsim", &["vg", "create", "datavg", "--disks", "hdisk2"])
        .ok();
    let out = sim
        .run("alt_disk_copy", &["-d", "hdisk1 hdisk2"])
        .fails_with(1);
    assert!(
        out.stderr
            .contains("hdisk2 belongs to volume group datavg."),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("volume group None"));
    let out = sim.run("alt_disk_copy", &["-d", "hdisk0"]).fails_with(1);
    assert!(
        out.stderr
            .contains("hdisk0 belongs to volume group rootvg.")
    );

    sim.run("aixsim", &["disk", "add", "hdisk3", "--size", "4g"])
        .ok();
    let out = sim.run("alt_disk_copy", &["-d", "hdisk3"]).fails_with(1);
    assert_eq!(
        out.stdout,
        "Calling mkszfile to create new /image.data file.\nChecking disk sizes.\n"
    );
    assert!(out.stderr.contains("The target disk(s) hdisk3 are too small: 4096 megabytes, the rootvg needs 6144 megabytes."), "{}", out.stderr);
    assert_eq!(sim.vg_of("hdisk3"), "None");
    sim.run("aixsim", &["disk", "add", "hdisk4", "--size", "2g"])
        .ok();
    sim.run("alt_disk_copy", &["-d", "hdisk3 hdisk4", "-B"])
        .ok();
    sim.run("alt_rootvg_op", &["-X"]).ok();
    sim.run("alt_disk_copy", &["-d", "hdisk4", "-B", "-S"]).ok();
    sim.run("alt_rootvg_op", &["-X"]).ok();

    sim.run("aixsim", &["disk", "set", "hdisk1", "--bootable", "false"])
        .ok();
    assert!(
        sim.run("alt_disk_copy", &["-d", "hdisk1"])
            .fails_with(1)
            .stderr
            .contains("hdisk1 is not bootable")
    );
    sim.run("alt_disk_copy", &["-d", "hdisk1", "-g", "-B"]).ok();
}

#[test]
fn phase_by_phase_with_the_customization_script() {
    let sim = Sim::new();
    let script = sim.file(
        "custom.sh",
        "#!/bin/sh\necho \"customizing $DOPPEL_SIM_ALT_INST\"\necho customized > \"$DOPPEL_SIM_ALT_INST/etc/custom\"\n",
        0o755,
    );
    let resolv = sim.file("resolv.new", "nameserver 198.51.100.1\n", 0o644);
    // Phase 2 before phase 1 is refused.
    let out = sim
        .run("alt_disk_copy", &["-d", "hdisk1", "-P2"])
        .fails_with(1);
    assert!(
        out.stderr
            .contains("is not in volume group altinst_rootvg: run phase 1 first"),
        "{}",
        out.stderr
    );

    let p1 = sim.run("alt_disk_copy", &["-d", "hdisk1", "-P1"]).ok();
    assert!(
        p1.stdout.trim_end().ends_with("alternate file system..."),
        "{}",
        p1.stdout
    );
    assert!(
        sim.lspv()
            .contains(&("hdisk1".into(), "altinst_rootvg".into(), true)),
        "varied on after phase 1"
    );

    let p2 = sim
        .run(
            "alt_disk_copy",
            &["-d", "hdisk1", "-P2", "-s", &script, "-R", &resolv, "-n"],
        )
        .ok();
    let tree = sim.tree("altinst_rootvg");
    assert!(
        p2.stdout
            .contains(&format!("customizing {}", tree.display())),
        "{}",
        p2.stdout
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("etc/custom")).unwrap(),
        "customized\n"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("etc/resolv.conf")).unwrap(),
        "nameserver 198.51.100.1\n"
    );
    assert!(tree.join("etc/niminfo").is_file());
    assert!(!p2.stdout.contains("forced unmount"));

    let p3 = sim.run("alt_disk_copy", &["-d", "hdisk1", "-P3"]).ok();
    assert!(
        p3.stdout
            .starts_with("forced unmount of /alt_inst/var/adm/ras/livedump\n"),
        "{}",
        p3.stdout
    );
    assert!(
        p3.stdout
            .ends_with("Bootlist is set to the boot disk: hdisk1 blv=hd5\n")
    );
    assert!(
        sim.lspv()
            .contains(&("hdisk1".into(), "altinst_rootvg".into(), false))
    );

    // Asleep: phases 2/3 need it woken up again.
    let out = sim
        .run("alt_disk_copy", &["-d", "hdisk1", "-P23"])
        .fails_with(1);
    assert!(
        out.stderr.contains("not in the post phase 1 state"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("alt_rootvg_op -W -d hdisk1"));
    sim.run("alt_rootvg_op", &["-W", "-d", "hdisk1"]).ok();
    sim.run("alt_disk_copy", &["-d", "hdisk1", "-P23", "-B"])
        .ok();
    assert!(
        sim.lspv()
            .contains(&("hdisk1".into(), "altinst_rootvg".into(), false))
    );

    // A failing script fails phase 2 of a separate run and leaves the group.
    let failing = sim.file("fail.sh", "#!/bin/sh\nexit 3\n", 0o755);
    sim.run("alt_rootvg_op", &["-W", "-d", "hdisk1"]).ok();
    let out = sim
        .run("alt_disk_copy", &["-d", "hdisk1", "-P2", "-s", &failing])
        .fails_with(1);
    assert!(
        out.stderr.contains("The customization script")
            && out.stderr.contains("failed (exit code 3)"),
        "{}",
        out.stderr
    );
    assert_eq!(sim.vg_of("hdisk1"), "altinst_rootvg");
    // In a run that creates the group, any failure cleans it up.
    sim.run("alt_rootvg_op", &["-X"]).ok();
    let out = sim
        .run("alt_disk_copy", &["-d", "hdisk1", "-s", &failing])
        .fails_with(1);
    assert!(out.stdout.ends_with("Cleaning up.\n"), "{}", out.stdout);
    assert_eq!(sim.vg_of("hdisk1"), "None");
}

#[test]
fn alt_rootvg_op_wake_sleep_rename_cleanup() {
    let sim = Sim::new();
    assert!(
        sim.run("alt_rootvg_op", &["-X"])
            .fails_with(1)
            .stderr
            .contains("Volume group altinst_rootvg does not exist.")
    );
    assert!(
        sim.run("alt_rootvg_op", &["-X", "rootvg"])
            .fails_with(1)
            .stderr
            .contains("cannot be removed")
    );
    sim.run("aixsim", &["vg", "create", "datavg", "--disks", "hdisk2"])
        .ok();
    assert!(
        sim.run("alt_rootvg_op", &["-X", "datavg"])
            .fails_with(1)
            .stderr
            .contains("not an alternate rootvg")
    );
    assert!(
        sim.run("alt_rootvg_op", &["-S"])
            .fails_with(1)
            .stderr
            .contains("No alternate rootvg volume group is awake.")
    );
    assert!(
        sim.run("alt_rootvg_op", &[])
            .fails_with(1)
            .stderr
            .contains("Usage: alt_rootvg_op")
    );

    sim.run("alt_disk_copy", &["-d", "hdisk1"]).ok();
    let woke = sim.run("alt_rootvg_op", &["-W", "-d", "hdisk1"]).ok();
    assert!(
        woke.stdout
            .starts_with("Waking up altinst_rootvg volume group ...")
    );
    assert!(
        sim.lspv()
            .contains(&("hdisk1".into(), "altinst_rootvg".into(), true))
    );
    assert!(
        sim.run("alt_rootvg_op", &["-W", "-d", "hdisk1"])
            .fails_with(1)
            .stderr
            .contains("already awake")
    );
    let script = sim.file(
        "c.sh",
        "#!/bin/sh\ntouch \"$DOPPEL_SIM_ALT_INST/customized\"\n",
        0o755,
    );
    sim.run("alt_rootvg_op", &["-C", "-s", &script]).ok();
    assert!(sim.tree("altinst_rootvg").join("customized").exists());
    assert!(
        sim.run("alt_rootvg_op", &["-C", "-b", "update_all"])
            .fails_with(1)
            .stderr
            .contains("-l flag must be used")
    );
    let slept = sim.run("alt_rootvg_op", &["-S", "-t"]).ok();
    assert!(
        slept
            .stdout
            .starts_with("Putting volume group altinst_rootvg to sleep ..."),
        "{}",
        slept.stdout
    );
    assert!(
        sim.lspv()
            .contains(&("hdisk1".into(), "altinst_rootvg".into(), false))
    );

    sim.run("alt_rootvg_op", &["-v", "image_1", "-d", "hdisk1"])
        .ok();
    assert_eq!(sim.vg_of("hdisk1"), "image_1");
    assert!(sim.tree("image_1").join("etc/hosts").is_file());
    // The bootlist pointed at hdisk1: removing it points the list back at rootvg.
    let out = sim.run("alt_rootvg_op", &["-X", "image_1"]).ok();
    assert_eq!(
        out.stdout,
        "Bootlist is set to the boot disk: hdisk0 blv=hd5\n"
    );
    assert_eq!(sim.vg_of("hdisk1"), "None");

    // A level above the running release cannot be woken.
    sim.run("alt_disk_copy", &["-d", "hdisk1", "-B"]).ok();
    sim.run(
        "aixsim",
        &["vg", "set", "altinst_rootvg", "--level", "7300-01-01-2246"],
    )
    .ok();
    assert!(
        sim.run("alt_rootvg_op", &["-W", "-d", "hdisk1"])
            .fails_with(1)
            .stderr
            .contains("higher than the running system")
    );
    sim.run("aixsim", &["fail", "cleanup"]).ok();
    assert!(
        sim.run("alt_rootvg_op", &["-X"])
            .fails_with(1)
            .stderr
            .contains("exportvg failed")
    );
    sim.run("alt_rootvg_op", &["-X"]).ok();
}

#[test]
fn reboot_from_the_clone_leaves_old_rootvg() {
    let sim = Sim::new();
    let out = sim.run("alt_disk_copy", &["-d", "hdisk1", "-r"]).ok();
    assert!(
        out.stdout
            .contains("Bootlist is set to the boot disk: hdisk1 blv=hd5\nRebooting..."),
        "{}",
        out.stdout
    );
    let rows = sim.lspv();
    assert!(
        rows.contains(&("hdisk0".into(), "old_rootvg".into(), false)),
        "{rows:?}"
    );
    assert!(rows.contains(&("hdisk1".into(), "rootvg".into(), true)));
    assert!(sim.tree("rootvg").join("etc/hosts").is_file());
    // Back to the original disk, then clean the old one up.
    sim.run("bootlist", &["-m", "normal", "-o", "hdisk0", "blv=hd5"])
        .ok();
    sim.run("aixsim", &["reboot"]).ok();
    assert_eq!(sim.vg_of("hdisk0"), "rootvg");
    assert_eq!(sim.vg_of("hdisk1"), "old_rootvg");
    sim.run("alt_rootvg_op", &["-X", "old_rootvg"]).ok();
    assert_eq!(sim.vg_of("hdisk1"), "None");
}

#[test]
fn injected_phase_faults_clean_up() {
    let sim = Sim::new();
    sim.run("aixsim", &["fail", "phase2", "--message", "0505-999 boom"])
        .ok();
    let out = sim.run("alt_disk_copy", &["-d", "hdisk1"]).fails_with(1);
    assert_eq!(out.stderr, "0505-999 boom\n");
    assert!(out.stdout.ends_with("Cleaning up.\n"));
    assert_eq!(sim.vg_of("hdisk1"), "None");
    sim.run("aixsim", &["fail", "lspv", "--rc", "3"]).ok();
    assert_eq!(sim.run("lspv", &[]).code, 3);
    sim.run("lspv", &[]).ok();
    sim.run("aixsim", &["fail", "phase1", "--disks", "hdisk2"])
        .ok();
    sim.run("alt_disk_copy", &["-d", "hdisk1", "-B"]).ok();
    assert!(
        sim.run("aixsim", &["faults"])
            .ok()
            .stdout
            .contains("phase1"),
        "not fired on hdisk1"
    );
}

#[test]
fn the_copy_takes_time_and_a_second_run_waits_for_nobody() {
    let mut sim = Sim::new();
    sim.env.retain(|(k, _)| k != "DOPPEL_SIM_TIME_SCALE");
    sim.env.push(("DOPPEL_SIM_TIME_SCALE".into(), "1".into()));
    sim.run("aixsim", &["set", "copy-seconds", "0.8"]).ok();
    let start = Instant::now();
    let mut first = sim
        .cmd("alt_disk_copy", &["-d", "hdisk1", "-B"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(250));
    // During the copy, lspv shows the new group varied on...
    assert!(
        sim.lspv()
            .contains(&("hdisk1".into(), "altinst_rootvg".into(), true))
    );
    // ... and another alt_disk operation is refused.
    let out = sim
        .run("alt_disk_copy", &["-d", "hdisk2", "-B"])
        .fails_with(1);
    assert!(
        out.stderr
            .contains("Another alternate disk operation is in progress (alt_disk_copy, pid"),
        "{}",
        out.stderr
    );
    assert!(
        sim.run("alt_rootvg_op", &["-X"])
            .fails_with(1)
            .stderr
            .contains("in progress")
    );
    assert!(first.wait().unwrap().success());
    assert!(start.elapsed() >= Duration::from_millis(800));
    assert!(
        sim.lspv()
            .contains(&("hdisk1".into(), "altinst_rootvg".into(), false))
    );
}

#[test]
fn hosts_are_separate_machines() {
    let mut sim = Sim::new();
    sim.run(
        "aixsim",
        &["--host", "client1", "init", "--disks", "hdisk5"],
    )
    .ok();
    sim.env
        .push(("DOPPEL_SIM_AIX_HOST".into(), "client1".into()));
    sim.run("alt_disk_copy", &["-d", "hdisk5", "-B"]).ok();
    assert_eq!(sim.vg_of("hdisk5"), "altinst_rootvg");
    sim.env.pop();
    assert!(
        sim.lspv().iter().all(|r| r.0 != "hdisk5"),
        "the local machine is untouched"
    );
    assert!(
        sim.dir
            .path()
            .join("sim/aix/hosts/client1/vg/altinst_rootvg/etc/hosts")
            .is_file()
    );
    assert!(
        sim.run("aixsim", &["--host", "../x", "show"])
            .fails_with(1)
            .stderr
            .contains("invalid simulated host name")
    );
}
