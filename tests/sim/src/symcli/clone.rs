//! `symclone`: TimeFinder/Clone control, query, verify and list.

use std::io::BufRead;

use super::args::{self, Parsed, Spec, usage_error};
use super::db::{Db, with_db};
use super::model::{
    Array, Phase, STUCK_COPY, STUCK_NEVER_ACTIVABLE, Session, StateKind, TRACK_KB, same_dev,
};
use super::xml::{self, Xml};
use super::{finish, msg, rc, xml_requested};
use crate::common::faults::Fault;
use crate::common::{SimError, SimResult, clock, err, out};

const TOOL: &str = "symclone";

/// Default `-i` interval when only `-c` is given (seconds).
const DEFAULT_INTERVAL: f64 = 10.0;

/// Actions a `lock` fault hits when no `--on` is given.
pub const CONTROL_ACTIONS: &[&str] = &[
    "create",
    "activate",
    "recreate",
    "establish",
    "restore",
    "split",
    "terminate",
];

const STATE_FLAGS: &[&str] = &[
    "-created",
    "-createinprog",
    "-recreated",
    "-recreateinprog",
    "-precopy",
    "-copied",
    "-copyinprog",
    "-copyonaccess",
    "-copyonwrite",
    "-restinprog",
    "-restored",
    "-split",
    "-failed",
    "-invalid",
];

const SPEC: Spec = Spec {
    with_value: &["-g", "-sid", "-f", "-i", "-c", "-cg", "-sg", "-output"],
    flags: &[
        "-noprompt",
        "-v",
        "-force",
        "-symforce",
        "-consistent",
        "-copy",
        "-nocopy",
        "-differential",
        "-vse",
        "-tgt",
        "-exact",
        "-opt",
        "-concurrent",
        "-not_ready",
        "-both_sides",
        "-multi",
        "-summary",
        "-star",
        "-h",
        "-version",
        // state flags (verify; -precopy also create/recreate/establish, -restored also terminate)
        "-created",
        "-createinprog",
        "-recreated",
        "-recreateinprog",
        "-precopy",
        "-copied",
        "-copyinprog",
        "-copyonaccess",
        "-copyonwrite",
        "-restinprog",
        "-restored",
        "-split",
        "-failed",
        "-invalid",
    ],
    aliases: &[
        ("-nop", "-noprompt"),
        ("-file", "-f"),
        ("-diff", "-differential"),
        ("-help", "-h"),
        ("-?", "-h"),
        ("-verbose", "-v"),
    ],
};

const USAGE: &str = "\
USAGE: symclone -h | -version
       symclone -g <DgName> [-sid <SymmID>] [-v] [-noprompt] [-i <Interval>] [-c <Count>]
                <Action> [options] [<SrcLdev> sym ld <TgtLdev> ...]
       symclone -sid <SymmID> -f <DeviceFile> [-v] [-noprompt] [-i <Interval>] [-c <Count>]
                <Action> [options]
       symclone -sid <SymmID> list [-output xml|xml_e]

Actions and options:
   create     [-copy | -nocopy | -precopy] [-differential] [-vse] [-tgt] [-force]
   activate   [-consistent] [-not_ready] [-both_sides] [-copy] [-force]
   recreate   [-precopy] [-tgt] [-force]
   establish  [-copy | -nocopy] [-differential] [-precopy] [-not_ready] [-force]
   restore    [-not_ready] [-force]
   split      [-force]
   terminate  [-restored] [-symforce] [-force]
   query      [-multi] [-output xml|xml_e]
   verify     [-created | -recreated | -precopy | -copied | -copyinprog | -copyonaccess
               | -copyonwrite | -restinprog | -restored | -split | -failed] [-summary]
   list       [-output xml|xml_e]

Options may be given before or after the action. -i/-c: retry interval (seconds)
and count on lock contention for control actions; polling for verify.
Device file lines: <SrcDev> <TgtDev>.   (doppel SYMCLI simulator)
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Activate,
    Recreate,
    Establish,
    Restore,
    Split,
    Terminate,
    Query,
    Verify,
    List,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s.to_ascii_lowercase().as_str() {
            "create" => Action::Create,
            "activate" => Action::Activate,
            "recreate" => Action::Recreate,
            "establish" => Action::Establish,
            "restore" => Action::Restore,
            "split" => Action::Split,
            "terminate" => Action::Terminate,
            "query" => Action::Query,
            "verify" => Action::Verify,
            "list" => Action::List,
            _ => return None,
        })
    }
    pub fn key(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Activate => "activate",
            Action::Recreate => "recreate",
            Action::Establish => "establish",
            Action::Restore => "restore",
            Action::Split => "split",
            Action::Terminate => "terminate",
            Action::Query => "query",
            Action::Verify => "verify",
            Action::List => "list",
        }
    }
    fn title(self) -> &'static str {
        match self {
            Action::Create => "Create",
            Action::Activate => "Activate",
            Action::Recreate => "Recreate",
            Action::Establish => "Establish",
            Action::Restore => "Restore",
            Action::Split => "Split",
            Action::Terminate => "Terminate",
            Action::Query => "Query",
            Action::Verify => "Verify",
            Action::List => "List",
        }
    }
}

/// A parsed command line.
struct Cmd {
    p: Parsed,
    action: Action,
    ldevs: Vec<String>,
    interval: Option<f64>,
    count: Option<f64>,
}

impl Cmd {
    fn flag(&self, f: &str) -> bool {
        self.p.flag(f)
    }
    fn noprompt(&self) -> bool {
        self.flag("-noprompt")
    }
    fn force(&self) -> bool {
        self.p.any_flag(&["-force", "-symforce"])
    }
}

pub fn main(argv: Vec<String>) -> i32 {
    finish(run(argv))
}

fn run(argv: Vec<String>) -> SimResult<i32> {
    let p = args::parse(TOOL, &argv, &SPEC)?;
    if p.flag("-h") {
        out(USAGE);
        return Ok(rc::SUCCESS);
    }
    if p.flag("-version") {
        out("\nSymmetrix Command Line Interface (SYMCLI) Version V10.0.0.0 (doppel simulator)\n\n");
        return Ok(rc::SUCCESS);
    }
    let mut pos = p.positionals.clone().into_iter();
    let action = match pos.next() {
        Some(a) => Action::parse(&a)
            .ok_or_else(|| usage_error(TOOL, format!("Unrecognized action '{a}'")))?,
        None => return Err(usage_error(TOOL, "An action must be specified")),
    };
    let ldevs: Vec<String> = pos.collect();
    let interval = args::number(TOOL, &p, "-i")?;
    let count = args::number(TOOL, &p, "-c")?;
    let cmd = Cmd {
        p,
        action,
        ldevs,
        interval,
        count,
    };
    check_options(&cmd)?;
    match action {
        Action::Query => query(&cmd),
        Action::Verify => verify(&cmd),
        Action::List => list(&cmd),
        _ => control(&cmd),
    }
}

/// Option combinations the simulator refuses (usage errors, exit 1).
fn check_options(cmd: &Cmd) -> SimResult<()> {
    let p = &cmd.p;
    if p.value("-cg").is_some() || p.value("-sg").is_some() {
        return Err(usage_error(
            TOOL,
            "Composite (-cg) and storage (-sg) groups are not supported by the simulator",
        ));
    }
    if p.value("-g").is_some() && p.value("-f").is_some() {
        return Err(usage_error(
            TOOL,
            "The -g and -f options are mutually exclusive",
        ));
    }
    if cmd.action != Action::List && p.value("-g").is_none() && p.value("-f").is_none() {
        return Err(usage_error(
            TOOL,
            "A device group (-g <DgName>) or a device file (-f <DeviceFile>) must be specified",
        ));
    }
    if cmd.action == Action::List && p.value("-f").is_some() {
        return Err(usage_error(
            TOOL,
            "The list action takes -sid, not a device file",
        ));
    }
    if !cmd.ldevs.is_empty() && p.value("-g").is_none() {
        return Err(usage_error(
            TOOL,
            format!(
                "Unexpected argument '{}' (logical device pairs need -g)",
                cmd.ldevs[0]
            ),
        ));
    }
    let states: Vec<&String> = p
        .flags
        .iter()
        .filter(|f| STATE_FLAGS.contains(&f.as_str()))
        .collect();
    match cmd.action {
        Action::Verify => {
            let distinct: std::collections::BTreeSet<&String> = states.iter().copied().collect();
            if distinct.len() > 1 {
                return Err(usage_error(
                    TOOL,
                    "Only one state option may be given to verify",
                ));
            }
        }
        Action::Create | Action::Recreate | Action::Establish => {
            if let Some(f) = states.iter().find(|f| f.as_str() != "-precopy") {
                return Err(usage_error(
                    TOOL,
                    format!(
                        "The option '{f}' is not valid for the {} action",
                        cmd.action.key()
                    ),
                ));
            }
        }
        Action::Terminate => {
            if let Some(f) = states.iter().find(|f| f.as_str() != "-restored") {
                return Err(usage_error(
                    TOOL,
                    format!("The option '{f}' is not valid for the terminate action"),
                ));
            }
        }
        _ => {
            if let Some(f) = states.first() {
                return Err(usage_error(
                    TOOL,
                    format!(
                        "The option '{f}' is not valid for the {} action",
                        cmd.action.key()
                    ),
                ));
            }
        }
    }
    if p.flag("-copy") && p.flag("-nocopy") {
        return Err(usage_error(
            TOOL,
            "The -copy and -nocopy options are mutually exclusive",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Selection of pairs

#[derive(Debug, Clone)]
enum Scope {
    /// `-g`; `explicit` when ldev pairs were given.
    Group {
        dg: String,
        dg_type: String,
        explicit: bool,
    },
    File {
        path: String,
    },
}

#[derive(Debug, Clone)]
struct Pair {
    src: String,
    tgt: String,
    src_ld: Option<String>,
    tgt_ld: Option<String>,
    tgt_in_group: bool,
}

impl Pair {
    fn src_label(&self) -> &str {
        self.src_ld.as_deref().unwrap_or(&self.src)
    }
    fn tgt_label(&self) -> &str {
        self.tgt_ld.as_deref().unwrap_or(&self.tgt)
    }
}

struct Selection {
    sid: String,
    scope: Scope,
    pairs: Vec<Pair>,
}

impl Selection {
    fn devs(&self) -> Vec<String> {
        self.pairs
            .iter()
            .flat_map(|p| [p.src.clone(), p.tgt.clone()])
            .collect()
    }
}

/// `DEV001 sym ld CLONE001 DEV002 symld CLONE002` -> [(DEV001, CLONE001), ...]
fn ldev_pairs(tokens: &[String]) -> SimResult<Vec<(String, String)>> {
    let mut names = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].to_ascii_lowercase();
        if t == "symld" {
            i += 1;
            continue;
        }
        if t == "sym"
            && tokens
                .get(i + 1)
                .is_some_and(|n| n.eq_ignore_ascii_case("ld"))
        {
            i += 2;
            continue;
        }
        names.push(tokens[i].clone());
        i += 1;
    }
    if names.len() % 2 != 0 {
        return Err(usage_error(
            TOOL,
            "Each source logical device must be paired with a target: <SrcLdev> sym ld <TgtLdev>",
        ));
    }
    Ok(names
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect())
}

fn read_pairs_file(path: &str) -> SimResult<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        SimError::new(
            rc::FAIL,
            format!("Cannot open the device file '{path}': {e}"),
        )
    })?;
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 2 {
            return Err(SimError::new(
                rc::FAIL,
                format!(
                    "Invalid line {} in device file '{path}': expected '<SrcDev> <TgtDev>', got '{line}'",
                    n + 1
                ),
            ));
        }
        pairs.push((fields[0].to_string(), fields[1].to_string()));
    }
    if pairs.is_empty() {
        return Err(SimError::new(
            rc::FAIL,
            format!("The device file '{path}' does not contain any device pairs"),
        ));
    }
    Ok(pairs)
}

fn canon_dev(a: &Array, dev: &str) -> SimResult<String> {
    a.device(dev)
        .map(|d| d.name.clone())
        .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dev(dev, &a.sid)))
}

/// Resolve the devices the command applies to. `pairing` = create/establish
/// (a group without explicit pairs pairs its standard devices with its -tgt devices).
fn select(db: &Db, cmd: &Cmd) -> SimResult<Selection> {
    let pairing = matches!(cmd.action, Action::Create | Action::Establish);
    if let Some(path) = cmd.p.value("-f") {
        let sid = db.resolve_sid(cmd.p.value("-sid"))?;
        let a = db.array(&sid)?;
        let mut pairs = Vec::new();
        for (s, t) in read_pairs_file(path)? {
            pairs.push(Pair {
                src: canon_dev(a, &s)?,
                tgt: canon_dev(a, &t)?,
                src_ld: None,
                tgt_ld: None,
                tgt_in_group: false,
            });
        }
        return Ok(Selection {
            sid,
            scope: Scope::File {
                path: path.to_string(),
            },
            pairs,
        });
    }
    let dgname = cmd.p.value("-g").unwrap_or_default();
    let g = db
        .dgs
        .get(dgname)
        .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dg(dgname)))?;
    let sid = match &g.symid {
        Some(s) => s.clone(),
        None => {
            return Err(SimError::new(
                rc::FAIL,
                format!("Device group '{}' does not have any devices", g.name),
            ));
        }
    };
    if let Some(s) = cmd.p.value("-sid") {
        let want = db.resolve_sid(Some(s))?;
        if want != sid {
            return Err(SimError::new(
                rc::FAIL,
                format!(
                    "Device group '{}' belongs to Symmetrix '{sid}', not '{want}'",
                    g.name
                ),
            ));
        }
    }
    let a = db.array(&sid)?;
    let explicit = !cmd.ldevs.is_empty();
    let mut pairs = Vec::new();
    if explicit {
        for (s, t) in ldev_pairs(&cmd.ldevs)? {
            let sl = g.ld(&s).ok_or_else(|| {
                SimError::new(
                    rc::FAIL,
                    format!(
                        "The logical device '{s}' was not found in device group '{}'",
                        g.name
                    ),
                )
            })?;
            let tl = g.ld(&t).ok_or_else(|| {
                SimError::new(
                    rc::FAIL,
                    format!(
                        "The logical device '{t}' was not found in device group '{}'",
                        g.name
                    ),
                )
            })?;
            pairs.push(Pair {
                src: canon_dev(a, &sl.dev)?,
                tgt: canon_dev(a, &tl.dev)?,
                src_ld: Some(sl.ld_name.clone()),
                tgt_ld: Some(tl.ld_name.clone()),
                tgt_in_group: true,
            });
        }
    } else if pairing {
        let stds: Vec<_> = g.devices.iter().filter(|d| !d.tgt).collect();
        let tgts: Vec<_> = g.devices.iter().filter(|d| d.tgt).collect();
        if tgts.is_empty() {
            return Err(SimError::new(
                rc::FAIL,
                format!(
                    "Device group '{}' does not have any target devices (add them with 'symld -g {} add dev <dev> -tgt' or give <SrcLdev> sym ld <TgtLdev> pairs)",
                    g.name, g.name
                ),
            ));
        }
        if stds.len() != tgts.len() {
            return Err(SimError::new(
                rc::FAIL,
                format!(
                    "Device group '{}' has {} source and {} target devices: cannot pair them",
                    g.name,
                    stds.len(),
                    tgts.len()
                ),
            ));
        }
        for (s, t) in stds.iter().zip(tgts.iter()) {
            pairs.push(Pair {
                src: canon_dev(a, &s.dev)?,
                tgt: canon_dev(a, &t.dev)?,
                src_ld: Some(s.ld_name.clone()),
                tgt_ld: Some(t.ld_name.clone()),
                tgt_in_group: true,
            });
        }
    } else {
        // existing sessions whose source belongs to the group
        for s in &a.sessions {
            if let Some(sl) = g.by_dev(&s.src) {
                let tl = g.by_dev(&s.tgt);
                if cmd.flag("-tgt") && !tl.is_some_and(|t| t.tgt) {
                    continue;
                }
                pairs.push(Pair {
                    src: s.src.clone(),
                    tgt: s.tgt.clone(),
                    src_ld: Some(sl.ld_name.clone()),
                    tgt_ld: tl.map(|t| t.ld_name.clone()),
                    tgt_in_group: tl.is_some(),
                });
            }
        }
    }
    Ok(Selection {
        sid,
        scope: Scope::Group {
            dg: g.name.clone(),
            dg_type: g.dg_type.clone(),
            explicit,
        },
        pairs,
    })
}

// ---------------------------------------------------------------------------
// Messages

fn prompt_text(cmd: &Cmd) -> String {
    let op = cmd.action.title();
    if let Some(f) = cmd.p.value("-f") {
        return format!(
            "Execute '{op}' operation for the device list\nin device file '{f}' (y/[n]) ? "
        );
    }
    let dg = cmd.p.value("-g").unwrap_or_default();
    match ldev_pairs(&cmd.ldevs).unwrap_or_default().as_slice() {
        [] => format!("Execute '{op}' operation for device group\n'{dg}' (y/[n]) ? "),
        [(s, _)] => {
            format!("Execute '{op}' operation for device '{s}'\nin device group '{dg}' (y/[n]) ? ")
        }
        many => format!(
            "Execute '{op}' operation for the {} specified devices\nin device group '{dg}' (y/[n]) ? ",
            many.len()
        ),
    }
}

fn in_progress(action: Action, sel: &Selection) -> String {
    let op = action.title();
    match &sel.scope {
        Scope::File { path } => {
            format!("\n'{op}' operation execution is in progress for the device list\nin device file '{path}'. Please wait...\n")
        }
        Scope::Group { dg, explicit: false, .. } => {
            format!("\n'{op}' operation execution is in progress for\ndevice group '{dg}'. Please wait...\n")
        }
        Scope::Group { dg, explicit: true, .. } => sel
            .pairs
            .iter()
            .map(|p| {
                format!(
                    "\n'{op}' operation execution is in progress for device '{}'\npaired with target device '{}' in\ndevice group '{dg}'. Please wait...\n",
                    p.src_label(),
                    p.tgt_label()
                )
            })
            .collect(),
    }
}

fn succeeded(action: Action, sel: &Selection) -> String {
    let op = action.title();
    let verb = if action == Action::Recreate {
        "initiated"
    } else {
        "executed"
    };
    match &sel.scope {
        Scope::File { path } => {
            format!(
                "\n'{op}' operation successfully {verb} for the device list\nin device file '{path}'.\n\n"
            )
        }
        Scope::Group {
            dg,
            explicit: false,
            ..
        } => {
            format!("\n'{op}' operation successfully {verb} for device group\n'{dg}'.\n\n")
        }
        Scope::Group {
            dg, explicit: true, ..
        } => {
            let mut s: String = sel
                .pairs
                .iter()
                .map(|p| {
                    format!(
                        "\n'{op}' operation successfully {verb} for device '{}'\nin group '{dg}' paired with target device '{}'.\n",
                        p.src_label(),
                        p.tgt_label()
                    )
                })
                .collect();
            s.push('\n');
            s
        }
    }
}

fn verbose_selection(action: Action, sel: &Selection) -> String {
    let where_ = match sel.scope {
        Scope::File { .. } => "in the device file",
        Scope::Group { .. } => "in the group",
    };
    let mut s = format!("\nSELECTING Source devices {where_}:\n");
    for p in &sel.pairs {
        s.push_str(&format!("  Device: {} [SELECTED]\n", p.src));
    }
    s.push_str(&format!("\nSELECTING Target devices {where_}:\n"));
    for p in &sel.pairs {
        s.push_str(&format!("  Device: {} [SELECTED]\n", p.tgt));
    }
    s.push_str("\nPAIRING of Source and Target devices:\n");
    for p in &sel.pairs {
        s.push_str(&format!(
            "  Devices: {}(S) - {}(T) [PAIRED]\n",
            p.src, p.tgt
        ));
    }
    s.push_str(&format!(
        "\nSTARTING a Clone '{}' operation.\n",
        action.key().to_ascii_uppercase()
    ));
    s
}

// ---------------------------------------------------------------------------
// Control actions

enum Outcome {
    Done(i32),
    Locked(Fault),
}

fn lock_fault(db: &mut Db, action: Action, devs: &[String]) -> Option<Fault> {
    db.faults.take("lock", |f| {
        f.applies_to(&[TOOL, action.key()], CONTROL_ACTIONS) && f.touches(devs, same_dev)
    })
}

fn lock_message(f: &Fault) -> (i32, String) {
    (
        f.rc.unwrap_or(rc::DB_LOCKED),
        f.message
            .clone()
            .unwrap_or_else(|| msg::DB_LOCKED.to_string()),
    )
}

/// Run `attempt` up to `-c` times, `-i` seconds apart, while it reports lock contention.
fn with_lock_retries(cmd: &Cmd, mut attempt: impl FnMut() -> SimResult<Outcome>) -> SimResult<i32> {
    let attempts = cmd.count.map(|c| (c as u64).max(1)).unwrap_or(1);
    let interval = cmd.interval.unwrap_or(DEFAULT_INTERVAL);
    let mut n = 1;
    loop {
        let (code, message) = match attempt() {
            Ok(Outcome::Done(code)) => return Ok(code),
            Ok(Outcome::Locked(f)) => lock_message(&f),
            Err(e) if e.code == rc::DB_LOCKED => (e.code, e.message),
            Err(e) => return Err(e),
        };
        if n >= attempts {
            return Err(SimError::new(code, message));
        }
        err(&format!(
            "\n{message}. Retrying in {interval} second(s) (attempt {n} of {attempts})...\n"
        ));
        clock::sleep(interval);
        n += 1;
    }
}

fn ask(cmd: &Cmd) -> bool {
    out(&format!("\n{}", prompt_text(cmd)));
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let answer = line.trim().to_ascii_lowercase();
    answer == "y" || answer == "yes"
}

fn control(cmd: &Cmd) -> SimResult<i32> {
    if !cmd.noprompt() && !ask(cmd) {
        err("\nOperation aborted by the user (answer 'y' or use -noprompt).\n\n");
        return Ok(rc::FAIL);
    }
    with_lock_retries(cmd, || with_db(|db| control_locked(db, cmd))?)
}

fn expected(action: Action, force: bool) -> &'static str {
    match action {
        Action::Activate if force => "an existing session not being restored",
        Action::Activate => "Created, Precopy or Recreated",
        Action::Recreate => "Copied, CopyInProg, CopyOnAccess or Split",
        Action::Establish => "no session, or Copied, CopyOnAccess or Split",
        Action::Restore if force => "Copied, CopyInProg, CopyOnAccess or Split",
        Action::Restore => "Copied or Split",
        Action::Split if force => "Restored, Copied or CopyOnAccess",
        Action::Split => "Restored",
        Action::Terminate => "any state but RestInProg (use -symforce)",
        _ => "",
    }
}

/// Why `action` is refused on `pair` (None = allowed).
fn refusal(cmd: &Cmd, a: &Array, pair: &Pair, now: f64, cs: f64) -> Option<String> {
    let action = cmd.action;
    let force = cmd.force();
    let detail = |st: &str| {
        Some(format!(
            "{}:\n  Device '{}' paired with target device '{}' is in the '{st}' state; '{}' needs {}.",
            msg::INVALID_STATE,
            pair.src_label(),
            pair.tgt_label(),
            action.title(),
            expected(action, force)
        ))
    };
    let sess = a.session(&pair.src, &pair.tgt).map(|i| &a.sessions[i]);
    if action == Action::Create || (action == Action::Establish && sess.is_none()) {
        if same_dev(&pair.src, &pair.tgt) {
            return Some(format!(
                "The source and target devices must differ (device '{}')",
                pair.src
            ));
        }
        if let Some(i) = a.session_by_tgt(&pair.tgt) {
            let s = &a.sessions[i];
            return Some(format!(
                "The target device '{}' is already in a Copy session (with source device '{}', state '{}')",
                pair.tgt_label(),
                s.src,
                s.status(now, cs).state
            ));
        }
        if a.sessions.iter().any(|s| same_dev(&s.src, &pair.tgt)) {
            return Some(format!(
                "The target device '{}' is the source of another Copy session",
                pair.tgt_label()
            ));
        }
        if a.sessions.iter().any(|s| same_dev(&s.tgt, &pair.src)) {
            return Some(format!(
                "The source device '{}' is the target of another Copy session",
                pair.src_label()
            ));
        }
        return None;
    }
    let Some(s) = sess else {
        if action == Action::Terminate {
            return Some(format!(
                "{}: '{}' paired with '{}'.",
                msg::NO_SESSION_CREATED,
                pair.src_label(),
                pair.tgt_label()
            ));
        }
        return Some(format!(
            "{}: '{}' and '{}'.",
            msg::NOT_A_SESSION,
            pair.src_label(),
            pair.tgt_label()
        ));
    };
    let st = s.status(now, cs);
    use StateKind as K;
    match action {
        Action::Activate => {
            let ok = matches!(st.kind, K::Created | K::Precopy | K::Recreated)
                || (force
                    && !matches!(st.kind, K::RestInProg | K::CreateInProg | K::RecreateInProg));
            if !ok {
                return detail(&st.state);
            }
        }
        Action::Recreate | Action::Establish | Action::Restore => {
            if !s.differential {
                return Some(format!(
                    "The Clone session of device '{}' paired with target device '{}' was not created with the -differential option, which '{}' requires.",
                    pair.src_label(),
                    pair.tgt_label(),
                    action.title()
                ));
            }
            let ok = match action {
                Action::Recreate => matches!(
                    st.kind,
                    K::Copied | K::CopyInProg | K::CopyOnAccess | K::Split
                ),
                Action::Establish => matches!(st.kind, K::Copied | K::CopyOnAccess | K::Split),
                _ => {
                    matches!(st.kind, K::Copied | K::Split)
                        || (force && matches!(st.kind, K::CopyInProg | K::CopyOnAccess))
                }
            };
            if !ok {
                return detail(&st.state);
            }
        }
        Action::Split => {
            let ok =
                st.kind == K::Restored || (force && matches!(st.kind, K::Copied | K::CopyOnAccess));
            if !ok {
                return detail(&st.state);
            }
        }
        Action::Terminate => {
            if cmd.flag("-restored") {
                if st.kind != K::Restored {
                    return Some(format!(
                        "{}:\n  Device '{}' paired with target device '{}' is in the '{}' state; 'Terminate -restored' needs Restored.",
                        msg::INVALID_STATE,
                        pair.src_label(),
                        pair.tgt_label(),
                        st.state
                    ));
                }
            } else if st.kind == K::RestInProg && !force {
                return detail(&st.state);
            }
        }
        _ => {}
    }
    None
}

fn apply(cmd: &Cmd, a: &mut Array, pair: &Pair, now: f64) {
    let action = cmd.action;
    let precopy = cmd.flag("-precopy");
    let not_ready = cmd.flag("-not_ready");
    let set_ready = |a: &mut Array, dev: &str, ready: bool| {
        if let Some(d) = a.device_mut(dev) {
            d.ready = ready;
        }
    };
    let idx = a.session(&pair.src, &pair.tgt);
    match (action, idx) {
        (Action::Create, _) | (Action::Establish, None) => {
            let mut s = Session::new(&pair.src, &pair.tgt, Phase::Created, now);
            s.differential = cmd.flag("-differential");
            s.vse = cmd.flag("-vse");
            s.precopy = precopy;
            s.copy = (cmd.flag("-copy") || precopy) && !cmd.flag("-nocopy");
            if action == Action::Establish {
                s.phase = Phase::Activated;
                s.copy = !cmd.flag("-nocopy");
                s.copy_start = Some(now);
                set_ready(a, &pair.tgt, !not_ready);
            } else {
                if precopy {
                    s.phase = Phase::Precopy;
                    s.copy_start = Some(now);
                }
                set_ready(a, &pair.tgt, false);
            }
            a.sessions.push(s);
        }
        (Action::Terminate, Some(i)) if !cmd.flag("-restored") => {
            a.sessions.remove(i);
            set_ready(a, &pair.tgt, false);
        }
        (_, Some(i)) => {
            let s = &mut a.sessions[i];
            let was_precopy = s.phase == Phase::Precopy && s.forced_state.is_none();
            match action {
                Action::Activate => {
                    if cmd.flag("-copy") {
                        s.copy = true;
                    }
                    s.copy_start = if was_precopy {
                        s.copy_start.or(Some(now))
                    } else {
                        s.copy.then_some(now)
                    };
                    s.phase = Phase::Activated;
                }
                Action::Establish => {
                    s.copy = !cmd.flag("-nocopy");
                    s.copy_start = Some(now);
                    s.phase = Phase::Activated;
                }
                Action::Recreate => {
                    s.precopy = precopy;
                    if precopy {
                        s.copy = true;
                        s.phase = Phase::Precopy;
                        s.copy_start = Some(now);
                    } else {
                        s.phase = Phase::Recreated;
                        s.copy_start = None;
                    }
                }
                Action::Restore => s.phase = Phase::Restoring,
                Action::Split => s.phase = Phase::Split,
                Action::Terminate => {
                    // -restored: back to the clone session, fully copied
                    s.phase = Phase::Activated;
                    s.copy_start = Some(0.0);
                }
                _ => {}
            }
            s.since = now;
            s.last_action = now;
            s.stuck = None;
            s.forced_state = None;
            if matches!(action, Action::Activate | Action::Establish) {
                set_ready(a, &pair.tgt, !not_ready);
            }
        }
        _ => {}
    }
}

fn control_locked(db: &mut Db, cmd: &Cmd) -> SimResult<Outcome> {
    let action = cmd.action;
    let sel = select(db, cmd)?;
    let devs = sel.devs();
    if let Some(f) = lock_fault(db, action, &devs) {
        return Ok(Outcome::Locked(f));
    }
    if sel.pairs.is_empty() {
        let Scope::Group { dg, .. } = &sel.scope else {
            return Err(SimError::new(rc::FAIL, msg::NOT_A_SESSION));
        };
        return Err(SimError::new(
            rc::FAIL,
            format!("{}\n\n{}", msg::NOT_A_SESSION, msg::no_source_in_group(dg)),
        ));
    }
    let now = clock::now();
    let cs = db.copy_seconds(&sel.sid);
    let a = db.array(&sel.sid)?;
    let mut problems = Vec::new();
    for (i, p) in sel.pairs.iter().enumerate() {
        if matches!(action, Action::Create | Action::Establish)
            && sel.pairs[..i].iter().any(|q| same_dev(&q.tgt, &p.tgt))
        {
            problems.push(format!(
                "The target device '{}' is listed more than once",
                p.tgt_label()
            ));
            continue;
        }
        if let Some(r) = refusal(cmd, a, p, now, cs) {
            problems.push(r);
        }
    }
    if !problems.is_empty() {
        return Err(SimError::new(rc::FAIL, problems.join("\n\n")));
    }
    let mut stderr_text = String::new();
    if cmd.flag("-v") {
        stderr_text.push_str(&verbose_selection(action, &sel));
    }
    stderr_text.push_str(&in_progress(action, &sel));
    err(&stderr_text);

    if let Some(f) = db.faults.take(action.key(), |f| f.touches(&devs, same_dev)) {
        let code = f.rc.unwrap_or(rc::FAIL);
        let text = f.message.unwrap_or_else(|| {
            format!(
                "The Clone '{}' operation FAILED: an error occurred on the Symmetrix (simulated fault)",
                action.key().to_ascii_uppercase()
            )
        });
        err(&format!("\n{text}\n\n"));
        return Ok(Outcome::Done(code));
    }

    let stuck_kind = match action {
        Action::Create | Action::Recreate => Some(STUCK_NEVER_ACTIVABLE),
        Action::Activate | Action::Establish | Action::Restore => Some(STUCK_COPY),
        _ => None,
    };
    let stuck = stuck_kind.and_then(|k| {
        db.faults
            .take(k, |f| f.touches(&devs, same_dev))
            .map(|f| (k, f))
    });

    let a = db.array_mut(&sel.sid)?;
    for p in &sel.pairs {
        apply(cmd, a, p, now);
        let stuck_here = stuck
            .as_ref()
            .filter(|(_, f)| f.touches(&[p.src.clone(), p.tgt.clone()], same_dev));
        if let (Some((kind, _)), Some(i)) = (stuck_here, a.session(&p.src, &p.tgt)) {
            a.sessions[i].stuck = Some(kind.to_string());
        }
    }
    let mut done = String::new();
    if cmd.flag("-v") {
        done.push_str(&format!(
            "\nThe Clone '{}' operation SUCCEEDED.\n",
            action.key().to_ascii_uppercase()
        ));
    }
    done.push_str(&succeeded(action, &sel));
    err(&done);
    Ok(Outcome::Done(rc::SUCCESS))
}

// ---------------------------------------------------------------------------
// Query, verify, list

struct Row {
    src_ld: String,
    src: String,
    protected: u64,
    src_mod: u64,
    tgt_ld: String,
    tgt: String,
    tgt_mod: u64,
    flags: String,
    state: String,
    percent: u32,
    last_action: f64,
}

fn rows(db: &Db, sel: &Selection, now: f64) -> SimResult<Vec<Row>> {
    let a = db.array(&sel.sid)?;
    let cs = db.copy_seconds(&sel.sid);
    let mut rows = Vec::new();
    for p in &sel.pairs {
        let Some(i) = a.session(&p.src, &p.tgt) else {
            return Err(SimError::new(
                rc::FAIL,
                format!(
                    "{}: '{}' and '{}'.",
                    msg::NOT_A_SESSION,
                    p.src_label(),
                    p.tgt_label()
                ),
            ));
        };
        let s = &a.sessions[i];
        let st = s.status(now, cs);
        let tracks = a.device(&s.src).map(|d| d.tracks).unwrap_or(0);
        let protected = match st.kind {
            StateKind::Copied | StateKind::Restored | StateKind::Split => 0,
            _ => tracks * u64::from(100 - st.percent.min(100)) / 100,
        };
        let file_form = matches!(sel.scope, Scope::File { .. });
        rows.push(Row {
            src_ld: if file_form {
                "N/A".into()
            } else {
                p.src_ld.clone().unwrap_or_else(|| "N/A".into())
            },
            src: s.src.clone(),
            protected,
            src_mod: 0,
            tgt_ld: if file_form {
                "N/A".into()
            } else {
                p.tgt_ld.clone().unwrap_or_else(|| "N/A".into())
            },
            tgt: s.tgt.clone(),
            tgt_mod: 0,
            flags: s.flags(&st, p.tgt_in_group),
            state: st.state.clone(),
            percent: st.percent,
            last_action: s.last_action,
        });
    }
    Ok(rows)
}

const QUERY_HEADER: &str = concat!(
    "         Source Device                   Target Device            State     Copy\n",
    "--------------------------------- ---------------------------- ------------ ----\n",
    "               Protected Modified                Modified\n",
    "Logical   Sym  Tracks    Tracks   Logical   Sym  Tracks   CGDP SRC <=> TGT  (%)\n",
    "--------------------------------- ---------------------------- ------------ ----\n",
);

const QUERY_LEGEND: &str = "\
Legend:

(C): X = The background copy setting is active for this pair.
     . = The background copy setting is not active for this pair.
(G): X = The Target device is associated with this group.
     . = The Target device is not associated with this group.
(D): X = The Clone session is a differential copy session.
     . = The Clone session is not a differential copy session.
(P): X = The pre-copy operation has completed one cycle
     . = The pre-copy operation has not completed one cycle
";

fn mb(tracks: u64) -> String {
    format!("{:.1}", tracks as f64 * TRACK_KB as f64 / 1024.0)
}

fn query_text(db: &Db, sel: &Selection, rows: &[Row]) -> String {
    let mut s = String::from("\n");
    match &sel.scope {
        Scope::Group { dg, dg_type, .. } => {
            s.push_str(&format!("Device Group (DG) Name: {dg}\n"));
            s.push_str(&format!("DG's Type             : {dg_type}\n"));
            s.push_str(&format!("DG's Symmetrix ID     : {}\n\n", sel.sid));
        }
        Scope::File { path } => {
            s.push_str(&format!("Device File Name      : {path}\n"));
            s.push_str(&format!("Device's Symmetrix ID : {}\n\n", sel.sid));
        }
    }
    let _ = db;
    s.push_str(QUERY_HEADER);
    let (mut tp, mut tm, mut ttm) = (0u64, 0u64, 0u64);
    for r in rows {
        s.push_str(&format!(
            "{:<9} {:<5}{:>9} {:>8} {:<9} {:<5}{:>8} {:<4} {:<12} {:>3}\n",
            r.src_ld,
            r.src,
            r.protected,
            r.src_mod,
            r.tgt_ld,
            r.tgt,
            r.tgt_mod,
            r.flags,
            r.state,
            r.percent
        ));
        tp += r.protected;
        tm += r.src_mod;
        ttm += r.tgt_mod;
    }
    s.push_str("\nTotal           -------- --------                --------\n");
    s.push_str(&format!("  Track(s){tp:>14} {tm:>8}{ttm:>24}\n"));
    s.push_str(&format!(
        "  MB(s){:>17} {:>8}{:>24}\n\n",
        mb(tp),
        mb(tm),
        mb(ttm)
    ));
    s.push_str(QUERY_LEGEND);
    s.push('\n');
    s
}

/// Provisional `query -output xml` schema (the real element names are not documented).
fn pairs_xml(x: &mut Xml, rows: &[Row]) {
    for r in rows {
        x.open("Clone_Pair");
        x.open("Source")
            .leaf("ld_name", &r.src_ld)
            .leaf("dev_name", &r.src);
        x.leaf("protected_tracks", r.protected.to_string())
            .leaf("modified_tracks", r.src_mod.to_string());
        x.close();
        x.open("Target")
            .leaf("ld_name", &r.tgt_ld)
            .leaf("dev_name", &r.tgt);
        x.leaf("modified_tracks", r.tgt_mod.to_string());
        x.close();
        x.leaf("flags", &r.flags)
            .leaf("state", &r.state)
            .leaf("percent", r.percent.to_string());
        x.leaf("last_action", clock::ctime(r.last_action));
        x.close();
    }
}

fn query_xml(sel: &Selection, rows: &[Row]) -> String {
    let mut x = Xml::new();
    match &sel.scope {
        Scope::Group { dg, dg_type, .. } => {
            x.open("DG");
            x.open("DG_Info")
                .leaf("name", dg)
                .leaf("type", dg_type)
                .leaf("symid", &sel.sid)
                .close();
        }
        Scope::File { path } => {
            x.open("Symmetrix");
            x.open("Symm_Info")
                .leaf("symid", &sel.sid)
                .leaf("device_file", path)
                .close();
        }
    }
    pairs_xml(&mut x, rows);
    x.finish()
}

/// Apply an armed `xml` / `xml-empty` fault to an XML document.
pub fn xml_fault(db: &mut Db, ops: &[&str], doc: String) -> String {
    if db
        .faults
        .take("xml-empty", |f| f.applies_to(ops, &["any"]))
        .is_some()
    {
        return String::new();
    }
    if db
        .faults
        .take("xml", |f| f.applies_to(ops, &["any"]))
        .is_some()
    {
        return xml::corrupt(&doc);
    }
    doc
}

fn read_lock_check(db: &mut Db, action: Action, devs: &[String]) -> SimResult<()> {
    if let Some(f) = lock_fault(db, action, devs) {
        let (code, text) = lock_message(&f);
        return Err(SimError::new(code, text));
    }
    Ok(())
}

fn query(cmd: &Cmd) -> SimResult<i32> {
    let want_xml = xml_requested(cmd.p.value("-output"))?;
    let text = with_db(|db| -> SimResult<String> {
        let sel = select(db, cmd)?;
        read_lock_check(db, cmd.action, &sel.devs())?;
        if sel.pairs.is_empty() {
            let dg = match &sel.scope {
                Scope::Group { dg, .. } => dg.clone(),
                Scope::File { path } => path.clone(),
            };
            return Err(SimError::new(
                rc::FAIL,
                format!("{}\n\n{}", msg::NOT_A_SESSION, msg::no_source_in_group(&dg)),
            ));
        }
        let rows = rows(db, &sel, clock::now())?;
        Ok(if want_xml {
            let doc = query_xml(&sel, &rows);
            xml_fault(db, &[TOOL, "query"], doc)
        } else {
            query_text(db, &sel, &rows)
        })
    })??;
    out(&text);
    Ok(rc::SUCCESS)
}

fn verify(cmd: &Cmd) -> SimResult<i32> {
    let flag = cmd
        .p
        .flags
        .iter()
        .find(|f| STATE_FLAGS.contains(&f.as_str()))
        .cloned();
    let kind = match flag {
        Some(f) => StateKind::parse(&f[1..]).unwrap_or(StateKind::Other),
        None => StateKind::Copied,
    };
    let attempts: Option<u64> = match (cmd.count, cmd.interval) {
        (Some(c), _) => Some((c as u64).max(1)),
        (None, Some(_)) => None, // poll until the state is reached
        (None, None) => Some(1),
    };
    let interval = cmd.interval.unwrap_or(DEFAULT_INTERVAL);
    let mut n: u64 = 1;
    loop {
        let (inside, total, label) = with_db(|db| -> SimResult<(usize, usize, String)> {
            let sel = select(db, cmd)?;
            read_lock_check(db, cmd.action, &sel.devs())?;
            let now = clock::now();
            let cs = db.copy_seconds(&sel.sid);
            let a = db.array(&sel.sid)?;
            let inside = sel
                .pairs
                .iter()
                .filter(|p| {
                    a.session(&p.src, &p.tgt)
                        .is_some_and(|i| a.sessions[i].status(now, cs).kind == kind)
                })
                .count();
            let label = match &sel.scope {
                Scope::Group { dg, .. } => format!("the group '{dg}'"),
                Scope::File { path } => format!("the device file '{path}'"),
            };
            Ok((inside, sel.pairs.len(), label))
        })??;
        let state = kind.name();
        let (code, line) = if total > 0 && inside == total {
            (
                rc::SUCCESS,
                format!("All devices in {label} are in '{state}' state."),
            )
        } else if inside > 0 {
            (
                rc::VERIFY_NOT_ALL,
                format!("Not all devices in {label} are in '{state}' state."),
            )
        } else {
            (
                rc::VERIFY_NONE,
                format!("None of the devices in {label} are in '{state}' state."),
            )
        };
        out(&format!("\n{line}\n\n"));
        if code == rc::SUCCESS || attempts.is_some_and(|a| n >= a) {
            return Ok(code);
        }
        clock::sleep(interval);
        n += 1;
    }
}

fn list(cmd: &Cmd) -> SimResult<i32> {
    let want_xml = xml_requested(cmd.p.value("-output"))?;
    let text = with_db(|db| -> SimResult<String> {
        let sid = match cmd.p.value("-g") {
            Some(g) => {
                let g = db
                    .dgs
                    .get(g)
                    .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_dg(g)))?;
                g.symid.clone().ok_or_else(|| {
                    SimError::new(
                        rc::FAIL,
                        format!("Device group '{}' does not have any devices", g.name),
                    )
                })?
            }
            None => db.resolve_sid(cmd.p.value("-sid"))?,
        };
        read_lock_check(db, cmd.action, &[])?;
        let now = clock::now();
        let cs = db.copy_seconds(&sid);
        let a = db.array(&sid)?;
        let rows: Vec<Row> = a
            .sessions
            .iter()
            .map(|s| {
                let st = s.status(now, cs);
                Row {
                    src_ld: "N/A".into(),
                    src: s.src.clone(),
                    protected: 0,
                    src_mod: 0,
                    tgt_ld: "N/A".into(),
                    tgt: s.tgt.clone(),
                    tgt_mod: 0,
                    flags: s.flags(&st, false),
                    state: st.state,
                    percent: st.percent,
                    last_action: s.last_action,
                }
            })
            .collect();
        if want_xml {
            let mut x = Xml::new();
            x.open("Symmetrix");
            x.open("Symm_Info").leaf("symid", &sid).close();
            pairs_xml(&mut x, &rows);
            let doc = x.finish();
            return Ok(xml_fault(db, &[TOOL, "list"], doc));
        }
        let mut s = format!("\nSymmetrix ID: {sid}\n\n");
        if rows.is_empty() {
            s.push_str("No Clone sessions were found.\n\n");
            return Ok(s);
        }
        s.push_str(" Source  Target  Flags State         Copy  Last Clone Action\n");
        s.push_str(" ------  ------  ----- ------------  ----  ------------------------\n");
        for r in &rows {
            s.push_str(&format!(
                " {:<7} {:<7} {:<5} {:<12} {:>5}  {}\n",
                r.src,
                r.tgt,
                r.flags,
                r.state,
                r.percent,
                clock::ctime(r.last_action)
            ));
        }
        s.push('\n');
        Ok(s)
    })??;
    out(&text);
    Ok(rc::SUCCESS)
}
