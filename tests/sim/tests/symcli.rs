//! End-to-end tests of the SYMCLI simulator binaries (symclone, symdev, symdg,
//! symld, symsim), each test with its own `$DOPPEL_SIM_ROOT`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use doppel_sim::testing::Out;

const SID: &str = "000192601234";

struct Sim {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

fn bin(name: &str) -> &'static str {
    match name {
        "symclone" => env!("CARGO_BIN_EXE_symclone"),
        "symdev" => env!("CARGO_BIN_EXE_symdev"),
        "symdg" => env!("CARGO_BIN_EXE_symdg"),
        "symld" => env!("CARGO_BIN_EXE_symld"),
        "symsim" => env!("CARGO_BIN_EXE_symsim"),
        other => panic!("unknown binary {other}"),
    }
}

impl Sim {
    fn new() -> Sim {
        Sim {
            dir: tempfile::tempdir().expect("tempdir"),
            env: vec![],
        }
    }

    /// A simulator with array SID holding 00B60..00B67 and the given copy time.
    fn with_array(copy_seconds: f64) -> Sim {
        let s = Sim::new();
        s.run(
            "symsim",
            &[
                "array",
                "create",
                SID,
                "--devs",
                "00B60:00B67",
                "--copy-seconds",
                &copy_seconds.to_string(),
            ],
        )
        .ok();
        s
    }

    fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn command(&self, name: &str, args: &[&str]) -> Command {
        let mut c = Command::new(bin(name));
        c.args(args)
            .env("DOPPEL_SIM_ROOT", self.dir.path())
            .env("TZ", "UTC")
            .env_remove("SYMCLI_OUTPUT_MODE");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn run_stdin(&self, name: &str, args: &[&str], stdin: &str) -> Out {
        let mut c = self.command(name, args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn");
        {
            let mut i = child.stdin.take().expect("stdin");
            let _ = i.write_all(stdin.as_bytes());
        }
        let o = child.wait_with_output().expect("wait");
        let out = Out::from(o);
        out.no_panic();
        out
    }

    fn run(&self, name: &str, args: &[&str]) -> Out {
        self.run_stdin(name, args, "")
    }

    /// Write a pairs file (OpenSVC layout: no trailing newline) and return its path.
    fn pairs(&self, name: &str, pairs: &[(&str, &str)]) -> String {
        let path = self.dir.path().join(name);
        let text: Vec<String> = pairs.iter().map(|(a, b)| format!("{a} {b}")).collect();
        std::fs::write(&path, text.join("\n")).expect("write pairs");
        path.to_string_lossy().into_owned()
    }

    /// `symclone -sid SID -f F <args...>`
    fn clone_f(&self, f: &str, args: &[&str]) -> Out {
        let mut v = vec!["-sid", SID, "-f", f];
        v.extend_from_slice(args);
        self.run("symclone", &v)
    }

    /// State of each target from `symdev list -v -devs ... -output xml_e`.
    fn states(&self, tgts: &[&str]) -> Vec<String> {
        let o = self
            .run(
                "symdev",
                &[
                    "-sid",
                    SID,
                    "list",
                    "-v",
                    "-devs",
                    &tgts.join(","),
                    "-output",
                    "xml_e",
                ],
            )
            .ok();
        let doc = parse_xml(&o.stdout).expect("well-formed XML");
        doc.all("SymCLI_ML/Symmetrix/Device")
            .iter()
            .map(|d| d.text("CLONE_Device/state").unwrap_or("none").to_string())
            .collect()
    }

    fn advance(&self, secs: f64) {
        self.run("symsim", &["clock", "advance", &secs.to_string()])
            .ok();
    }
}

// ---------------------------------------------------------------------------
// A minimal XML tree (built with quick-xml, which also checks well-formedness)

#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn all(&self, path: &str) -> Vec<&Node> {
        let mut cur = vec![self];
        for part in path.split('/') {
            cur = cur
                .into_iter()
                .flat_map(|n| n.children.iter().filter(|c| c.name == part))
                .collect();
        }
        cur
    }
    fn first(&self, path: &str) -> Option<&Node> {
        self.all(path).into_iter().next()
    }
    fn text(&self, path: &str) -> Option<&str> {
        self.first(path).map(|n| n.text.as_str())
    }
}

fn parse_xml(s: &str) -> Result<Node, String> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(s);
    r.config_mut().trim_text(true);
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut saw_root = false;
    loop {
        match r.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => {
                stack.push(Node {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    ..Default::default()
                });
            }
            Event::Empty(e) => {
                let n = Node {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    ..Default::default()
                };
                stack.last_mut().ok_or("stack")?.children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop().ok_or("unbalanced")?;
                if stack.len() == 1 {
                    saw_root = true;
                }
                stack.last_mut().ok_or("unbalanced end")?.children.push(n);
            }
            Event::Text(t) => {
                let t = t.unescape().map_err(|e| e.to_string())?;
                stack.last_mut().ok_or("stack")?.text.push_str(&t);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err(format!("{} unclosed element(s)", stack.len() - 1));
    }
    if !saw_root {
        return Err("no root element".into());
    }
    Ok(stack.pop().unwrap_or_default())
}

fn query_rows(stdout: &str) -> Vec<Vec<String>> {
    // data rows: 10 fields, 4th-from-last is the CGDP flags
    stdout
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f.len() == 10 && f[7].len() == 4 && f[7].chars().all(|c| c == 'X' || c == '.'))
        .collect()
}

// ---------------------------------------------------------------------------

#[test]
fn lifecycle_with_pairs_file() {
    let s = Sim::with_array(5.0);
    let f = s.pairs("pairs.", &[("00B60", "00B61"), ("00B62", "00B63")]);
    let t = ["00B61", "00B63"];
    assert_eq!(s.states(&t), ["none", "none"]);

    let o = s
        .clone_f(&f, &["create", "-precopy", "-differential", "-nop"])
        .ok();
    assert!(
        o.stdout.trim().is_empty(),
        "control output goes to stderr: {:?}",
        o.stdout
    );
    assert!(
        o.stderr
            .contains("'Create' operation successfully executed"),
        "{}",
        o.stderr
    );
    assert_eq!(s.states(&t), ["Precopy", "Precopy"]);
    assert_eq!(s.clone_f(&f, &["verify", "-precopy"]).code, 0);

    // OpenSVC's activate: -noprompt before the action, -consistent appended
    let o = s
        .clone_f(
            &f,
            &[
                "-noprompt",
                "activate",
                "-i",
                "20",
                "-c",
                "30",
                "-consistent",
            ],
        )
        .ok();
    assert!(
        o.stderr
            .contains("'Activate' operation execution is in progress")
    );
    assert!(
        o.stderr
            .contains("'Activate' operation successfully executed")
    );
    s.advance(6.0);
    assert_eq!(s.states(&t), ["Copied", "Copied"]);
    assert_eq!(s.clone_f(&f, &["verify", "-copied"]).code, 0);

    // OpenSVC's recreate
    let o = s
        .clone_f(
            &f,
            &["-noprompt", "recreate", "-i", "20", "-c", "30", "-precopy"],
        )
        .ok();
    assert!(
        o.stderr
            .contains("'Recreate' operation successfully initiated"),
        "{}",
        o.stderr
    );
    assert_eq!(s.states(&t), ["Precopy", "Precopy"]);
    s.clone_f(
        &f,
        &[
            "-noprompt",
            "activate",
            "-i",
            "20",
            "-c",
            "30",
            "-consistent",
        ],
    )
    .ok();
    s.advance(6.0);
    assert_eq!(s.states(&t), ["Copied", "Copied"]);

    // recreate without precopy -> Recreated, activable
    s.clone_f(&f, &["-noprompt", "recreate"]).ok();
    assert_eq!(s.clone_f(&f, &["verify", "-recreated"]).code, 0);
    s.clone_f(&f, &["activate", "-noprompt"]).ok();
    s.advance(6.0);

    // OpenSVC's restore sequence
    s.clone_f(&f, &["-noprompt", "restore"]).ok();
    assert_eq!(s.states(&t), ["RestInProg", "RestInProg"]);
    assert_ne!(s.clone_f(&f, &["verify", "-restored"]).code, 0);
    s.advance(6.0);
    assert_eq!(
        s.clone_f(&f, &["verify", "-restored", "-i", "10", "-c", "30"])
            .code,
        0
    );
    s.clone_f(&f, &["-noprompt", "terminate", "-restored"]).ok();
    assert_eq!(s.states(&t), ["Copied", "Copied"]);

    // full terminate: no session left, target Not Ready
    s.clone_f(&f, &["-noprompt", "terminate"]).ok();
    assert_eq!(s.states(&t), ["none", "none"]);
    let o = s
        .run(
            "symdev",
            &[
                "-sid", SID, "list", "-v", "-devs", "00B61", "-output", "xml_e",
            ],
        )
        .ok();
    let doc = parse_xml(&o.stdout).unwrap();
    assert_eq!(
        doc.text("SymCLI_ML/Symmetrix/Device/Dev_Info/status"),
        Some("Not Ready")
    );
    let o = s.clone_f(&f, &["-noprompt", "terminate"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("A Copy session has not been created for the specified device"),
        "{}",
        o.stderr
    );
}

#[test]
fn lifecycle_with_device_group() {
    let s = Sim::with_array(5.0);
    // both documented argument orders of symdg create
    s.run("symdg", &["create", "-type", "REGULAR", "DGCVI"])
        .ok();
    s.run("symdg", &["create", "OTHER", "-type", "regular"])
        .ok();
    s.run("symld", &["-g", "DGCVI", "add", "dev", "00B60", "DEV001"])
        .ok();
    s.run("symld", &["-g", "DGCVI", "add", "dev", "00B61", "CLONE001"])
        .ok();
    s.run("symld", &["-g", "DGCVI", "add", "dev", "00B62"]).ok(); // DEV002
    s.run("symld", &["-g", "DGCVI", "add", "dev", "00B63", "-tgt"])
        .ok(); // TGT001
    let dup = s.run("symld", &["-g", "OTHER", "add", "dev", "00B60"]);
    assert_eq!(dup.code, 1, "a device belongs to one group");

    let o = s
        .run(
            "symclone",
            &[
                "-g",
                "DGCVI",
                "create",
                "-diff",
                "-precopy",
                "DEV001",
                "sym",
                "ld",
                "CLONE001",
                "DEV002",
                "symld",
                "TGT001",
                "-noprompt",
            ],
        )
        .ok();
    assert!(o.stderr.contains(
        "'Create' operation execution is in progress for device 'DEV001'\npaired with target device 'CLONE001' in\ndevice group 'DGCVI'. Please wait..."
    ), "{}", o.stderr);
    assert!(o.stderr.contains(
        "'Create' operation successfully executed for device 'DEV002'\nin group 'DGCVI' paired with target device 'TGT001'."
    ), "{}", o.stderr);

    // seed form: options before the action, pairs after
    let o = s
        .run(
            "symclone",
            &[
                "-g",
                "DGCVI",
                "-noprompt",
                "activate",
                "-i",
                "20",
                "-c",
                "30",
                "DEV001",
                "sym",
                "ld",
                "CLONE001",
            ],
        )
        .ok();
    assert!(
        o.stderr
            .contains("'Activate' operation successfully executed for device 'DEV001'")
    );
    // whole group: only DEV002 is still activable
    assert_eq!(
        s.run("symclone", &["-g", "DGCVI", "verify", "-precopy"])
            .code,
        4,
        "not all"
    );
    s.run(
        "symclone",
        &[
            "-g",
            "DGCVI",
            "activate",
            "DEV002",
            "sym",
            "ld",
            "TGT001",
            "-noprompt",
        ],
    )
    .ok();

    let o = s.run("symclone", &["-g", "DGCVI", "query"]).ok();
    assert!(o.stdout.contains("Device Group (DG) Name: DGCVI"));
    assert!(o.stdout.contains("DG's Symmetrix ID     : 000192601234"));
    assert!(o.stdout.contains(
        "Logical   Sym  Tracks    Tracks   Logical   Sym  Tracks   CGDP SRC <=> TGT  (%)"
    ));
    let rows = query_rows(&o.stdout);
    assert_eq!(rows.len(), 2, "{}", o.stdout);
    assert_eq!(rows[0][0], "DEV001");
    assert_eq!(rows[0][1], "00B60");
    assert_eq!(rows[0][4], "CLONE001");
    assert_eq!(rows[0][5], "00B61");
    assert_eq!(rows[0][8], "CopyInProg");
    assert_eq!(&rows[0][7][1..3], "XX", "G and D flags");

    s.advance(6.0);
    let o = s.run("symclone", &["-g", "DGCVI", "query"]).ok();
    let rows = query_rows(&o.stdout);
    assert!(
        rows.iter().all(|r| r[8] == "Copied" && r[9] == "100"),
        "{}",
        o.stdout
    );
    let o = s.run("symclone", &["-g", "DGCVI", "verify", "-copied"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout
            .contains("All devices in the group 'DGCVI' are in 'Copied' state.")
    );

    // group-level action (no ldev arguments), then -sid combined with -g and trailing options
    let o = s
        .run(
            "symclone",
            &["-g", "DGCVI", "recreate", "-precopy", "-noprompt"],
        )
        .ok();
    assert!(
        o.stderr
            .contains("'Recreate' operation successfully initiated for device group"),
        "{}",
        o.stderr
    );
    s.run(
        "symclone",
        &[
            "-sid",
            "1234",
            "-g",
            "DGCVI",
            "terminate",
            "DEV001",
            "sym",
            "ld",
            "CLONE001",
            "-noprompt",
            "-force",
        ],
    )
    .ok();
    let o = s.run("symld", &["-g", "DGCVI", "list", "-v"]).ok();
    assert!(o.stdout.contains("Device Logical Name      : TGT001"));
    assert!(
        o.stdout
            .contains("State of Session                   : Precopy")
    );
    assert!(o.stdout.contains("Time of Last Clone Action          : "));

    // create without pairs: standard devices paired with -tgt devices
    s.run("symclone", &["-g", "DGCVI", "terminate", "-noprompt"])
        .ok();
    s.run("symld", &["-g", "DGCVI", "remove", "CLONE001"]).ok();
    let o = s.run("symclone", &["-g", "DGCVI", "create", "-noprompt"]); // 2 standard devices, 1 target
    assert_eq!(o.code, 1, "{}", o.all());
    let o = s.run("symclone", &["-g", "DGCVI", "query"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stderr
            .contains("does not have any devices that are Clone source devices"),
        "{}",
        o.stderr
    );

    let o = s.run("symdg", &["list", "-output", "xml_e"]).ok();
    let doc = parse_xml(&o.stdout).unwrap();
    let names: Vec<&str> = doc
        .all("SymCLI_ML/DG")
        .iter()
        .filter_map(|d| d.text("DG_Info/name"))
        .collect();
    assert_eq!(names, ["DGCVI", "OTHER"]);
}

#[test]
fn group_create_pairs_standard_with_target_devices() {
    let s = Sim::with_array(0.0);
    s.run("symdg", &["create", "G1"]).ok();
    s.run("symdg", &["-g", "G1", "addall", "-devs", "00B60:00B61"])
        .ok();
    s.run(
        "symdg",
        &["-g", "G1", "addall", "-devs", "00B64:00B65", "-tgt"],
    )
    .ok();
    let o = s
        .run(
            "symclone",
            &["-g", "G1", "create", "-copy", "-differential", "-noprompt"],
        )
        .ok();
    assert!(
        o.stderr
            .contains("'Create' operation successfully executed for device group"),
        "{}",
        o.stderr
    );
    s.run("symclone", &["-g", "G1", "activate", "-noprompt"])
        .ok();
    assert_eq!(s.states(&["00B64", "00B65"]), ["Copied", "Copied"]);
    let o = s.run("symld", &["-g", "G1", "list"]).ok();
    assert!(o.stdout.contains("TGT002"), "{}", o.stdout);
    let o = s.run("symclone", &["-g", "G1", "query"]).ok();
    let rows = query_rows(&o.stdout);
    assert_eq!(
        rows.iter().map(|r| r[4].as_str()).collect::<Vec<_>>(),
        ["TGT001", "TGT002"]
    );
}

#[test]
fn verify_exit_codes_and_polling() {
    let s = Sim::with_array(1.0);
    let f = s.pairs("p", &[("00B60", "00B61"), ("00B62", "00B63")]);
    let first = s.pairs("p1", &[("00B60", "00B61")]);

    // no session at all -> none
    assert_eq!(s.clone_f(&f, &["verify", "-created"]).code, 5);
    s.clone_f(&first, &["create", "-differential", "-copy", "-noprompt"])
        .ok();
    let o = s.clone_f(&f, &["verify", "-created"]);
    assert_eq!(o.code, 4, "not all: {}", o.all());
    assert!(o.stdout.contains("Not all devices"), "{}", o.stdout);
    s.clone_f(
        &s.pairs("p2", &[("00B62", "00B63")]),
        &["create", "-differential", "-copy", "-noprompt"],
    )
    .ok();
    let o = s.clone_f(&f, &["verify", "-created"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout.contains("All devices in the device file"),
        "{}",
        o.stdout
    );
    let o = s.clone_f(&f, &["verify", "-copied"]);
    assert_eq!(o.code, 5);
    assert!(o.stdout.contains("None of the devices"), "{}", o.stdout);

    // polling: copy completes within the -i/-c window (real time, copy 1 s)
    s.clone_f(&f, &["activate", "-noprompt"]).ok();
    let t0 = Instant::now();
    let o = s.clone_f(&f, &["verify", "-copied", "-i", "1", "-c", "5"]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(t0.elapsed() >= Duration::from_millis(500), "verify polled");
    assert!(t0.elapsed() < Duration::from_secs(10));

    // polling that never succeeds gives up after -c attempts
    let mut s2 = Sim::with_array(1.0);
    s2.env.push(("DOPPEL_SIM_TIME_SCALE".into(), "0.01".into()));
    let f2 = s2.pairs("p", &[("00B60", "00B61")]);
    s2.clone_f(&f2, &["create", "-noprompt"]).ok();
    let o = s2.clone_f(&f2, &["verify", "-restored", "-i", "10", "-c", "3"]);
    assert_eq!(o.code, 5);
    assert_eq!(
        o.stdout.matches("None of the devices").count(),
        3,
        "{}",
        o.stdout
    );

    // a state flag other than verify's is a usage error elsewhere
    assert_eq!(s.clone_f(&f, &["activate", "-copied", "-noprompt"]).code, 1);
    assert_eq!(s.clone_f(&f, &["verify", "-copied", "-restored"]).code, 1);
}

#[test]
fn illegal_transitions_are_refused() {
    let s = Sim::with_array(5.0);
    let f = s.pairs("p", &[("00B60", "00B61")]);
    let invalid = "The device(s) is not in a valid state for this operation";

    // nothing before create
    for action in ["activate", "recreate", "restore", "split"] {
        let o = s.clone_f(&f, &[action, "-noprompt"]);
        assert_eq!(o.code, 1, "{action}");
        assert!(
            o.stderr.contains("do not form a Copy session"),
            "{action}: {}",
            o.stderr
        );
    }
    // create without -differential: recreate and restore refused
    s.clone_f(&f, &["create", "-copy", "-noprompt"]).ok();
    let o = s.clone_f(&f, &["create", "-copy", "-noprompt"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("already in a Copy session"),
        "{}",
        o.stderr
    );
    let o = s.clone_f(&f, &["restore", "-noprompt"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("-differential"), "{}", o.stderr);
    let o = s.clone_f(&f, &["terminate", "-restored", "-noprompt"]);
    assert_eq!(o.code, 1);
    s.clone_f(&f, &["activate", "-noprompt"]).ok();
    let o = s.clone_f(&f, &["activate", "-noprompt"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains(invalid) && o.stderr.contains("'CopyInProg'"),
        "{}",
        o.stderr
    );
    s.advance(6.0);
    let o = s.clone_f(&f, &["recreate", "-noprompt"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("-differential"), "{}", o.stderr);
    assert_eq!(s.clone_f(&f, &["restore", "-noprompt"]).code, 1);
    // -force re-activates a copied pair (new point in time)
    s.clone_f(&f, &["activate", "-force", "-noprompt"]).ok();
    assert_eq!(s.states(&["00B61"]), ["CopyInProg"]);
    s.clone_f(&f, &["terminate", "-noprompt"]).ok();

    // differential session: restore only from Copied; terminate refused while restoring
    s.clone_f(&f, &["create", "-differential", "-precopy", "-noprompt"])
        .ok();
    assert_eq!(s.clone_f(&f, &["restore", "-noprompt"]).code, 1);
    s.clone_f(&f, &["activate", "-noprompt"]).ok();
    s.advance(6.0);
    s.clone_f(&f, &["restore", "-noprompt"]).ok();
    let o = s.clone_f(&f, &["terminate", "-noprompt"]);
    assert_eq!(o.code, 1, "terminate during RestInProg");
    assert!(o.stderr.contains("RestInProg"), "{}", o.stderr);
    assert_eq!(s.clone_f(&f, &["recreate", "-noprompt"]).code, 1);
    s.advance(6.0);
    assert_eq!(s.clone_f(&f, &["activate", "-noprompt"]).code, 1);
    // Restored -> split -> Split -> recreate
    s.clone_f(&f, &["split", "-noprompt"]).ok();
    assert_eq!(s.states(&["00B61"]), ["Split"]);
    s.clone_f(&f, &["recreate", "-noprompt"]).ok();
    assert_eq!(s.states(&["00B61"]), ["Recreated"]);
    // a refused multi-pair action changes nothing
    let f2 = s.pairs("p2", &[("00B60", "00B61"), ("00B62", "00B63")]);
    assert_eq!(s.clone_f(&f2, &["activate", "-noprompt"]).code, 1);
    assert_eq!(s.states(&["00B61", "00B63"]), ["Recreated", "none"]);
    // establish = create + activate
    s.clone_f(
        &s.pairs("p3", &[("00B64", "00B65")]),
        &["establish", "-differential", "-noprompt"],
    )
    .ok();
    assert_eq!(s.states(&["00B65"]), ["CopyInProg"]);
    // a target cannot be its own source
    assert_eq!(
        s.clone_f(
            &s.pairs("p4", &[("00B66", "00B66")]),
            &["create", "-noprompt"]
        )
        .code,
        1
    );
}

#[test]
fn nocopy_sessions_and_vse() {
    let s = Sim::with_array(5.0);
    s.clone_f(
        &s.pairs("a", &[("00B60", "00B61")]),
        &["create", "-noprompt"],
    )
    .ok();
    s.clone_f(
        &s.pairs("a", &[("00B60", "00B61")]),
        &["activate", "-noprompt"],
    )
    .ok();
    s.clone_f(
        &s.pairs("b", &[("00B62", "00B63")]),
        &["create", "-vse", "-noprompt"],
    )
    .ok();
    s.clone_f(
        &s.pairs("b", &[("00B62", "00B63")]),
        &["activate", "-noprompt"],
    )
    .ok();
    s.advance(5.0);
    assert_eq!(
        s.states(&["00B61", "00B63"]),
        ["CopyOnAccess", "CopyOnWrite"]
    );
}

#[test]
fn simulated_copy_time() {
    let s = Sim::with_array(1.0);
    let f = s.pairs("p", &[("00B60", "00B61")]);
    s.clone_f(&f, &["create", "-differential", "-copy", "-noprompt"])
        .ok();
    s.clone_f(&f, &["activate", "-noprompt"]).ok();
    let o = s.clone_f(&f, &["query"]).ok();
    let rows = query_rows(&o.stdout);
    assert_eq!(rows[0][8], "CopyInProg", "{}", o.stdout);
    let pct: u32 = rows[0][9].parse().unwrap();
    assert!(pct < 100);
    assert!(
        rows[0][2].parse::<u64>().unwrap() > 0,
        "protected tracks remain"
    );
    assert_ne!(s.clone_f(&f, &["verify", "-copied"]).code, 0);
    std::thread::sleep(Duration::from_millis(1200));
    let o = s.clone_f(&f, &["query"]).ok();
    let rows = query_rows(&o.stdout);
    assert_eq!(
        (
            rows[0][8].as_str(),
            rows[0][9].as_str(),
            rows[0][2].as_str()
        ),
        ("Copied", "100", "0")
    );
    assert_eq!(s.clone_f(&f, &["verify", "-copied"]).code, 0);

    // copy time is per array, settable through symsim
    s.run("symsim", &["set", "copy-seconds", "30", "--sid", SID])
        .ok();
    assert_eq!(
        s.run("symsim", &["get", "copy-seconds", "--sid", SID])
            .ok()
            .stdout
            .trim(),
        "30"
    );
    s.clone_f(&f, &["recreate", "-noprompt"]).ok();
    s.clone_f(&f, &["activate", "-noprompt"]).ok();
    s.advance(15.0);
    assert_eq!(s.states(&["00B61"]), ["CopyInProg"]);
    s.advance(16.0);
    assert_eq!(s.states(&["00B61"]), ["Copied"]);

    // precopy progresses before activation, so activation finishes early
    s.run("symsim", &["set", "copy-seconds", "10", "--sid", SID])
        .ok();
    s.clone_f(&f, &["recreate", "-precopy", "-noprompt"]).ok();
    s.advance(11.0);
    let o = s.clone_f(&f, &["query"]).ok();
    let rows = query_rows(&o.stdout);
    assert_eq!(
        (rows[0][8].as_str(), rows[0][9].as_str()),
        ("Precopy", "100")
    );
    assert!(rows[0][7].ends_with('X'), "P flag after a precopy cycle");
    s.clone_f(&f, &["activate", "-noprompt"]).ok();
    assert_eq!(s.states(&["00B61"]), ["Copied"]);
}

#[test]
fn lock_contention_returns_2_and_retries() {
    let mut s = Sim::with_array(0.0);
    s.env.push(("DOPPEL_SIM_TIME_SCALE".into(), "0.01".into()));
    let f = s.pairs("p", &[("00B60", "00B61")]);
    s.clone_f(&f, &["create", "-precopy", "-differential", "-noprompt"])
        .ok();

    s.run("symsim", &["fail", "lock", "--count", "2"]).ok();
    // read-only commands are not hit by default
    assert_eq!(s.clone_f(&f, &["verify", "-precopy"]).code, 0);
    assert_eq!(s.states(&["00B61"]), ["Precopy"]);
    let o = s.clone_f(&f, &["activate", "-noprompt"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("locked by another process"),
        "{}",
        o.stderr
    );
    assert_eq!(s.states(&["00B61"]), ["Precopy"], "nothing changed");
    // one contention left: -i/-c retries past it
    let o = s
        .clone_f(&f, &["-noprompt", "activate", "-i", "20", "-c", "30"])
        .ok();
    assert!(o.stderr.contains("Retrying"), "{}", o.stderr);
    assert_eq!(s.states(&["00B61"]), ["Copied"]);

    // more contention than -c attempts: exit 2
    s.run("symsim", &["fail", "lock", "--count", "5"]).ok();
    assert_eq!(
        s.clone_f(&f, &["recreate", "-noprompt", "-i", "1", "-c", "3"])
            .code,
        2
    );
    s.run("symsim", &["clear", "lock"]).ok();

    // --on extends it to read-only commands and other tools
    s.run("symsim", &["fail", "lock", "--on", "verify,symdev"])
        .ok();
    assert_eq!(s.clone_f(&f, &["verify", "-copied"]).code, 2);
    assert_eq!(s.clone_f(&f, &["verify", "-copied"]).code, 0);
    s.run("symsim", &["fail", "lock", "--on", "symdev", "--always"])
        .ok();
    for _ in 0..2 {
        assert_eq!(s.run("symdev", &["-sid", SID, "list"]).code, 2);
    }
    s.run("symsim", &["clear"]).ok();
    s.run("symdev", &["-sid", SID, "list"]).ok();
}

#[test]
fn real_lock_holder_blocks_then_times_out_with_2() {
    let mut s = Sim::with_array(0.0);
    s.env.push(("DOPPEL_SIM_LOCK_TIMEOUT".into(), "0.3".into()));
    let dir = doppel_sim::common::StateDir::at(s.root().join("symmetrix")).unwrap();
    let guard = dir.lock().unwrap();
    let o = s.run("symdev", &["-sid", SID, "list"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("locked by another process"));
    drop(guard);
    s.run("symdev", &["-sid", SID, "list"]).ok();
}

#[test]
fn concurrent_invocations_keep_state_consistent() {
    let s = Sim::new();
    s.run(
        "symsim",
        &[
            "array",
            "create",
            SID,
            "--devs",
            "0100:0123",
            "--copy-seconds",
            "0",
        ],
    )
    .ok();
    let files: Vec<String> = (0..16)
        .map(|i| {
            let src = format!("{:04X}", 0x100 + 2 * i);
            let tgt = format!("{:04X}", 0x101 + 2 * i);
            s.pairs(&format!("p{i}"), &[(&src, &tgt)])
        })
        .collect();
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            s.command(
                "symclone",
                &["-sid", SID, "-f", f, "create", "-differential", "-noprompt"],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let show = s.run("symsim", &["array", "show", SID]).ok();
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(v["sessions"].as_array().unwrap().len(), 16);

    // concurrent creates of the same target: exactly one wins
    let f = s.pairs("same", &[("0120", "0121")]);
    let g = s.pairs("same2", &[("0122", "0121")]);
    let kids: Vec<_> = [&f, &g, &f, &g]
        .iter()
        .map(|p| {
            s.command("symclone", &["-sid", SID, "-f", p, "create", "-noprompt"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let wins = kids
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().status.success())
        .filter(|ok| *ok)
        .count();
    assert_eq!(wins, 1);
}

#[test]
fn symdev_xml_has_the_fields_opensvc_reads() {
    let s = Sim::new();
    s.run(
        "symsim",
        &[
            "array",
            "create",
            SID,
            "--devs",
            "00B60:00B63",
            "--pd",
            "00B61=/dev/sdq",
            "--copy-seconds",
            "0",
        ],
    )
    .ok();
    s.run(
        "symsim",
        &["dev", "set", SID, "00B63", "--pd-name", "Not Visible"],
    )
    .ok();
    let f = s.pairs("p", &[("00B60", "00B61")]);
    s.clone_f(&f, &["create", "-differential", "-precopy", "-noprompt"])
        .ok();
    s.clone_f(&f, &["activate", "-noprompt"]).ok();

    let o = s
        .run(
            "symdev",
            &[
                "-sid",
                SID,
                "list",
                "-v",
                "-devs",
                "00B61,00B63",
                "-output",
                "xml_e",
            ],
        )
        .ok();
    assert!(
        o.stdout.starts_with("<?xml version=\"1.0\""),
        "{}",
        o.stdout
    );
    let doc = parse_xml(&o.stdout).expect("well-formed");
    let devs = doc.all("SymCLI_ML/Symmetrix/Device");
    assert_eq!(devs.len(), 2);
    let d = devs[0];
    assert_eq!(d.text("Dev_Info/dev_name"), Some("00B61"));
    assert_eq!(d.text("Dev_Info/pd_name"), Some("/dev/sdq"));
    assert_eq!(d.text("CLONE_Device/SRC/dev_name"), Some("00B60"));
    assert_eq!(d.text("CLONE_Device/TGT/dev_name"), Some("00B61"));
    assert_eq!(d.text("CLONE_Device/state"), Some("Copied"));
    let last = d.text("CLONE_Device/last_action").unwrap();
    let parsed =
        jiff::fmt::strtime::parse("%a %b %d %H:%M:%S %Y", last).and_then(|t| t.to_datetime());
    assert!(
        parsed.is_ok(),
        "last_action {last:?} not in '%a %b %d %H:%M:%S %Y'"
    );
    let ts = parsed
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();
    let age = jiff::Timestamp::now().as_second() - ts.as_second();
    assert!(age.abs() < 120, "last_action is now-ish: {last}");
    // no session: no CLONE_Device; unmapped: "Not Visible"
    assert_eq!(devs[1].text("Dev_Info/dev_name"), Some("00B63"));
    assert!(devs[1].first("CLONE_Device").is_none());
    assert!(
        devs[1]
            .text("Dev_Info/pd_name")
            .unwrap()
            .contains("Not Visible")
    );
    // the symid is reachable too
    assert_eq!(doc.text("SymCLI_ML/Symmetrix/Symm_Info/symid"), Some(SID));

    // SYMCLI_OUTPUT_MODE selects XML as well; text otherwise
    let o = s
        .command("symdev", &["-sid", SID, "list", "-devs", "00B60"])
        .env("SYMCLI_OUTPUT_MODE", "XML")
        .output()
        .unwrap();
    assert!(parse_xml(&String::from_utf8_lossy(&o.stdout)).is_ok());
    let o = s
        .run("symdev", &["-sid", SID, "list", "-v", "-devs", "00B60"])
        .ok();
    assert!(o.stdout.contains("Device Symmetrix Name    : 00B60"));
    assert!(
        o.stdout
            .contains("State of Session                   : Copied")
    );

    // forced state strings (e.g. Failed) show as is
    s.run("symsim", &["pair", "state", SID, "00B61", "failed"])
        .ok();
    assert_eq!(s.states(&["00B61"]), ["Failed"]);
    assert_eq!(s.clone_f(&f, &["verify", "-failed"]).code, 0);

    // symclone query/list XML are well-formed too (provisional schema)
    let o = s.clone_f(&f, &["query", "-output", "xml_e"]).ok();
    let q = parse_xml(&o.stdout).unwrap();
    assert_eq!(
        q.text("SymCLI_ML/Symmetrix/Clone_Pair/Target/dev_name"),
        Some("00B61")
    );
    let o = s
        .run("symclone", &["-sid", SID, "list", "-output", "xml"])
        .ok();
    let l = parse_xml(&o.stdout).unwrap();
    assert_eq!(l.all("SymCLI_ML/Symmetrix/Clone_Pair").len(), 1);
}

#[test]
fn xml_faults() {
    let s = Sim::with_array(0.0);
    let args = [
        "-sid", SID, "list", "-v", "-devs", "00B60", "-output", "xml_e",
    ];
    s.run("symsim", &["fail", "xml"]).ok();
    let o = s.run("symdev", &args).ok();
    assert!(
        parse_xml(&o.stdout).is_err(),
        "malformed on purpose: {}",
        o.stdout
    );
    let o = s.run("symdev", &args).ok();
    assert!(parse_xml(&o.stdout).is_ok(), "one shot");
    s.run("symsim", &["fail", "xml-empty"]).ok();
    let o = s.run("symdev", &args).ok();
    assert!(o.stdout.is_empty());
}

#[test]
fn action_faults_and_stuck_pairs() {
    let s = Sim::with_array(0.0);
    let f = s.pairs("p", &[("00B60", "00B61"), ("00B62", "00B63")]);
    s.clone_f(&f, &["create", "-differential", "-precopy", "-noprompt"])
        .ok();

    // activate fails once, with the default code or a chosen one
    s.run("symsim", &["fail", "activate"]).ok();
    let o = s.clone_f(&f, &["activate", "-noprompt"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("FAILED"), "{}", o.stderr);
    assert_eq!(s.states(&["00B61", "00B63"]), ["Precopy", "Precopy"]);
    s.run(
        "symsim",
        &[
            "fail",
            "activate",
            "--rc",
            "17",
            "--message",
            "boom",
            "--devs",
            "00B99",
        ],
    )
    .ok();
    s.clone_f(&f, &["activate", "-noprompt"]).ok(); // filter does not match
    s.run("symsim", &["clear"]).ok();
    s.run(
        "symsim",
        &["fail", "recreate", "--rc", "17", "--message", "boom"],
    )
    .ok();
    let o = s.clone_f(&f, &["recreate", "-noprompt"]);
    assert_eq!(o.code, 17);
    assert!(o.stderr.contains("boom"));

    // never-activable: recreate leaves the pairs in RecreateInProg until cleared
    s.run("symsim", &["fail", "never-activable", "--devs", "00B63"])
        .ok();
    s.clone_f(&f, &["recreate", "-precopy", "-noprompt"]).ok();
    assert_eq!(s.states(&["00B61", "00B63"]), ["Precopy", "RecreateInProg"]);
    assert_eq!(s.clone_f(&f, &["verify", "-precopy"]).code, 4);
    assert_eq!(s.clone_f(&f, &["verify", "-recreated"]).code, 5);
    assert_eq!(s.clone_f(&f, &["activate", "-noprompt"]).code, 1);
    let faults = s.run("symsim", &["faults"]).ok();
    assert_eq!(faults.stdout.trim(), "[]", "count consumed");
    s.run("symsim", &["clear", "never-activable"]).ok();
    assert_eq!(s.states(&["00B61", "00B63"]), ["Precopy", "Precopy"]);

    // stuck-copy: activation never reaches Copied
    s.run("symsim", &["fail", "stuck-copy"]).ok();
    s.clone_f(&f, &["activate", "-noprompt"]).ok();
    s.advance(100.0);
    assert_eq!(s.states(&["00B61", "00B63"]), ["CopyInProg", "CopyInProg"]);
    s.run("symsim", &["clear"]).ok();
    assert_eq!(s.states(&["00B61", "00B63"]), ["Copied", "Copied"]);
}

#[test]
fn usage_errors_exit_1_without_panic() {
    let s = Sim::with_array(0.0);
    let f = s.pairs("p", &[("00B60", "00B61")]);
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["-bogus"],
        vec!["-sid", SID, "-f", &f, "frobnicate"],
        vec!["-sid", SID, "-f", &f, "query", "-bogus"],
        vec!["-sid", SID, "-f"],
        vec!["query"],
        vec!["-g", "X", "-f", &f, "query"],
        vec!["-sid", SID, "-f", &f, "create", "DEV001", "sym", "ld", "X"],
        vec!["-sid", SID, "-f", "/nonexistent/pairs", "query"],
        vec!["-g", "NOPE", "query"],
        vec!["-sid", "999999", "-f", &f, "query"],
        vec!["-sid", SID, "-f", &f, "verify", "-i", "abc"],
    ];
    for c in cases {
        let o = s.run("symclone", &c);
        assert_eq!(o.code, 1, "symclone {c:?}: {}", o.all());
        assert!(
            !o.stderr.trim().is_empty(),
            "symclone {c:?} explains itself"
        );
    }
    for (tool, args) in [
        ("symdev", vec!["frob"]),
        ("symdev", vec!["list", "-zzz"]),
        ("symdev", vec!["list", "-devs", "XYZ!"]),
        ("symdg", vec!["create"]),
        ("symdg", vec!["delete", "nope"]),
        ("symld", vec!["add", "dev", "00B60"]),
        ("symld", vec!["-g", "nope", "add", "dev", "00B60"]),
    ] {
        let o = s.run(tool, &args);
        assert_eq!(o.code, 1, "{tool} {args:?}: {}", o.all());
    }
    let o = s.run("symsim", &["fail", "nonsense"]);
    assert_ne!(o.code, 0);
    let o = s.run("symclone", &["-h"]).ok();
    assert!(o.stdout.contains("USAGE"));
    // a malformed pairs file line
    let bad = s.pairs("bad", &[("00B60", "00B61 extra")]);
    assert_eq!(s.clone_f(&bad, &["query"]).code, 1);
}

#[test]
fn missing_sim_root_is_a_clear_error() {
    for tool in ["symclone", "symdev", "symdg", "symld", "symsim"] {
        let args: &[&str] = match tool {
            "symclone" => &["-sid", SID, "-f", "/tmp/x", "query"],
            "symdev" => &["list"],
            "symdg" => &["list"],
            "symld" => &["-g", "x", "list"],
            _ => &["array", "list"],
        };
        let o = Command::new(bin(tool))
            .args(args)
            .env_remove("DOPPEL_SIM_ROOT")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{tool}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("DOPPEL_SIM_ROOT is not set"), "{tool}: {err}");
    }
}

#[test]
fn prompt_without_noprompt() {
    let s = Sim::with_array(0.0);
    let f = s.pairs("p", &[("00B60", "00B61")]);
    let o = s.run_stdin("symclone", &["-sid", SID, "-f", &f, "create"], "");
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("(y/[n]) ?"), "{}", o.stdout);
    assert_eq!(s.states(&["00B61"]), ["none"]);
    let o = s
        .run_stdin("symclone", &["-sid", SID, "-f", &f, "create"], "y\n")
        .ok();
    assert!(o.stderr.contains("successfully executed"));
    assert_eq!(s.states(&["00B61"]), ["Created"]);
}

#[test]
fn sid_suffix_and_verbose_output() {
    let s = Sim::with_array(0.0);
    let f = s.pairs("p", &[("00B60", "00B61")]);
    let o = s
        .run(
            "symclone",
            &["-sid", "234", "-f", &f, "-v", "create", "-noprompt"],
        )
        .ok();
    assert!(
        o.stderr.contains("Devices: 00B60(S) - 00B61(T) [PAIRED]"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("The Clone 'CREATE' operation SUCCEEDED."));
    // the long spelling -file and -nop
    s.run("symclone", &["-sid", SID, "-file", &f, "activate", "-nop"])
        .ok();
    let o = s.run("symclone", &["-sid", SID, "list"]).ok();
    assert!(
        o.stdout.contains("00B60") && o.stdout.contains("CopyOnAccess"),
        "{}",
        o.stdout
    );
    // ready / not_ready
    s.run("symdev", &["not_ready", "00B61", "-sid", SID]).ok();
    let o = s.run("symdev", &["-sid", SID, "show", "00B61"]).ok();
    assert!(o.stdout.contains("Not Ready"), "{}", o.stdout);
}
