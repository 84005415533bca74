//! `symdg` and `symld`: device groups, enough for `symclone -g <dg>`.

use super::args::{self, Parsed, Spec, usage_error};
use super::db::{Db, DeviceGroup, DgDevice, with_db};
use super::dev::device_text;
use super::model::expand_devs;
use super::xml::Xml;
use super::{finish, msg, rc, xml_requested};
use crate::common::{SimError, SimResult, clock, out};

const DG_SPEC: Spec = Spec {
    with_value: &["-type", "-g", "-sid", "-devs", "-output"],
    flags: &["-force", "-v", "-noprompt", "-h", "-tgt", "-bcv"],
    aliases: &[("-nop", "-noprompt"), ("-help", "-h"), ("-?", "-h")],
};

const DG_USAGE: &str = "\
USAGE: symdg -h
       symdg create <DgName> [-type REGULAR|RDF1|RDF2|RDF21|ANY]
       symdg create -type <DgType> <DgName>
       symdg delete <DgName> [-force]
       symdg rename <DgName> <NewDgName>
       symdg list [-v] [-output xml|xml_e]
       symdg show <DgName>
       symdg -g <DgName> addall -devs <SymDevName>[:<SymDevName>][,...] [-sid <SymmID>] [-tgt]
   (doppel SYMCLI simulator)
";

const LD_SPEC: Spec = Spec {
    with_value: &["-g", "-sid", "-output"],
    flags: &["-tgt", "-bcv", "-v", "-noprompt", "-force", "-h"],
    aliases: &[("-nop", "-noprompt"), ("-help", "-h"), ("-?", "-h")],
};

const LD_USAGE: &str = "\
USAGE: symld -h
       symld -g <DgName> [-sid <SymmID>] add dev <SymDevName> [<LdevName>] [-tgt]
       symld -g <DgName> remove <LdevName> | remove dev <SymDevName>
       symld -g <DgName> list [-v]
       symld -g <DgName> show <LdevName>
   (doppel SYMCLI simulator)
";

const DG_TYPES: &[&str] = &["REGULAR", "RDF1", "RDF2", "RDF21", "ANY"];

pub fn symdg_main(argv: Vec<String>) -> i32 {
    finish(symdg(argv))
}

pub fn symld_main(argv: Vec<String>) -> i32 {
    finish(symld(argv))
}

fn check_lock(db: &mut Db, tool: &str, action: &str) -> SimResult<()> {
    if let Some(f) = db
        .faults
        .take("lock", |f| f.applies_to(&[tool, action], &[]))
    {
        return Err(SimError::new(
            f.rc.unwrap_or(rc::DB_LOCKED),
            f.message.unwrap_or_else(|| msg::DB_LOCKED.to_string()),
        ));
    }
    Ok(())
}

fn valid_name(tool: &str, what: &str, name: &str) -> SimResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 31
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(usage_error(tool, format!("Invalid {what} name '{name}'")))
    }
}

fn symdg(argv: Vec<String>) -> SimResult<i32> {
    let p = args::parse("symdg", &argv, &DG_SPEC)?;
    if p.flag("-h") {
        out(DG_USAGE);
        return Ok(rc::SUCCESS);
    }
    let pos: Vec<String> = p.positionals.clone();
    let action = pos.first().map(|s| s.to_ascii_lowercase());
    match action.as_deref() {
        Some("create") => {
            let name = match &pos[1..] {
                [n] => n.clone(),
                _ => {
                    return Err(usage_error(
                        "symdg",
                        "create takes exactly one device group name",
                    ));
                }
            };
            valid_name("symdg", "device group", &name)?;
            let dg_type = p.value("-type").unwrap_or("REGULAR").to_ascii_uppercase();
            if !DG_TYPES.contains(&dg_type.as_str()) {
                return Err(usage_error(
                    "symdg",
                    format!("Invalid device group type '{dg_type}'"),
                ));
            }
            let sid = p.value("-sid").map(str::to_string);
            with_db(|db| -> SimResult<()> {
                check_lock(db, "symdg", "create")?;
                if db.dgs.get(&name).is_some() {
                    return Err(SimError::new(
                        rc::FAIL,
                        format!("The device group '{name}' already exists"),
                    ));
                }
                let symid = match sid {
                    Some(s) => Some(db.resolve_sid(Some(&s))?),
                    None => None,
                };
                db.dgs.groups.insert(
                    name.clone(),
                    DeviceGroup {
                        name: name.clone(),
                        dg_type,
                        symid,
                        devices: vec![],
                    },
                );
                Ok(())
            })??;
            Ok(rc::SUCCESS)
        }
        Some("delete") => {
            let name = match &pos[1..] {
                [n] => n.clone(),
                _ => {
                    return Err(usage_error(
                        "symdg",
                        "delete takes exactly one device group name",
                    ));
                }
            };
            let force = p.flag("-force");
            with_db(|db| -> SimResult<()> {
                check_lock(db, "symdg", "delete")?;
                let key = db
                    .dgs
                    .key(&name)
                    .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dg(&name)))?;
                if !db.dgs.groups[&key].devices.is_empty() && !force {
                    return Err(SimError::new(
                        rc::FAIL,
                        format!("The device group '{key}' is not empty: use -force to delete it"),
                    ));
                }
                db.dgs.groups.remove(&key);
                Ok(())
            })??;
            Ok(rc::SUCCESS)
        }
        Some("rename") => {
            let (old, new) = match &pos[1..] {
                [a, b] => (a.clone(), b.clone()),
                _ => return Err(usage_error("symdg", "rename takes <DgName> <NewDgName>")),
            };
            valid_name("symdg", "device group", &new)?;
            with_db(|db| -> SimResult<()> {
                check_lock(db, "symdg", "rename")?;
                let key = db
                    .dgs
                    .key(&old)
                    .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dg(&old)))?;
                if db.dgs.get(&new).is_some() {
                    return Err(SimError::new(
                        rc::FAIL,
                        format!("The device group '{new}' already exists"),
                    ));
                }
                if let Some(mut g) = db.dgs.groups.remove(&key) {
                    g.name = new.clone();
                    db.dgs.groups.insert(new.clone(), g);
                }
                Ok(())
            })??;
            Ok(rc::SUCCESS)
        }
        Some("list") => {
            let want_xml = xml_requested(p.value("-output"))?;
            let text = with_db(|db| -> SimResult<String> {
                check_lock(db, "symdg", "list")?;
                if want_xml {
                    let mut x = Xml::new();
                    for g in db.dgs.groups.values() {
                        x.open("DG");
                        x.open("DG_Info")
                            .leaf("name", &g.name)
                            .leaf("type", &g.dg_type)
                            .leaf("valid", "Yes")
                            .leaf("symid", g.symid.as_deref().unwrap_or("N/A"))
                            .leaf("num_devices", g.devices.len().to_string())
                            .close();
                        x.close();
                    }
                    return Ok(x.finish());
                }
                let mut s =
                    String::from("\n\n                       D E V I C E      G R O U P S\n\n");
                s.push_str("                                                  Number of\n");
                s.push_str("    Name               Type     Valid  Symmetrix ID  Devs   GKs  BCVs  VDEVs  TGTs\n\n");
                for g in db.dgs.groups.values() {
                    let tgts = g.devices.iter().filter(|d| d.tgt).count();
                    s.push_str(&format!(
                        "    {:<18} {:<8} {:<6} {:<13} {:>4} {:>5} {:>5} {:>6} {:>5}\n",
                        g.name,
                        g.dg_type,
                        "Yes",
                        g.symid.as_deref().unwrap_or("N/A"),
                        g.devices.len() - tgts,
                        0,
                        0,
                        0,
                        tgts
                    ));
                }
                s.push('\n');
                Ok(s)
            })??;
            out(&text);
            Ok(rc::SUCCESS)
        }
        Some("show") => {
            let name = match &pos[1..] {
                [n] => n.clone(),
                _ => {
                    return Err(usage_error(
                        "symdg",
                        "show takes exactly one device group name",
                    ));
                }
            };
            let text = with_db(|db| -> SimResult<String> {
                check_lock(db, "symdg", "show")?;
                let g = db
                    .dgs
                    .get(&name)
                    .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dg(&name)))?;
                Ok(group_text(db, g))
            })??;
            out(&text);
            Ok(rc::SUCCESS)
        }
        Some("addall") => {
            let name = p
                .value("-g")
                .ok_or_else(|| usage_error("symdg", "addall needs -g <DgName>"))?
                .to_string();
            let devs = p
                .value("-devs")
                .ok_or_else(|| usage_error("symdg", "addall needs -devs <list>"))?;
            let devs = expand_devs(devs).map_err(|e| usage_error("symdg", e))?;
            let tgt = p.flag("-tgt");
            let sid = p.value("-sid").map(str::to_string);
            with_db(|db| -> SimResult<()> {
                check_lock(db, "symdg", "addall")?;
                for d in &devs {
                    add_dev(db, &name, sid.as_deref(), d, None, tgt)?;
                }
                Ok(())
            })??;
            Ok(rc::SUCCESS)
        }
        Some(other) => Err(usage_error(
            "symdg",
            format!("Unrecognized action '{other}'"),
        )),
        None => Err(usage_error("symdg", "An action must be specified")),
    }
}

/// Add `dev` to group `dg` (logical name given or the next DEVnnn / TGTnnn).
fn add_dev(
    db: &mut Db,
    dg: &str,
    sid: Option<&str>,
    dev: &str,
    ld: Option<&str>,
    tgt: bool,
) -> SimResult<String> {
    let g = db
        .dgs
        .get(dg)
        .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dg(dg)))?;
    let sid = match (sid, &g.symid) {
        (Some(s), Some(gs)) => {
            let s = db.resolve_sid(Some(s))?;
            if &s != gs {
                return Err(SimError::new(
                    rc::FAIL,
                    format!(
                        "Device group '{}' holds devices of Symmetrix '{gs}': cannot add devices of '{s}'",
                        g.name
                    ),
                ));
            }
            s
        }
        (Some(s), None) => db.resolve_sid(Some(s))?,
        (None, Some(gs)) => gs.clone(),
        (None, None) => db.resolve_sid(None)?,
    };
    let dev_name = db
        .array(&sid)?
        .device(dev)
        .map(|d| d.name.clone())
        .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dev(dev, &sid)))?;
    let gname = g.name.clone();
    if g.by_dev(&dev_name).is_some() {
        return Err(SimError::new(
            rc::FAIL,
            format!("Device '{dev_name}' is already a member of device group '{gname}'"),
        ));
    }
    if let Some(other) = db.dgs.group_of(&sid, &dev_name, Some(&gname)) {
        return Err(SimError::new(
            rc::FAIL,
            format!(
                "Device '{dev_name}' is already a member of device group '{}'",
                other.name
            ),
        ));
    }
    let ld_name = match ld {
        Some(l) => {
            valid_name("symld", "logical device", l)?;
            if g.ld(l).is_some() {
                return Err(SimError::new(
                    rc::FAIL,
                    format!("The logical device name '{l}' is already used in group '{gname}'"),
                ));
            }
            l.to_string()
        }
        None => {
            let prefix = if tgt { "TGT" } else { "DEV" };
            let next = g
                .devices
                .iter()
                .filter_map(|d| {
                    d.ld_name
                        .strip_prefix(prefix)
                        .and_then(|n| n.parse::<u32>().ok())
                })
                .max()
                .unwrap_or(0)
                + 1;
            format!("{prefix}{next:03}")
        }
    };
    let g = db
        .dgs
        .get_mut(&gname)
        .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dg(&gname)))?;
    g.symid = Some(sid);
    g.devices.push(DgDevice {
        ld_name: ld_name.clone(),
        dev: dev_name,
        tgt,
    });
    Ok(ld_name)
}

fn group_text(db: &Db, g: &DeviceGroup) -> String {
    let mut s = String::new();
    s.push_str(&format!("\n    Group Name:  {}\n\n", g.name));
    s.push_str(&format!(
        "    Group Type                                   : {}\n",
        g.dg_type
    ));
    s.push_str("    Valid                                        : Yes\n");
    s.push_str(&format!(
        "    Symmetrix ID                                 : {}\n",
        g.symid.as_deref().unwrap_or("N/A")
    ));
    let stds: Vec<&DgDevice> = g.devices.iter().filter(|d| !d.tgt).collect();
    let tgts: Vec<&DgDevice> = g.devices.iter().filter(|d| d.tgt).collect();
    s.push_str(&format!(
        "    Number of STD Devices in Group               : {:>4}\n",
        stds.len()
    ));
    s.push_str(&format!(
        "    Number of Clone Targets (TGT's) in Group     : {:>4}\n",
        tgts.len()
    ));
    let arr = g.symid.as_ref().and_then(|sid| db.arrays.get(sid));
    for (title, list) in [
        ("Standard (STD) Devices", &stds),
        ("Target (TGT) Devices", &tgts),
    ] {
        if list.is_empty() {
            continue;
        }
        s.push_str(&format!("\n    {title} ({}):\n      {{\n", list.len()));
        s.push_str("      --------------------------------------------------------------------\n");
        s.push_str("                                                    Sym               Cap\n");
        s.push_str("      LdevName              PdevName                Dev  Att. Sts     (MB)\n");
        s.push_str("      --------------------------------------------------------------------\n");
        for d in list.iter() {
            let dev = arr.and_then(|a| a.device(&d.dev));
            let pd = dev
                .map(|x| x.pd_name.clone())
                .unwrap_or_else(|| "Not Visible".into());
            let sts = if dev.is_some_and(|x| x.ready) {
                "RW"
            } else {
                "NR"
            };
            let mb = dev.map(|x| x.megabytes()).unwrap_or(0);
            s.push_str(&format!(
                "      {:<21} {:<23} {:<5} {:<4} {:<4} {:>6}\n",
                d.ld_name, pd, d.dev, "", sts, mb
            ));
        }
        s.push_str("      }\n");
    }
    s.push('\n');
    s
}

fn need_group(p: &Parsed) -> SimResult<String> {
    p.value("-g")
        .map(str::to_string)
        .ok_or_else(|| usage_error("symld", "A device group must be specified with -g <DgName>"))
}

fn symld(argv: Vec<String>) -> SimResult<i32> {
    let p = args::parse("symld", &argv, &LD_SPEC)?;
    if p.flag("-h") {
        out(LD_USAGE);
        return Ok(rc::SUCCESS);
    }
    let pos: Vec<String> = p.positionals.clone();
    let action = pos.first().map(|s| s.to_ascii_lowercase());
    match action.as_deref() {
        Some("add") => {
            let dg = need_group(&p)?;
            let (dev, ld) = match &pos[1..] {
                [kw, dev] if kw.eq_ignore_ascii_case("dev") => (dev.clone(), None),
                [kw, dev, ld] if kw.eq_ignore_ascii_case("dev") => (dev.clone(), Some(ld.clone())),
                _ => {
                    return Err(usage_error(
                        "symld",
                        "Usage: symld -g <DgName> add dev <SymDevName> [<LdevName>]",
                    ));
                }
            };
            let tgt = p.flag("-tgt") || p.flag("-bcv");
            let sid = p.value("-sid").map(str::to_string);
            with_db(|db| -> SimResult<String> {
                check_lock(db, "symld", "add")?;
                add_dev(db, &dg, sid.as_deref(), &dev, ld.as_deref(), tgt)
            })??;
            Ok(rc::SUCCESS)
        }
        Some("remove") => {
            let dg = need_group(&p)?;
            let by_dev = match &pos[1..] {
                [ld] => (false, ld.clone()),
                [kw, dev] if kw.eq_ignore_ascii_case("dev") => (true, dev.clone()),
                _ => {
                    return Err(usage_error(
                        "symld",
                        "Usage: symld -g <DgName> remove <LdevName> | remove dev <SymDevName>",
                    ));
                }
            };
            with_db(|db| -> SimResult<()> {
                check_lock(db, "symld", "remove")?;
                let g = db
                    .dgs
                    .get_mut(&dg)
                    .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dg(&dg)))?;
                let idx = if by_dev.0 {
                    g.devices
                        .iter()
                        .position(|d| super::model::same_dev(&d.dev, &by_dev.1))
                } else {
                    g.devices
                        .iter()
                        .position(|d| d.ld_name.eq_ignore_ascii_case(&by_dev.1))
                };
                let Some(i) = idx else {
                    return Err(SimError::new(
                        rc::FAIL,
                        format!(
                            "The device '{}' was not found in device group '{}'",
                            by_dev.1, g.name
                        ),
                    ));
                };
                g.devices.remove(i);
                if g.devices.is_empty() {
                    g.symid = None;
                }
                Ok(())
            })??;
            Ok(rc::SUCCESS)
        }
        Some(a @ ("list" | "show")) => {
            let dg = need_group(&p)?;
            let only = if a == "show" {
                match &pos[1..] {
                    [ld] => Some(ld.clone()),
                    _ => {
                        return Err(usage_error(
                            "symld",
                            "show takes exactly one logical device name",
                        ));
                    }
                }
            } else {
                None
            };
            let verbose = p.flag("-v") || only.is_some();
            let text = with_db(|db| -> SimResult<String> {
                check_lock(db, "symld", a)?;
                let g = db
                    .dgs
                    .get(&dg)
                    .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dg(&dg)))?;
                if !verbose {
                    return Ok(group_text(db, g));
                }
                let now = clock::now();
                let mut s = format!(
                    "\nDevice Group (DG) Name: {}\nDG's Type             : {}\n",
                    g.name, g.dg_type
                );
                s.push_str(&format!(
                    "DG's Symmetrix ID     : {}\n",
                    g.symid.as_deref().unwrap_or("N/A")
                ));
                let Some(a) = g.symid.as_ref().and_then(|sid| db.arrays.get(sid)) else {
                    s.push('\n');
                    return Ok(s);
                };
                let mut found = false;
                for d in &g.devices {
                    if only
                        .as_ref()
                        .is_some_and(|o| !o.eq_ignore_ascii_case(&d.ld_name))
                    {
                        continue;
                    }
                    if let Some(dev) = a.device(&d.dev) {
                        found = true;
                        s.push_str(&device_text(db, a, dev, now));
                    }
                }
                if let (Some(o), false) = (&only, found) {
                    return Err(SimError::new(
                        rc::FAIL,
                        format!(
                            "The logical device '{o}' was not found in device group '{}'",
                            g.name
                        ),
                    ));
                }
                s.push('\n');
                Ok(s)
            })??;
            out(&text);
            Ok(rc::SUCCESS)
        }
        Some(other) => Err(usage_error(
            "symld",
            format!("Unrecognized action '{other}'"),
        )),
        None => Err(usage_error("symld", "An action must be specified")),
    }
}
