//! `sync.replica` end to end (issue 9, item 5): the real `doppel` binary and its
//! replica driver against the MultiSite simulator (tests/sim-mts). One node
//! runs one service per site (`paris`, `tokyo`, `london`), all in one simulated
//! MultiSite world; each service tells the simulator which site it is with
//! `env = MTS_SITE=<site>`.

use std::path::PathBuf;
use std::process::Command;

use doppel_e2e::{TestContext, run, target_dir};

struct Sites {
    ctx: TestContext,
}

impl Sites {
    /// A VOB family /vobs/dev with one replica per site, each at its own host,
    /// and one service per site exporting to the others. `extra` is appended to
    /// the resource section of the service of that site.
    fn new(sites: &[&str], extra: &[(&str, &str)]) -> Sites {
        let mut ctx = TestContext::new();
        ctx.write(
            "etc/doppel/doppel.toml",
            &format!(
                "nodename = \"labnode\"\n\n[driver.replica]\nbin = \"{}\"\n",
                target_dir().display()
            ),
        );
        ctx.env(
            "DOPPEL_SIM_ROOT",
            ctx.root().join("sim").display().to_string(),
        );
        for site in sites {
            let targets: Vec<&str> = sites.iter().copied().filter(|s| s != site).collect();
            let more: String = extra
                .iter()
                .filter(|(s, _)| s == site)
                .map(|(_, e)| format!("{e}\n"))
                .collect();
            ctx.service(
                site,
                &format!(
                    "[DEFAULT]\nnodes = labnode\n\n[sync#0]\ntype = replica\nvob = replica:{site}@/vobs/dev\ntargets = {}\nenv = MTS_SITE={site}\nmax_hold = 10m\n{more}",
                    targets.join(" ")
                ),
            );
        }
        let s = Sites { ctx };
        let mut args = vec![
            "family".to_owned(),
            "create".to_owned(),
            "/vobs/dev".to_owned(),
        ];
        args.extend(sites.iter().map(|x| format!("{x}@{x}")));
        s.mtsim(&args.iter().map(String::as_str).collect::<Vec<_>>());
        s
    }

    #[track_caller]
    fn mtsim(&self, args: &[&str]) -> String {
        self.ctx.tool_ok("mtsim", args)
    }

    fn content(&self, site: &str) -> String {
        self.mtsim(&["content", site])
    }

    fn change(&self, site: &str, text: &str) {
        self.mtsim(&["change", site, "--text", text]);
    }

    fn incoming(&self, site: &str) -> PathBuf {
        PathBuf::from(self.mtsim(&["bay", site]).trim())
    }

    fn packets(&self, site: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.incoming(site))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    /// `doppel -s <site> <args>`: (exit code, stdout + stderr).
    fn doppel(&self, site: &str, args: &[&str]) -> (i32, String) {
        let mut a = vec!["-s", site];
        a.extend_from_slice(args);
        let (code, stdout, stderr) = run(&mut self.ctx.doppel(a));
        (code, format!("{stdout}{stderr}"))
    }

    fn ok(&self, site: &str, args: &[&str]) -> String {
        let (code, out) = self.doppel(site, args);
        assert_eq!(code, 0, "doppel -s {site} {args:?}\n{out}");
        out
    }

    fn update(&self, site: &str) -> String {
        self.ok(site, &["sync", "update"])
    }

    /// The refreshed status of sync#0: (state, ["level: text", ...]).
    fn status(&self, site: &str) -> (String, Vec<String>) {
        self.ctx.refreshed_status(site, "sync#0")
    }

    /// Snapshot with the packet names' dates and pids filtered.
    fn snapshot(&self, name: &str, mut cmd: Command) {
        let mut filters = self.ctx.filters();
        filters.push((
            r"sync_(\w+?)_\d{2}-[A-Za-z]{3}-\d{2}\.\d{2}\.\d{2}\.\d{2}_\d+_(\d+)".into(),
            "sync_${1}_[STAMP]_${2}".into(),
        ));
        filters.push((r"\b\d+m\d{2}s\b".into(), "[WAIT]".into()));
        let filters: Vec<(&str, &str)> = filters
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        insta::with_settings!({filters => filters, prepend_module_to_snapshot => false}, {
            insta_cmd::assert_cmd_snapshot!(name, cmd);
        });
    }
}

#[test]
fn two_sites_a_change_at_one_reaches_the_other() {
    let s = Sites::new(&["paris", "tokyo"], &[]);
    s.change("paris", "hello from paris");
    let (state, messages) = s.status("tokyo");
    assert_eq!(
        (state.as_str(), messages[0].as_str()),
        ("down", "info: no successful export or import recorded yet")
    );

    let out = s.update("paris");
    assert!(
        out.contains("multitool syncreplica -export -fship tokyo@/vobs/dev"),
        "{out}"
    );
    assert!(
        out.contains("exported 1 packet file(s) for tokyo@/vobs/dev (forwarded)"),
        "{out}"
    );
    assert_eq!(s.packets("tokyo").len(), 1);

    let out = s.update("tokyo");
    assert!(
        out.contains("multitool syncreplica -import -receive"),
        "{out}"
    );
    assert!(out.contains("Applied sync. packet "), "{out}");
    assert!(out.contains("imported 1 packet(s)"), "{out}");
    // tokyo has nothing paris lacks: "Removing empty packet" is a successful export.
    assert!(
        out.contains("nothing to send to paris@/vobs/dev (empty packet removed)"),
        "{out}"
    );
    assert_eq!(
        s.content("tokyo"),
        "paris.c@@/main/paris/1  hello from paris\n"
    );
    assert_eq!(s.content("tokyo"), s.content("paris"));
    assert!(s.packets("tokyo").is_empty(), "applied packets are deleted");
    s.snapshot(
        "replica_status_up",
        s.ctx
            .doppel(["-s", "tokyo", "print", "status", "--refresh"]),
    );

    // And back.
    s.change("tokyo", "reply");
    s.update("tokyo");
    s.update("paris");
    assert_eq!(s.content("paris"), s.content("tokyo"));
    assert!(s.content("paris").contains("tokyo.c@@/main/tokyo/1  reply"));
}

#[test]
fn three_sites_converge() {
    let s = Sites::new(&["paris", "tokyo", "london"], &[]);
    s.change("paris", "p1");
    s.change("london", "l1");
    s.change("london", "l2");
    for _ in 0..2 {
        for site in ["paris", "tokyo", "london"] {
            s.update(site);
        }
    }
    let want =
        "london.c@@/main/london/1  l1\nlondon.c@@/main/london/2  l2\nparis.c@@/main/paris/1  p1\n";
    for site in ["paris", "tokyo", "london"] {
        assert_eq!(s.content(site), want, "{site}");
        assert!(s.packets(site).is_empty(), "{site}: {:?}", s.packets(site));
        assert_eq!(s.status(site).0, "up");
    }
}

#[test]
fn packets_delivered_out_of_order_are_applied_in_order() {
    let s = Sites::new(&["paris", "tokyo"], &[]);
    s.mtsim(&["hold", "tokyo"]);
    s.change("paris", "one");
    s.update("paris");
    s.change("paris", "two");
    s.update("paris");
    s.mtsim(&["transit", "deliver", "--reverse"]);
    let (code, out) = s.doppel("tokyo", &["sync", "update", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("would import 1 packet(s): sync_paris_"),
        "{out}"
    );
    assert!(
        out.contains("held until a predecessor is imported (no * in lspacket): sync_paris_"),
        "{out}"
    );
    assert_eq!(s.packets("tokyo").len(), 2, "dry-run imports nothing");

    let out = s.update("tokyo");
    let first = out
        .find("import pass 1: 1 packet(s) applied")
        .unwrap_or_else(|| panic!("{out}"));
    let second = out
        .find("import pass 2: 1 packet(s) applied")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(first < second);
    assert!(out.contains("imported 2 packet(s)"), "{out}");
    assert!(!out.contains("ERROR"), "held packets are not errors: {out}");
    assert_eq!(
        s.content("tokyo"),
        "paris.c@@/main/paris/1  one\nparis.c@@/main/paris/2  two\n"
    );
}

#[test]
fn a_missing_fragment_holds_the_logical_packet() {
    let s = Sites::new(&["paris", "tokyo"], &[("paris", "maxsize = 300")]);
    s.mtsim(&["hold", "tokyo"]);
    for i in 0..4 {
        s.change(
            "paris",
            &format!("change {i}, long enough to need several fragments"),
        );
    }
    let out = s.update("paris");
    assert!(
        out.contains("syncreplica -export -maxsize 300 -fship tokyo@/vobs/dev"),
        "{out}"
    );
    let transit: Vec<String> = s
        .mtsim(&["transit", "list"])
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().to_owned())
        .collect();
    let n = transit.len();
    assert!(n >= 3, "{transit:?}");
    let mut args = vec!["transit", "deliver"];
    args.extend(
        transit
            .iter()
            .map(String::as_str)
            .filter(|x| !x.ends_with("_2")),
    );
    s.mtsim(&args);

    let out = s.update("tokyo");
    assert!(
        out.contains(&format!(
            ": waiting for fragment(s) 2 of {n} before importing it"
        )),
        "{out}"
    );
    assert!(
        !out.contains("syncreplica -import"),
        "no part of the logical packet is imported: {out}"
    );
    assert_eq!(s.content("tokyo"), "");
    // Once it has waited too long, the status says so.
    for p in s.packets("tokyo") {
        s.mtsim(&["packet", "age", p.to_str().unwrap(), "3600"]);
    }
    let (state, messages) = s.status("tokyo");
    assert_eq!(state, "warn", "{messages:?}");
    let want = format!("waits in incoming for 1h00m: fragment(s) 2 of {n} not arrived");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("warn: sync_paris_") && m.ends_with(&want)),
        "{messages:?}"
    );

    s.mtsim(&["transit", "deliver"]);
    let out = s.update("tokyo");
    assert!(out.contains("imported 1 packet(s)"), "{out}");
    assert_eq!(s.content("tokyo"), s.content("paris"));
    assert_eq!(s.status("tokyo").0, "up");
}

#[test]
fn a_corrupted_packet_is_refused_and_nothing_is_half_applied() {
    let s = Sites::new(&["paris", "tokyo"], &[("paris", "maxsize = 200")]);
    s.change("paris", "first");
    s.update("paris");
    s.update("tokyo");
    let before = s.content("tokyo");
    s.mtsim(&["fail", "corrupt", "--to", "tokyo", "--fragment", "2"]);
    for i in 0..3 {
        s.change(
            "paris",
            &format!("second batch {i} padded padded padded padded"),
        );
    }
    s.update("paris");
    let (code, out) = s.doppel("tokyo", &["sync", "update"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("1 packet(s) could not be imported: sync_paris_"),
        "{out}"
    );
    assert!(out.contains("packet is corrupt (checksum "), "{out}");
    assert!(out.contains("Nothing was imported from it."), "{out}");
    assert_eq!(s.content("tokyo"), before, "nothing half-applied");
    assert!(
        !s.packets("tokyo").is_empty(),
        "the refused packet stays for inspection"
    );
    // The export half of the action still ran.
    assert!(
        out.contains("nothing to send to paris@/vobs/dev (empty packet removed)"),
        "{out}"
    );
}

#[test]
fn a_lost_packet_is_resent_after_recover() {
    let s = Sites::new(&["paris", "tokyo"], &[]);
    s.mtsim(&["fail", "drop", "--to", "tokyo"]);
    s.change("paris", "lost in transit");
    s.update("paris");
    s.change("paris", "arrives");
    s.update("paris");
    let out = s.update("tokyo");
    assert!(
        out.contains("is held: a predecessor is missing (no * in lspacket)"),
        "{out}"
    );
    assert_eq!(s.content("tokyo"), "");
    // Waiting long enough turns the status to warn.
    let (state, _) = s.status("tokyo");
    assert_eq!(state, "up");
    for p in s.packets("tokyo") {
        s.mtsim(&["packet", "age", p.to_str().unwrap(), "7200"]);
    }
    s.snapshot(
        "replica_status_held",
        s.ctx
            .doppel(["-s", "tokyo", "print", "status", "--refresh"]),
    );
    let out = s.ok("tokyo", &["diagnose"]);
    assert!(
        out.contains("missing oplog entries from replica \"paris\": IDs 1 to 2 (replica has 0)"),
        "{out}"
    );

    // The sender believes tokyo has everything.
    assert!(
        s.update("paris")
            .contains("nothing to send to tokyo@/vobs/dev")
    );
    let (code, out) = s.doppel("paris", &["recover"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("run it with --force once a packet is known to be lost"),
        "{out}"
    );
    // A misspelled option is refused before anything runs, never replaced by the
    // default (one day).
    let (code, out) = s.doppel("paris", &["recover", "--force", "--opt", "sinse=1h"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("doppel: --opt sinse: unknown option for recover (did you mean --opt since?)"),
        "{out}"
    );
    assert!(!out.contains("recoverpacket"), "{out}");
    // --dry-run says what would happen, and does not roll anything back.
    let out = s.ok(
        "paris",
        &["recover", "--force", "--dry-run", "--opt", "since=1h"],
    );
    assert!(
        out.contains("dry-run: ") && out.contains("multitool recoverpacket -since "),
        "{out}"
    );
    assert!(
        out.contains("would roll the epoch estimate of tokyo back to "),
        "{out}"
    );
    assert!(!out.contains("rolled back"), "{out}");
    assert!(
        s.update("paris")
            .contains("nothing to send to tokyo@/vobs/dev"),
        "the dry run rolled nothing back"
    );
    let out = s.ok("paris", &["recover", "--force", "--opt", "since=1h"]);
    assert!(out.contains("multitool recoverpacket -since "), "{out}");
    assert!(
        out.contains("epoch estimate of tokyo rolled back to "),
        "{out}"
    );
    assert!(
        out.contains("Reset the epoch row for replica \"tokyo\""),
        "{out}"
    );
    assert!(
        out.contains("exported 1 packet file(s) for tokyo@/vobs/dev (forwarded)"),
        "{out}"
    );

    let out = s.update("tokyo");
    assert!(
        out.contains("imported 2 packet(s)"),
        "the re-sent packet and the held one: {out}"
    );
    assert_eq!(s.content("tokyo"), s.content("paris"));
    assert!(s.packets("tokyo").is_empty());
    assert_eq!(s.status("tokyo").0, "up");
}

#[test]
fn ship_transport_and_the_ship_action() {
    let s = Sites::new(
        &["paris", "tokyo"],
        &[(
            "paris",
            "transport = ship\nsclass = cq_default\nrole = export",
        )],
    );
    s.change("paris", "shipped later");
    let out = s.update("paris");
    assert!(
        out.contains("syncreplica -export -ship -sclass cq_default tokyo@/vobs/dev"),
        "{out}"
    );
    assert!(out.contains("(left for shipping_server)"), "{out}");
    assert!(
        !out.contains("lspacket"),
        "an export-only site does not import: {out}"
    );
    s.update("tokyo");
    assert_eq!(s.content("tokyo"), "");
    let out = s.ok("paris", &["ship"]);
    assert!(
        out.contains("shipping_server -sclass cq_default -poll"),
        "{out}"
    );
    assert!(out.contains("1 packet(s) forwarded"), "{out}");
    s.update("tokyo");
    assert_eq!(s.content("tokyo"), s.content("paris"));
}

#[test]
fn out_files_carried_by_hand() {
    let s = Sites::new(&["paris", "tokyo"], &[]);
    let carry = s.ctx.root().join("carry");
    std::fs::create_dir(&carry).unwrap();
    let root = s.ctx.root().display().to_string();
    s.ctx.service(
        "paris",
        &format!("[DEFAULT]\nnodes = labnode\n\n[sync#0]\ntype = replica\nvob = replica:paris@/vobs/dev\nrole = export\ntargets = tokyo\ntransport = out\nout_dir = {root}/carry\nenv = MTS_SITE=paris\n"),
    );
    s.ctx.service(
        "tokyo",
        &format!("[DEFAULT]\nnodes = labnode\n\n[sync#0]\ntype = replica\nvob = /vobs/dev\nrole = import\nincoming = {root}/carry\nenv = MTS_SITE=tokyo\n"),
    );
    s.change("paris", "on a USB key");
    let out = s.update("paris");
    assert!(
        out.contains(&format!(
            "syncreplica -export -out {root}/carry/sync_paris_"
        )),
        "{out}"
    );
    assert_eq!(std::fs::read_dir(&carry).unwrap().count(), 1);
    let out = s.update("tokyo");
    assert!(
        out.contains(&format!("syncreplica -import {root}/carry")),
        "{out}"
    );
    assert_eq!(s.content("tokyo"), s.content("paris"));
    assert_eq!(std::fs::read_dir(&carry).unwrap().count(), 0);
}

#[test]
fn validate_and_drivers_info() {
    let s = Sites::new(
        &["paris", "tokyo"],
        &[("paris", "transport = out\nlimit = 3")],
    );
    s.snapshot(
        "replica_validate",
        s.ctx.doppel(["-s", "paris", "validate"]),
    );
    s.snapshot(
        "replica_drivers_info",
        s.ctx.doppel(["drivers", "info", "sync.replica"]),
    );
}

#[test]
fn import_names_its_packets_when_the_bay_holds_another_vobs() {
    // VersionVault's syncreplica -import takes no -invob: -receive would import
    // every packet of the host's storage bays, another VOB's too.
    let s = Sites::new(&["paris", "tokyo"], &[]);
    s.mtsim(&["family", "create", "/vobs/web", "rome@paris", "milan@tokyo"]);
    s.change("rome", "web change");
    let mut export = Command::new(target_dir().join("multitool"));
    s.ctx.tool_env(&mut export);
    export
        .env("MTS_SITE", "paris")
        .args(["syncreplica", "-export", "-fship", "milan@/vobs/web"]);
    let (code, stdout, stderr) = run(&mut export);
    assert_eq!(code, 0, "{stdout}{stderr}");
    s.change("paris", "dev change");
    s.update("paris");
    assert_eq!(s.packets("tokyo").len(), 2, "one packet per VOB");

    let out = s.update("tokyo");
    let web_packet: Vec<PathBuf> = s
        .packets("tokyo")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("sync_rome_"))
        .collect();
    assert_eq!(web_packet.len(), 1, "the other VOB's packet is left: {out}");
    let import = out
        .lines()
        .find(|l| l.contains("syncreplica -import"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        !import.contains("-receive")
            && !import.contains("-invob")
            && import.contains("sync_paris_"),
        "{import}"
    );
    assert!(out.contains("imported 1 packet(s)"), "{out}");
    assert_eq!(s.content("tokyo"), s.content("paris"));
    assert_eq!(s.content("milan"), "", "not imported by tokyo's resource");
}
