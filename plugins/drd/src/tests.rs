//! Unit tests with a fake host answering drd commands with canned output.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use doppel_plugin_api::testing::FakeHost;
use doppel_plugin_api::{CommandOutput, CommandRequest, MessageLevel};

use super::*;

const BEGIN: &str = "=======  04/21/10 09:05:53 EDT  BEGIN";
const END: &str = "=======  04/21/10 09:38:48 EDT  END";
const JOB: &str = "(user=root)  (jobid=sheldon-01)";

fn banner(op: &str, body: &str, ok: bool) -> String {
    let verdict = if ok { "succeeded" } else { "failed" };
    format!("{BEGIN} {op} {JOB}\n\n{body}\n\n{END} {op} {verdict}. {JOB}\n")
}

fn answer(code: i32, stderr: String) -> CommandOutput {
    CommandOutput::exited(code, "", &stderr)
}

fn status_text(clone: Option<(&str, &str, &str)>, booted: &str, activated: &str) -> String {
    let (disk, created, synced) = clone.unwrap_or(("None", "None", "None"));
    let efi = if clone.is_some() {
        "AUTO file present, Boot loader present"
    } else {
        "None"
    };
    let body = format!(
        "  Original Disk:              /dev/disk/disk1\n  Original EFI Partition:     AUTO file present, Boot loader present\n  Clone Disk:                 {disk}\n  Clone EFI Partition:        {efi}\n  Clone Creation Date:        {created}\n  Last Sync Date:             {synced}\n  Clone Mirror Disk:          None\n  Mirror EFI Partition:       None\n  Booted Disk:                {booted}\n  Activated Disk:             {activated}"
    );
    banner("Displaying DRD Clone Image Information", &body, true)
}

const ORIG: &str = "Original Disk (/dev/disk/disk1)";
const CLONE: &str = "Clone Disk (/dev/disk/disk2)";

/// A [`FakeHost`] answering drd by mode: "<mode>" or "<mode> -p" → answer;
/// unknown modes succeed with an empty banner; tools outside /sim/bin are not found.
struct Fake {
    host: Arc<FakeHost>,
    answers: Arc<Mutex<BTreeMap<String, CommandOutput>>>,
}

impl Fake {
    fn new(dry_run: bool) -> Fake {
        let answers = Arc::new(Mutex::new(BTreeMap::new()));
        let table = answers.clone();
        let respond = move |request: &CommandRequest| {
            if !request.argv[0].starts_with("/sim/bin/") {
                return Err(Error::failed(format!(
                    "{}: command not found",
                    request.argv[0]
                )));
            }
            let mode = request.argv.get(1).cloned().unwrap_or_default();
            let key = if request.argv.iter().any(|a| a == "-p") {
                format!("{mode} -p")
            } else {
                mode.clone()
            };
            let answers = table.lock().unwrap();
            Ok(answers
                .get(&key)
                .cloned()
                .unwrap_or_else(|| answer(0, banner(&format!("{mode} operation"), "* done", true))))
        };
        let host = if dry_run {
            FakeHost::dry_run(respond)
        } else {
            FakeHost::new(respond)
        };
        let fake = Fake { host, answers };
        fake.on("status", answer(0, status_text(None, ORIG, ORIG)));
        fake
    }

    fn on(&self, key: &str, out: CommandOutput) {
        self.answers.lock().unwrap().insert(key.to_owned(), out);
    }

    fn calls(&self) -> Vec<CommandRequest> {
        self.host.commands()
    }

    fn commands(&self) -> Vec<String> {
        self.calls().iter().map(|c| c.argv.join(" ")).collect()
    }

    fn logged(&self, level: Level) -> Vec<String> {
        self.host
            .logs()
            .into_iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, m)| m)
            .collect()
    }
}

struct Setup {
    fake: Fake,
    drd: Drd,
    sysroot: tempfile::TempDir,
}

fn setup(keywords: &[(&str, &str)], dry_run: bool) -> Setup {
    let sysroot = tempfile::tempdir().unwrap();
    let mut config = ResourceConfig::new("root", "sync#0", "hpux01");
    for (k, v) in keywords {
        config.keywords.insert((*k).into(), (*v).into());
    }
    config
        .driver_options
        .insert("bin".into(), serde_json::Value::String("/sim/bin/".into()));
    config.driver_options.insert(
        "sysroot".into(),
        serde_json::Value::String(sysroot.path().display().to_string()),
    );
    let fake = Fake::new(dry_run);
    let drd = Drd::open(config, fake.host.host()).unwrap();
    Setup { fake, drd, sysroot }
}

impl Setup {
    fn list(&self, name: &str, lines: &[&str]) {
        let dir = self.sysroot.path().join("var/opt/drd/sync");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(name),
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
    }

    fn act(&self, action: &str, dry_run: bool, force: bool) -> Result<ActionOutcome, Error> {
        let mut request = ActionRequest::new(action);
        request.dry_run = dry_run;
        request.force = force;
        self.drd.action(&request)
    }
}

fn utc() -> TimeZone {
    TimeZone::UTC
}

#[test]
fn manifest_lists_keywords_and_actions() {
    let m = Drd::manifest();
    assert_eq!(m.type_name(), "sync.drd");
    let names: Vec<&str> = m.keywords.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "target",
            "overwrite",
            "exclude_list",
            "mirror_disk",
            "verbosity"
        ]
    );
    assert!(m.keywords.iter().all(|k| !k.desc.is_empty()));
    assert_eq!(
        m.find_keyword("overwrite").unwrap().default.as_deref(),
        Some("false")
    );
    let actions: Vec<&str> = m.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        actions,
        [
            "provision",
            "sync_update",
            "sync_resync",
            "activate",
            "deactivate",
            "mount",
            "umount"
        ]
    );
}

#[test]
fn banners_and_messages() {
    assert_eq!(
        verdict(&banner("Clone System Image", "* x", true)),
        Verdict::Succeeded
    );
    assert_eq!(
        verdict(&banner("Clone System Image", "ERROR:   bad", false)),
        Verdict::Failed
    );
    assert_eq!(
        verdict(&format!("{BEGIN} Clone System Image {JOB}\n\n* Reading\n")),
        Verdict::Missing
    );
    // The BEGIN banner's operation name must not be taken for an END banner.
    assert_eq!(
        verdict(&format!("{BEGIN} Append END Records {JOB}\n")),
        Verdict::Missing
    );
    let text = "* step\nERROR:   The disk \"/dev/disk/disk3\" contains data.\n         Use \"-x overwrite=true\" to overwrite it.\n\nWARNING: one\nNOTE:    n\n";
    assert_eq!(
        messages(text, "ERROR:"),
        ["The disk \"/dev/disk/disk3\" contains data. Use \"-x overwrite=true\" to overwrite it."]
    );
    assert_eq!(messages(text, "WARNING:"), ["one"]);
}

#[test]
fn status_fields_parse_with_or_without_stars() {
    let plain = DrdStatus::parse(&status_text(
        Some(("/dev/disk/disk2", "05/10/18 16:52:21 METDST", "None")),
        ORIG,
        CLONE,
    ));
    assert_eq!(plain.value("Clone Disk"), Some("/dev/disk/disk2"));
    assert_eq!(plain.value("Last Sync Date"), None);
    assert_eq!(
        plain.value("Clone Creation Date"),
        Some("05/10/18 16:52:21 METDST")
    );
    assert_eq!(plain.device("Booted Disk"), Some("/dev/disk/disk1"));
    assert!(plain.is_clone("Activated Disk") && !plain.is_clone("Booted Disk"));
    let starred = DrdStatus::parse(
        "       * Clone Disk:               /dev/disk/disk6\n       * Clone Creation Date:      06/24/10 15:46:18 EDT\n",
    );
    assert_eq!(starred.value("Clone Disk"), Some("/dev/disk/disk6"));
    assert!(starred.has_clone());
    let when = parse_drd_date("05/10/18 16:52:21 METDST", &utc()).unwrap();
    assert_eq!(
        when.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        "2018-05-10 16:52:21"
    );
    assert!(parse_drd_date("yesterday", &utc()).is_none());
}

fn report_for(text: &str, keywords: &[(&str, &str)]) -> StatusReport {
    let mut config = ResourceConfig::default();
    for (k, v) in keywords {
        config.keywords.insert((*k).into(), (*v).into());
    }
    report(&DrdStatus::parse(text), &config, &utc())
}

fn warnings(r: &StatusReport) -> Vec<String> {
    r.messages
        .iter()
        .filter(|m| m.level == MessageLevel::Warn)
        .map(|m| m.text.clone())
        .collect()
}

#[test]
fn status_rules() {
    let none = report_for(&status_text(None, ORIG, ORIG), &[]);
    assert_eq!(none.state, Status::Down);
    assert!(none.last_sync.is_none());

    let fresh = report_for(
        &status_text(
            Some(("/dev/disk/disk2", "05/10/18 16:52:21 UTC", "None")),
            ORIG,
            ORIG,
        ),
        &[],
    );
    assert_eq!(fresh.state, Status::Up);
    assert_eq!(
        fresh.last_sync.as_deref(),
        Some("2018-05-10T16:52:21+00:00"),
        "never synced: the creation date"
    );
    assert!(
        fresh.messages[0]
            .text
            .contains("created, never synced 2018-05-10 16:52:21")
    );

    let synced = report_for(
        &status_text(
            Some((
                "/dev/disk/disk2",
                "05/10/18 16:52:21 UTC",
                "05/12/18 08:00:00 UTC",
            )),
            ORIG,
            ORIG,
        ),
        &[("target", "/dev/disk/disk2")],
    );
    assert_eq!(synced.state, Status::Up);
    assert_eq!(
        synced.last_sync.as_deref(),
        Some("2018-05-12T08:00:00+00:00")
    );

    let activated = report_for(
        &status_text(
            Some(("/dev/disk/disk2", "05/10/18 16:52:21 UTC", "None")),
            ORIG,
            CLONE,
        ),
        &[],
    );
    assert_eq!(activated.state, Status::Warn);
    assert!(
        warnings(&activated)[0].contains("the clone (/dev/disk/disk2) is activated"),
        "{:?}",
        activated.messages
    );

    let booted = report_for(
        &status_text(
            Some(("/dev/disk/disk2", "05/10/18 16:52:21 UTC", "None")),
            CLONE,
            CLONE,
        ),
        &[],
    );
    assert_eq!(booted.state, Status::Warn);
    assert!(warnings(&booted)[0].contains("booted from the clone (/dev/disk/disk2)"));

    let elsewhere = report_for(
        &status_text(
            Some(("/dev/disk/disk3", "05/10/18 16:52:21 UTC", "None")),
            ORIG,
            ORIG,
        ),
        &[("target", "/dev/disk/disk2")],
    );
    assert_eq!(elsewhere.state, Status::Warn);
    assert!(warnings(&elsewhere)[0].contains("not on the configured target /dev/disk/disk2"));

    let no_loader = status_text(
        Some(("/dev/disk/disk2", "05/10/18 16:52:21 UTC", "None")),
        ORIG,
        ORIG,
    )
    .replace(
        "  Clone EFI Partition:        AUTO file present, Boot loader present",
        "  Clone EFI Partition:        Boot loader missing",
    );
    assert_eq!(report_for(&no_loader, &[]).state, Status::Warn);

    let bad_date = report_for(
        &status_text(Some(("/dev/disk/disk2", "garbage", "None")), ORIG, ORIG),
        &[],
    );
    assert_eq!(bad_date.state, Status::Warn);
    assert!(bad_date.last_sync.is_none());
}

#[test]
fn status_is_undef_when_drd_status_fails() {
    let s = setup(&[], false);
    s.fake.on(
        "status",
        answer(
            0,
            banner(
                "Displaying DRD Clone Image Information",
                "ERROR:   no lock",
                false,
            ),
        ),
    );
    let r = s.drd.status().unwrap();
    assert_eq!(r.state, Status::Undef);
    assert!(
        r.messages[0].text.contains(
            "drd status failed (its END banner says failed, although it exited 0): no lock"
        ),
        "{:?}",
        r.messages
    );
    s.fake.on(
        "status",
        answer(1, "drd: cannot open /var/opt/drd/drd.log\n".into()),
    );
    let r = s.drd.status().unwrap();
    assert_eq!(r.state, Status::Undef);
    assert!(
        r.messages[0]
            .text
            .contains("printed no END banner (exit code 1)"),
        "{:?}",
        r.messages
    );
    let call = s.fake.calls().remove(0);
    assert_eq!(call.argv, ["/sim/bin/drd", "status"]);
    assert!(call.read_only && call.timeout_secs.is_some());
}

#[test]
fn provision_clones_onto_the_target() {
    let s = setup(
        &[
            ("target", "/dev/disk/disk2"),
            ("overwrite", "true"),
            ("mirror_disk", "/dev/disk/disk3"),
            ("verbosity", "4"),
        ],
        false,
    );
    let out = s.act("provision", false, false).unwrap();
    assert_eq!(
        s.fake.commands(),
        [
            "/sim/bin/drd status",
            "/sim/bin/drd clone -t /dev/disk/disk2 -x overwrite=true -x mirror_disk=/dev/disk/disk3 -x verbosity=4"
        ]
    );
    assert_eq!(
        out.messages,
        ["clone of the root disk created on /dev/disk/disk2"]
    );
    // drd's output (on stderr) is streamed by doppel line by line at INFO as it
    // comes: the driver asks for it and does not relay it again.
    let clone = &s.fake.calls()[1];
    assert!(clone.stream && !clone.quiet, "{clone:?}");
    assert!(
        !s.fake
            .logged(Level::Info)
            .iter()
            .any(|l| l.contains("END clone operation succeeded.")),
        "not relayed twice"
    );
}

#[test]
fn provision_is_a_noop_when_the_clone_exists_and_needs_a_target() {
    let s = setup(&[("target", "/dev/disk/disk2")], false);
    s.fake.on(
        "status",
        answer(
            0,
            status_text(
                Some(("/dev/disk/disk2", "05/10/18 16:52:21 UTC", "None")),
                ORIG,
                ORIG,
            ),
        ),
    );
    let out = s.act("provision", false, false).unwrap();
    assert!(out.noop);
    assert_eq!(s.fake.commands(), ["/sim/bin/drd status"]);
    let s = setup(&[], false);
    let e = s.act("provision", false, false).unwrap_err();
    assert!(e.message.contains("keyword 'target'"));
}

#[test]
fn provision_dry_run_runs_the_preview_only() {
    let s = setup(&[("target", "/dev/disk/disk4")], true);
    s.fake.on(
        "clone -p",
        answer(1, banner("Clone System Image", "* Selecting Target Disk\nERROR:   The disk \"/dev/disk/disk4\" is in use by the active volume group \"vg01\".", false)),
    );
    let e = s.act("provision", true, false).unwrap_err();
    assert_eq!(
        e.message,
        "drd clone -p failed: The disk \"/dev/disk/disk4\" is in use by the active volume group \"vg01\"."
    );
    let s = setup(&[("target", "/dev/disk/disk2")], true);
    s.act("provision", true, false).unwrap();
    let calls = s.fake.calls();
    assert_eq!(
        calls[1].argv.join(" "),
        "/sim/bin/drd clone -p -t /dev/disk/disk2"
    );
    assert!(calls[1].read_only);
    assert_eq!(
        calls[2].argv.join(" "),
        "/sim/bin/drd clone -t /dev/disk/disk2"
    );
    assert!(!calls[2].read_only, "skipped by the host under --dry-run");
}

#[test]
fn sync_update_reports_the_copied_files() {
    let s = setup(&[("exclude_list", "/etc/drd/exclude")], false);
    s.list(FILES_TO_BE_COPIED, &["/etc/hosts", "/opt/app/new.conf"]);
    s.list(TARGET_CHANGED, &["/etc/passwd"]);
    s.fake.on(
        "sync",
        answer(2, banner("Synchronize Inactive System Image", "* Copying Files To Inactive System Image\nWARNING: 1 files changed on the inactive image are not synchronized.", true)),
    );
    let out = s.act("sync_update", false, false).unwrap();
    assert_eq!(
        s.fake.commands(),
        ["/sim/bin/drd sync -x exclude_list=/etc/drd/exclude"]
    );
    assert_eq!(
        out.messages,
        [
            "2 file(s) copied to the clone (listed in /var/opt/drd/sync/files_to_be_copied_by_drd_sync)",
            "1 file(s) changed on the clone were kept, not overwritten (listed in /var/opt/drd/sync/filtered_out_by_target_changed_filter_sync_phase)"
        ]
    );
    let warns = s.fake.logged(Level::Warn);
    assert!(
        warns.contains(
            &"drd sync: 1 files changed on the inactive image are not synchronized.".to_owned()
        ),
        "{warns:?}"
    );
    assert!(warns.contains(&"drd sync succeeded with warnings (exit code 2)".to_owned()));
}

#[test]
fn sync_update_dry_run_previews() {
    let s = setup(&[], true);
    s.list(
        FILES_TO_BE_COPIED,
        &["/etc/hosts", "/opt/app", "/opt/app/new.conf"],
    );
    let out = s.act("sync_update", true, false).unwrap();
    assert_eq!(
        s.fake.commands(),
        ["/sim/bin/drd sync -p", "/sim/bin/drd sync"]
    );
    assert!(s.fake.calls()[0].read_only);
    assert_eq!(
        out.messages,
        [
            "dry-run: drd sync would copy 3 file(s) to the clone (listed in /var/opt/drd/sync/files_to_be_copied_by_drd_sync)"
        ]
    );
    let debug = s.fake.logged(Level::Debug);
    assert!(
        debug.contains(&"would copy /opt/app/new.conf".to_owned()),
        "{debug:?}"
    );
}

#[test]
fn the_banner_decides_not_the_exit_code() {
    let s = setup(&[], false);
    s.fake.on(
        "sync",
        answer(
            0,
            banner(
                "Synchronize Inactive System Image",
                "ERROR:   pax: write error on the clone",
                false,
            ),
        ),
    );
    let e = s.act("sync_update", false, false).unwrap_err();
    assert_eq!(
        e.message,
        "drd sync failed (its END banner says failed, although it exited 0): pax: write error on the clone"
    );
    s.fake.on(
        "sync",
        answer(
            0,
            format!("{BEGIN} Synchronize Inactive System Image {JOB}\n\n* Copying Files\n"),
        ),
    );
    let e = s.act("sync_update", false, false).unwrap_err();
    assert!(
        e.message
            .starts_with("drd sync printed no END banner (exit code 0): its outcome is unknown"),
        "{}",
        e.message
    );
    assert!(e.message.ends_with("last line: * Copying Files"));
    s.fake.on(
        "sync",
        answer(1, banner("Synchronize Inactive System Image", "* ok", true)),
    );
    assert!(s.act("sync_update", false, false).is_ok());
    assert!(
        s.fake
            .logged(Level::Warn)
            .iter()
            .any(|w| w.contains("ended with exit code 1: drd's exit codes are unreliable"))
    );
    s.fake.on("sync", CommandOutput::timeout("", ""));
    assert_eq!(
        s.act("sync_update", false, false).unwrap_err().message,
        "drd sync timed out"
    );
}

#[test]
fn resync_needs_force_and_overwrites() {
    let s = setup(&[("target", "/dev/disk/disk2")], false);
    let e = s.act("sync_resync", false, false).unwrap_err();
    assert!(e.message.contains("use --force"), "{}", e.message);
    assert!(s.fake.commands().is_empty());
    s.act("sync_resync", false, true).unwrap();
    assert_eq!(
        s.fake.commands(),
        ["/sim/bin/drd clone -t /dev/disk/disk2 -x overwrite=true"]
    );
    // Without a target keyword: the current clone disk.
    let s = setup(&[], false);
    s.fake.on(
        "status",
        answer(
            0,
            status_text(
                Some(("/dev/disk/disk3", "05/10/18 16:52:21 UTC", "None")),
                ORIG,
                ORIG,
            ),
        ),
    );
    s.act("sync_resync", false, true).unwrap();
    assert_eq!(
        s.fake.commands(),
        [
            "/sim/bin/drd status",
            "/sim/bin/drd clone -t /dev/disk/disk3 -x overwrite=true"
        ]
    );
    let s = setup(&[], false);
    assert!(
        s.act("sync_resync", false, true)
            .unwrap_err()
            .message
            .contains("no clone to re-create")
    );
}

#[test]
fn activate_deactivate_mount_umount() {
    let s = setup(&[], false);
    s.act("activate", false, false).unwrap();
    s.act("deactivate", false, false).unwrap();
    s.act("mount", false, false).unwrap();
    s.act("umount", false, false).unwrap();
    assert_eq!(
        s.fake.commands(),
        [
            "/sim/bin/drd activate -x reboot=false",
            "/sim/bin/drd deactivate",
            "/sim/bin/drd mount",
            "/sim/bin/drd umount"
        ]
    );
    let s = setup(&[("verbosity", "1")], true);
    s.act("activate", true, false).unwrap();
    assert_eq!(
        s.fake.commands(),
        [
            "/sim/bin/drd activate -p -x reboot=false -x verbosity=1",
            "/sim/bin/drd activate -x reboot=false -x verbosity=1"
        ]
    );
    assert!(s.act("frobnicate", false, false).is_err());
}

#[test]
fn missing_tool_is_an_error() {
    let mut s = setup(&[], false);
    s.drd
        .config
        .driver_options
        .insert("bin".into(), serde_json::Value::String("/nowhere".into()));
    let e = s.act("mount", false, false).unwrap_err();
    assert_eq!(e.message, "/nowhere/drd: command not found");
    assert_eq!(s.drd.status().unwrap().state, Status::Undef);
}

#[test]
fn validate_devices_and_paths() {
    let mut config = ResourceConfig::default();
    assert!(Drd::validate(&config).is_empty());
    for (k, v) in [
        ("target", "disk2"),
        ("mirror_disk", "disk2"),
        ("exclude_list", "exclude.txt"),
    ] {
        config.keywords.insert(k.into(), v.into());
    }
    let problems = Drd::validate(&config);
    let kws: Vec<&str> = problems
        .iter()
        .filter_map(|p| p.keyword.as_deref())
        .collect();
    assert_eq!(
        kws,
        ["target", "mirror_disk", "mirror_disk", "exclude_list"]
    );
}
