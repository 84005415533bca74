//! The commands an OpenSVC operator reaches for: `ls`, `restart`, `freeze` /
//! `thaw`, `logs`, and the log lines saying who ran what.

use doppel_e2e::{TestContext, assert_line, run};

fn node() -> TestContext {
    let ctx = TestContext::new();
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    let rec = ctx.root().join("record").display().to_string();
    ctx.service("web", &format!("[app#0]\ntype = test\nrecord = {rec}\n"));
    ctx.service("db", &format!("[fs#1]\ntype = test\ninitial = up\nrecord = {rec}\n\n[sync#0]\ntype = test\nschedule = @1\nrecord = {rec}\n"));
    ctx.service("other", "[DEFAULT]\nnodes = n2\n\n[app#0]\ntype = test\n");
    ctx
}

/// `<svc> <rid> <action>` of every driver call since the last look.
fn calls(ctx: &TestContext) -> Vec<String> {
    let path = ctx.root().join("record");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    text.lines()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn ls_lists_this_nodes_services_one_line_each() {
    let ctx = node();
    ctx.ok(&["-s", "web", "start"]);
    let (code, stdout, stderr) = run(&mut ctx.doppel(["ls"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "service  avail      overall    frozen\n\
         db       up         warn       -\n\
         web      up         up         -\n"
    );
    let (code, stdout, _) = run(&mut ctx.doppel(["ls", "--format", "json"]));
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc[0]["service"], "db");
    assert_eq!(doc[1]["avail"], "up");
    assert_eq!(doc.as_array().unwrap().len(), 2, "other is n2's");
    let (_, stdout, _) = run(&mut ctx.doppel(["-s", "w*", "ls"]));
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
}

#[test]
fn restart_stops_then_starts_and_a_failed_stop_starts_nothing() {
    let ctx = node();
    ctx.ok(&["-s", "web", "start"]);
    calls(&ctx);
    ctx.ok(&["-s", "web", "restart"]);
    assert_eq!(calls(&ctx), ["web app#0 stop", "web app#0 start"]);
    let rec = ctx.root().join("record").display().to_string();
    ctx.service(
        "web",
        &format!("[app#0]\ntype = test\nfail = stop\nrecord = {rec}\n"),
    );
    let stderr = ctx.expect(&["-s", "web", "restart"], 1);
    assert_line(
        &stderr,
        "doppel: web: stop failed: app#0: stop was told to fail",
    );
    assert_eq!(calls(&ctx), ["web app#0 stop"]);
    // JSON: one list, the stop then the start.
    ctx.service("web", &format!("[app#0]\ntype = test\nrecord = {rec}\n"));
    let (code, stdout, _) = run(&mut ctx.doppel(["-s", "web", "restart", "--format", "json"]));
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let actions: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["stop", "start"]);
}

#[test]
fn a_frozen_service_is_left_alone_by_the_daemon_but_not_by_commands() {
    let ctx = node();
    ctx.ok(&["-s", "db", "freeze"]);
    assert!(ctx.root().join("var/lib/doppel/db/frozen").exists());
    let (code, _, stderr) = run(&mut ctx.doppel(["daemon", "--once"]));
    assert_eq!(code, 0, "{stderr}");
    assert_line(
        &stderr,
        "* DB.SYNC#0 - INFO - skip sync_update: the service is frozen",
    );
    assert!(
        !calls(&ctx).iter().any(|c| c.ends_with("sync_update")),
        "no scheduled sync"
    );
    // print status and ls say so.
    let (_, stdout, _) = run(&mut ctx.doppel(["-s", "db", "print", "status"]));
    assert!(
        stdout.lines().next().unwrap().ends_with("(frozen)"),
        "{stdout}"
    );
    let (_, stdout, _) = run(&mut ctx.doppel(["-s", "db", "print", "status", "--format", "json"]));
    assert!(stdout.contains("\"frozen\": true"), "{stdout}");
    // Commands still act on it.
    ctx.ok(&["-s", "db", "sync", "update"]);
    assert!(calls(&ctx).contains(&"db sync#0 sync_update".to_owned()));
    // Thawed: scheduled again.
    ctx.ok(&["-s", "db", "thaw"]);
    assert!(!ctx.root().join("var/lib/doppel/db/frozen").exists());
    let (_, stdout, _) = run(&mut ctx.doppel(["-s", "db", "print", "status"]));
    assert!(!stdout.contains("frozen"), "{stdout}");
    // Another node's service is refused by name.
    let stderr = ctx.expect(&["-s", "other", "freeze"], 2);
    assert_eq!(
        stderr,
        "doppel: other: this node (n1) is not in nodes (n2) or drpnodes\n"
    );
}

#[test]
fn the_log_says_who_ran_what_and_how_it_ended() {
    let ctx = node();
    ctx.ok(&["-s", "web", "start"]);
    let rec = ctx.root().join("record").display().to_string();
    ctx.service(
        "web",
        &format!("[app#0]\ntype = test\nfail = stop\nrecord = {rec}\n"),
    );
    ctx.expect(&["-s", "web", "stop", "--rid", "app#0"], 1);
    let log = std::fs::read_to_string(ctx.root().join("var/log/doppel/web.log")).unwrap();
    let records: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once(" * WEB - INFO - ").map(|(_, m)| m))
        .filter(|m| m.contains("requested by") || m.contains(" ended: "))
        .collect();
    assert_eq!(records.len(), 4, "{log}");
    assert!(
        records[0].starts_with("start requested by "),
        "{}",
        records[0]
    );
    assert!(records[0].contains("(uid "), "{}", records[0]);
    assert!(
        records[0].ends_with(&format!("--root {} -s web start", ctx.root().display())),
        "{}",
        records[0]
    );
    assert_eq!(records[1], "start ended: ok");
    assert!(
        records[2].ends_with("-s web stop --rid 'app#0'"),
        "{}",
        records[2]
    );
    assert_eq!(
        records[3],
        "stop ended: failed: app#0: stop was told to fail"
    );
}

#[test]
fn logs_prints_the_service_log_since_a_time() {
    let ctx = node();
    ctx.ok(&["-s", "web", "start"]);
    let (code, stdout, _) = run(&mut ctx.doppel(["-s", "web", "logs"]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("* WEB.APP#0 - INFO - start done"),
        "{stdout}"
    );
    // An old line is left out by --since, a recent one kept.
    let path = ctx.root().join("var/log/doppel/web.log");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("2001-01-01 00:00:00.000 * WEB - INFO - ancient\n  continued\n{text}"),
    )
    .unwrap();
    let (_, all, _) = run(&mut ctx.doppel(["-s", "web", "logs"]));
    assert!(all.contains("ancient\n  continued\n"), "{all}");
    let (code, recent, _) = run(&mut ctx.doppel(["-s", "web", "logs", "--since", "1h"]));
    assert_eq!(code, 0);
    assert!(
        !recent.contains("ancient") && !recent.contains("continued"),
        "{recent}"
    );
    assert!(recent.contains("start done"), "{recent}");
    let (_, recent, _) =
        run(&mut ctx.doppel(["-s", "web", "logs", "--since", "2000-06-01 00:00:00"]));
    assert!(recent.contains("ancient"), "{recent}");
    let stderr = ctx.expect(&["-s", "web", "logs", "--since", "yesterday-ish"], 2);
    assert!(
        stderr.contains("--since yesterday-ish: expected a duration"),
        "{stderr}"
    );
    // Several services: each line names its service.
    ctx.ok(&["-s", "db", "start"]);
    let (_, both, _) = run(&mut ctx.doppel(["-s", "db,web", "logs", "--since", "1h"]));
    assert!(
        both.lines()
            .all(|l| l.starts_with("db: ") || l.starts_with("web: ")),
        "{both}"
    );
}

#[test]
fn logs_follow_prints_lines_as_they_are_written() {
    let ctx = node();
    ctx.ok(&["-s", "web", "start"]);
    let mut child = ctx
        .doppel(["-s", "web", "logs", "--follow", "--since", "1m"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.contains("stop done");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    });
    ctx.ok(&["-s", "web", "stop"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let lines = reader.join().unwrap();
    assert!(lines.iter().any(|l| l.contains("start done")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("stop done")), "{lines:?}");
}

#[test]
fn status_and_print_status_print_one_json_shape() {
    let ctx = node();
    let (code, from_action, _) =
        run(&mut ctx.doppel(["-s", "web,db", "status", "--format", "json"]));
    assert_eq!(code, 0);
    let (_, from_print, _) =
        run(&mut ctx.doppel(["-s", "web,db", "print", "status", "--format", "json"]));
    let strip = |text: &str| {
        let mut doc: serde_json::Value = serde_json::from_str(text).unwrap();
        for s in doc.as_array_mut().unwrap() {
            s.as_object_mut().unwrap().remove("updated");
        }
        doc
    };
    assert_eq!(strip(&from_action), strip(&from_print));
    let doc = strip(&from_action);
    let keys: Vec<&String> = doc[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "avail",
            "frozen",
            "optional",
            "overall",
            "resources",
            "service",
            "valid"
        ]
    );
}

#[test]
fn status_words_are_coloured_on_request_only() {
    let ctx = node();
    ctx.ok(&["-s", "web", "start"]);
    // Piped (as here): no colour by default.
    let (_, plain, _) = run(&mut ctx.doppel(["-s", "web", "print", "status"]));
    assert!(!plain.contains('\x1b'), "{plain:?}");
    let (_, coloured, _) =
        run(&mut ctx.doppel(["-s", "web", "print", "status", "--color", "always"]));
    assert!(coloured.contains("\x1b[32mup\x1b[0m"), "{coloured:?}");
    let (_, ls, _) = run(&mut ctx.doppel(["ls", "--color", "always"]));
    assert!(ls.contains("\x1b[32m"), "{ls:?}");
    let (_, never, _) = run(&mut ctx.doppel(["-s", "web", "print", "status", "--color", "never"]));
    assert_eq!(never, plain);
}

#[test]
fn print_status_says_how_old_a_cache_is_and_which_resources_are_gone() {
    let ctx = node();
    ctx.ok(&["-s", "db", "start"]);
    let cache = ctx.root().join("var/lib/doppel/db/status.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(2 * 3600 + 60);
    doc["updated"] = old.to_string().into();
    std::fs::write(&cache, serde_json::to_string(&doc).unwrap()).unwrap();
    // sync#0 is removed from the file after the cache was written.
    let rec = ctx.root().join("record").display().to_string();
    ctx.service(
        "db",
        &format!("[fs#1]\ntype = test\ninitial = up\nrecord = {rec}\n"),
    );
    let (code, stdout, _) = run(&mut ctx.doppel(["-s", "db", "print", "status"]));
    assert_eq!(code, 0);
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .ends_with("(status of 2h ago)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "warn: no longer in the service file (the cache predates an edit: --refresh)"
        ),
        "{stdout}"
    );
    let (_, fresh, _) = run(&mut ctx.doppel(["-s", "db", "print", "status", "--refresh"]));
    assert!(
        !fresh.contains("ago") && !fresh.contains("sync#0"),
        "{fresh}"
    );
}
