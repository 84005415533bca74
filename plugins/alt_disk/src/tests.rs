//! Unit tests with a fake host: a tiny machine answers lspv, bootlist,
//! alt_disk_copy and alt_rootvg_op.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use doppel_plugin_api::{CommandOutput, HostServices, Level, MessageLevel};

use super::*;
use crate::layout::{Pv, parse_bootlist, parse_lspv};

/// The machine as the fake tools see it: disk → (vg, active); bootlist disks.
#[derive(Default)]
struct Machine {
    pvs: Vec<(String, Option<String>, bool)>,
    bootlist: Vec<String>,
    /// Exit code and stderr of the next alt_disk_copy, instead of success.
    copy_fails: Option<(i32, String)>,
    lspv_fails: bool,
}

struct Fake {
    calls: Mutex<Vec<CommandRequest>>,
    logs: Mutex<Vec<(Level, String)>>,
    state: Mutex<BTreeMap<String, String>>,
    machine: Mutex<Machine>,
    dry_run: bool,
}

fn ok(stdout: &str) -> Result<CommandOutput, Error> {
    Ok(CommandOutput::exited(0, stdout, ""))
}

impl Fake {
    fn new(pvs: &[(&str, Option<&str>, bool)]) -> Arc<Fake> {
        Arc::new(Fake {
            calls: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
            state: Mutex::new(BTreeMap::new()),
            machine: Mutex::new(Machine {
                pvs: pvs
                    .iter()
                    .map(|(d, vg, a)| ((*d).to_owned(), vg.map(str::to_owned), *a))
                    .collect(),
                bootlist: vec!["hdisk0".into()],
                ..Machine::default()
            }),
            dry_run: false,
        })
    }

    /// hdisk0 rootvg, hdisk1 and hdisk2 free.
    fn fresh() -> Arc<Fake> {
        Fake::new(&[
            ("hdisk0", Some("rootvg"), true),
            ("hdisk1", None, false),
            ("hdisk2", None, false),
        ])
    }

    fn dry(self: Arc<Fake>) -> Arc<Fake> {
        let f = Arc::try_unwrap(self).ok().expect("unshared");
        Arc::new(Fake { dry_run: true, ..f })
    }

    fn commands(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| !c.read_only)
            .map(|c| c.display())
            .collect()
    }

    fn vg(&self, disk: &str) -> Option<String> {
        self.machine
            .lock()
            .unwrap()
            .pvs
            .iter()
            .find(|p| p.0 == disk)
            .and_then(|p| p.1.clone())
    }

    fn put(&self, key: &str, value: &str) {
        self.state.lock().unwrap().insert(key.into(), value.into());
    }

    fn lspv(&self) -> String {
        let m = self.machine.lock().unwrap();
        m.pvs
            .iter()
            .map(|(d, vg, a)| {
                format!(
                    "{d:<15} {:<35} {:<15} {}\n",
                    "00f6db0a00000000",
                    vg.as_deref().unwrap_or("None"),
                    if *a { "active" } else { "" }
                )
            })
            .collect()
    }

    fn copy(&self, argv: &[String]) -> Result<CommandOutput, Error> {
        let mut m = self.machine.lock().unwrap();
        if let Some((code, stderr)) = m.copy_fails.take() {
            return Ok(CommandOutput::exited(code, "", &stderr));
        }
        let disks: Vec<String> = argv[2].split_whitespace().map(str::to_owned).collect();
        let phase = argv
            .iter()
            .find_map(|a| a.strip_prefix("-P"))
            .unwrap_or("all")
            .to_owned();
        for p in m.pvs.iter_mut().filter(|p| disks.contains(&p.0)) {
            p.1 = Some(ALTINST.into());
            p.2 = !(phase.contains('3') || phase == "all");
        }
        if (phase.contains('3') || phase == "all") && !argv.iter().any(|a| a == "-B") {
            m.bootlist = vec![disks[0].clone()];
        }
        ok("Bootlist is set to the boot disk: hdisk1 blv=hd5\n")
    }
}

impl HostServices for Fake {
    fn log(&self, level: Level, message: &str) {
        self.logs.lock().unwrap().push((level, message.to_owned()));
    }

    fn run_command(&self, request: &CommandRequest) -> Result<CommandOutput, Error> {
        self.calls.lock().unwrap().push(request.clone());
        if self.dry_run && !request.read_only {
            return Ok(CommandOutput::skipped());
        }
        let argv = &request.argv;
        match argv[0].rsplit('/').next().unwrap() {
            "lspv" => {
                if self.machine.lock().unwrap().lspv_fails {
                    return Ok(CommandOutput::exited(1, "", "lspv: ODM error"));
                }
                ok(&self.lspv())
            }
            "bootlist" => {
                let m = self.machine.lock().unwrap();
                ok(&m
                    .bootlist
                    .iter()
                    .map(|d| format!("{d} blv=hd5 pathid=0\n{d} blv=hd5 pathid=1\n"))
                    .collect::<String>())
            }
            "alt_disk_copy" => self.copy(argv),
            "alt_rootvg_op" => {
                let mut m = self.machine.lock().unwrap();
                match argv[1].as_str() {
                    "-X" => {
                        for p in m.pvs.iter_mut().filter(|p| p.1.as_deref() == Some(ALTINST)) {
                            p.1 = None;
                            p.2 = false;
                        }
                    }
                    "-W" => m
                        .pvs
                        .iter_mut()
                        .filter(|p| p.1.as_deref() == Some(ALTINST))
                        .for_each(|p| p.2 = true),
                    "-S" => m
                        .pvs
                        .iter_mut()
                        .filter(|p| p.1.as_deref() == Some(ALTINST))
                        .for_each(|p| p.2 = false),
                    other => panic!("unexpected alt_rootvg_op {other}"),
                }
                ok("")
            }
            other => panic!("unexpected command {other}"),
        }
    }

    fn state_get(&self, key: &str) -> Option<String> {
        self.state.lock().unwrap().get(key).cloned()
    }

    fn state_put(&self, key: &str, value: &str) -> Result<(), Error> {
        if !self.dry_run {
            self.state.lock().unwrap().insert(key.into(), value.into());
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

fn config(pairs: &[(&str, &str)]) -> ResourceConfig {
    let mut c = ResourceConfig::new("altroot", "disk#0", "n1");
    c.keywords.insert("disks".into(), "hdisk1".into());
    for (k, v) in pairs {
        c.keywords.insert((*k).into(), (*v).into());
    }
    c.driver_options
        .insert("bin".into(), serde_json::Value::String("/sim/bin".into()));
    c
}

fn open(fake: &Arc<Fake>, pairs: &[(&str, &str)]) -> AltDisk {
    AltDisk::open(config(pairs), Host::new(fake.clone())).unwrap()
}

fn request(action: &str, options: &[(&str, &str)]) -> ActionRequest {
    options
        .iter()
        .fold(ActionRequest::new(action), |r, (k, v)| r.option(k, v))
}

fn problems(pairs: &[(&str, &str)]) -> Vec<String> {
    AltDisk::validate(&config(pairs))
        .into_iter()
        .map(|p| format!("{}: {}", p.keyword.unwrap_or_default(), p.message))
        .collect()
}

#[test]
fn manifest_declares_the_keywords_and_actions() {
    let m = AltDisk::manifest();
    assert_eq!(m.type_name(), "disk.alt_disk");
    for kw in [
        "disks",
        "exclude_list",
        "script",
        "first_boot_script",
        "resolv_conf",
        "image_data",
        "set_bootlist",
        "remain_nim_client",
        "device_reset",
        "jfs2",
        "bundle",
        "fixes",
        "filesets",
        "images",
        "reboot",
        "sync_max_delay",
    ] {
        assert!(m.find_keyword(kw).is_some(), "{kw}");
    }
    assert!(m.find_keyword("disks").unwrap().required);
    assert_eq!(
        m.find_keyword("set_bootlist").unwrap().default.as_deref(),
        Some("False")
    );
    for a in ["provision", "unprovision", "sync_update", "wake", "sleep"] {
        assert!(m.find_action(a).is_some(), "{a}");
    }
}

#[test]
fn the_command_line_follows_the_keywords() {
    let fake = Fake::fresh();
    let d = open(&fake, &[]);
    let disks = vec!["hdisk1".to_owned(), "hdisk2".to_owned()];
    assert_eq!(
        d.copy_argv(&disks, &Phases::all()),
        ["/sim/bin/alt_disk_copy", "-d", "hdisk1 hdisk2", "-B"]
    );
    let d = open(
        &fake,
        &[
            ("image_data", "/tmp/image.data"),
            ("script", "/usr/local/bin/custom"),
            ("bundle", "/tmp/b"),
            ("installp_flags", "-acgXY"),
            ("images", "/updates"),
            ("fix_bundle", "/tmp/f"),
            ("fixes", "IX1 IX2"),
            ("exclude_list", "/etc/exclude.rootvg"),
            ("filesets", "bos.rte bos.net"),
            ("remain_nim_client", "true"),
            ("console", "/dev/vty0"),
            ("first_boot_script", "/usr/local/bin/fb"),
            ("resolv_conf", "/etc/resolv.new"),
            ("set_bootlist", "true"),
            ("device_reset", "yes"),
            ("reboot", "true"),
            ("jfs2", "true"),
        ],
    );
    let argv = d.copy_argv(&disks, &Phases::parse("23").unwrap());
    assert_eq!(
        argv.join(" "),
        "/sim/bin/alt_disk_copy -d hdisk1 hdisk2 -i /tmp/image.data -s /usr/local/bin/custom -b /tmp/b -I -acgXY \
         -l /updates -f /tmp/f -F IX1 IX2 -e /etc/exclude.rootvg -w bos.rte bos.net -n -P23 -c /dev/vty0 \
         -x /usr/local/bin/fb -R /etc/resolv.new -O -r -T"
    );
    assert!(
        argv.contains(&"IX1 IX2".to_owned()),
        "fixes go in one argument"
    );
    // -r only when phase 3 runs.
    assert!(
        !d.copy_argv(&disks, &Phases::parse("12").unwrap())
            .contains(&"-r".to_owned())
    );
    assert_eq!(Phases::parse("123").unwrap().arg.as_deref(), Some("all"));
    let e = Phases::parse("4").unwrap_err();
    assert!(
        e.message.contains("1, 2, 3, 12, 23 or all"),
        "{}",
        e.message
    );
}

#[test]
fn validation_explains_the_seed_rules() {
    assert!(problems(&[]).is_empty(), "{:?}", problems(&[]));
    let p = problems(&[("reboot", "true")]);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("reboot: reboot = true needs set_bootlist = true"),
        "{p:?}"
    );
    assert!(p[0].contains("-r flag cannot be used with -B"));
    assert!(problems(&[("reboot", "true"), ("set_bootlist", "true")]).is_empty());
    let p = problems(&[
        ("bundle", "/tmp/b"),
        ("fixes", "IX1"),
        ("filesets", "bos.rte"),
        ("installp_flags", "-a"),
        ("fix_bundle", "/f"),
    ]);
    assert_eq!(p.len(), 5, "{p:?}");
    assert!(
        p[0].starts_with("bundle: bundle (-b) needs images"),
        "{p:?}"
    );
    assert!(p.iter().all(|m| m.contains("requires the -l flag")));
    assert!(problems(&[("bundle", "/tmp/b"), ("images", "/updates")]).is_empty());
    let p = problems(&[("console", "/dev/vty0")]);
    assert!(p[0].contains("only with -O"), "{p:?}");
    let p = problems(&[("exclude_list", "exclude.list"), ("script", "custom.sh")]);
    assert_eq!(p.len(), 2);
    assert!(
        p[0].starts_with("exclude_list: 'exclude.list' must be a full path name"),
        "{p:?}"
    );
    let p = problems(&[("disks", "hdisk1 hdisk1 'x'")]);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p.iter().any(|m| m.contains("hdisk1 is listed twice")));
}

#[test]
fn provision_clones_and_records_the_time() {
    let fake = Fake::fresh();
    let d = open(&fake, &[("set_bootlist", "true")]);
    let out = d.action(&request("provision", &[])).unwrap();
    assert_eq!(fake.commands(), ["/sim/bin/alt_disk_copy -d hdisk1"]);
    assert_eq!(out.messages[0], "cloned rootvg to hdisk1 (all phases)");
    assert_eq!(out.messages[1], "the normal bootlist points at hdisk1");
    assert!(
        fake.state_get(KEY_CLONED_AT)
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
    assert_eq!(fake.state_get(KEY_PHASES).as_deref(), Some("123"));
    // Again: nothing to do.
    let again = d.action(&request("provision", &[])).unwrap();
    assert!(again.noop);
    assert!(
        again.messages[0].contains("already on hdisk1"),
        "{:?}",
        again.messages
    );
    assert_eq!(fake.commands().len(), 1);
    // --force rebuilds.
    let mut forced = request("provision", &[]);
    forced.force = true;
    d.action(&forced).unwrap();
    assert_eq!(
        fake.commands()[1..],
        [
            "/sim/bin/alt_rootvg_op -X altinst_rootvg",
            "/sim/bin/alt_disk_copy -d hdisk1"
        ]
    );
}

#[test]
fn phases_continue_a_clone() {
    let fake = Fake::fresh();
    let d = open(&fake, &[]);
    let e = d
        .action(&request("provision", &[("phase", "23")]))
        .unwrap_err();
    assert!(
        e.message.contains(
            "--phase 23 continues a clone made by phase 1, but hdisk1 is in volume group None"
        ),
        "{}",
        e.message
    );
    d.action(&request("provision", &[("phase", "1")])).unwrap();
    assert_eq!(fake.state_get(KEY_PHASES).as_deref(), Some("1"));
    let status = d.status().unwrap();
    assert_eq!(status.state, Status::Warn);
    assert!(status.messages.iter().any(|m| {
        m.text
            .contains("unfinished (phases done: 1): continue with `provision --phase 23`")
    }));
    let e = d.action(&request("provision", &[])).unwrap_err();
    assert!(
        e.message
            .contains("already holds an unfinished altinst_rootvg (phases done: 1)"),
        "{}",
        e.message
    );
    d.action(&request("provision", &[("phase", "2")])).unwrap();
    d.action(&request("provision", &[("phase", "3")])).unwrap();
    assert_eq!(fake.state_get(KEY_PHASES).as_deref(), Some("123"));
    assert_eq!(
        fake.commands(),
        [
            "/sim/bin/alt_disk_copy -d hdisk1 -P1 -B",
            "/sim/bin/alt_disk_copy -d hdisk1 -P2 -B",
            "/sim/bin/alt_disk_copy -d hdisk1 -P3 -B"
        ]
    );
    assert_eq!(d.status().unwrap().state, Status::Up);
}

#[test]
fn disks_of_other_volume_groups_are_refused() {
    let fake = Fake::new(&[
        ("hdisk0", Some("rootvg"), true),
        ("hdisk1", None, false),
        ("hdisk2", Some("datavg"), true),
    ]);
    let d = open(&fake, &[("disks", "hdisk1 hdisk2")]);
    for action in ["provision", "sync_update", "wake"] {
        let e = d.action(&request(action, &[])).unwrap_err();
        assert!(e.message.starts_with("hdisk2 belongs to volume group datavg: alt_disk_copy needs target disks in volume group None"), "{action}: {}", e.message);
    }
    let d = open(&fake, &[("disks", "hdisk0")]);
    let e = d.action(&request("provision", &[])).unwrap_err();
    assert!(
        e.message
            .contains("hdisk0 belongs to volume group rootvg (the running system's)"),
        "{}",
        e.message
    );
    let d = open(&fake, &[("disks", "hdisk7")]);
    assert!(
        d.action(&request("provision", &[]))
            .unwrap_err()
            .message
            .contains("hdisk7 is not a disk of this node")
    );
    assert!(fake.commands().is_empty());
    // Somebody else's altinst_rootvg.
    let fake = Fake::new(&[
        ("hdisk0", Some("rootvg"), true),
        ("hdisk1", None, false),
        ("hdisk3", Some(ALTINST), false),
    ]);
    let d = open(&fake, &[]);
    let e = d.action(&request("provision", &[])).unwrap_err();
    assert!(
        e.message
            .contains("altinst_rootvg already exists on hdisk3, which is not in 'disks'"),
        "{}",
        e.message
    );
    let e = d.action(&request("sync_update", &[])).unwrap_err();
    assert!(e.message.contains("refusing to remove it"), "{}", e.message);
    assert!(d.action(&request("unprovision", &[])).unwrap().noop);
    assert!(fake.commands().is_empty());
}

#[test]
fn refresh_removes_then_clones_again() {
    let fake = Fake::fresh();
    let d = open(&fake, &[]);
    let out = d.action(&request("sync_update", &[])).unwrap();
    assert_eq!(
        fake.commands(),
        ["/sim/bin/alt_disk_copy -d hdisk1 -B"],
        "nothing to remove the first time"
    );
    assert_eq!(out.messages, ["cloned rootvg to hdisk1 (all phases)"]);
    fake.put(KEY_CLONED_AT, "2020-01-01T00:00:00Z");
    let out = d.action(&request("sync_update", &[])).unwrap();
    assert_eq!(
        fake.commands()[1..],
        [
            "/sim/bin/alt_rootvg_op -X altinst_rootvg",
            "/sim/bin/alt_disk_copy -d hdisk1 -B"
        ]
    );
    assert_eq!(
        out.messages[0],
        "removed the previous altinst_rootvg on hdisk1"
    );
    assert_ne!(
        fake.state_get(KEY_CLONED_AT).as_deref(),
        Some("2020-01-01T00:00:00Z")
    );
    let e = d
        .action(&request("sync_update", &[("phase", "23")]))
        .unwrap_err();
    assert!(
        e.message
            .contains("sync update rebuilds the clone from phase 1"),
        "{}",
        e.message
    );
}

#[test]
fn a_failed_copy_records_nothing() {
    let fake = Fake::fresh();
    fake.machine.lock().unwrap().copy_fails = Some((
        1,
        "0505-124 alt_disk_install: The target disk(s) hdisk1 are too small".into(),
    ));
    let d = open(&fake, &[]);
    let e = d.action(&request("provision", &[])).unwrap_err();
    assert_eq!(
        e.message,
        "alt_disk_copy exited with code 1: 0505-124 alt_disk_install: The target disk(s) hdisk1 are too small"
    );
    assert!(fake.state_get(KEY_CLONED_AT).is_none());
}

#[test]
fn unprovision_wake_sleep() {
    let fake = Fake::fresh();
    let d = open(&fake, &[]);
    let out = d.action(&request("unprovision", &[])).unwrap();
    assert!(out.noop);
    assert_eq!(
        out.messages[0],
        "no altinst_rootvg on hdisk1 (None): nothing to remove"
    );
    assert!(
        d.action(&request("wake", &[]))
            .unwrap_err()
            .message
            .contains("no altinst_rootvg on hdisk1 to wake up")
    );
    d.action(&request("provision", &[])).unwrap();
    assert!(d.action(&request("sleep", &[])).unwrap().noop);
    assert!(!d.action(&request("wake", &[])).unwrap().noop);
    assert!(d.action(&request("wake", &[])).unwrap().noop);
    assert!(
        d.status()
            .unwrap()
            .messages
            .iter()
            .any(|m| m.text.contains("awake"))
    );
    assert!(!d.action(&request("sleep", &[])).unwrap().noop);
    let out = d.action(&request("unprovision", &[])).unwrap();
    assert_eq!(out.messages, ["removed altinst_rootvg from hdisk1"]);
    assert_eq!(fake.vg("hdisk1"), None);
    assert_eq!(fake.state_get(KEY_CLONED_AT).as_deref(), Some(""));
    assert_eq!(
        fake.commands(),
        [
            "/sim/bin/alt_disk_copy -d hdisk1 -B",
            "/sim/bin/alt_rootvg_op -W -d hdisk1",
            "/sim/bin/alt_rootvg_op -S",
            "/sim/bin/alt_rootvg_op -X altinst_rootvg"
        ]
    );
}

#[test]
fn dry_run_changes_nothing() {
    let fake = Fake::fresh().dry();
    let d = open(&fake, &[]);
    let mut req = request("provision", &[]);
    req.dry_run = true;
    let out = d.action(&req).unwrap();
    assert_eq!(out.messages, ["would clone rootvg to hdisk1 (all phases)"]);
    assert!(fake.state_get(KEY_CLONED_AT).is_none());
    assert_eq!(fake.vg("hdisk1"), None);
}

fn texts(r: &StatusReport) -> Vec<String> {
    r.messages
        .iter()
        .map(|m| {
            let l = match m.level {
                MessageLevel::Info => "info",
                MessageLevel::Warn => "warn",
                MessageLevel::Error => "error",
            };
            format!("{l}: {}", m.text)
        })
        .collect()
}

#[test]
fn status_cases() {
    let fake = Fake::fresh();
    let d = open(&fake, &[]);
    let report = |d: &AltDisk| d.report(&d.layout().unwrap(), d.bootlist());
    let r = report(&d);
    assert_eq!(r.state, Status::Down);
    assert_eq!(
        texts(&r),
        [
            "info: no altinst_rootvg on hdisk1",
            "info: next boot: hdisk0 (rootvg); bootlist -m normal: hdisk0"
        ]
    );

    d.action(&request("provision", &[])).unwrap();
    fake.put(KEY_CLONED_AT, "2024-06-01T10:00:00Z");
    let r = report(&d);
    assert_eq!(r.state, Status::Up);
    assert_eq!(r.last_sync.as_deref(), Some("2024-06-01T10:00:00Z"));
    assert_eq!(
        texts(&r),
        [
            "info: altinst_rootvg on hdisk1",
            "info: next boot: hdisk0 (rootvg); bootlist -m normal: hdisk0"
        ]
    );

    // The clone time is the last sync: doppel applies sync_max_delay to it.
    let d = open(&fake, &[("sync_max_delay", "60")]);
    let r = report(&d);
    assert_eq!(r.state, Status::Up);
    assert_eq!(r.last_sync.as_deref(), Some("2024-06-01T10:00:00Z"));

    // The bootlist points at the clone.
    fake.machine.lock().unwrap().bootlist = vec!["hdisk1".into(), "hdisk0".into()];
    assert!(texts(&report(&d)).contains(&"info: next boot: hdisk1 (altinst_rootvg, the clone); bootlist -m normal: hdisk1 hdisk0".to_owned()));
    fake.machine.lock().unwrap().bootlist.clear();
    assert!(texts(&report(&d)).contains(&"warn: the normal bootlist is empty".to_owned()));

    // After booting the clone.
    *fake.machine.lock().unwrap() = Machine {
        pvs: vec![
            ("hdisk0".into(), Some(OLD_ROOTVG.into()), false),
            ("hdisk1".into(), Some(ROOTVG.into()), true),
        ],
        bootlist: vec!["hdisk1".into()],
        ..Machine::default()
    };
    let r = report(&d);
    assert_eq!(r.state, Status::Warn);
    let t = texts(&r);
    assert!(
        t[0].starts_with("warn: the system runs from the clone: hdisk1 is rootvg now"),
        "{t:?}"
    );
    assert!(
        t[1].starts_with("warn: old_rootvg on hdisk0: the former rootvg"),
        "{t:?}"
    );
    assert_eq!(
        t[2],
        "info: next boot: hdisk1 (rootvg, the clone); bootlist -m normal: hdisk1"
    );

    // lspv failing: undef.
    fake.machine.lock().unwrap().lspv_fails = true;
    let r = d.status().unwrap();
    assert_eq!(r.state, Status::Undef);
    assert_eq!(
        texts(&r),
        ["error: lspv exited with code 1: lspv: ODM error"]
    );
}

#[test]
fn status_of_odd_layouts() {
    let fake = Fake::new(&[
        ("hdisk0", Some("rootvg"), true),
        ("hdisk1", Some(ALTINST), false),
        ("hdisk2", None, false),
    ]);
    let d = open(&fake, &[("disks", "hdisk1 hdisk2")]);
    let r = d.report(&d.layout().unwrap(), Ok(vec!["hdisk0".into()]));
    assert_eq!(r.state, Status::Warn);
    assert_eq!(
        texts(&r)[0],
        "warn: altinst_rootvg holds hdisk1 but not hdisk2"
    );
    let d = open(&fake, &[("disks", "hdisk1")]);
    let r = d.report(
        &d.layout().unwrap(),
        Err(Error::failed("bootlist exited with code 1")),
    );
    assert_eq!(r.state, Status::Up);
    let t = texts(&r);
    assert!(
        t.contains(&"info: clone time unknown: it was not made by this resource".to_owned()),
        "{t:?}"
    );
    assert!(t.contains(&"warn: cannot read the bootlist: bootlist exited with code 1".to_owned()));
    let d = open(&fake, &[("disks", "hdisk9")]);
    assert_eq!(
        texts(&d.report(&d.layout().unwrap(), Ok(vec![])))[0],
        "warn: hdisk9 not listed by lspv"
    );
}

#[test]
fn parsers() {
    let pvs = parse_lspv(
        "hdisk0          00f6db0a6c7aece5                    rootvg          active\nhdisk1  none  None\n\ngarbage\n",
    );
    assert_eq!(pvs.len(), 2);
    assert_eq!(
        pvs[0],
        Pv {
            name: "hdisk0".into(),
            vg: Some("rootvg".into()),
            active: true
        }
    );
    assert_eq!(pvs[1].vg, None);
    assert_eq!(
        parse_bootlist(
            "hdisk1 blv=hd5 pathid=0\nhdisk1 blv=hd5 pathid=1\nhdisk0 blv=hd5 pathid=0\n"
        ),
        ["hdisk1", "hdisk0"]
    );
    let _ = Level::Info;
}

/// An alt_disk resource whose node-config table is `options`.
fn open_with_options(fake: &Arc<Fake>, options: &[(&str, &str)]) -> AltDisk {
    let mut c = config(&[]);
    c.driver_options.clear();
    for (k, v) in options {
        c.driver_options
            .insert((*k).into(), serde_json::Value::String((*v).into()));
    }
    AltDisk::open(c, Host::new(fake.clone())).unwrap()
}

/// The programs run by provision, status and unprovision, in order, once each.
fn programs_run(d: &AltDisk, fake: &Arc<Fake>) -> Vec<String> {
    d.status().unwrap();
    d.action(&request("provision", &[])).unwrap();
    d.action(&request("unprovision", &[])).unwrap();
    let mut seen: Vec<String> = Vec::new();
    for c in fake.calls.lock().unwrap().iter() {
        if !seen.contains(&c.argv[0]) {
            seen.push(c.argv[0].clone());
        }
    }
    seen
}

#[test]
fn tools_default_to_their_aix_paths() {
    let fake = Fake::fresh();
    let d = open_with_options(&fake, &[]);
    assert_eq!(
        programs_run(&d, &fake),
        [
            "/usr/sbin/lspv",
            "/usr/bin/bootlist",
            "/usr/sbin/alt_disk_copy",
            "/usr/sbin/alt_rootvg_op"
        ]
    );
    assert_eq!(
        fake.commands(),
        [
            "/usr/sbin/alt_disk_copy -d hdisk1 -B",
            "/usr/sbin/alt_rootvg_op -X altinst_rootvg"
        ]
    );
}

#[test]
fn bin_relocates_every_tool_and_a_tool_key_wins_over_it() {
    let fake = Fake::fresh();
    let d = open_with_options(&fake, &[("bin", "/lab/sim/")]);
    assert_eq!(
        programs_run(&d, &fake),
        [
            "/lab/sim/lspv",
            "/lab/sim/bootlist",
            "/lab/sim/alt_disk_copy",
            "/lab/sim/alt_rootvg_op"
        ]
    );
    let fake = Fake::fresh();
    let d = open_with_options(
        &fake,
        &[("bin", "/lab/sim"), ("bootlist", "/opt/site/bin/bootlist")],
    );
    assert_eq!(
        programs_run(&d, &fake),
        [
            "/lab/sim/lspv",
            "/opt/site/bin/bootlist",
            "/lab/sim/alt_disk_copy",
            "/lab/sim/alt_rootvg_op"
        ]
    );
    let fake = Fake::fresh();
    let d = open_with_options(
        &fake,
        &[
            ("alt_disk_copy", "/opt/a/alt_disk_copy"),
            ("alt_rootvg_op", "/opt/b/alt_rootvg_op"),
            ("lspv", "/opt/c/lspv"),
        ],
    );
    assert_eq!(
        programs_run(&d, &fake),
        [
            "/opt/c/lspv",
            "/usr/bin/bootlist",
            "/opt/a/alt_disk_copy",
            "/opt/b/alt_rootvg_op"
        ]
    );
    assert_eq!(
        NODE_CONFIG_KEYS,
        ["bin", "alt_disk_copy", "alt_rootvg_op", "lspv", "bootlist"]
    );
}

#[test]
fn a_relative_tool_path_in_the_node_config_is_refused() {
    let mut c = config(&[]);
    c.driver_options.insert(
        "bootlist".into(),
        serde_json::Value::String("bin/bootlist".into()),
    );
    let problems: Vec<String> = AltDisk::validate(&c)
        .into_iter()
        .map(|p| p.message)
        .collect();
    assert_eq!(
        problems,
        [
            "node config [driver.alt_disk] bootlist = 'bin/bootlist': must be the full path of bootlist"
        ]
    );
}

#[test]
fn the_bootlist_is_left_alone_unless_the_service_asks() {
    // doppel's rule for disk.alt_disk and task.nimadm (issue 22).
    let fake = Fake::fresh();
    let disks = vec!["hdisk1".to_owned()];
    assert_eq!(
        open(&fake, &[]).copy_argv(&disks, &Phases::all()),
        ["/sim/bin/alt_disk_copy", "-d", "hdisk1", "-B"]
    );
    assert_eq!(
        open(&fake, &[("set_bootlist", "true")]).copy_argv(&disks, &Phases::all()),
        ["/sim/bin/alt_disk_copy", "-d", "hdisk1"]
    );
}

#[test]
fn the_manifest_declares_every_node_config_key_the_driver_reads() {
    let m = <AltDisk as Driver>::manifest();
    let declared: Vec<String> = m
        .node_options
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(declared, NODE_CONFIG_KEYS);
}
