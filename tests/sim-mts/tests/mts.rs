//! The MultiSite simulator, driven through its binaries as a driver would.

use std::path::{Path, PathBuf};
use std::process::Command;

use doppel_sim::testing::Out;

struct Sim {
    root: tempfile::TempDir,
}

impl Sim {
    fn new() -> Sim {
        let sim = Sim {
            root: tempfile::Builder::new().prefix("mts-").tempdir().unwrap(),
        };
        sim.ok(
            None,
            "mtsim",
            &[
                "family",
                "create",
                "/vobs/dev",
                "paris@paris",
                "tokyo@tokyo",
                "london@london",
            ],
        );
        sim
    }

    fn run(&self, site: Option<&str>, tool: &str, args: &[&str]) -> Out {
        let bin = match tool {
            "multitool" => env!("CARGO_BIN_EXE_multitool"),
            "multiutil" => env!("CARGO_BIN_EXE_multiutil"),
            "shipping_server" => env!("CARGO_BIN_EXE_shipping_server"),
            _ => env!("CARGO_BIN_EXE_mtsim"),
        };
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("DOPPEL_SIM_ROOT", self.root.path())
            .env_remove("MTS_SITE");
        if let Some(s) = site {
            cmd.env("MTS_SITE", s);
        }
        Out::of(&mut cmd)
    }

    fn ok(&self, site: Option<&str>, tool: &str, args: &[&str]) -> Out {
        let o = self.run(site, tool, args);
        assert_eq!(
            o.code, 0,
            "{tool} {args:?} failed\n{}\n{}",
            o.stdout, o.stderr
        );
        o
    }

    fn content(&self, replica: &str) -> String {
        self.ok(None, "mtsim", &["content", replica]).stdout
    }

    fn row(&self, replica: &str) -> serde_json::Value {
        let show: serde_json::Value =
            serde_json::from_str(&self.ok(None, "mtsim", &["show", replica]).stdout).unwrap();
        show["row"].clone()
    }

    fn change(&self, replica: &str, text: &str) {
        self.ok(None, "mtsim", &["change", replica, "--text", text]);
    }

    fn export(&self, site: &str, args: &[&str]) -> Out {
        let mut a = vec!["syncreplica", "-export"];
        a.extend_from_slice(args);
        self.run(Some(site), "multitool", &a)
    }

    fn receive(&self, site: &str) -> Out {
        self.run(
            Some(site),
            "multitool",
            &["syncreplica", "-import", "-receive"],
        )
    }

    fn incoming(&self, host: &str) -> PathBuf {
        PathBuf::from(self.ok(None, "mtsim", &["bay", host]).stdout.trim())
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

fn applied(o: &Out) -> usize {
    o.stdout
        .lines()
        .filter(|l| l.starts_with("Applied sync. packet "))
        .count()
}

#[test]
fn a_change_reaches_the_other_sites_with_fship() {
    let sim = Sim::new();
    sim.change("paris", "hello");
    let o = sim.export(
        "paris",
        &[
            "-fship",
            "-comment",
            "weekly",
            "tokyo@/vobs/dev",
            "replica:london@/vobs/dev",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(
        lines[0].starts_with("Generating synchronization packet ")
            && lines[0].contains("/outgoing/sync_paris_"),
        "{}",
        o.stdout
    );
    let name = lines[0].rsplit('/').next().unwrap();
    // sync_<replica>_<dd-Mon-yy.HH.MM.SS>_<pid>_<n>
    let parts: Vec<&str> = name.split('_').collect();
    assert_eq!(parts.len(), 5, "{name}");
    assert_eq!(parts[4], "1");
    assert_eq!(parts[2].len(), "30-Oct-02.14.35.49".len(), "{name}");
    assert!(
        lines[1].starts_with(" - shipping order file is ")
            && lines[1].contains("/outgoing/sh_o_sync_paris_"),
        "{}",
        o.stdout
    );
    assert_eq!(
        lines[2],
        "Attempting to forward/deliver generated packets..."
    );
    assert!(
        lines[3].starts_with(" -- Forwarded/delivered packet "),
        "{}",
        o.stdout
    );

    let ls = sim.ok(Some("tokyo"), "multitool", &["lspacket"]).stdout;
    let expect_start = format!(
        "Packet is: {}/{name}\nPacket type: Update\nVOB family identifier is: ",
        sim.incoming("tokyo").display()
    );
    assert!(ls.starts_with(&expect_start), "{ls}");
    assert!(ls.contains("Comment supplied at packet creation is: weekly\nPacket intended for the following targets:\n  tokyo [ local to this network ] * tag: /vobs/dev\n  london\nThe packet sequence number is 1\n"), "{ls}");
    let long = sim
        .ok(Some("tokyo"), "multitool", &["lspacket", "-long"])
        .stdout;
    assert!(
        long.contains("Originating replica is: paris (")
            && long.contains("Packet fragment: 1 of 1\n")
            && long.contains("Oplog ID ranges: paris:1-2\n"),
        "{long}"
    );

    for site in ["tokyo", "london"] {
        let o = sim.receive(site);
        assert_eq!((o.code, applied(&o)), (0, 1), "{}", o.stderr);
        assert!(
            o.stdout
                .contains(&format!("to VOB {site}:/vobstg/dev_{site}.vbs")),
            "{}",
            o.stdout
        );
        assert_eq!(sim.content(site), sim.content("paris"));
        assert!(
            Sim::files(&sim.incoming(site)).is_empty(),
            "applied packets are deleted"
        );
    }
    assert_eq!(sim.content("tokyo"), "paris.c@@/main/paris/1  hello\n");
    // Nothing more to send.
    let o = sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
    assert!(o.stdout.contains("Removing empty packet "), "{}", o.stdout);
    // tokyo learnt what paris has: it does not send paris's own changes back.
    let o = sim.export("tokyo", &["-fship", "paris@/vobs/dev"]);
    assert!(o.stdout.contains("Removing empty packet "), "{}", o.stdout);
}

#[test]
fn changes_relay_through_a_third_site() {
    let sim = Sim::new();
    sim.change("paris", "p1");
    sim.change("london", "l1");
    sim.ok(
        Some("paris"),
        "multitool",
        &["syncreplica", "-export", "-fship", "tokyo@/vobs/dev"],
    );
    sim.ok(
        Some("london"),
        "multitool",
        &["syncreplica", "-export", "-fship", "tokyo@/vobs/dev"],
    );
    assert_eq!(applied(&sim.receive("tokyo")), 2);
    // tokyo forwards both to a site that had neither's changes.
    sim.ok(
        Some("tokyo"),
        "multitool",
        &[
            "syncreplica",
            "-export",
            "-fship",
            "paris@/vobs/dev",
            "london@/vobs/dev",
        ],
    );
    assert_eq!(applied(&sim.receive("paris")), 1);
    assert_eq!(applied(&sim.receive("london")), 1);
    let c = sim.content("tokyo");
    assert_eq!(
        c,
        "london.c@@/main/london/1  l1\nparis.c@@/main/paris/1  p1\n"
    );
    assert_eq!(sim.content("paris"), c);
    assert_eq!(sim.content("london"), c);
    assert_eq!(
        sim.row("paris"),
        serde_json::json!({"london": 2, "paris": 2, "tokyo": 0})
    );
}

#[test]
fn out_of_order_packets_wait_for_their_predecessor() {
    let sim = Sim::new();
    sim.ok(None, "mtsim", &["hold", "tokyo"]);
    sim.change("paris", "one");
    sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
    sim.change("paris", "two");
    sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
    let transit = sim.ok(None, "mtsim", &["transit", "list"]).stdout;
    assert_eq!(transit.lines().count(), 2, "{transit}");
    sim.ok(None, "mtsim", &["transit", "deliver", "--reverse"]);
    // Only the first-generated packet is applicable.
    let ls = sim.ok(Some("tokyo"), "multitool", &["lspacket"]).stdout;
    assert_eq!(ls.matches("* tag: /vobs/dev").count(), 1, "{ls}");
    let diag = sim
        .ok(
            Some("tokyo"),
            "multitool",
            &["syncreplica", "-import", "-diagnose", "-receive"],
        )
        .stdout;
    assert!(
        diag.contains("missing oplog entries from replica \"paris\": IDs 1 to 2 (replica has 0)"),
        "{diag}"
    );
    assert!(diag.contains("can be applied now"), "{diag}");
    let first = sim.receive("tokyo");
    assert_eq!((first.code, applied(&first)), (1, 1), "{}", first.stderr);
    assert!(
        first.stderr.contains(
            "it depends on operations not yet received: replica \"paris\" oplog IDs 1 to 2 (has 0)"
        ),
        "{}",
        first.stderr
    );
    let second = sim.receive("tokyo");
    assert_eq!((second.code, applied(&second)), (0, 1), "{}", second.stderr);
    assert_eq!(
        sim.content("tokyo"),
        "paris.c@@/main/paris/1  one\nparis.c@@/main/paris/2  two\n"
    );
}

#[test]
fn a_missing_fragment_holds_the_logical_packet() {
    let sim = Sim::new();
    sim.ok(None, "mtsim", &["hold"]);
    for i in 0..4 {
        sim.change(
            "paris",
            &format!("change number {i} with some text to make the packet bigger"),
        );
    }
    let o = sim.export("paris", &["-maxsize", "300", "-fship", "tokyo@/vobs/dev"]);
    let n = o
        .stdout
        .matches("Generating synchronization packet")
        .count();
    assert!(n >= 3, "{}", o.stdout);
    let transit = sim.ok(None, "mtsim", &["transit", "list"]).stdout;
    let names: Vec<&str> = transit
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(names.len(), n);
    // Everything but fragment 2.
    let mut args = vec!["transit", "deliver"];
    args.extend(names.iter().filter(|x| !x.ends_with("_2")));
    sim.ok(None, "mtsim", &args);
    let long = sim
        .ok(Some("tokyo"), "multitool", &["lspacket", "-long"])
        .stdout;
    assert!(
        long.contains(&format!("Packet fragment: 1 of {n}")),
        "{long}"
    );
    let before = sim.row("tokyo");
    let o = sim.receive("tokyo");
    assert_eq!((o.code, applied(&o)), (1, 0));
    assert!(
        o.stderr
            .contains(&format!("fragment(s) 2 of {n} have not arrived")),
        "{}",
        o.stderr
    );
    assert_eq!(sim.row("tokyo"), before);
    sim.ok(None, "mtsim", &["transit", "deliver"]);
    let o = sim.receive("tokyo");
    assert_eq!((o.code, applied(&o)), (0, n), "{}", o.stderr);
    assert_eq!(sim.content("tokyo"), sim.content("paris"));
}

#[test]
fn corrupt_and_truncated_packets_are_refused_whole() {
    for kind in ["corrupt", "truncate"] {
        let sim = Sim::new();
        sim.change("paris", "base");
        sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
        assert_eq!(applied(&sim.receive("tokyo")), 1);
        let before = (sim.row("tokyo"), sim.content("tokyo"));
        sim.ok(
            None,
            "mtsim",
            &["fail", kind, "--to", "tokyo", "--fragment", "2"],
        );
        for i in 0..3 {
            sim.change(
                "paris",
                &format!("more {i} padding padding padding padding"),
            );
        }
        sim.export("paris", &["-maxsize", "200", "-fship", "tokyo@/vobs/dev"]);
        let o = sim.receive("tokyo");
        assert_eq!((o.code, applied(&o)), (1, 0), "{kind}: {}", o.stdout);
        let want = if kind == "corrupt" {
            "packet is corrupt (checksum "
        } else {
            "packet is truncated ("
        };
        assert!(
            o.stderr.contains(want) && o.stderr.contains("Nothing was imported from it."),
            "{kind}: {}",
            o.stderr
        );
        assert_eq!(
            (sim.row("tokyo"), sim.content("tokyo")),
            before,
            "{kind}: nothing half-applied"
        );
        assert!(
            !Sim::files(&sim.incoming("tokyo")).is_empty(),
            "a refused packet stays"
        );
    }
}

#[test]
fn a_lost_packet_is_resent_after_recoverpacket() {
    let sim = Sim::new();
    sim.ok(None, "mtsim", &["fail", "drop", "--to", "tokyo"]);
    sim.change("paris", "lost");
    sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
    sim.change("paris", "kept");
    sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
    let o = sim.receive("tokyo");
    assert_eq!((o.code, applied(&o)), (1, 0));
    // The sender believes tokyo is up to date.
    let o = sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
    assert!(o.stdout.contains("Removing empty packet"), "{}", o.stdout);
    let o = sim.run(
        Some("paris"),
        "multitool",
        &[
            "recoverpacket",
            "-since",
            "2000-01-01T00:00:00Z",
            "tokyo@/vobs/dev",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.starts_with(
            "Reset the epoch row for replica \"tokyo\" to its values before the packet generated "
        ),
        "{}",
        o.stdout
    );
    sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
    let mut total = 0;
    for _ in 0..3 {
        total += applied(&sim.receive("tokyo"));
    }
    assert_eq!(
        total, 2,
        "the re-sent packet, then the held one (already applied, deleted)"
    );
    assert!(Sim::files(&sim.incoming("tokyo")).is_empty());
    assert_eq!(sim.content("tokyo"), sim.content("paris"));
    let o = sim.run(
        Some("paris"),
        "multitool",
        &["recoverpacket", "-since", "now", "tokyo@/vobs/dev"],
    );
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("No synchronization packets have been sent from replica \"paris\" to replica \"tokyo\" since"), "{}", o.stderr);
}

#[test]
fn ship_then_shipping_server_poll() {
    let sim = Sim::new();
    sim.change("paris", "x");
    let o = sim.export("paris", &["-ship", "tokyo@/vobs/dev"]);
    assert!(!o.stdout.contains("Attempting"), "{}", o.stdout);
    let order = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(" - shipping order file is "))
        .unwrap()
        .to_owned();
    let text = std::fs::read_to_string(&order).unwrap();
    assert!(
        text.contains("%LOCAL-DATA-PATH \"") && text.contains("%DESTINATIONS tokyo"),
        "{text}"
    );
    assert_eq!(applied(&sim.receive("tokyo")), 0);
    let o = sim.ok(Some("paris"), "shipping_server", &["-poll"]);
    assert!(
        o.stdout.starts_with(" -- Forwarded/delivered packet "),
        "{}",
        o.stdout
    );
    assert!(!Path::new(&order).exists());
    assert_eq!(applied(&sim.receive("tokyo")), 1);
    assert_eq!(sim.run(Some("paris"), "shipping_server", &[]).code, 1);
}

#[test]
fn out_files_limit_and_import_from_a_directory() {
    let sim = Sim::new();
    for i in 0..6 {
        sim.change(
            "paris",
            &format!("edit {i} xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        );
    }
    let carry = sim.root.path().join("carry");
    std::fs::create_dir(&carry).unwrap();
    let pname = carry.join("update1");
    let p = pname.to_str().unwrap();
    let o = sim.export(
        "paris",
        &[
            "-maxsize",
            "400",
            "-limit",
            "1",
            "-out",
            p,
            "tokyo@/vobs/dev",
        ],
    );
    assert_eq!(o.stdout, format!("Generating synchronization packet {p}\n"));
    let o = sim.export(
        "paris",
        &[
            "-maxsize",
            "400",
            "-limit",
            "1",
            "-out",
            carry.to_str().unwrap(),
            "tokyo@/vobs/dev",
        ],
    );
    assert!(
        o.stdout
            .contains(&format!("{}/sync_paris_", carry.display())),
        "{}",
        o.stdout
    );
    let o = sim.run(
        Some("tokyo"),
        "multitool",
        &["syncreplica", "-import", carry.to_str().unwrap()],
    );
    assert_eq!(applied(&o), 2, "{}", o.stderr);
    assert!(
        sim.row("tokyo")["paris"].as_u64().unwrap() < 12,
        "-limit left changes for the next export"
    );
    let o = sim.export(
        "paris",
        &["-out", carry.to_str().unwrap(), "tokyo@/vobs/dev"],
    );
    assert_eq!(o.code, 0);
    sim.ok(
        Some("tokyo"),
        "multitool",
        &["syncreplica", "-import", carry.to_str().unwrap()],
    );
    assert_eq!(sim.content("tokyo"), sim.content("paris"));
    assert_eq!(
        sim.export("paris", &["-out", p, "-sclass", "x", "tokyo@/vobs/dev"])
            .code,
        1
    );
}

#[test]
fn multiutil_takes_the_clearquest_options() {
    let sim = Sim::new();
    sim.ok(
        None,
        "mtsim",
        &[
            "family",
            "create",
            "PRODA",
            "sanfran_hub@sf",
            "bangalore@blr",
            "--clan",
            "telecomm",
        ],
    );
    sim.change("sanfran_hub", "defect 42");
    let cq = [
        "-clan",
        "telecomm",
        "-site",
        "sanfran_hub",
        "-family",
        "PRODA",
        "-user",
        "jcole",
        "-password",
        "passwd",
    ];
    let mut a = vec!["syncreplica", "-export"];
    a.extend_from_slice(&cq);
    a.extend_from_slice(&[
        "-maxsize",
        "50m",
        "-fship",
        "-sclass",
        "cq_default",
        "bangalore",
    ]);
    let o = sim.run(None, "multiutil", &a);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("/bays/cq_default/outgoing/sync_sanfran_hub_"),
        "{}",
        o.stdout
    );
    let o = sim.run(
        Some("blr"),
        "multiutil",
        &[
            "syncreplica",
            "-import",
            "-family",
            "PRODA",
            "-user",
            "kumar",
            "-password",
            "secret",
            "-receive",
            "-sclass",
            "cq_default",
        ],
    );
    assert_eq!((o.code, applied(&o)), (0, 1), "{}", o.stderr);
    assert_eq!(sim.content("bangalore"), sim.content("sanfran_hub"));
    let o = sim.run(
        Some("blr"),
        "multiutil",
        &["syncreplica", "-import", "-family", "PRODA", "-receive"],
    );
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("multiutil requires -user"),
        "{}",
        o.stderr
    );
}

#[test]
fn epochs_errors_and_usage() {
    let sim = Sim::new();
    sim.change("paris", "e");
    sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
    let e = sim
        .ok(
            Some("paris"),
            "multitool",
            &["lsepoch", "-invob", "/vobs/dev"],
        )
        .stdout;
    assert!(
        e.starts_with(
            "For VOB replica \"/vobs/dev\":\nOplog IDs for row \"paris\" (@ paris):\n oid:"
        ),
        "{e}"
    );
    let re = |l: &str| l.starts_with(" oid:") && l.contains('=') && l.ends_with(')');
    assert!(e.lines().skip(2).take(3).all(re), "{e}");
    assert!(e.contains("(tokyo)"));
    let o = sim.run(
        Some("paris"),
        "multitool",
        &["chepoch", "-force", "tokyo@/vobs/dev", "paris=0"],
    );
    assert_eq!(o.stdout, "Epoch row successfully set.\n", "{}", o.stderr);
    let o = sim.run(
        Some("paris"),
        "multitool",
        &["chepoch", "-force", "paris@/vobs/dev", "tokyo=3"],
    );
    assert_eq!(o.code, 1);
    // The estimate went back to 0: the next export re-sends.
    let o = sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
    assert!(!o.stdout.contains("Removing empty packet"), "{}", o.stdout);

    let o = sim.run(None, "multitool", &["lspacket"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.starts_with(
            "multitool: Error: cannot tell which simulated MultiSite host this is: set MTS_SITE"
        ),
        "{}",
        o.stderr
    );
    let o = sim.run(
        Some("paris"),
        "multitool",
        &["syncreplica", "-export", "tokyo@/vobs/dev"],
    );
    assert_eq!(o.code, 1);
    assert!(o.stderr.starts_with("multitool: Error: exactly one of -ship, -fship and -out is required\nUsage: syncreplica -export"), "{}", o.stderr);
    let o = sim.run(
        Some("paris"),
        "multitool",
        &[
            "syncreplica",
            "-export",
            "-fship",
            "-bogus",
            "tokyo@/vobs/dev",
        ],
    );
    assert!(
        o.stderr
            .starts_with("multitool: Error: Unrecognized option \"-bogus\""),
        "{}",
        o.stderr
    );
    let o = sim.run(
        Some("paris"),
        "multitool",
        &["syncreplica", "-export", "-fship", "paris@/vobs/dev"],
    );
    assert!(
        o.stderr
            .contains("Cannot send a packet to the current replica"),
        "{}",
        o.stderr
    );
    let o = sim.run(
        Some("paris"),
        "multitool",
        &["syncreplica", "-export", "-fship", "nowhere@/vobs/dev"],
    );
    assert!(
        o.stderr
            .contains("Replica \"nowhere\" not found in VOB family \"/vobs/dev\"."),
        "{}",
        o.stderr
    );
    // A locked VOB, and -lockwait.
    sim.ok(None, "mtsim", &["lock", "paris"]);
    let o = sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
    assert!(o.stderr.contains("VOB is locked"), "{}", o.stderr);
    sim.ok(None, "mtsim", &["unlock", "paris"]);
    // A file that is not a packet.
    std::fs::write(sim.incoming("tokyo").join("junk"), "hello").unwrap();
    let o = sim.run(Some("tokyo"), "multitool", &["lspacket"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("junk: not a synchronization packet"),
        "{}",
        o.stderr
    );
    let o = sim.receive("tokyo");
    assert_eq!(
        (o.code, applied(&o)),
        (1, 2),
        "the packet, and its re-sent copy (already applied): {}",
        o.stderr
    );
    assert!(
        o.stderr.contains("had already been applied"),
        "{}",
        o.stderr
    );
}

#[test]
fn packets_can_be_aged_for_status_tests() {
    let sim = Sim::new();
    sim.change("paris", "x");
    sim.export("paris", &["-fship", "tokyo@/vobs/dev"]);
    let f = sim
        .incoming("tokyo")
        .join(&Sim::files(&sim.incoming("tokyo"))[0]);
    sim.ok(
        None,
        "mtsim",
        &["packet", "age", f.to_str().unwrap(), "3600"],
    );
    let age = std::fs::metadata(&f)
        .unwrap()
        .modified()
        .unwrap()
        .elapsed()
        .unwrap()
        .as_secs();
    assert!((3590..3700).contains(&age), "{age}");
}
