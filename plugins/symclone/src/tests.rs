//! Unit tests with a fake host: a tiny in-memory array answers symdev and symclone.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};

use doppel_plugin_api::{CommandOutput, HostServices, Level, MessageLevel};

use super::*;
use crate::cloneset::parse_last_action;

const LAST: &str = "Thu Feb 25 10:20:56 2010";
const LATER: &str = "Fri Feb 26 09:00:01 2010";

/// (source, state, last_action) of a clone session.
type Clone3 = (String, String, String);
/// A device in the fake XML: (target, Some((source, state, last_action))).
type Dev<'a> = (&'a str, Option<(&'a str, &'a str, &'a str)>);

/// The array as the fake tools see it: target → (source, state, last_action).
#[derive(Default)]
struct Array {
    sessions: BTreeMap<String, Clone3>,
    /// After this many more symdev queries, every session takes the given state.
    settle: Option<(usize, String)>,
    /// State a successful activate leaves.
    after_activate: String,
    /// Canned answer to symdev (overrides the array).
    symdev: Option<Result<CommandOutput, Error>>,
    /// symclone actions that fail.
    failing: Vec<String>,
    /// Exit code of `verify -restored` (None: computed from the states).
    verify_restored: Option<i32>,
    /// The next symdev queries that meet lock contention (exit 2).
    symdev_locked: usize,
    /// Target → (pd_name, native paths) shown by symdev (default: /dev/sdq, no
    /// Front_End).
    host_devices: BTreeMap<String, (String, Vec<String>)>,
    /// Path → how many more sg_turs runs answer "not ready".
    not_ready: BTreeMap<String, usize>,
}

struct Fake {
    calls: Mutex<Vec<CommandRequest>>,
    logs: Mutex<Vec<(Level, String)>>,
    array: Mutex<Array>,
    dry_run: bool,
    cancelled: AtomicBool,
    /// Cancel once this many sleeps happened.
    cancel_after_sleeps: Option<usize>,
    sleeps: AtomicUsize,
}

fn ok(stdout: &str) -> Result<CommandOutput, Error> {
    Ok(CommandOutput::exited(0, stdout, ""))
}

fn code(code: i32, stderr: &str) -> Result<CommandOutput, Error> {
    Ok(CommandOutput::exited(code, "", stderr))
}

/// The symdev XML for `devs`: (target, Some((source, state, last_action))).
fn xml(devs: &[Dev<'_>]) -> String {
    xml_with_hosts(devs, &BTreeMap::new())
}

/// [`xml`], with the host's view of some targets: (pd_name, Front_End paths).
fn xml_with_hosts(devs: &[Dev<'_>], hosts: &BTreeMap<String, (String, Vec<String>)>) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" standalone=\"yes\" ?>\n<SymCLI_ML>\n  <Symmetrix>\n    <Symm_Info><symid>000192601234</symid></Symm_Info>\n",
    );
    for (dev, clone) in devs {
        let (pd, paths) = hosts
            .get(*dev)
            .cloned()
            .unwrap_or_else(|| ("/dev/sdq".to_owned(), Vec::new()));
        s.push_str(&format!(
            "    <Device>\n      <Dev_Info>\n        <pd_name>{pd}</pd_name>\n        <dev_name>{dev}</dev_name>\n        <status>Ready</status>\n      </Dev_Info>\n"
        ));
        if !paths.is_empty() {
            s.push_str("      <Front_End>\n");
            for p in &paths {
                s.push_str(&format!(
                    "        <Port><pd_name>{p}</pd_name><director>07E</director><port>1</port></Port>\n"
                ));
            }
            s.push_str("      </Front_End>\n");
        }
        s.push_str("      <Capacity><tracks>8192</tracks><megabytes>512</megabytes></Capacity>\n");
        if let Some((src, state, last)) = clone {
            s.push_str(&format!(
                "      <CLONE_Device>\n        <SRC><pd_name>/dev/sdp</pd_name><dev_name>{src}</dev_name><changed_tracks>0</changed_tracks></SRC>\n        <TGT><pd_name>/dev/sdq</pd_name><dev_name>{dev}</dev_name><changed_tracks>0</changed_tracks></TGT>\n        <state>{state}</state>\n        <last_action>{last}</last_action>\n        <percent_copied>100</percent_copied>\n      </CLONE_Device>\n"
            ));
        }
        s.push_str("    </Device>\n");
    }
    s.push_str("  </Symmetrix>\n</SymCLI_ML>\n");
    s
}

impl Fake {
    fn new(dry_run: bool) -> Arc<Fake> {
        Arc::new(Fake {
            calls: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
            array: Mutex::new(Array {
                after_activate: "CopyInProg".into(),
                ..Array::default()
            }),
            dry_run,
            cancelled: AtomicBool::new(false),
            cancel_after_sleeps: None,
            sleeps: AtomicUsize::new(0),
        })
    }

    /// Every configured pair in `state`.
    fn with_state(self: &Arc<Fake>, state: &str) -> Arc<Fake> {
        {
            let mut a = self.array.lock().unwrap();
            for (src, dst) in [("00B60", "00B61"), ("00B62", "00B63")] {
                a.sessions
                    .insert(dst.into(), (src.into(), state.into(), LAST.into()));
            }
        }
        self.clone()
    }

    fn set(self: &Arc<Fake>, f: impl FnOnce(&mut Array)) -> Arc<Fake> {
        f(&mut self.array.lock().unwrap());
        self.clone()
    }

    fn commands(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.argv.join(" "))
            .collect()
    }

    fn infos(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }

    fn states(&self) -> Vec<String> {
        self.array
            .lock()
            .unwrap()
            .sessions
            .values()
            .map(|s| s.1.clone())
            .collect()
    }

    fn symdev(&self, argv: &[String]) -> Result<CommandOutput, Error> {
        let mut a = self.array.lock().unwrap();
        if let Some(answer) = &a.symdev {
            return answer.clone();
        }
        if a.symdev_locked > 0 {
            a.symdev_locked -= 1;
            return code(2, "The SYMAPI database file is locked by another process");
        }
        if let Some((left, state)) = a.settle.clone() {
            if left == 0 {
                for s in a.sessions.values_mut() {
                    s.1 = state.clone();
                }
                a.settle = None;
            } else {
                a.settle = Some((left - 1, state));
            }
        }
        let devs = argv
            .iter()
            .position(|x| x == "-devs")
            .map(|i| argv[i + 1].clone())
            .unwrap_or_default();
        let list: Vec<(String, Option<Clone3>)> = devs
            .split(',')
            .map(|d| (d.to_owned(), a.sessions.get(d).cloned()))
            .collect();
        let borrowed: Vec<Dev<'_>> = list
            .iter()
            .map(|(d, s)| {
                (
                    d.as_str(),
                    s.as_ref()
                        .map(|(x, y, z)| (x.as_str(), y.as_str(), z.as_str())),
                )
            })
            .collect();
        ok(&xml_with_hosts(&borrowed, &a.host_devices))
    }

    fn symclone(&self, request: &CommandRequest) -> Result<CommandOutput, Error> {
        let argv = &request.argv;
        assert_eq!(argv[1], "-sid");
        assert_eq!(argv[3], "-f");
        let action = ["verify", "activate", "recreate", "restore", "terminate"]
            .into_iter()
            .find(|a| argv.iter().any(|x| x == a))
            .expect("known symclone action");
        if !request.read_only && self.dry_run {
            return Ok(CommandOutput::skipped());
        }
        let mut a = self.array.lock().unwrap();
        if a.failing.iter().any(|f| f == action) {
            return code(1, "The Clone 'ACTIVATE' operation FAILED: simulated");
        }
        let after_activate = a.after_activate.clone();
        let mut set_all = |state: &str| {
            for s in a.sessions.values_mut() {
                s.1 = state.into();
                s.2 = LATER.into();
            }
        };
        match action {
            "verify" => {
                let pos = argv.iter().position(|x| x == "verify").unwrap();
                let want = argv[pos + 1].trim_start_matches('-').to_owned();
                if let (true, Some(c)) = (want == "restored", a.verify_restored) {
                    return code(c, "");
                }
                let all = !a.sessions.is_empty()
                    && a.sessions
                        .values()
                        .all(|s| s.1.to_ascii_lowercase() == want);
                if all {
                    ok("All devices are in the state.")
                } else {
                    code(5, "")
                }
            }
            "activate" => {
                set_all(&after_activate);
                ok("")
            }
            "recreate" => {
                set_all(if argv.iter().any(|x| x == "-precopy") {
                    "Precopy"
                } else {
                    "Recreated"
                });
                ok("")
            }
            "restore" => {
                set_all("Restored");
                ok("")
            }
            "terminate" => {
                set_all("Copied");
                ok("")
            }
            _ => unreachable!(),
        }
    }
}

impl HostServices for Fake {
    fn log(&self, level: Level, message: &str) {
        self.logs.lock().unwrap().push((level, message.to_owned()));
    }

    fn run_command(&self, request: &CommandRequest) -> Result<CommandOutput, Error> {
        self.calls.lock().unwrap().push(request.clone());
        let program = request.argv[0].rsplit('/').next().unwrap().to_owned();
        match program.as_str() {
            "symdev" => {
                assert!(request.read_only, "symdev queries are read-only");
                self.symdev(&request.argv)
            }
            "symclone" => self.symclone(request),
            "sg_turs" | "multipath" if self.dry_run => Ok(CommandOutput::skipped()),
            "sg_turs" => {
                let mut a = self.array.lock().unwrap();
                match a.not_ready.get_mut(&request.argv[1]) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        code(2, "")
                    }
                    _ => ok(""),
                }
            }
            "multipath" => ok(""),
            other => panic!("unexpected program {other}"),
        }
    }

    fn state_get(&self, _key: &str) -> Option<String> {
        None
    }

    fn state_put(&self, _key: &str, _value: &str) -> Result<(), Error> {
        Ok(())
    }

    fn cancelled(&self) -> bool {
        if let Some(n) = self.cancel_after_sleeps {
            // Host::sleep checks cancelled() first: count the checks as sleeps.
            if self
                .sleeps
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                >= n
            {
                self.cancelled
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        self.cancelled.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn call(&self, method: &str, request: &serde_json::Value) -> Result<serde_json::Value, Error> {
        // Progress lines are kept with the logs so tests can see the waits.
        if method == "progress" {
            let text = request["text"].as_str().unwrap_or_default().to_owned();
            self.logs.lock().unwrap().push((Level::Info, text));
            return Ok(serde_json::Value::Null);
        }
        Err(Error::unsupported(method))
    }
}

static DIR_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn state_dir() -> PathBuf {
    let n = DIR_COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("doppel-symclone-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("sync#0")
}

fn config(extra: &[(&str, &str)]) -> ResourceConfig {
    let mut keywords: BTreeMap<String, String> = [
        ("symid", "000192601234"),
        ("pairs", "00B60:00B61 00B62:00B63"),
        ("consistent", "True"),
        ("precopy", "True"),
        ("recreate_timeout", "300"),
        ("restore_timeout", "300"),
        // The device refresh has its own tests (with a fake sysfs).
        ("rescan", "False"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        keywords.insert((*k).to_owned(), (*v).to_owned());
    }
    let mut config = ResourceConfig::new("demo", "sync#0", "n1")
        .driver_option("bin", "/opt/emc/SYMCLI/bin")
        .state_dir(state_dir());
    config.keywords = keywords;
    config
}

fn driver(fake: &Arc<Fake>, extra: &[(&str, &str)]) -> Symclone {
    let host = Host::new(fake.clone() as Arc<dyn HostServices>);
    Symclone {
        config: config(extra),
        host,
        poll: Duration::from_millis(1),
    }
}

fn request(action: &str) -> ActionRequest {
    ActionRequest::new(action)
}

/// The recorded command lines with the pairs file path replaced by `F`.
fn commands(fake: &Fake, d: &Symclone) -> Vec<String> {
    let file = d.pairs_file().display().to_string();
    fake.commands()
        .into_iter()
        .map(|c| c.replace(&file, "F"))
        .collect()
}

const SYMCLONE: &str = "/opt/emc/SYMCLI/bin/symclone -sid 000192601234 -f F";
const QUERY: &str =
    "/opt/emc/SYMCLI/bin/symdev -sid 000192601234 list -v -devs 00B61,00B63 -output xml_e";

fn sc(rest: &str) -> String {
    format!("{SYMCLONE} {rest}")
}

// --- manifest and validation -------------------------------------------------------

#[test]
fn manifest_matches_the_seed() {
    let m = Symclone::manifest();
    assert_eq!(m.type_name(), "sync.symclone");
    let seed = Manifest::new("sync", "symclone", "0")
        .keyword(KeywordSpec::new("consistent", KeywordType::Boolean).default_value("True").desc("Use -consistent in symclone commands."))
        .keyword(
            KeywordSpec::new("symid", KeywordType::String)
                .required()
                .not_scopable()
                .desc("Identifier of the symmetrix array hosting the source and target devices pairs pointed by 'pairs'."),
        )
        .keyword(
            KeywordSpec::new("pairs", KeywordType::List)
                .required()
                .example("00B60:00B61 00B62:00B63")
                .desc("Whitespace-separated list of devices <src>:<dst> devid pairs to drive with this resource."),
        )
        .keyword(KeywordSpec::new("precopy", KeywordType::Boolean).default_value("True").desc("Use -precopy on recreate."));
    assert_eq!(m.keywords[..4], seed.keywords[..]);
    let names: Vec<&str> = m.keywords.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "consistent",
            "symid",
            "pairs",
            "precopy",
            "recreate_timeout",
            "restore_timeout",
            "rescan"
        ]
    );
    for k in &m.keywords[4..6] {
        assert_eq!(k.kind, KeywordType::Duration);
        assert_eq!(k.default.as_deref(), Some("300"));
        assert!(!k.desc.is_empty() && !k.required && k.scopable);
    }
    let actions: Vec<&str> = m.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        actions,
        [
            "start",
            "sync_break",
            "sync_resync",
            "sync_update",
            "sync_restore"
        ]
    );
    assert!(m.actions.iter().all(|a| a.state_changing));
}

#[test]
fn validate_accepts_good_pairs() {
    assert!(Symclone::validate(&config(&[])).is_empty());
    assert!(Symclone::validate(&config(&[("pairs", "00b60:00b61\n  0C10:0C11")])).is_empty());
}

#[test]
fn validate_names_each_bad_pair() {
    let cfg = config(&[(
        "pairs",
        "00B60:00B61 00B62 :00B65 00B66: 1:2:3 00X1:00B67 00B68:00B61 00B69:00b69",
    )]);
    let problems = Symclone::validate(&cfg);
    assert!(
        problems
            .iter()
            .all(|p| p.keyword.as_deref() == Some("pairs")),
        "{problems:?}"
    );
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages.len(), 7, "{messages:?}");
    for (msg, bad) in
        messages
            .iter()
            .zip(["'00B62'", "':00B65'", "'00B66:'", "'1:2:3'", "'00X1:00B67'"])
    {
        assert!(
            msg.starts_with(&format!("pair {bad} is malformed: expected <src>:<dst>")),
            "{msg}"
        );
    }
    assert_eq!(
        messages[5],
        "pair '00B68:00B61' reuses target 00B61 of pair '00B60:00B61': a device can be the target of one pair only"
    );
    assert_eq!(
        messages[6],
        "pair '00B69:00b69' uses device 00B69 as both source and target"
    );
}

#[test]
fn actions_refuse_malformed_pairs() {
    let fake = Fake::new(false).with_state("Copied");
    let d = driver(&fake, &[("pairs", "00B60-00B61")]);
    let err = d.action(&request("start")).unwrap_err();
    assert_eq!(err.kind, doppel_plugin_api::ErrorKind::Invalid);
    assert!(
        err.message.contains("pair '00B60-00B61' is malformed"),
        "{}",
        err.message
    );
    assert!(fake.commands().is_empty());
    let report = d.status().unwrap();
    assert_eq!(report.state, Status::Undef);
}

// --- pairs file ------------------------------------------------------------------------

#[test]
fn pairs_file_is_written_in_the_state_dir() {
    let fake = Fake::new(false).with_state("Copied");
    let d = driver(&fake, &[]);
    assert!(!d.config.state_dir.exists());
    d.action(&request("start")).unwrap();
    let path = d.config.state_dir.join("pairs");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "00B60 00B61\n00B62 00B63"
    );
    // Rewritten on the next action, no temporary file left behind.
    std::fs::write(&path, "stale").unwrap();
    d.action(&request("sync_break")).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "00B60 00B61\n00B62 00B63"
    );
    let names: Vec<String> = std::fs::read_dir(&d.config.state_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["pairs"]);
}

#[test]
fn default_bin_is_usr_symcli_bin() {
    let fake = Fake::new(false).with_state("Copied");
    let mut d = driver(&fake, &[]);
    d.config.driver_options.clear();
    d.action(&request("start")).unwrap();
    assert_eq!(
        fake.commands()[0],
        "/usr/symcli/bin/symdev -sid 000192601234 list -v -devs 00B61,00B63 -output xml_e"
    );
}

// --- start / sync break -------------------------------------------------------------------

#[test]
fn start_is_a_noop_when_all_pairs_are_active() {
    let fake = Fake::new(false).with_state("Copied");
    let d = driver(&fake, &[]);
    let outcome = d.action(&request("start")).unwrap();
    assert!(outcome.noop);
    assert_eq!(commands(&fake, &d), [QUERY]);
    assert!(fake.calls.lock().unwrap()[0].read_only);
    assert!(
        fake.infos()
            .contains(&"symclone target devices are already active".to_owned())
    );
}

#[test]
fn start_activates_with_consistent() {
    let fake = Fake::new(false).with_state("Precopy");
    let d = driver(&fake, &[]);
    let outcome = d.action(&request("start")).unwrap();
    assert!(!outcome.noop);
    assert_eq!(
        commands(&fake, &d),
        [
            QUERY.to_owned(),
            sc("-noprompt activate -i 20 -c 30 -consistent"),
            QUERY.to_owned()
        ]
    );
    let calls = fake.calls.lock().unwrap();
    assert!(!calls[1].read_only, "activate changes state");
    assert_eq!(fake.states(), ["CopyInProg", "CopyInProg"]);
}

#[test]
fn sync_break_activates_without_consistent() {
    let fake = Fake::new(false).with_state("Recreated");
    let d = driver(&fake, &[("consistent", "false")]);
    d.action(&request("sync_break")).unwrap();
    assert_eq!(
        commands(&fake, &d),
        [
            QUERY.to_owned(),
            sc("-noprompt activate -i 20 -c 30"),
            QUERY.to_owned()
        ]
    );
}

#[test]
fn start_activates_created_pairs() {
    let fake = Fake::new(false).with_state("Created");
    let d = driver(&fake, &[]);
    d.action(&request("start")).unwrap();
    assert_eq!(
        commands(&fake, &d)[1],
        sc("-noprompt activate -i 20 -c 30 -consistent")
    );
}

#[test]
fn start_waits_for_activable_state_with_progress() {
    let fake = Fake::new(false)
        .with_state("RecreateInProg")
        .set(|a| a.settle = Some((2, "Recreated".into())));
    let d = driver(&fake, &[]);
    d.action(&request("start")).unwrap();
    let cmds = commands(&fake, &d);
    // initial query, two more polls (the second settles), activate, active check
    assert_eq!(cmds.len(), 5, "{cmds:?}");
    assert_eq!(cmds[3], sc("-noprompt activate -i 20 -c 30 -consistent"));
    let waits: Vec<String> = fake
        .infos()
        .into_iter()
        .filter(|m| m.starts_with("waiting for activable state"))
        .collect();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert_eq!(
        waits[0],
        "waiting for activable state: 0/2 devs ready (0s/300s): 00B61 RecreateInProg, 00B63 RecreateInProg"
    );
}

#[test]
fn start_counts_ready_devices_individually() {
    let fake = Fake::new(false).with_state("Recreated").set(|a| {
        a.sessions.get_mut("00B63").unwrap().1 = "RecreateInProg".into();
        a.settle = Some((1, "Recreated".into()));
    });
    let d = driver(&fake, &[]);
    d.action(&request("start")).unwrap();
    assert!(
        fake.infos().contains(
            &"waiting for activable state: 1/2 devs ready (0s/300s): 00B63 RecreateInProg"
                .to_owned()
        ),
        "{:?}",
        fake.infos()
    );
}

#[test]
fn start_times_out_when_never_activable() {
    let fake = Fake::new(false).with_state("CreateInProg");
    let d = driver(&fake, &[("recreate_timeout", "0")]);
    let err = d.action(&request("start")).unwrap_err();
    assert_eq!(
        err.message,
        "timed out waiting for activable state (0s; recreated, precopy or created): 0/2 devs ready; 00B61 CreateInProg, 00B63 CreateInProg"
    );
    assert!(!fake.commands().iter().any(|c| c.contains("activate")));
}

#[test]
fn start_wait_stops_when_cancelled() {
    let mut fake = Fake::new(false);
    Arc::get_mut(&mut fake).unwrap().cancel_after_sleeps = Some(3);
    let fake = fake.with_state("CreateInProg");
    let d = driver(&fake, &[]);
    let err = d.action(&request("start")).unwrap_err();
    assert_eq!(err.kind, doppel_plugin_api::ErrorKind::Cancelled);
    assert!(!fake.commands().iter().any(|c| c.contains("activate")));
}

#[test]
fn start_without_sessions_fails_fast() {
    let fake = Fake::new(false).set(|a| {
        a.sessions.insert(
            "00B61".into(),
            ("00B60".into(), "Copied".into(), LAST.into()),
        );
    });
    let d = driver(&fake, &[]);
    let err = d.action(&request("start")).unwrap_err();
    assert_eq!(
        err.message,
        "no clone session for 00B62:00B63: create the sessions first (symclone create -differential)"
    );
    assert_eq!(commands(&fake, &d), [QUERY]);
}

#[test]
fn start_retries_a_locked_query() {
    let fake = Fake::new(false)
        .with_state("Copied")
        .set(|a| a.symdev_locked = 2);
    let d = driver(&fake, &[]);
    assert!(d.action(&request("start")).unwrap().noop);
    assert_eq!(commands(&fake, &d), [QUERY, QUERY, QUERY]);
    let warns: Vec<String> = fake
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter(|(l, _)| *l == Level::Warn)
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(warns.len(), 2);
    assert!(
        warns[0].ends_with("locked by another process (attempt 1 of 5, retrying)"),
        "{warns:?}"
    );
}

#[test]
fn wait_survives_lock_contention() {
    let fake = Fake::new(false)
        .with_state("Precopy")
        .set(|a| a.after_activate = "Copied".into());
    let d = driver(&fake, &[]);
    // Lock the poll that follows the activate.
    let pairs = d.pairs().unwrap();
    fake.set(|a| a.symdev_locked = 1);
    d.wait_for(
        Goal::Activable,
        &pairs,
        Duration::from_secs(300),
        false,
        None,
    )
    .unwrap();
    assert_eq!(fake.commands().len(), 2);
    assert!(
        fake.logs
            .lock()
            .unwrap()
            .iter()
            .any(|(l, m)| *l == Level::Warn && m.ends_with("(retrying)"))
    );
}

#[test]
fn status_lock_contention_is_undef() {
    let r = status_of(code(
        2,
        "The SYMAPI database file is locked by another process",
    ));
    assert_eq!(r.state, Status::Undef);
    assert_eq!(
        r.messages[0].text,
        "/opt/emc/SYMCLI/bin/symdev exited with code 2: The SYMAPI database file is locked by another process"
    );
}

#[test]
fn start_times_out_when_never_active() {
    let fake = Fake::new(false)
        .with_state("Precopy")
        .set(|a| a.after_activate = "Precopy".into());
    let d = driver(&fake, &[("recreate_timeout", "0")]);
    let err = d.action(&request("start")).unwrap_err();
    assert!(
        err.message.starts_with("timed out waiting for active state (0s; copied, copyinprog or copyonaccess): 0/2 devs ready"),
        "{}",
        err.message
    );
}

#[test]
fn activate_failure_quotes_the_tool() {
    let fake = Fake::new(false)
        .with_state("Precopy")
        .set(|a| a.failing.push("activate".into()));
    let d = driver(&fake, &[]);
    let err = d.action(&request("start")).unwrap_err();
    assert_eq!(
        err.message,
        "symclone exited with code 1: The Clone 'ACTIVATE' operation FAILED: simulated"
    );
}

#[test]
fn dry_run_start_does_not_wait() {
    let fake = Fake::new(true).with_state("RecreateInProg");
    let d = driver(&fake, &[]);
    let outcome = d.action(&request("start").dry_run()).unwrap();
    assert!(!outcome.noop);
    assert_eq!(outcome.messages, ["would activate 2 clone pair(s)"]);
    assert_eq!(
        commands(&fake, &d),
        [
            QUERY.to_owned(),
            sc("-noprompt activate -i 20 -c 30 -consistent")
        ]
    );
    let infos = fake.infos();
    assert!(
        infos.contains(
            &"dry-run: would wait for activable state (recreated, precopy or created, max 300s)"
                .to_owned()
        ),
        "{infos:?}"
    );
    assert!(
        infos.contains(
            &"dry-run: would wait for active state (copied, copyinprog or copyonaccess, max 300s)"
                .to_owned()
        )
    );
    assert_eq!(fake.states(), ["RecreateInProg", "RecreateInProg"]);
}

// --- sync resync / update ----------------------------------------------------------------------

#[test]
fn clone_refreshes_and_restores_are_destructive_in_the_manifest() {
    // doppel refuses destructive actions while the service runs (the engine's
    // rule, so it holds for every driver): the manifest is what decides.
    let m = <Symclone as Driver>::manifest();
    let destructive: Vec<&str> = m
        .actions
        .iter()
        .filter(|a| a.destructive)
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(destructive, ["sync_resync", "sync_update", "sync_restore"]);
}

#[test]
fn resync_recreates_with_precopy() {
    let fake = Fake::new(false).with_state("Copied");
    let d = driver(&fake, &[]);
    let outcome = d
        .action(&request("sync_resync").service_avail(Status::Up).force())
        .unwrap();
    assert!(!outcome.noop);
    assert_eq!(
        commands(&fake, &d),
        [
            sc("verify -recreated"),
            sc("verify -precopy"),
            sc("verify -created"),
            sc("-noprompt recreate -i 20 -c 30 -precopy")
        ]
    );
    let calls = fake.calls.lock().unwrap();
    assert!(calls[..3].iter().all(|c| c.read_only));
    assert!(!calls[3].read_only);
}

#[test]
fn resync_when_down_recreates_without_precopy() {
    for avail in [
        None,
        Some(Status::Down),
        Some(Status::StdbyDown),
        Some(Status::NotApplicable),
    ] {
        let fake = Fake::new(false).with_state("Copied");
        let d = driver(&fake, &[("precopy", "False")]);
        d.action(&{
            let mut request = request("sync_resync");
            request.service_avail = avail;
            request
        })
        .unwrap();
        assert_eq!(
            commands(&fake, &d).last().unwrap(),
            &sc("-noprompt recreate -i 20 -c 30")
        );
        assert_eq!(fake.states(), ["Recreated", "Recreated"]);
    }
}

#[test]
fn resync_skips_already_recreated_clones() {
    let fake = Fake::new(false).with_state("Precopy");
    let d = driver(&fake, &[]);
    let outcome = d.action(&request("sync_resync")).unwrap();
    assert!(outcome.noop);
    assert_eq!(
        commands(&fake, &d),
        [sc("verify -recreated"), sc("verify -precopy")]
    );
    assert!(
        fake.infos()
            .contains(&"symclone are already recreated".to_owned())
    );
}

#[test]
fn update_recreates_then_activates() {
    let fake = Fake::new(false).with_state("Copied");
    let d = driver(&fake, &[]);
    d.action(&request("sync_update").service_avail(Status::Up))
        .unwrap();
    assert_eq!(
        commands(&fake, &d),
        [
            sc("verify -recreated"),
            sc("verify -precopy"),
            sc("verify -created"),
            sc("-noprompt recreate -i 20 -c 30 -precopy"),
            QUERY.to_owned(),
            sc("-noprompt activate -i 20 -c 30 -consistent"),
            QUERY.to_owned(),
        ]
    );
    assert_eq!(fake.states(), ["CopyInProg", "CopyInProg"]);
}

#[test]
fn dry_run_update_passes_both_commands_and_skips_waits() {
    let fake = Fake::new(true).with_state("Copied");
    let d = driver(&fake, &[("consistent", "no"), ("precopy", "no")]);
    let outcome = d.action(&request("sync_update").dry_run()).unwrap();
    assert_eq!(outcome.messages, ["would activate 2 clone pair(s)"]);
    assert_eq!(
        commands(&fake, &d),
        [
            sc("verify -recreated"),
            sc("verify -precopy"),
            sc("verify -created"),
            sc("-noprompt recreate -i 20 -c 30"),
            sc("-noprompt activate -i 20 -c 30"),
        ]
    );
    let waits = fake
        .infos()
        .into_iter()
        .filter(|m| m.starts_with("dry-run: would wait"))
        .count();
    assert_eq!(waits, 2);
}

// --- sync restore -------------------------------------------------------------------------------

#[test]
fn restore_restores_waits_and_terminates() {
    let fake = Fake::new(false).with_state("Copied");
    let d = driver(&fake, &[("restore_timeout", "5m")]);
    let outcome = d.action(&request("sync_restore")).unwrap();
    assert_eq!(outcome.messages, ["2 clone pair(s) restored"]);
    assert_eq!(
        commands(&fake, &d),
        [
            QUERY.to_owned(),
            sc("-noprompt restore"),
            sc("verify -restored -i 10 -c 30"),
            sc("-noprompt terminate -restored"),
        ]
    );
    let calls = fake.calls.lock().unwrap();
    assert!(calls[2].read_only && !calls[1].read_only && !calls[3].read_only);
    assert_eq!(fake.states(), ["Copied", "Copied"]);
}

#[test]
fn restore_count_has_a_minimum_of_one() {
    let fake = Fake::new(false).with_state("Copied");
    let d = driver(&fake, &[("restore_timeout", "5")]);
    d.action(&request("sync_restore")).unwrap();
    assert_eq!(commands(&fake, &d)[2], sc("verify -restored -i 10 -c 1"));
}

#[test]
fn restore_refuses_inactive_pairs() {
    let fake = Fake::new(false)
        .with_state("Copied")
        .set(|a| a.sessions.get_mut("00B63").unwrap().1 = "Recreated".into());
    let d = driver(&fake, &[]);
    let err = d.action(&request("sync_restore")).unwrap_err();
    assert_eq!(
        err.message,
        "00B62:00B63 not in active state (copied, copyinprog or copyonaccess)"
    );
    assert_eq!(commands(&fake, &d), [QUERY]);
}

#[test]
fn restore_timeout_tells_how_to_terminate() {
    let fake = Fake::new(false)
        .with_state("Copied")
        .set(|a| a.verify_restored = Some(4));
    let d = driver(&fake, &[]);
    let err = d.action(&request("sync_restore")).unwrap_err();
    let file = d.pairs_file().display().to_string();
    assert_eq!(
        err.message.replace(&file, "F"),
        format!(
            "timeout waiting for devs to become 'restored'. once restored, you can terminate running: {}",
            sc("-noprompt terminate -restored")
        )
    );
    assert!(!fake.commands().iter().any(|c| c.contains("terminate")));
}

#[test]
fn dry_run_restore_skips_the_wait() {
    let fake = Fake::new(true).with_state("Copied");
    let d = driver(&fake, &[]);
    let outcome = d.action(&request("sync_restore").dry_run()).unwrap();
    assert_eq!(outcome.messages, ["would restore 2 clone pair(s)"]);
    assert_eq!(
        commands(&fake, &d),
        [
            QUERY.to_owned(),
            sc("-noprompt restore"),
            sc("-noprompt terminate -restored")
        ]
    );
    assert!(
        fake.infos()
            .contains(&"dry-run: would wait for restored state (max 300s)".to_owned())
    );
}

#[test]
fn unknown_action_is_unsupported() {
    let fake = Fake::new(false);
    let d = driver(&fake, &[]);
    let err = d.action(&request("stop")).unwrap_err();
    assert_eq!(err.kind, doppel_plugin_api::ErrorKind::Unsupported);
}

// --- status --------------------------------------------------------------------------------------

fn status_of(answer: Result<CommandOutput, Error>) -> StatusReport {
    let fake = Fake::new(false).set(|a| a.symdev = Some(answer));
    let d = driver(&fake, &[]);
    let pairs = d.pairs().unwrap();
    match d.query(&pairs) {
        Ok(set) => set.report(&TimeZone::UTC),
        Err(e) => StatusReport::new(Status::Undef).error(e.message),
    }
}

fn texts(report: &StatusReport) -> Vec<(MessageLevel, String)> {
    report
        .messages
        .iter()
        .map(|m| (m.level, m.text.clone()))
        .collect()
}

#[test]
fn status_without_session_is_down() {
    let r = status_of(ok(&xml(&[("00B61", None), ("00B63", None)])));
    assert_eq!(r.state, Status::Down);
    assert_eq!(r.last_sync, None);
    assert_eq!(
        texts(&r),
        [(MessageLevel::Info, "no clone session".to_owned())]
    );
}

#[test]
fn status_all_active_is_up_with_newest_last_action() {
    let r = status_of(ok(&xml(&[
        ("00B61", Some(("00B60", "Copied", LAST))),
        ("00B63", Some(("00B62", "CopyInProg", LATER))),
    ])));
    assert_eq!(r.state, Status::Up);
    assert_eq!(r.last_sync.as_deref(), Some("2010-02-26T09:00:01+00:00"));
    assert_eq!(
        texts(&r),
        [(
            MessageLevel::Info,
            "Last sync on 2010-02-26 09:00:01".to_owned()
        )]
    );
}

#[test]
fn status_partly_active_warns() {
    let r = status_of(ok(&xml(&[
        ("00B61", Some(("00B60", "Copied", LAST))),
        ("00B63", Some(("00B62", "Recreated", LAST))),
    ])));
    assert_eq!(r.state, Status::Warn);
    assert_eq!(
        texts(&r),
        [(
            MessageLevel::Warn,
            "cloneset has 1/2 active devs".to_owned()
        )]
    );
    assert_eq!(r.last_sync.as_deref(), Some("2010-02-25T10:20:56+00:00"));
}

#[test]
fn status_one_pair_without_session_warns() {
    let r = status_of(ok(&xml(&[
        ("00B61", Some(("00B60", "Copied", LAST))),
        ("00B63", None),
    ])));
    assert_eq!(r.state, Status::Warn);
    assert_eq!(
        texts(&r),
        [
            (
                MessageLevel::Warn,
                "cloneset has 1/2 active devs".to_owned()
            ),
            (MessageLevel::Warn, "00B63 has no clone info".to_owned()),
        ]
    );
}

#[test]
fn status_recreated_but_not_activated_is_up() {
    // As OpenSVC: neither all nor some active → the last action decides.
    let r = status_of(ok(&xml(&[
        ("00B61", Some(("00B60", "Precopy", LAST))),
        ("00B63", Some(("00B62", "Precopy", LAST))),
    ])));
    assert_eq!(r.state, Status::Up);
    assert_eq!(
        r.messages[0].text,
        "target devices not activated: 00B61 Precopy, 00B63 Precopy"
    );
    assert_eq!(r.messages[1].text, "Last sync on 2010-02-25 10:20:56");
}

#[test]
fn status_session_from_another_source_does_not_count() {
    let r = status_of(ok(&xml(&[
        ("00B61", Some(("00B60", "Copied", LAST))),
        ("00B63", Some(("00C00", "Copied", LAST))),
    ])));
    assert_eq!(r.state, Status::Warn);
    assert!(
        r.messages
            .iter()
            .any(|m| m.text == "00B63 is the target of a clone session from 00C00, not 00B62")
    );
}

#[test]
fn status_missing_binary_is_undef() {
    let r = status_of(Err(Error::failed("No such file or directory (os error 2)")));
    assert_eq!(r.state, Status::Undef);
    assert_eq!(
        texts(&r),
        [(
            MessageLevel::Error,
            "cannot run /opt/emc/SYMCLI/bin/symdev: No such file or directory (os error 2)"
                .to_owned()
        )]
    );
    let r = status_of(code(127, "sh: symdev: command not found"));
    assert_eq!(r.state, Status::Undef);
    assert_eq!(
        r.messages[0].text,
        "/opt/emc/SYMCLI/bin/symdev not found (exit code 127): sh: symdev: command not found"
    );
}

#[test]
fn status_unparsable_xml_is_undef() {
    let full = xml(&[("00B61", Some(("00B60", "Copied", LAST))), ("00B63", None)]);
    for (bad, why) in [
        (&full[..full.len() / 2], "at byte"),
        (
            &full[..full.find("  </Symmetrix>").unwrap()],
            "document ends inside <Symmetrix>",
        ),
        ("", "empty output"),
        (
            "<SymCLI_ML><Symmetrix></Device></SymCLI_ML>",
            "cannot parse",
        ),
        ("<Other/>", "expected <SymCLI_ML>"),
        ("garbage", "text outside the root element"),
    ] {
        let r = status_of(ok(bad));
        assert_eq!(r.state, Status::Undef, "{bad:?}");
        assert_eq!(r.messages[0].level, MessageLevel::Error);
        assert!(
            r.messages[0]
                .text
                .starts_with("cannot parse the XML output of /opt/emc/SYMCLI/bin/symdev: "),
            "{:?}",
            r.messages
        );
        assert!(
            r.messages[0].text.contains(why),
            "{:?} for {bad:?}",
            r.messages
        );
    }
}

#[test]
fn status_tool_error_is_undef() {
    let r = status_of(code(1, "\nThe specified Symmetrix ID is not known\n"));
    assert_eq!(r.state, Status::Undef);
    assert_eq!(
        r.messages[0].text,
        "/opt/emc/SYMCLI/bin/symdev exited with code 1: The specified Symmetrix ID is not known"
    );
}

#[test]
fn status_through_the_driver_uses_the_read_only_query() {
    let fake = Fake::new(false).with_state("Copied");
    let d = driver(&fake, &[]);
    let r = d.status().unwrap();
    assert_eq!(r.state, Status::Up);
    assert_eq!(commands(&fake, &d), [QUERY]);
    assert!(fake.calls.lock().unwrap()[0].read_only);
}

#[test]
fn last_action_parsing() {
    let tz = TimeZone::fixed(jiff::tz::offset(2));
    let z = parse_last_action("Thu Feb 25 10:20:56 2010", &tz).unwrap();
    assert_eq!(
        z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "2010-02-25T10:20:56+02:00"
    );
    // Space-padded day, as ctime() writes it.
    assert!(parse_last_action("Fri Feb  5 01:02:03 2010", &tz).is_some());
    assert!(parse_last_action("yesterday", &tz).is_none());
}

// --- logging of SYMCLI's progress on stderr ------------------------------------------------------

#[test]
fn symcli_progress_on_stderr_is_logged_at_info() {
    // SYMCLI writes its progress on stderr even when it succeeds; OpenSVC runs
    // every state-changing symclone command with warn_to_info.
    let fake = Fake::new(false).with_state("Copied");
    let d = driver(&fake, &[]);
    d.action(&request("sync_update").service_avail(Status::Down))
        .unwrap();
    d.action(&request("sync_restore")).unwrap();
    let file = d.pairs_file().display().to_string();
    let changing: Vec<(String, bool)> = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| !c.read_only || c.argv.iter().any(|a| a == "-restored"))
        .map(|c| (c.argv.join(" ").replace(&file, "F"), c.warn_to_info))
        .collect();
    assert_eq!(
        changing,
        [
            (sc("-noprompt recreate -i 20 -c 30 -precopy"), true),
            (sc("-noprompt activate -i 20 -c 30 -consistent"), true),
            (sc("-noprompt restore"), true),
            (sc("verify -restored -i 10 -c 30"), true),
            (sc("-noprompt terminate -restored"), true),
        ]
    );
    // The read-only queries stay quiet: their output is parsed, not logged.
    assert!(
        fake.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.read_only && c.quiet)
            .all(|c| !c.warn_to_info)
    );
}

// --- Linux device refresh after an activation (OpenSVC's linux.py) -----------------------------

/// A fake host root: `sys/block/<name>/device/rescan` for each of `disks`, and
/// the two tools as (empty) files. Returns (root, sg_turs, multipath).
fn fake_sysroot(disks: &[&str]) -> (PathBuf, String, String) {
    let root = state_dir().parent().unwrap().join("host");
    for d in disks {
        let dir = root.join("sys/block").join(d).join("device");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rescan"), "").unwrap();
    }
    let bin = root.join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["sg_turs", "multipath"] {
        std::fs::write(bin.join(tool), "").unwrap();
    }
    let tool = |t: &str| bin.join(t).display().to_string();
    (root.clone(), tool("sg_turs"), tool("multipath"))
}

/// A driver with the refresh on, its host tools at `sysroot`.
fn rescanning_driver(fake: &Arc<Fake>, sysroot: &Path, sg_turs: &str, multipath: &str) -> Symclone {
    let mut d = driver(fake, &[("rescan", "True")]);
    for (k, v) in [
        ("sysroot", sysroot.display().to_string()),
        ("sg_turs", sg_turs.to_owned()),
        ("multipath", multipath.to_owned()),
    ] {
        d.config
            .driver_options
            .insert(k.into(), serde_json::json!(v));
    }
    d
}

fn rescan_content(root: &Path, disk: &str) -> String {
    std::fs::read_to_string(root.join("sys/block").join(disk).join("device/rescan")).unwrap()
}

#[test]
fn activation_rescans_each_path_waits_for_it_and_reloads_multipath() {
    let (root, sg_turs, multipath) = fake_sysroot(&["sdc", "sdd", "sde"]);
    let fake = Fake::new(false).with_state("Precopy").set(|a| {
        a.host_devices.insert(
            "00B61".into(),
            (
                "/dev/mapper/36000097000019260123453303042".into(),
                vec!["/dev/sdc".into(), "/dev/sdd".into()],
            ),
        );
        a.host_devices
            .insert("00B63".into(), ("/dev/sde".into(), Vec::new()));
        a.not_ready.insert("/dev/sdd".into(), 2);
    });
    let d = rescanning_driver(&fake, &root, &sg_turs, &multipath);
    let outcome = d.action(&request("start")).unwrap();
    assert_eq!(outcome.messages, ["2 clone pair(s) activated"]);
    assert_eq!(
        commands(&fake, &d),
        [
            QUERY.to_owned(),
            sc("-noprompt activate -i 20 -c 30 -consistent"),
            QUERY.to_owned(),
            QUERY.to_owned(),
            format!("{sg_turs} /dev/sdc"),
            format!("{sg_turs} /dev/sdd"),
            format!("{sg_turs} /dev/sdd"),
            format!("{sg_turs} /dev/sdd"),
            format!("{multipath} -v0 -r /dev/mapper/36000097000019260123453303042"),
            format!("{sg_turs} /dev/sde"),
            format!("{multipath} -v0 -r /dev/sde"),
        ]
    );
    for disk in ["sdc", "sdd", "sde"] {
        assert_eq!(rescan_content(&root, disk), "1", "{disk}");
    }
    let infos = fake.infos();
    let sysfs = |disk: &str| {
        root.join("sys/block")
            .join(disk)
            .join("device/rescan")
            .display()
            .to_string()
    };
    assert!(
        infos.contains(&format!("echo 1>{}", sysfs("sdc"))),
        "{infos:#?}"
    );
    assert!(
        infos.contains(&"waiting for device /dev/sdd to become ready (max 5 secs)".to_owned()),
        "{infos:#?}"
    );
    // The tools run through the host: logged, timed out, and not read-only
    // (skipped by --dry-run).
    assert!(
        fake.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.argv[0] == sg_turs)
            .all(|c| !c.read_only && c.timeout_secs.is_some())
    );
}

#[test]
fn a_target_not_visible_from_this_host_fails_the_activation() {
    let (root, sg_turs, multipath) = fake_sysroot(&[]);
    let fake = Fake::new(false).with_state("Precopy").set(|a| {
        a.host_devices
            .insert("00B63".into(), ("Not Visible".into(), Vec::new()));
    });
    let d = rescanning_driver(&fake, &root, &sg_turs, &multipath);
    let e = d.action(&request("start")).unwrap_err();
    assert_eq!(
        e.message,
        "00B63: pd name is 'Not Visible'. please scan scsi buses and run symcfg discover"
    );
}

#[test]
fn a_path_that_never_becomes_ready_times_out() {
    let (root, sg_turs, multipath) = fake_sysroot(&["sdq"]);
    let fake = Fake::new(false).with_state("Precopy").set(|a| {
        a.not_ready.insert("/dev/sdq".into(), 100);
    });
    let d = rescanning_driver(&fake, &root, &sg_turs, &multipath);
    let e = d.action(&request("start")).unwrap_err();
    assert_eq!(
        e.message,
        "timed out waiting for device /dev/sdq to become ready (max 5 secs)"
    );
    let turs = fake
        .commands()
        .iter()
        .filter(|c| c.starts_with(&sg_turs))
        .count();
    assert_eq!(turs, 5, "five tries");
}

#[test]
fn a_front_end_path_without_sysfs_entry_is_an_error() {
    let (root, sg_turs, multipath) = fake_sysroot(&["sdc"]);
    let fake = Fake::new(false).with_state("Precopy").set(|a| {
        a.host_devices.insert(
            "00B61".into(),
            (
                "/dev/emcpowera".into(),
                vec!["/dev/sdc".into(), "/dev/sdz".into()],
            ),
        );
    });
    let d = rescanning_driver(&fake, &root, &sg_turs, &multipath);
    let e = d.action(&request("start")).unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "00B61: cannot rescan /dev/sdz: {} does not exist",
            root.join("sys/block/sdz/device/rescan").display()
        )
    );
}

#[test]
fn missing_host_tools_are_skipped_with_a_warning_for_sg_turs() {
    let (root, _, _) = fake_sysroot(&["sdq"]);
    let fake = Fake::new(false).with_state("Precopy");
    let d = rescanning_driver(
        &fake,
        &root,
        "/nonexistent/sg_turs",
        "/nonexistent/multipath",
    );
    d.action(&request("start")).unwrap();
    assert!(fake.commands().iter().all(|c| !c.contains("/nonexistent/")));
    assert_eq!(rescan_content(&root, "sdq"), "1");
    let logs = fake.logs.lock().unwrap().clone();
    assert!(
        logs.contains(&(
            Level::Warn,
            "/nonexistent/sg_turs not found (sg3_utils): the readiness of the target devices is not checked".to_owned()
        )),
        "{logs:#?}"
    );
}

#[test]
fn dry_run_logs_the_refresh_and_writes_nothing() {
    let (root, sg_turs, multipath) = fake_sysroot(&["sdq"]);
    let fake = Fake::new(true).with_state("Precopy");
    let d = rescanning_driver(&fake, &root, &sg_turs, &multipath);
    d.action(&request("start").dry_run()).unwrap();
    assert_eq!(rescan_content(&root, "sdq"), "", "nothing written");
    let sysfs = root
        .join("sys/block/sdq/device/rescan")
        .display()
        .to_string();
    assert!(
        fake.infos().contains(&format!("dry-run: echo 1>{sysfs}")),
        "{:#?}",
        fake.infos()
    );
    let cmds = commands(&fake, &d);
    // Each target is /dev/sdq in the fake XML: one sg_turs and one multipath per target.
    assert_eq!(
        cmds[cmds.len() - 4..],
        [
            format!("{sg_turs} /dev/sdq"),
            format!("{multipath} -v0 -r /dev/sdq"),
            format!("{sg_turs} /dev/sdq"),
            format!("{multipath} -v0 -r /dev/sdq"),
        ]
    );
}

#[test]
fn rescan_false_skips_the_refresh_and_defaults_follow_the_os() {
    let (root, sg_turs, multipath) = fake_sysroot(&["sdq"]);
    let fake = Fake::new(false).with_state("Precopy");
    let mut d = rescanning_driver(&fake, &root, &sg_turs, &multipath);
    d.config.keywords.insert("rescan".into(), "False".into());
    d.action(&request("start")).unwrap();
    assert!(
        fake.commands()
            .iter()
            .all(|c| !c.contains("sg_turs") && !c.contains("multipath"))
    );
    assert_eq!(rescan_content(&root, "sdq"), "");
    let m = Symclone::manifest();
    assert_eq!(
        m.find_keyword("rescan").unwrap().default.as_deref(),
        Some(if cfg!(target_os = "linux") {
            "True"
        } else {
            "False"
        })
    );
    assert_eq!(NODE_CONFIG_KEYS, ["bin", "sysroot", "sg_turs", "multipath"]);
    // Node-config paths must be full paths.
    let mut c = config(&[]);
    c.driver_options
        .insert("sg_turs".into(), serde_json::json!("sg_turs"));
    let problems: Vec<String> = Symclone::validate(&c)
        .into_iter()
        .map(|p| p.message)
        .collect();
    assert_eq!(
        problems,
        ["node config [driver.symclone] sg_turs = 'sg_turs': must be a full path"]
    );
}

#[test]
fn the_manifest_declares_every_node_config_key_the_driver_reads() {
    let m = <Symclone as Driver>::manifest();
    let declared: Vec<String> = m
        .node_options
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(declared, NODE_CONFIG_KEYS);
}
