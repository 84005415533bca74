//! Unit tests with a fake host answering the MultiSite commands.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use doppel_plugin_api::testing::FakeHost;
use doppel_plugin_api::{CommandOutput, CommandRequest, HostServices, Level, MessageLevel};

use super::*;
use crate::lspacket::Target;

fn ok(stdout: &str) -> CommandOutput {
    CommandOutput::exited(0, stdout, "")
}

fn fail(stdout: &str, stderr: &str) -> CommandOutput {
    CommandOutput::exited(1, stdout, stderr)
}

/// A [`FakeHost`] answering every command with `handler(argv)`.
fn fake_host(
    dry_run: bool,
    handler: impl FnMut(&[String]) -> CommandOutput + Send + 'static,
) -> Arc<FakeHost> {
    let handler = Mutex::new(handler);
    let respond = move |request: &CommandRequest| Ok((handler.lock().unwrap())(&request.argv));
    if dry_run {
        FakeHost::dry_run(respond)
    } else {
        FakeHost::new(respond)
    }
}

/// Every log line, one per line.
fn logs(fake: &FakeHost) -> String {
    fake.logs()
        .into_iter()
        .map(|(_, m)| m)
        .collect::<Vec<_>>()
        .join("\n")
}

fn config(keywords: &[(&str, &str)]) -> ResourceConfig {
    let mut kw: BTreeMap<String, String> = [("vob", "/vobs/dev"), ("targets", "tokyo london")]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    for (k, v) in keywords {
        if v.is_empty() {
            kw.remove(*k);
        } else {
            kw.insert((*k).into(), (*v).into());
        }
    }
    let mut config = ResourceConfig::new("paris", "sync#0", "node1")
        .driver_option("bin", "/sim")
        .state_dir(std::env::temp_dir());
    config.keywords = kw;
    config
}

fn driver(keywords: &[(&str, &str)], fake: &Arc<FakeHost>) -> Replica {
    Replica::open(config(keywords), fake.host()).unwrap()
}

fn request(action: &str) -> ActionRequest {
    ActionRequest::new(action)
}

/// One lspacket -long block.
fn block(path: &str, id: &str, frag: (u32, u32), star: bool) -> String {
    format!(
        "Packet is: {path}\nPacket type: Update\nVOB family identifier is: 12a3456b.78c901d2.e3ab.45:67:89:c0:1d:e2\nComment supplied at packet creation is:\nPacket intended for the following targets:\n  tokyo [ local to this network ] {}tag: /vobs/dev\n  london\nOriginating replica is: paris (oid)\nPacket identifier is: {id}\nPacket fragment: {} of {}\nThe packet sequence number is {}\n",
        if star { "* " } else { "" },
        frag.0,
        frag.1,
        frag.0
    )
}

#[test]
fn parses_the_reference_listing() {
    let text = "Packet is: /opt/rational/clearcase/shipping/ms_ship/incoming/sync_bangalore_30-Oct-02.14.35.49_2468_1\nPacket type: Update\nVOB family identifier is: 12a3456b.78c901d2.e3ab.45:67:89:c0:1d:e2\nComment supplied at packet creation is:\nPacket intended for the following targets:\n  boston_hub\nThe packet sequence number is 1\n\nPacket is: /x/sync_b_1\nPacket type: Update\nVOB family identifier is: f\nComment supplied at packet creation is: weekly\nPacket intended for the following targets:\n  lambik_repl [ local to this network ] * tag: /vobs/vob1\n  other [ local to this network ] tag: /vobs/vob2\nOriginating replica is: bangalore\nPacket identifier is: abc\nPacket fragment: 2 of 3\nThe packet sequence number is 2\n";
    let p = lspacket::parse(text);
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].name(), "sync_bangalore_30-Oct-02.14.35.49_2468_1");
    assert_eq!(
        p[0].targets,
        vec![Target {
            name: "boston_hub".into(),
            ..Target::default()
        }]
    );
    assert_eq!(p[0].sequence, Some(1));
    assert_eq!(p[0].fragment(), (1, 1));
    assert_eq!(
        p[0].key(),
        "/opt/rational/clearcase/shipping/ms_ship/incoming/sync_bangalore_30-Oct-02.14.35.49_2468"
    );
    assert_eq!(p[1].comment, "weekly");
    assert_eq!(
        p[1].targets[0],
        Target {
            name: "lambik_repl".into(),
            local: true,
            star: true,
            tag: Some("/vobs/vob1".into())
        }
    );
    assert!(!p[1].targets[1].star);
    assert_eq!(p[1].origin.as_deref(), Some("bangalore"));
    assert_eq!(p[1].fragment(), (2, 3));
    assert_eq!(p[1].key(), "abc");
    let g = lspacket::group(&p);
    assert_eq!(g.len(), 2);
    assert_eq!(g[1].missing(), vec![1, 3]);
}

#[test]
fn export_command_lines_follow_the_reference() {
    let fake = fake_host(false, |_| {
        ok("Generating synchronization packet /b/outgoing/sync_paris_x_1\n")
    });
    let d = driver(
        &[
            ("maxsize", "1m"),
            ("limit", "4"),
            ("comment", "nightly"),
            ("lockwait", "5"),
            ("workdir", "/tmp/w"),
            ("sclass", "ms"),
        ],
        &fake,
    );
    let s = d.settings().unwrap();
    assert_eq!(
        d.export_argv(&s).join(" "),
        "/sim/multitool syncreplica -export -maxsize 1m -limit 4 -comment nightly -lockwait 5 -workdir /tmp/w -fship -sclass ms tokyo@/vobs/dev london@/vobs/dev"
    );
    assert_eq!(
        d.import_argv(&s, false, None).join(" "),
        "/sim/multitool syncreplica -import -receive -sclass ms"
    );
    assert_eq!(
        d.import_argv(&s, true, None).join(" "),
        "/sim/multitool syncreplica -import -diagnose -receive -sclass ms"
    );
    // The ClearQuest flavour, as in the seed.
    let d = driver(
        &[
            ("tool", "multiutil"),
            ("vob", "PRODA"),
            ("clan", "telecomm"),
            ("site", "sanfran_hub"),
            ("user", "jcole"),
            ("password", "passwd"),
            ("maxsize", "50m"),
            ("workdir", "c:\\temp\\packets"),
            ("sclass", "cq_default"),
            ("targets", "bangalore"),
        ],
        &fake,
    );
    let s = d.settings().unwrap();
    assert_eq!(
        d.export_argv(&s).join(" "),
        "/sim/multiutil syncreplica -export -clan telecomm -site sanfran_hub -family PRODA -user jcole -password passwd -maxsize 50m -workdir c:\\temp\\packets -fship -sclass cq_default bangalore"
    );
    assert_eq!(
        d.import_argv(&s, false, None).join(" "),
        "/sim/multiutil syncreplica -import -family PRODA -user jcole -password passwd -receive -sclass cq_default"
    );
    // -ship, -out and a replica selector.
    let d = driver(
        &[
            ("vob", "replica:paris@/vobs/dev"),
            ("transport", "out"),
            ("out_dir", "/pk/"),
            ("targets", "tokyo boston@/vobs/other"),
            ("incoming", "/in"),
        ],
        &fake,
    );
    let s = d.settings().unwrap();
    assert_eq!(s.local.as_deref(), Some("paris"));
    let argv = d.export_argv(&s).join(" ");
    assert!(
        argv.starts_with("/sim/multitool syncreplica -export -out /pk/sync_paris_"),
        "{argv}"
    );
    assert!(
        argv.ends_with("_1 tokyo@/vobs/dev boston@/vobs/other"),
        "{argv}"
    );
    assert_eq!(
        d.import_argv(&s, false, None).join(" "),
        "/sim/multitool syncreplica -import /in"
    );
    assert_eq!(
        d.lspacket_argv(&s).join(" "),
        "/sim/multitool lspacket -long /in"
    );
}

#[test]
fn validation_names_the_keywords() {
    let problems = |kw: &[(&str, &str)]| -> Vec<String> {
        Replica::validate(&config(kw))
            .into_iter()
            .map(|p| p.keyword.unwrap_or_default())
            .collect()
    };
    assert!(problems(&[]).is_empty());
    assert_eq!(problems(&[("targets", "")]), ["targets"]);
    assert!(problems(&[("targets", ""), ("role", "import")]).is_empty());
    assert_eq!(problems(&[("transport", "out")]), ["out_dir"]);
    assert_eq!(problems(&[("limit", "3")]), ["limit"]);
    assert_eq!(problems(&[("env", "MTS_SITE")]), ["env"]);
    assert_eq!(problems(&[("vob", "replica:tokyo@/vobs/dev")]), ["targets"]);
    assert_eq!(
        problems(&[("tool", "multiutil")]),
        ["user", "password", "clan", "site"]
    );
    assert_eq!(problems(&[("role", "sideways")]), ["role"]);
}

#[test]
fn import_loops_until_a_pass_applies_nothing() {
    // Two packets arrived out of order: the first pass applies the older one,
    // the second the newer one, the third finds nothing.
    let mut listings = vec![
        block("/in/sync_paris_2_1", "B", (1, 1), false)
            + "\n"
            + &block("/in/sync_paris_1_1", "A", (1, 1), true),
        block("/in/sync_paris_2_1", "B", (1, 1), true),
        String::new(),
        String::new(),
    ]
    .into_iter();
    let mut imports = vec![
        fail(
            "Applied sync. packet /in/sync_paris_1_1 to VOB x\n",
            "multitool: Error: Cannot apply sync. packet /in/sync_paris_2_1\n",
        ),
        ok("Applied sync. packet /in/sync_paris_2_1 to VOB x\n"),
    ]
    .into_iter();
    let fake = fake_host(false, move |argv| match argv[1].as_str() {
        "lspacket" => ok(&listings.next().unwrap_or_default()),
        "syncreplica" if argv[2] == "-import" => imports.next().unwrap_or_else(|| ok("")),
        _ => ok("Removing empty packet /x\n"),
    });
    let d = driver(&[("env", "MTS_SITE=paris")], &fake);
    let outcome = d.action(&request("sync_update")).unwrap();
    assert_eq!(
        outcome.messages,
        [
            "imported 2 packet(s)",
            "nothing to send to tokyo@/vobs/dev, london@/vobs/dev (empty packet removed)"
        ]
    );
    let cmds = fake.command_lines();
    let imports: Vec<&String> = cmds.iter().filter(|c| c.contains("-import")).collect();
    // Pass 1 names the only packet with a `*`; pass 2 takes everything (-receive).
    assert_eq!(
        imports,
        [
            "/sim/multitool syncreplica -import /in/sync_paris_1_1",
            "/sim/multitool syncreplica -import -receive"
        ],
        "{cmds:#?}"
    );
    assert!(logs(&fake).contains("import pass 2: 1 packet(s) applied"));
    assert!(
        fake.commands()
            .iter()
            .all(|c| c.env.get("MTS_SITE").map(String::as_str) == Some("paris"))
    );
    assert!(fake.state_get(LAST_IMPORT).is_some() && fake.state_get(LAST_EXPORT).is_some());
}

#[test]
fn without_any_asterisk_the_first_pass_tries_every_complete_packet() {
    let listing = block("/in/sync_paris_1_1", "A", (1, 1), false);
    let fake = fake_host(false, move |argv| match argv[1].as_str() {
        "lspacket" => ok(&listing),
        _ => fail(
            "",
            "multitool: Error: Cannot apply sync. packet /in/sync_paris_1_1 to replica \"tokyo\": it depends on operations not yet received\n",
        ),
    });
    let d = driver(&[("role", "import"), ("targets", "")], &fake);
    let outcome = d.action(&request("sync_update")).unwrap();
    assert_eq!(outcome.messages, ["imported 0 packet(s)"]);
    let imports: Vec<String> = fake
        .command_lines()
        .into_iter()
        .filter(|c| c.contains("-import"))
        .collect();
    assert_eq!(imports, ["/sim/multitool syncreplica -import -receive"]);
    // The refusal is expected: logged at INFO, not as an error.
    let logs = fake.logs();
    assert!(
        logs.iter()
            .any(|(l, m)| *l == Level::Info
                && m.contains("it depends on operations not yet received")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|(l, m)| *l == Level::Info
            && m == "sync_paris_1_1 is held: a predecessor is missing (no * in lspacket)"),
        "{logs:?}"
    );
    assert!(!logs.iter().any(|(l, _)| *l <= Level::Warn), "{logs:?}");
}

#[test]
fn incomplete_logical_packets_are_never_imported() {
    let listing = block("/in/sync_paris_9_1", "L", (1, 3), true)
        + "\n"
        + &block("/in/sync_paris_9_3", "L", (3, 3), true)
        + "\n"
        + &block("/in/sync_paris_8_1", "K", (1, 1), true);
    let mut n = 0;
    let fake = fake_host(false, move |argv| match argv[1].as_str() {
        "lspacket" => {
            n += 1;
            if n == 1 {
                ok(&listing)
            } else {
                ok(&(block("/in/sync_paris_9_1", "L", (1, 3), true)
                    + "\n"
                    + &block("/in/sync_paris_9_3", "L", (3, 3), true)))
            }
        }
        _ => ok("Applied sync. packet /in/sync_paris_8_1 to VOB x\n"),
    });
    let d = driver(&[("role", "import"), ("targets", "")], &fake);
    d.action(&request("sync_update")).unwrap();
    let imports: Vec<String> = fake
        .command_lines()
        .into_iter()
        .filter(|c| c.contains("-import"))
        .collect();
    assert_eq!(
        imports,
        ["/sim/multitool syncreplica -import /in/sync_paris_8_1"]
    );
    let logs = logs(&fake);
    assert!(
        logs.contains("sync_paris_9_1: waiting for fragment(s) 2 of 3 before importing it"),
        "{logs}"
    );
    assert!(
        logs.contains("sync_paris_9_1 is held: fragment(s) 2 of 3 not arrived"),
        "{logs}"
    );
}

#[test]
fn a_refused_packet_fails_the_import_with_the_tool_message() {
    let listing = block("/in/sync_paris_5_1", "C", (1, 1), true);
    let fake = fake_host(false, move |argv| match argv[1].as_str() {
        "lspacket" => ok(&listing),
        _ => fail(
            "",
            "multitool: Error: Sync. packet /in/sync_paris_5_1 cannot be imported: packet is corrupt (checksum 1 does not match 2). Nothing was imported from it.\n",
        ),
    });
    let d = driver(&[("role", "import"), ("targets", "")], &fake);
    let e = d.action(&request("sync_update")).unwrap_err();
    assert!(
        e.message.starts_with(
            "1 packet(s) could not be imported: sync_paris_5_1: multitool: Error: Sync. packet"
        ),
        "{}",
        e.message
    );
    assert!(e.message.contains("packet is corrupt"), "{}", e.message);
    assert!(fake.state_get(LAST_IMPORT).is_none());
}

#[test]
fn export_failure_is_reported_after_the_import() {
    let fake = fake_host(false, |argv| match argv[2].as_str() {
        "-long" => ok(""),
        _ => fail(
            "",
            "multitool: Error: Unable to lock VOB \"/vobs/dev\": VOB is locked.\n",
        ),
    });
    let d = driver(&[], &fake);
    let e = d.action(&request("sync_update")).unwrap_err();
    assert_eq!(
        e.message,
        "multitool exited with code 1: multitool: Error: Unable to lock VOB \"/vobs/dev\": VOB is locked."
    );
    assert!(fake.state_get(LAST_IMPORT).is_some());
    assert!(fake.state_get(LAST_EXPORT).is_none());
}

#[test]
fn dry_run_lists_what_it_would_do() {
    let listing = block("/in/sync_paris_1_1", "A", (1, 1), true)
        + "\n"
        + &block("/in/sync_paris_2_1", "B", (1, 1), false);
    let fake = fake_host(true, move |_| ok(&listing));
    let d = driver(&[], &fake);
    let request = request("sync_update").dry_run();
    d.action(&request).unwrap();
    let logs = logs(&fake);
    assert!(
        logs.contains("would import 1 packet(s): sync_paris_1_1"),
        "{logs}"
    );
    assert!(
        logs.contains("held until a predecessor is imported (no * in lspacket): sync_paris_2_1"),
        "{logs}"
    );
    assert!(
        logs.contains("would export an update packet for tokyo@/vobs/dev, london@/vobs/dev"),
        "{logs}"
    );
    let calls = fake.commands();
    assert_eq!(
        calls.iter().filter(|c| !c.read_only).count(),
        2,
        "one import, one export"
    );
    for key in [OUT_SEQ, LAST_IMPORT, LAST_EXPORT] {
        assert_eq!(fake.state_get(key), None, "{key} stored under --dry-run");
    }
}

#[test]
fn status_rules() {
    let dir = tempfile_dir();
    let old = dir.join("sync_paris_7_1");
    std::fs::write(&old, "x").unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&old).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    let young = dir.join("sync_paris_8_1");
    std::fs::write(&young, "x").unwrap();
    let listing = block(old.to_str().unwrap(), "A", (1, 1), false)
        + "\n"
        + &block(young.to_str().unwrap(), "B", (1, 2), false)
        + "\n"
        + &block("/in/sync_paris_9_1", "C", (1, 1), true);
    let fake = fake_host(false, move |_| ok(&listing));
    let d = driver(&[], &fake);
    let r = d.status().unwrap();
    assert_eq!(r.state, Status::Down, "{r:?}");
    assert_eq!(
        r.messages[0].text,
        "no successful export or import recorded yet"
    );
    fake.state_put(LAST_EXPORT, "2024-06-15T10:00:00Z").unwrap();
    fake.state_put(LAST_IMPORT, "2024-06-15T09:00:00Z").unwrap();
    let r = d.status().unwrap();
    assert_eq!(r.state, Status::Warn, "{r:?}");
    assert_eq!(r.last_sync.as_deref(), Some("2024-06-15T09:00:00Z"));
    let warn: Vec<&str> = r
        .messages
        .iter()
        .filter(|m| m.level == MessageLevel::Warn)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        warn,
        ["sync_paris_7_1 waits in incoming for 2h00m: a predecessor is missing (no * in lspacket)"]
    );
    let text: Vec<&str> = r.messages.iter().map(|m| m.text.as_str()).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("sync_paris_8_1 waits in incoming (")
                && t.ends_with("): fragment(s) 2 of 2 not arrived")),
        "{text:?}"
    );
    assert!(text.contains(&"1 packet(s) ready to import"), "{text:?}");
    // An export-only site does not look at incoming packets.
    let d = driver(&[("role", "export")], &fake);
    let r = d.status().unwrap();
    assert_eq!(r.state, Status::Up);
    assert_eq!(r.last_sync.as_deref(), Some("2024-06-15T10:00:00Z"));
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "doppel-replica-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn recover_needs_force_then_rolls_back_and_exports() {
    let fake = fake_host(false, |argv| match argv[1].as_str() {
        "recoverpacket" => ok("Reset the epoch row for replica \"tokyo\"\n"),
        _ => ok("Generating synchronization packet /b/sync_paris_1\n"),
    });
    let d = driver(&[], &fake);
    let mut req = request("recover");
    req.options
        .insert("since".into(), "15-Jun-24.10:00:00".into());
    req.options.insert("replica".into(), "tokyo".into());
    let e = d.action(&req).unwrap_err();
    assert!(e.message.starts_with("recover rolls back the epoch estimates of tokyo so that the next export re-sends every operation sent since 15-Jun-24.10:00:00: run it with --force"), "{}", e.message);
    assert!(fake.command_lines().is_empty());
    req.force = true;
    let out = d.action(&req).unwrap();
    assert_eq!(
        fake.command_lines(),
        [
            "/sim/multitool recoverpacket -since 15-Jun-24.10:00:00 tokyo@/vobs/dev",
            "/sim/multitool syncreplica -export -fship tokyo@/vobs/dev"
        ]
    );
    assert_eq!(
        out.messages[1],
        "exported 1 packet file(s) for tokyo@/vobs/dev (forwarded)"
    );
    req.options.insert("replica".into(), "paris".into());
    assert!(
        d.action(&req)
            .unwrap_err()
            .message
            .contains("'paris' is not one of the targets")
    );
    // A duration means "that long ago".
    req.options.insert("replica".into(), "london".into());
    req.options.insert("since".into(), "2h".into());
    d.action(&req).unwrap();
    let last = fake.command_lines().into_iter().rev().nth(1).unwrap();
    assert!(
        last.starts_with("/sim/multitool recoverpacket -since ")
            && last.ends_with(" london@/vobs/dev"),
        "{last}"
    );
}

#[test]
fn ship_and_diagnose() {
    let fake = fake_host(false, |argv| {
        if argv[0].ends_with("shipping_server") {
            ok(" -- Forwarded/delivered packet /b/outgoing/sync_paris_1\n")
        } else {
            ok("")
        }
    });
    let mut cfg = config(&[("sclass", "cq_default")]);
    cfg.driver_options
        .insert("etc".into(), serde_json::json!("/sim/etc"));
    let d = Replica::open(cfg, Host::new(fake.clone())).unwrap();
    let out = d.action(&request("ship")).unwrap();
    assert_eq!(out.messages, ["1 packet(s) forwarded"]);
    assert_eq!(
        fake.command_lines(),
        ["/sim/etc/shipping_server -sclass cq_default -poll"]
    );
    let out = d.action(&request("diagnose")).unwrap();
    assert_eq!(
        out.messages,
        ["0 packet(s) for this replica in incoming, none held"]
    );
    let calls = fake.commands();
    let diag = &calls[1];
    assert_eq!(
        diag.argv.join(" "),
        "/sim/multitool syncreplica -import -diagnose -receive -sclass cq_default"
    );
    assert!(diag.read_only && !diag.quiet);
}

#[test]
fn humane_durations() {
    assert_eq!(human(Duration::from_secs(45)), "45s");
    assert_eq!(human(Duration::from_secs(725)), "12m05s");
    assert_eq!(human(Duration::from_secs(3 * 3600 + 7 * 60)), "3h07m");
    assert_eq!(human(Duration::from_secs(2 * 86400 + 4 * 3600)), "2d04h");
}

#[test]
fn recover_dry_run_says_what_would_happen() {
    let fake = fake_host(true, |_| ok(""));
    let d = driver(&[], &fake);
    let mut req = request("recover");
    req.options
        .insert("since".into(), "15-Jun-24.10:00:00".into());
    req.options.insert("replica".into(), "tokyo".into());
    req.force = true;
    req.dry_run = true;
    let out = d.action(&req).unwrap();
    assert_eq!(
        out.messages,
        ["would roll the epoch estimate of tokyo back to 15-Jun-24.10:00:00"]
    );
    assert!(
        !out.messages.iter().any(|m| m.contains("rolled back")),
        "nothing ran: {:?}",
        out.messages
    );
    assert!(logs(&fake).contains("would export an update packet for tokyo@/vobs/dev"));
}

#[test]
fn import_takes_no_invob_and_names_its_files_when_the_bay_holds_other_packets() {
    // VersionVault's syncreplica -import synopsis has no -invob: -receive imports
    // every packet of the storage bays, so it is used only when they are all ours.
    let ours = block("/in/sync_paris_1_1", "A", (1, 1), true);
    let other = "Packet is: /in/sync_rome_9_1\nPacket type: Update\nVOB family identifier is: f\nComment supplied at packet creation is:\nPacket intended for the following targets:\n  milan [ local to this network ] * tag: /vobs/web\nOriginating replica is: rome (oid)\nPacket identifier is: Z\nPacket fragment: 1 of 1\nThe packet sequence number is 1\n";
    let listing = format!("{ours}\n{other}");
    let mut imported = false;
    let fake = fake_host(false, move |argv| match argv[1].as_str() {
        "lspacket" if imported => ok(other),
        "lspacket" => ok(&listing),
        _ => {
            imported = true;
            ok("Applied sync. packet /in/sync_paris_1_1 to VOB /vobs/dev\n")
        }
    });
    let d = driver(&[("role", "import"), ("targets", "")], &fake);
    let outcome = d.action(&request("sync_update")).unwrap();
    assert_eq!(outcome.messages, ["imported 1 packet(s)"]);
    let imports: Vec<String> = fake
        .command_lines()
        .into_iter()
        .filter(|c| c.contains("-import"))
        .collect();
    assert_eq!(
        imports,
        ["/sim/multitool syncreplica -import /in/sync_paris_1_1"]
    );
    assert!(fake.command_lines().iter().all(|c| !c.contains("-invob")));
}
