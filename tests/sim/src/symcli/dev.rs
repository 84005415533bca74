//! `symdev`: list/show devices (text and `-output xml_e`), ready/not_ready.

use super::args::{self, Spec, usage_error};
use super::clone::xml_fault;
use super::db::{Db, with_db};
use super::model::{Array, Device, expand_devs};
use super::xml::Xml;
use super::{finish, msg, rc, xml_requested};
use crate::common::{SimError, SimResult, clock, err, out};

const TOOL: &str = "symdev";

const SPEC: Spec = Spec {
    with_value: &["-sid", "-devs", "-output", "-dev"],
    flags: &["-v", "-noprompt", "-offline", "-h", "-clone", "-all"],
    aliases: &[("-nop", "-noprompt"), ("-help", "-h"), ("-?", "-h")],
};

const USAGE: &str = "\
USAGE: symdev -h
       symdev [-sid <SymmID>] list [-v] [-devs <SymDevName>[:<SymDevName>][,...]]
              [-output xml|xml_e|xml_a] [-offline]
       symdev [-sid <SymmID>] show <SymDevName> [-output xml|xml_e]
       symdev [-sid <SymmID>] [-noprompt] ready|not_ready <SymDevName>
   (doppel SYMCLI simulator)
";

pub fn main(argv: Vec<String>) -> i32 {
    finish(run(argv))
}

fn run(argv: Vec<String>) -> SimResult<i32> {
    let p = args::parse(TOOL, &argv, &SPEC)?;
    if p.flag("-h") {
        out(USAGE);
        return Ok(rc::SUCCESS);
    }
    let mut pos = p.positionals.iter();
    let action = pos.next().map(|s| s.to_ascii_lowercase());
    let rest: Vec<&String> = pos.collect();
    let want_xml = xml_requested(p.value("-output"))?;
    match action.as_deref() {
        Some("list") => {
            if let Some(extra) = rest.first() {
                return Err(usage_error(TOOL, format!("Unexpected argument '{extra}'")));
            }
            let devs = match p.value("-devs") {
                Some(l) => Some(expand_devs(l).map_err(|e| usage_error(TOOL, e))?),
                None => None,
            };
            let verbose = p.flag("-v");
            let text = with_db(|db| {
                list(
                    db,
                    p.value("-sid"),
                    devs.as_deref(),
                    verbose,
                    want_xml,
                    "list",
                )
            })??;
            out(&text);
            Ok(rc::SUCCESS)
        }
        Some("show") => {
            let dev = match (rest.as_slice(), p.value("-dev")) {
                ([d], _) => d.to_string(),
                ([], Some(d)) => d.to_string(),
                _ => return Err(usage_error(TOOL, "show takes exactly one device name")),
            };
            let devs = expand_devs(&dev).map_err(|e| usage_error(TOOL, e))?;
            let text =
                with_db(|db| list(db, p.value("-sid"), Some(&devs), true, want_xml, "show"))??;
            out(&text);
            Ok(rc::SUCCESS)
        }
        Some(a @ ("ready" | "not_ready")) => {
            let dev = match rest.as_slice() {
                [d] => d.to_string(),
                _ => {
                    return Err(usage_error(
                        TOOL,
                        format!("{a} takes exactly one device name"),
                    ));
                }
            };
            let ready = a == "ready";
            let name = with_db(|db| -> SimResult<String> {
                check_lock(db, a)?;
                let sid = db.resolve_sid(p.value("-sid"))?;
                let arr = db.array_mut(&sid)?;
                let d = arr
                    .device_mut(&dev)
                    .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dev(&dev, &sid)))?;
                d.ready = ready;
                Ok(d.name.clone())
            })??;
            let word = if ready { "Ready" } else { "Not Ready" };
            err(&format!("\nDevice '{name}' is now {word}.\n\n"));
            Ok(rc::SUCCESS)
        }
        Some(other) => Err(usage_error(TOOL, format!("Unrecognized action '{other}'"))),
        None => Err(usage_error(TOOL, "An action must be specified")),
    }
}

fn check_lock(db: &mut Db, action: &str) -> SimResult<()> {
    if let Some(f) = db
        .faults
        .take("lock", |f| f.applies_to(&[TOOL, action], &[]))
    {
        return Err(SimError::new(
            f.rc.unwrap_or(rc::DB_LOCKED),
            f.message.unwrap_or_else(|| msg::DB_LOCKED.to_string()),
        ));
    }
    Ok(())
}

/// Group and logical name of a device, if it belongs to a device group.
pub fn group_of(db: &Db, sid: &str, dev: &str) -> Option<(String, String)> {
    db.dgs
        .group_of(sid, dev, None)
        .and_then(|g| g.by_dev(dev).map(|d| (g.name.clone(), d.ld_name.clone())))
}

/// `symdev list -v` / `symld list -v` block for one device.
pub fn device_text(db: &Db, a: &Array, d: &Device, now: f64) -> String {
    let cs = db.copy_seconds(&a.sid);
    let (dg, ld) = group_of(db, &a.sid, &d.name).unwrap_or_else(|| ("N/A".into(), "N/A".into()));
    let mut s = String::new();
    s.push_str(&format!(
        "\n    Device Physical Name     : {}\n\n",
        d.pd_name
    ));
    s.push_str(&format!("    Device Symmetrix Name    : {}\n", d.name));
    s.push_str(&format!("    Symmetrix ID             : {}\n", a.sid));
    s.push_str(&format!("    Device Group Name        : {dg}\n"));
    s.push_str(&format!("    Device Logical Name      : {ld}\n"));
    s.push_str(&format!("    Device Configuration     : {}\n", d.config));
    s.push_str("    Device Capacity\n        {\n");
    s.push_str(&format!(
        "        Tracks               : {:>10}\n",
        d.tracks
    ));
    s.push_str(&format!(
        "        MegaBytes            : {:>10}\n",
        d.megabytes()
    ));
    s.push_str("        }\n");
    let rw = if d.ready {
        "Ready (RW)"
    } else {
        "Not Ready (NR)"
    };
    s.push_str(&format!("    Device Status            : {rw}\n"));
    for sess in a.sessions_of(&d.name) {
        let st = sess.status(now, cs);
        s.push_str("\n    Clone Device Information\n        {\n");
        s.push_str(&format!(
            "        Source (SRC) Device Symmetrix Name : {}\n",
            sess.src
        ));
        s.push_str(&format!(
            "        Target (TGT) Device Symmetrix Name : {}\n",
            sess.tgt
        ));
        s.push_str(&format!(
            "        State of Session                   : {}\n",
            st.state
        ));
        s.push_str(&format!(
            "        Time of Last Clone Action          : {}\n",
            clock::ctime(sess.last_action)
        ));
        s.push_str("        Changed Tracks for SRC Device      : 0\n");
        s.push_str("        Changed Tracks for TGT Device      : 0\n");
        s.push_str(&format!(
            "        Percent Copied                     : {}%\n",
            st.percent
        ));
        s.push_str(&format!(
            "        Differential Session               : {}\n",
            if sess.differential { "Yes" } else { "No" }
        ));
        s.push_str("        }\n");
    }
    s
}

/// One `<Device>` element (see opensvc.md §8.6 for the paths the driver reads).
pub fn device_xml(x: &mut Xml, db: &Db, a: &Array, d: &Device, now: f64) {
    let cs = db.copy_seconds(&a.sid);
    x.open("Device");
    x.open("Dev_Info");
    x.leaf("pd_name", &d.pd_name)
        .leaf("dev_name", &d.name)
        .leaf("symid", &a.sid);
    x.leaf("configuration", &d.config)
        .leaf("status", d.status());
    if let Some((dg, ld)) = group_of(db, &a.sid, &d.name) {
        x.leaf("dg_name", dg).leaf("ld_name", ld);
    }
    x.close();
    // One Port per native path, as `symdev list -v -output xml_e` shows the front
    // director paths (opensvc's symsrdf fixtures: Front_End/Port/{pd_name,director,port}).
    let paths = d.native_paths();
    if !paths.is_empty() {
        x.open("Front_End");
        for (i, p) in paths.iter().enumerate() {
            x.open("Port")
                .leaf("pd_name", p)
                .leaf("director", if i % 2 == 0 { "07E" } else { "08E" })
                .leaf("port", (i / 2).to_string())
                .close();
        }
        x.close();
    }
    x.open("Capacity")
        .leaf("tracks", d.tracks.to_string())
        .leaf("megabytes", d.megabytes().to_string())
        .close();
    for sess in a.sessions_of(&d.name) {
        let st = sess.status(now, cs);
        let pd = |n: &str| {
            a.device(n)
                .map(|d| d.pd_name.clone())
                .unwrap_or_else(|| "Not Visible".into())
        };
        x.open("CLONE_Device");
        x.open("SRC")
            .leaf("pd_name", pd(&sess.src))
            .leaf("dev_name", &sess.src)
            .leaf("changed_tracks", "0")
            .close();
        x.open("TGT")
            .leaf("pd_name", pd(&sess.tgt))
            .leaf("dev_name", &sess.tgt)
            .leaf("changed_tracks", "0")
            .close();
        x.leaf("state", &st.state);
        x.leaf("last_action", clock::ctime(sess.last_action));
        x.leaf("percent_copied", st.percent.to_string());
        x.leaf(
            "differential",
            if sess.differential { "True" } else { "False" },
        );
        x.leaf(
            "copy_mode",
            if sess.vse {
                "VSE"
            } else if sess.copy {
                "Copy"
            } else {
                "NoCopy"
            },
        );
        x.close();
    }
    x.close();
}

fn list(
    db: &mut Db,
    sid: Option<&str>,
    devs: Option<&[String]>,
    verbose: bool,
    want_xml: bool,
    action: &str,
) -> SimResult<String> {
    check_lock(db, action)?;
    let sid = db.resolve_sid(sid)?;
    let now = clock::now();
    let a = db.array(&sid)?;
    let selected: Vec<&Device> = match devs {
        Some(list) => {
            let found: Vec<&Device> = list.iter().filter_map(|n| a.device(n)).collect();
            if action == "show" && found.is_empty() {
                return Err(SimError::new(rc::FAIL, msg::unknown_dev(&list[0], &sid)));
            }
            found
        }
        None => a.devices.iter().collect(),
    };
    if selected.is_empty() {
        return Err(SimError::new(rc::FAIL, "No Symmetrix devices were found"));
    }
    if want_xml {
        let mut x = Xml::new();
        x.open("Symmetrix");
        x.open("Symm_Info").leaf("symid", &a.sid).close();
        for d in &selected {
            device_xml(&mut x, db, a, d, now);
        }
        let doc = x.finish();
        return Ok(xml_fault(db, &[TOOL, action], doc));
    }
    let mut s = format!("\n\nSymmetrix ID: {}\n", a.sid);
    if verbose {
        for d in &selected {
            s.push_str(&device_text(db, a, d, now));
        }
        s.push('\n');
        return Ok(s);
    }
    s.push_str(
        "\n        Device Name           Dir                  Device\n\
         ---------------------------- ------- -------------------------------------\n\
         \x20                                                                    Cap\n\
         Sym   Physical               SA :P   Config        Attribute    Sts   (MB)\n\
         ---------------------------- ------- -------------------------------------\n\n",
    );
    for d in &selected {
        let grp = if group_of(db, &a.sid, &d.name).is_some() {
            "Grp'd"
        } else {
            "N/Grp'd"
        };
        let sts = if d.ready { "RW" } else { "NR" };
        s.push_str(&format!(
            "{:<5} {:<22} {:<7} {:<13} {:<12} {:<4} {:>6}\n",
            d.name,
            d.pd_name,
            "01A:000",
            d.config,
            grp,
            sts,
            d.megabytes()
        ));
    }
    s.push('\n');
    Ok(s)
}
