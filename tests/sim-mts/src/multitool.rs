//! The command line of `multitool` and `multiutil`.
//!
//! ```text
//! multitool syncreplica -export [-maxsize size [-limit n]] [-comment c | -cfile f | -ncomment]
//!           [-compress] [-lockwait min] [-workdir dir] { {-ship | -fship} [-sclass c] | -out pname }
//!           [-from replica-selector [-host h]] replica-selector ...
//! multitool syncreplica -import [-comment c] { -receive [-sclass c] | pname ... | replica-selector }  (no -invob: VersionVault)
//! multitool syncreplica -import -diagnose { -receive [-sclass c] | pname ... }
//! multitool lspacket [-long [-endrange] | -short] [-dump] [pname ...]
//! multitool lsepoch [-invob vob | [-actual] replica-selector ...]
//! multitool chepoch [-force] replica-selector [replica=value ...] | chepoch -actual [-raise_only] replica-selector ...
//! multitool recoverpacket [-comment c | -ncomment] -since date-time replica-selector
//! multitool lsreplica [-long | -short] [-invob vob] [replica-selector ...]
//! multiutil <same> -clan c -site s -family f -user u -password p ...
//! ```

use std::io::BufRead;
use std::path::PathBuf;

use doppel_sim::common::{SimError, SimResult, clock, err, out};

use crate::dates::{cc_datetime, parse_datetime, parse_size};
use crate::sync::{self, ExportOptions, Source, Transport};
use crate::world::{DEFAULT_CLASS, Family, Mts, ReplicaInfo, Selector, row_text, vob_tag};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    MultiTool,
    MultiUtil,
}

impl Flavour {
    fn tool(self) -> &'static str {
        match self {
            Flavour::MultiTool => "multitool",
            Flavour::MultiUtil => "multiutil",
        }
    }
}

/// Parsed options: (canonical name, value) in order, and positionals.
#[derive(Debug, Default)]
struct Parsed {
    opts: Vec<(String, Option<String>)>,
    pos: Vec<String>,
}

impl Parsed {
    fn has(&self, name: &str) -> bool {
        self.opts.iter().any(|(n, _)| n == name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

const CQ_OPTS: &[(&str, bool)] = &[
    ("-clan", true),
    ("-site", true),
    ("-family", true),
    ("-user", true),
    ("-password", true),
    ("-plugepoch", false),
];

/// Parses ClearCase-style options: exact names, `-c`/`-nc`, or an unambiguous
/// prefix of at least three characters.
fn parse(
    args: &[String],
    spec: &[(&str, bool)],
    flavour: Flavour,
    usage: &str,
) -> SimResult<Parsed> {
    let mut all: Vec<(&str, bool)> = spec.to_vec();
    if flavour == Flavour::MultiUtil {
        all.extend_from_slice(CQ_OPTS);
    }
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if !a.starts_with('-') || a == "-" {
            p.pos.push(a.clone());
            continue;
        }
        let alias = match a.as_str() {
            "-c" => Some("-comment"),
            "-nc" => Some("-ncomment"),
            "-cfi" => Some("-cfile"),
            _ => None,
        };
        let found: Vec<&(&str, bool)> = match alias {
            Some(n) => all.iter().filter(|(s, _)| *s == n).collect(),
            None => {
                let exact: Vec<&(&str, bool)> = all.iter().filter(|(s, _)| *s == a).collect();
                if !exact.is_empty() || a.len() < 4 {
                    exact
                } else {
                    all.iter()
                        .filter(|(s, _)| s.starts_with(a.as_str()))
                        .collect()
                }
            }
        };
        let [(name, takes)] = found.as_slice() else {
            return Err(SimError::new(
                1,
                format!("Error: Unrecognized option \"{a}\"\n{usage}"),
            ));
        };
        let value = if *takes {
            let v = args.get(i).cloned().ok_or_else(|| {
                SimError::new(
                    1,
                    format!("Error: Option \"{name}\" requires an argument.\n{usage}"),
                )
            })?;
            i += 1;
            Some(v)
        } else {
            None
        };
        p.opts.push(((*name).to_owned(), value));
    }
    Ok(p)
}

pub fn main(flavour: Flavour, args: Vec<String>) -> i32 {
    let tool = flavour.tool();
    match run(flavour, args) {
        Ok(code) => code,
        Err(e) => {
            for (i, line) in e.message.lines().enumerate() {
                if i == 0 {
                    err(&format!("{tool}: {line}\n"));
                } else {
                    err(&format!("{line}\n"));
                }
            }
            e.code
        }
    }
}

fn run(flavour: Flavour, args: Vec<String>) -> SimResult<i32> {
    let tool = flavour.tool();
    let Some((cmd, rest)) = args.split_first() else {
        return Err(SimError::new(
            1,
            format!(
                "Error: a command is required (syncreplica, lspacket, lsepoch, chepoch, recoverpacket, lsreplica)\nUsage: {tool} <command> ..."
            ),
        ));
    };
    match cmd.as_str() {
        "syncreplica" => syncreplica(flavour, rest),
        "lspacket" | "lspac" => lspacket(flavour, rest),
        "lsepoch" => lsepoch(flavour, rest),
        "chepoch" => chepoch(flavour, rest),
        "recoverpacket" => recoverpacket(flavour, rest),
        "lsreplica" | "lsrep" => lsreplica(flavour, rest),
        "-version" | "-ver" | "-VerAll" => {
            out(&format!("{tool} (doppel MultiSite simulator) 9.1.0\n"));
            Ok(0)
        }
        "help" | "-h" | "-help" => {
            out(&format!(
                "Usage: {tool} syncreplica | lspacket | lsepoch | chepoch | recoverpacket | lsreplica ...\n"
            ));
            Ok(0)
        }
        other => Err(SimError::new(
            1,
            format!("Error: Unrecognized command: \"{other}\""),
        )),
    }
}

const SYNC_USAGE: &str = "Usage: syncreplica -export [-maxsize max-packet-size [-limit num-packets]] [-comment comment | -cfile pname | -ncomment]\n                   [-lockwait minutes] [-workdir temp-dir] { {-ship | -fship} [-sclass storage-class] | -out packet-file-pname }\n                   [-from replica-selector [-host hostname]] replica-selector ...\n       syncreplica -import [-comment comment | -cfile pname | -ncomment] { -receive [-sclass storage-class] | packet-file-pname ... }
       syncreplica -import replica-selector [-comment comment | -cfile pname | -ncomment] { -receive [-sclass storage-class] | packet-file-pname ... }
       syncreplica -import -diagnose { -receive [-sclass storage-class] | packet-file-pname ... }";

const SYNC_SPEC: &[(&str, bool)] = &[
    ("-export", false),
    ("-import", false),
    ("-diagnose", false),
    ("-receive", false),
    ("-maxsize", true),
    ("-limit", true),
    ("-comment", true),
    ("-cfile", true),
    ("-cquery", false),
    ("-cqeach", false),
    ("-ncomment", false),
    ("-compress", false),
    ("-endrange", false),
    ("-oprange", true),
    ("-view", true),
    ("-nblocking", false),
    ("-blocking_duration", true),
    ("-wait_forever", false),
    ("-lockwait", true),
    ("-workdir", true),
    ("-jfile", true),
    ("-ship", false),
    ("-fship", false),
    ("-sclass", true),
    ("-pexpire", true),
    ("-notify", true),
    ("-out", true),
    ("-from", true),
    ("-host", true),
];

fn usage_err(msg: &str) -> SimError {
    SimError::new(1, format!("Error: {msg}\n{SYNC_USAGE}"))
}

/// Checks the ClearQuest options of `multiutil syncreplica`.
fn check_cq(p: &Parsed, mts: &Mts) -> SimResult<Family> {
    for o in ["-family", "-user", "-password"] {
        if p.value(o).is_none() {
            return Err(usage_err(&format!("multiutil requires {o}")));
        }
    }
    let name = p.value("-family").unwrap_or_default();
    let fam = mts
        .family(name)
        .cloned()
        .ok_or_else(|| SimError::new(1, format!("Error: Database family \"{name}\" not found.")))?;
    if let (Some(clan), Some(want)) = (p.value("-clan"), fam.clan.as_deref())
        && clan != want
    {
        return Err(SimError::new(
            1,
            format!("Error: Database family \"{name}\" is not in clan \"{clan}\"."),
        ));
    }
    Ok(fam)
}

fn syncreplica(flavour: Flavour, args: &[String]) -> SimResult<i32> {
    let p = parse(args, SYNC_SPEC, flavour, SYNC_USAGE)?;
    match (p.has("-export"), p.has("-import")) {
        (true, false) => export(flavour, &p),
        (false, true) => import(flavour, &p),
        _ => Err(usage_err("exactly one of -export and -import is required")),
    }
}

/// The family, the local replica and the targets of an export.
fn resolve_export(
    flavour: Flavour,
    p: &Parsed,
    mts: &Mts,
) -> SimResult<(Family, ReplicaInfo, Vec<ReplicaInfo>)> {
    if p.pos.is_empty() {
        return Err(usage_err("at least one target replica is required"));
    }
    let fam_cq = if flavour == Flavour::MultiUtil {
        Some(check_cq(p, mts)?)
    } else {
        None
    };
    let mut fam: Option<Family> = fam_cq.clone();
    let mut targets = Vec::new();
    for t in &p.pos {
        let mut sel = Selector::parse(t)
            .ok_or_else(|| usage_err(&format!("invalid replica selector \"{t}\"")))?;
        if sel.vob.is_none()
            && let Some(f) = &fam
        {
            sel.vob = Some(f.tag.clone());
        }
        if sel.vob.is_none() {
            return Err(SimError::new(
                1,
                format!(
                    "Error: Unable to determine VOB for replica \"{}\": use replica:{}@<vob-tag>.",
                    sel.name, sel.name
                ),
            ));
        }
        let (f, r) = mts.find_replica(&sel)?;
        if fam.as_ref().is_some_and(|g| g.oid != f.oid) {
            return Err(SimError::new(
                1,
                "Error: All target replicas must belong to the same VOB family.".to_owned(),
            ));
        }
        fam = Some(f);
        if !targets.iter().any(|x: &ReplicaInfo| x.name == r.name) {
            targets.push(r);
        }
    }
    let fam = fam.expect("a target was resolved");
    let from = p.value("-from").or(p.value("-site"));
    let local = match from {
        Some(f) => {
            let mut sel = Selector::parse(f)
                .ok_or_else(|| usage_err(&format!("invalid replica selector \"{f}\"")))?;
            sel.vob.get_or_insert_with(|| fam.tag.clone());
            let (g, r) = mts.find_replica(&sel)?;
            if g.oid != fam.oid {
                return Err(SimError::new(
                    1,
                    format!(
                        "Error: Replica \"{}\" is not in the VOB family of the targets.",
                        r.name
                    ),
                ));
            }
            r
        }
        None => {
            let host = mts.this_host(None)?;
            let here: Vec<&ReplicaInfo> = fam.replicas.iter().filter(|r| r.host == host).collect();
            match here.as_slice() {
                [r] => (*r).clone(),
                [] => {
                    return Err(SimError::new(
                        1,
                        format!(
                            "Error: No replica of VOB \"{}\" on host \"{host}\".",
                            fam.tag
                        ),
                    ));
                }
                _ => {
                    return Err(SimError::new(
                        1,
                        format!(
                            "Error: Several replicas of VOB \"{}\" on host \"{host}\": use -from.",
                            fam.tag
                        ),
                    ));
                }
            }
        }
    };
    if let Some(t) = targets.iter().find(|t| t.name == local.name) {
        return Err(SimError::new(
            1,
            format!(
                "Error: Cannot send a packet to the current replica \"{}\".",
                t.name
            ),
        ));
    }
    Ok((fam, local, targets))
}

fn export(flavour: Flavour, p: &Parsed) -> SimResult<i32> {
    let tool = flavour.tool();
    let transports = ["-ship", "-fship", "-out"]
        .iter()
        .filter(|o| p.has(o))
        .count();
    if transports != 1 {
        return Err(usage_err(
            "exactly one of -ship, -fship and -out is required",
        ));
    }
    let transport = if p.has("-ship") {
        Transport::Ship
    } else if p.has("-fship") {
        Transport::Fship
    } else {
        Transport::Out(PathBuf::from(p.value("-out").unwrap_or_default()))
    };
    if matches!(transport, Transport::Out(_)) && p.has("-sclass") {
        return Err(usage_err("-sclass is only valid with -ship or -fship"));
    }
    let maxsize = match p.value("-maxsize") {
        Some(v) => {
            Some(parse_size(v).ok_or_else(|| usage_err(&format!("invalid packet size \"{v}\"")))?)
        }
        None => None,
    };
    let limit = match p.value("-limit") {
        Some(v) => {
            if maxsize.is_none() {
                return Err(usage_err("-limit requires -maxsize"));
            }
            Some(
                v.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| usage_err(&format!("invalid packet limit \"{v}\"")))?,
            )
        }
        None => None,
    };
    let comment = if let Some(c) = p.value("-comment") {
        c.to_owned()
    } else if let Some(f) = p.value("-cfile") {
        std::fs::read_to_string(f)
            .map_err(|e| {
                SimError::new(
                    1,
                    format!("Error: Unable to read comment file \"{f}\": {e}"),
                )
            })?
            .trim_end()
            .to_owned()
    } else {
        String::new()
    };
    if let Some(w) = p.value("-workdir")
        && !std::path::Path::new(w).is_dir()
    {
        return Err(SimError::new(
            1,
            format!(
                "Error: Unable to access working directory \"{w}\": No such file or directory."
            ),
        ));
    }
    let lockwait = match p.value("-lockwait") {
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|m| *m >= 0.0)
            .ok_or_else(|| usage_err(&format!("invalid -lockwait \"{v}\"")))?,
        None => 0.0,
    };
    let sclass = p.value("-sclass").unwrap_or(DEFAULT_CLASS).to_owned();
    let opts = ExportOptions {
        maxsize,
        limit,
        comment,
        transport,
        sclass,
    };
    let mut waited = 0.0;
    loop {
        let mut mts = Mts::open()?;
        let (fam, local, targets) = resolve_export(flavour, p, &mts)?;
        if mts.is_locked(&fam.tag, &local.name) {
            if waited >= lockwait * 60.0 {
                return Err(SimError::new(
                    1,
                    format!(
                        "Error: Unable to lock VOB \"{}\" (replica \"{}\"): VOB is locked.",
                        fam.tag, local.name
                    ),
                ));
            }
            if waited == 0.0 {
                err(&format!(
                    "{tool}: Warning: VOB \"{}\" is locked; waiting up to {lockwait} minute(s).\n",
                    fam.tag
                ));
            }
            drop(mts);
            clock::sleep(1.0);
            waited += 1.0;
            continue;
        }
        let code = sync::export(&mut mts, tool, &fam, &local, &targets, &opts)?;
        mts.save()?;
        return Ok(code);
    }
}

fn import(flavour: Flavour, p: &Parsed) -> SimResult<i32> {
    let tool = flavour.tool();
    let mut mts = Mts::open()?;
    // VersionVault's syncreplica -import has no -invob (SYNC_SPEC refuses it):
    // each packet names its VOB family.
    let mut invob = None;
    if flavour == Flavour::MultiUtil {
        invob = Some(check_cq(p, &mts)?.tag);
    }
    let mut hint: Option<ReplicaInfo> = None;
    let source = if p.has("-receive") {
        if !p.pos.is_empty() {
            return Err(usage_err("-receive takes no packet arguments"));
        }
        Source::Receive(p.value("-sclass").map(str::to_owned))
    } else {
        if p.pos.is_empty() {
            return Err(usage_err("-receive or a packet pathname is required"));
        }
        if p.has("-sclass") {
            return Err(usage_err("-sclass is only valid with -receive"));
        }
        // VersionVault: `-import replica-selector` imports at that replica's host.
        if p.pos.len() == 1 && !std::path::Path::new(&p.pos[0]).exists() && p.pos[0].contains('@') {
            let sel =
                Selector::parse(&p.pos[0]).ok_or_else(|| usage_err("invalid replica selector"))?;
            let (f, r) = mts.find_replica(&sel)?;
            invob = Some(f.tag.clone());
            hint = Some(r);
            Source::Receive(None)
        } else {
            Source::Paths(p.pos.iter().map(PathBuf::from).collect())
        }
    };
    let host = match &hint {
        Some(r) => r.host.clone(),
        None => mts.this_host(None)?,
    };
    let code = sync::import(
        &mut mts,
        tool,
        &host,
        &source,
        invob.as_deref(),
        p.has("-diagnose"),
    )?;
    mts.save()?;
    Ok(code)
}

fn lspacket(flavour: Flavour, args: &[String]) -> SimResult<i32> {
    const USAGE: &str = "Usage: lspacket [-long [-endrange] | -short] [-dump] [packet-pname ...]";
    let p = parse(
        args,
        &[
            ("-long", false),
            ("-short", false),
            ("-endrange", false),
            ("-dump", false),
        ],
        flavour,
        USAGE,
    )?;
    if p.has("-long") && p.has("-short") {
        return Err(SimError::new(
            1,
            format!("Error: -long and -short are mutually exclusive\n{USAGE}"),
        ));
    }
    let mts = Mts::open()?;
    let host = mts.this_host(None)?;
    let paths: Vec<PathBuf> = p.pos.iter().map(PathBuf::from).collect();
    sync::lspacket(
        &mts,
        flavour.tool(),
        &host,
        &paths,
        p.has("-long"),
        p.has("-short"),
        p.has("-dump"),
    )
}

/// The replica of `fam` on this host.
fn local_of(mts: &Mts, fam: &Family) -> SimResult<ReplicaInfo> {
    let host = mts.this_host(None)?;
    fam.replicas
        .iter()
        .find(|r| r.host == host)
        .cloned()
        .ok_or_else(|| {
            SimError::new(
                1,
                format!(
                    "Error: No replica of VOB \"{}\" on host \"{host}\".",
                    fam.tag
                ),
            )
        })
}

fn print_row(fam: &Family, store_row: &std::collections::BTreeMap<String, u64>, row: &ReplicaInfo) {
    out(&format!(
        "Oplog IDs for row \"{}\" (@ {}):\n",
        row.name, row.host
    ));
    for col in &fam.replicas {
        let v = store_row.get(&col.name).copied().unwrap_or(0);
        out(&format!(" oid:{}={v:<8}({})\n", col.oid, col.name));
    }
}

fn lsepoch(flavour: Flavour, args: &[String]) -> SimResult<i32> {
    const USAGE: &str = "Usage: lsepoch [-invob vob-selector | [-actual] replica-selector ...]";
    let p = parse(
        args,
        &[("-invob", true), ("-actual", false)],
        flavour,
        USAGE,
    )?;
    let mts = Mts::open()?;
    let fam = if let Some(v) = p.value("-invob") {
        mts.family(v).cloned().ok_or_else(|| {
            SimError::new(1, format!("Error: Unable to find VOB \"{}\".", vob_tag(v)))
        })?
    } else if flavour == Flavour::MultiUtil && p.value("-family").is_some() {
        let n = p.value("-family").unwrap_or_default();
        mts.family(n)
            .cloned()
            .ok_or_else(|| SimError::new(1, format!("Error: Database family \"{n}\" not found.")))?
    } else if let Some(first) = p.pos.first() {
        let sel = Selector::parse(first).ok_or_else(|| {
            SimError::new(
                1,
                format!("Error: invalid replica selector \"{first}\"\n{USAGE}"),
            )
        })?;
        mts.find_replica(&sel)?.0
    } else {
        return Err(SimError::new(
            1,
            format!("Error: -invob or a replica selector is required\n{USAGE}"),
        ));
    };
    let local = local_of(&mts, &fam)?;
    let store = mts.load_store(&fam.tag, &local.name)?;
    let cols = fam.names();
    out(&format!("For VOB replica \"{}\":\n", fam.tag));
    if p.pos.is_empty() {
        for r in &fam.replicas {
            print_row(&fam, &store.row(&r.name, &cols), r);
        }
        return Ok(0);
    }
    for s in &p.pos {
        let mut sel = Selector::parse(s)
            .ok_or_else(|| SimError::new(1, format!("Error: invalid replica selector \"{s}\"")))?;
        sel.vob.get_or_insert_with(|| fam.tag.clone());
        let (_, r) = mts.find_replica(&sel)?;
        if p.has("-actual") {
            let other = mts.load_store(&fam.tag, &r.name)?;
            let actual = other.row(&r.name, &cols);
            print_row(&fam, &actual, &r);
            if actual.get(&local.name).copied().unwrap_or(0) > store.get(&local.name, &local.name) {
                err(&format!(
                    "{}: Warning: Your replica (\"{}\") has fewer oplog entries for itself than \"{}\" has for your replica. To avoid permanent data loss, your VOB administrator must initiate the documented replica restoration procedure.\n",
                    flavour.tool(),
                    local.name,
                    r.name
                ));
            }
        } else {
            print_row(&fam, &store.row(&r.name, &cols), &r);
        }
    }
    Ok(0)
}

fn chepoch(flavour: Flavour, args: &[String]) -> SimResult<i32> {
    const USAGE: &str = "Usage: chepoch [-force] replica-selector [replica=value ...] | chepoch -actual [-raise_only] replica-selector ...";
    let p = parse(
        args,
        &[
            ("-force", false),
            ("-actual", false),
            ("-raise_only", false),
            ("-invob", true),
        ],
        flavour,
        USAGE,
    )?;
    let Some(first) = p.pos.first() else {
        return Err(SimError::new(
            1,
            format!("Error: a replica selector is required\n{USAGE}"),
        ));
    };
    let mts = Mts::open()?;
    let sel = Selector::parse(first)
        .ok_or_else(|| SimError::new(1, format!("Error: invalid replica selector \"{first}\"")))?;
    let (fam, _) = mts.find_replica(&sel)?;
    let local = local_of(&mts, &fam)?;
    let mut store = mts.load_store(&fam.tag, &local.name)?;
    let cols = fam.names();
    let mut changes: Vec<(String, Vec<(String, u64)>)> = Vec::new();
    if p.has("-actual") {
        for s in &p.pos {
            let mut sel = Selector::parse(s).ok_or_else(|| {
                SimError::new(1, format!("Error: invalid replica selector \"{s}\""))
            })?;
            sel.vob.get_or_insert_with(|| fam.tag.clone());
            let (_, r) = mts.find_replica(&sel)?;
            let actual = mts.load_store(&fam.tag, &r.name)?.row(&r.name, &cols);
            let vals = actual
                .into_iter()
                .filter(|(c, v)| !p.has("-raise_only") || *v > store.get(&r.name, c))
                .collect();
            changes.push((r.name.clone(), vals));
        }
    } else {
        let mut sel = sel.clone();
        sel.vob.get_or_insert_with(|| fam.tag.clone());
        let (_, r) = mts.find_replica(&sel)?;
        let mut vals = Vec::new();
        for kv in &p.pos[1..] {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                SimError::new(1, format!("Error: invalid epoch value \"{kv}\"\n{USAGE}"))
            })?;
            let k = k.trim_start_matches("replica:");
            let col = fam
                .replicas
                .iter()
                .find(|c| c.name == k || c.oid == k.trim_start_matches("oid:"))
                .ok_or_else(|| {
                    SimError::new(
                        1,
                        format!(
                            "Error: Replica \"{k}\" not found in VOB family \"{}\".",
                            fam.tag
                        ),
                    )
                })?;
            let v: u64 = v
                .trim()
                .parse()
                .map_err(|_| SimError::new(1, format!("Error: invalid epoch value \"{kv}\"")))?;
            vals.push((col.name.clone(), v));
        }
        changes.push((r.name.clone(), vals));
    }
    for (row, _) in &changes {
        if row == &local.name {
            return Err(SimError::new(
                1,
                format!("Error: Cannot change the epoch row of the current replica \"{row}\"."),
            ));
        }
    }
    drop(mts);
    for (row, vals) in changes {
        if !p.has("-force") {
            out(&format!("Change oplog IDs in row \"{row}\" [no] "));
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
                out("\n");
                continue;
            }
        }
        let mts = Mts::open()?;
        for (col, v) in &vals {
            store.set(&row, col, *v);
        }
        mts.save_store(&fam.tag, &local.name, &store)?;
        out("Epoch row successfully set.\n");
    }
    Ok(0)
}

fn recoverpacket(flavour: Flavour, args: &[String]) -> SimResult<i32> {
    const USAGE: &str =
        "Usage: recoverpacket [-comment comment | -ncomment] -since date-time replica-selector";
    let p = parse(
        args,
        &[
            ("-since", true),
            ("-comment", true),
            ("-ncomment", false),
            ("-invob", true),
        ],
        flavour,
        USAGE,
    )?;
    let since_text = p
        .value("-since")
        .ok_or_else(|| SimError::new(1, format!("Error: -since is required\n{USAGE}")))?;
    let now = clock::now();
    let since = parse_datetime(since_text, now).ok_or_else(|| {
        SimError::new(
            1,
            format!("Error: Unable to parse date-time \"{since_text}\"."),
        )
    })?;
    let [target] = p.pos.as_slice() else {
        return Err(SimError::new(
            1,
            format!("Error: exactly one replica selector is required\n{USAGE}"),
        ));
    };
    let mts = Mts::open()?;
    let mut sel = Selector::parse(target)
        .ok_or_else(|| SimError::new(1, format!("Error: invalid replica selector \"{target}\"")))?;
    if sel.vob.is_none()
        && let Some(v) = p.value("-invob").or(p.value("-family"))
    {
        sel.vob = Some(vob_tag(v).to_owned());
    }
    let (fam, r) = mts.find_replica(&sel)?;
    let local = local_of(&mts, &fam)?;
    let mut store = mts.load_store(&fam.tag, &local.name)?;
    let record = store
        .exports
        .iter()
        .filter(|e| e.time >= since && e.targets.contains(&r.name))
        .min_by(|a, b| a.time.total_cmp(&b.time))
        .cloned();
    let Some(record) = record else {
        return Err(SimError::new(
            1,
            format!(
                "Error: No synchronization packets have been sent from replica \"{}\" to replica \"{}\" since {}.",
                local.name,
                r.name,
                cc_datetime(since)
            ),
        ));
    };
    let cols = fam.names();
    if let Some(before) = record.before.get(&r.name) {
        for c in &cols {
            store.set(&r.name, c, before.get(c).copied().unwrap_or(0));
        }
    }
    store.history.push(crate::world::HistoryRecord {
        time: now,
        event: format!(
            "recoverpacket: epoch row of replica \"{}\" reset to its value before {}",
            r.name,
            cc_datetime(record.time)
        ),
        row: row_text(&store.row(&r.name, &cols)),
    });
    mts.save_store(&fam.tag, &local.name, &store)?;
    out(&format!(
        "Reset the epoch row for replica \"{}\" to its values before the packet generated {} ({}).\nThe next export to \"{}\" will resend the operations.\n",
        r.name,
        cc_datetime(record.time),
        row_text(&store.row(&r.name, &cols)),
        r.name
    ));
    Ok(0)
}

fn lsreplica(flavour: Flavour, args: &[String]) -> SimResult<i32> {
    const USAGE: &str =
        "Usage: lsreplica [-long | -short] [-invob vob-selector] [replica-selector ...]";
    let p = parse(
        args,
        &[("-long", false), ("-short", false), ("-invob", true)],
        flavour,
        USAGE,
    )?;
    let mts = Mts::open()?;
    let fams: Vec<Family> = if let Some(v) = p.value("-invob").or(p.value("-family")) {
        vec![mts.family(v).cloned().ok_or_else(|| {
            SimError::new(1, format!("Error: Unable to find VOB \"{}\".", vob_tag(v)))
        })?]
    } else if p.pos.is_empty() {
        mts.world.families.clone()
    } else {
        let mut v = Vec::new();
        for s in &p.pos {
            let sel = Selector::parse(s).ok_or_else(|| {
                SimError::new(1, format!("Error: invalid replica selector \"{s}\""))
            })?;
            let (f, r) = mts.find_replica(&sel)?;
            v.push(Family {
                replicas: vec![r],
                ..f
            });
        }
        v
    };
    for f in &fams {
        if !p.has("-short") {
            out(&format!("For VOB \"{}\":\n", f.tag));
        }
        for r in &f.replicas {
            if p.has("-short") {
                out(&format!("{}\n", r.name));
            } else {
                out(&format!("replica \"{}\"\n", r.name));
                if p.has("-long") {
                    out(&format!(
                        "  replica type: unfiltered\n  master replica: {}@{}\n  replica host: {}\n  identities: preserved\n",
                        r.name, f.tag, r.host
                    ));
                }
            }
        }
    }
    Ok(0)
}
