//! `symsim`: set up simulated arrays and inject faults (not a real SYMCLI command).

use clap::{Args, Parser, Subcommand};

use super::db::with_db;
use super::model::{Array, DEFAULT_TRACKS, Device, StateKind, expand_devs, same_dev};
use crate::common::faults::Fault;
use crate::common::{SimError, SimResult, clock, out, to_json};

/// Fault kinds `symsim fail` accepts.
pub const FAULT_KINDS: &[(&str, &str)] = &[
    ("create", "the next create fails (exit 1, or --rc)"),
    ("activate", "the next activate fails"),
    ("recreate", "the next recreate fails"),
    ("establish", "the next establish fails"),
    ("restore", "the next restore fails"),
    ("split", "the next split fails"),
    ("terminate", "the next terminate fails"),
    (
        "lock",
        "lock contention: exit 2 (default on create/activate/recreate/establish/restore/split/terminate; --on any|symdev|verify|query|...)",
    ),
    (
        "xml",
        "the next XML output (symdev list/show, symclone query/list) is malformed",
    ),
    ("xml-empty", "the next XML output is empty"),
    (
        "never-activable",
        "the next create/recreate leaves its pairs in CreateInProg/RecreateInProg until 'symsim clear'",
    ),
    (
        "stuck-copy",
        "the next activate/establish/restore never reaches 100% until 'symsim clear'",
    ),
];

#[derive(Parser, Debug)]
#[command(
    name = "symsim",
    about = "Set up and steer the doppel SYMCLI simulator (state under $DOPPEL_SIM_ROOT/symmetrix)",
    version
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Simulated arrays.
    #[command(subcommand)]
    Array(ArrayCmd),
    /// Device properties.
    #[command(subcommand)]
    Dev(DevCmd),
    /// Clone pair overrides.
    #[command(subcommand)]
    Pair(PairCmd),
    /// Set a simulator setting.
    Set(SetArgs),
    /// Show a simulator setting.
    Get(GetArgs),
    /// Arm a fault (see `symsim fail --help` for the kinds).
    Fail(FailArgs),
    /// List the armed faults (JSON).
    Faults,
    /// Disarm faults (all, or one kind) and release pairs they froze.
    Clear { kind: Option<String> },
    /// The simulated clock shared by all simulators.
    #[command(subcommand)]
    Clock(ClockCmd),
    /// Forget every array, device group, fault and setting of the SYMCLI simulator.
    Reset,
    /// Build a fake Linux sysfs under DIR: `DIR/sys/block/<sdX>/device/rescan`
    /// for every native path of every visible device (what a host sees).
    Sysfs { dir: std::path::PathBuf },
}

#[derive(Subcommand, Debug)]
enum ArrayCmd {
    /// Create an array with devices.
    Create(ArrayCreate),
    /// Add devices to an array.
    AddDevs(ArrayCreate),
    /// Delete an array (and the device groups on it).
    Delete { sid: String },
    /// List arrays.
    List,
    /// Dump an array (JSON, with the computed pair states).
    Show { sid: String },
}

#[derive(Args, Debug)]
struct ArrayCreate {
    /// Symmetrix id, e.g. 000192601234.
    sid: String,
    /// Devices: comma list and ranges, e.g. 00B60,00B61 or 00B60:00B63.
    #[arg(long, required = true)]
    devs: String,
    /// Copy time of this array in seconds (default: `symsim set copy-seconds`, else 2).
    #[arg(long)]
    copy_seconds: Option<f64>,
    /// Device size in tracks of 64 KiB.
    #[arg(long, default_value_t = DEFAULT_TRACKS)]
    tracks: u64,
    /// Host physical name of a device: DEV=PATH (repeatable). Default: /dev/sdb, /dev/sdc, ...
    #[arg(long = "pd", value_name = "DEV=PATH")]
    pd: Vec<String>,
    /// Devices are not mapped to the host (pd_name "Not Visible").
    #[arg(long)]
    not_visible: bool,
}

#[derive(Subcommand, Debug)]
enum DevCmd {
    /// Change a device.
    Set {
        sid: String,
        dev: String,
        #[arg(long)]
        pd_name: Option<String>,
        /// Native SCSI paths of a multipath/PowerPath device, comma separated
        /// (`/dev/sdc,/dev/sdd`); empty: pd_name is the only path.
        #[arg(long)]
        paths: Option<String>,
        #[arg(long, conflicts_with = "not_ready")]
        ready: bool,
        #[arg(long)]
        not_ready: bool,
        #[arg(long)]
        tracks: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
enum PairCmd {
    /// Force the state a pair shows (any string, e.g. Failed or Invalid) until its next action.
    State {
        sid: String,
        /// Target device of the pair.
        tgt: String,
        /// State to show; omit with --clear.
        state: Option<String>,
        #[arg(long)]
        clear: bool,
    },
}

#[derive(Args, Debug)]
struct SetArgs {
    /// Setting: copy-seconds.
    key: String,
    value: f64,
    /// Apply to one array (default: the simulator-wide default).
    #[arg(long)]
    sid: Option<String>,
}

#[derive(Args, Debug)]
struct GetArgs {
    key: String,
    #[arg(long)]
    sid: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_help = fault_help())]
struct FailArgs {
    /// Fault kind.
    kind: String,
    /// Fire this many times (default 1).
    #[arg(long, default_value_t = 1, conflicts_with = "always")]
    count: u32,
    /// Fire until cleared.
    #[arg(long)]
    always: bool,
    /// Only for commands touching these devices (comma list / ranges).
    #[arg(long)]
    devs: Option<String>,
    /// Only for these operations: tool names (symclone, symdev, symld, symdg), actions
    /// (activate, verify, query, list, ...) or "any" (comma list).
    #[arg(long)]
    on: Option<String>,
    /// Exit code to return (default: 1 for action faults, 2 for lock).
    #[arg(long)]
    rc: Option<i32>,
    /// Message to print instead of the default.
    #[arg(long)]
    message: Option<String>,
}

fn fault_help() -> String {
    let mut s = String::from("Fault kinds:\n");
    for (k, d) in FAULT_KINDS {
        s.push_str(&format!("  {k:<16} {d}\n"));
    }
    s
}

#[derive(Subcommand, Debug)]
enum ClockCmd {
    /// Move the simulated clock forward by SECS seconds.
    Advance { secs: f64 },
    /// Set the offset from real time (seconds).
    Set { offset: f64 },
    /// Back to real time.
    Reset,
    /// Print the offset and the simulated time.
    Show,
}

pub fn main(argv: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once("symsim".to_string()).chain(argv)) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run(cli.cmd) {
        Ok(()) => 0,
        Err(e) => {
            crate::common::err(&format!("symsim: {}\n", e.message));
            e.code
        }
    }
}

fn fail(msg: impl Into<String>) -> SimError {
    SimError::new(1, msg)
}

fn disk_name(n: usize) -> String {
    // 0 -> a, 25 -> z, 26 -> aa (Linux sd naming)
    let mut n = n + 1;
    let mut s = Vec::new();
    while n > 0 {
        n -= 1;
        s.push(b'a' + (n % 26) as u8);
        n /= 26;
    }
    s.reverse();
    format!("/dev/sd{}", String::from_utf8_lossy(&s))
}

fn add_devices(a: &mut Array, spec: &ArrayCreate, used_pd: usize) -> SimResult<Vec<String>> {
    let devs = expand_devs(&spec.devs).map_err(fail)?;
    let mut pds = Vec::new();
    for item in &spec.pd {
        let (d, p) = item
            .split_once('=')
            .ok_or_else(|| fail(format!("--pd expects DEV=PATH, got '{item}'")))?;
        pds.push((d.to_string(), p.to_string()));
    }
    let mut added = Vec::new();
    let mut next_pd = used_pd;
    for d in devs {
        if a.device(&d).is_some() {
            return Err(fail(format!("device {d} already exists on {}", a.sid)));
        }
        let pd = match pds.iter().find(|(x, _)| same_dev(x, &d)) {
            Some((_, p)) => p.clone(),
            None if spec.not_visible => "Not Visible".into(),
            None => {
                next_pd += 1;
                disk_name(next_pd)
            }
        };
        a.devices.push(Device {
            name: d.clone(),
            pd_name: pd,
            tracks: spec.tracks,
            ready: true,
            config: "TDEV".into(),
            paths: Vec::new(),
        });
        added.push(d);
    }
    a.devices
        .sort_by_key(|d| super::model::dev_number(&d.name).unwrap_or(u32::MAX));
    Ok(added)
}

fn valid_sid(sid: &str) -> SimResult<()> {
    if sid.is_empty() || sid.len() > 32 || !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(fail(format!(
            "invalid Symmetrix id '{sid}' (letters and digits only)"
        )));
    }
    Ok(())
}

fn run(cmd: Cmd) -> SimResult<()> {
    match cmd {
        Cmd::Array(ArrayCmd::Create(spec)) => {
            valid_sid(&spec.sid)?;
            let n = with_db(|db| -> SimResult<usize> {
                if db.arrays.contains_key(&spec.sid) {
                    return Err(fail(format!("array {} already exists", spec.sid)));
                }
                let used = db.arrays.values().map(|a| a.devices.len()).sum();
                let mut a = Array {
                    sid: spec.sid.clone(),
                    copy_seconds: spec.copy_seconds,
                    ..Default::default()
                };
                let added = add_devices(&mut a, &spec, used)?;
                db.arrays.insert(spec.sid.clone(), a);
                Ok(added.len())
            })??;
            out(&format!("array {} created with {n} device(s)\n", spec.sid));
        }
        Cmd::Array(ArrayCmd::AddDevs(spec)) => {
            let n = with_db(|db| -> SimResult<usize> {
                let used = db.arrays.values().map(|a| a.devices.len()).sum();
                let sid = db.resolve_sid(Some(&spec.sid))?;
                let a = db.array_mut(&sid)?;
                if spec.copy_seconds.is_some() {
                    a.copy_seconds = spec.copy_seconds;
                }
                Ok(add_devices(a, &spec, used)?.len())
            })??;
            out(&format!("{n} device(s) added to {}\n", spec.sid))
        }
        Cmd::Array(ArrayCmd::Delete { sid }) => {
            with_db(|db| -> SimResult<()> {
                let sid = db.resolve_sid(Some(&sid))?;
                db.arrays.remove(&sid);
                db.dgs
                    .groups
                    .retain(|_, g| g.symid.as_deref() != Some(sid.as_str()));
                Ok(())
            })??;
        }
        Cmd::Array(ArrayCmd::List) => {
            let text = with_db(|db| {
                db.arrays
                    .values()
                    .map(|a| {
                        format!(
                            "{} devices={} sessions={} copy_seconds={}\n",
                            a.sid,
                            a.devices.len(),
                            a.sessions.len(),
                            db.copy_seconds(&a.sid)
                        )
                    })
                    .collect::<String>()
            })?;
            out(&text);
        }
        Cmd::Array(ArrayCmd::Show { sid }) => {
            let text = with_db(|db| -> SimResult<String> {
                let sid = db.resolve_sid(Some(&sid))?;
                let a = db.array(&sid)?;
                let now = clock::now();
                let cs = db.copy_seconds(&sid);
                let pairs: Vec<serde_json::Value> = a
                    .sessions
                    .iter()
                    .map(|s| {
                        let st = s.status(now, cs);
                        serde_json::json!({"src": s.src, "tgt": s.tgt, "state": st.state, "percent": st.percent})
                    })
                    .collect();
                let v = serde_json::json!({
                    "sid": a.sid,
                    "copy_seconds": cs,
                    "devices": a.devices,
                    "sessions": a.sessions,
                    "pairs": pairs,
                });
                Ok(to_json(&v))
            })??;
            out(&text);
        }
        Cmd::Dev(DevCmd::Set {
            sid,
            dev,
            pd_name,
            paths,
            ready,
            not_ready,
            tracks,
        }) => {
            with_db(|db| -> SimResult<()> {
                let sid = db.resolve_sid(Some(&sid))?;
                let a = db.array_mut(&sid)?;
                let d = a
                    .device_mut(&dev)
                    .ok_or_else(|| fail(format!("device {dev} not found on {sid}")))?;
                if let Some(p) = pd_name {
                    d.pd_name = p;
                }
                if let Some(list) = paths {
                    d.paths = list
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                if ready {
                    d.ready = true;
                }
                if not_ready {
                    d.ready = false;
                }
                if let Some(t) = tracks {
                    d.tracks = t;
                }
                Ok(())
            })??;
        }
        Cmd::Pair(PairCmd::State {
            sid,
            tgt,
            state,
            clear,
        }) => {
            if state.is_none() && !clear {
                return Err(fail("give a STATE or --clear"));
            }
            with_db(|db| -> SimResult<()> {
                let sid = db.resolve_sid(Some(&sid))?;
                let a = db.array_mut(&sid)?;
                let i = a
                    .session_by_tgt(&tgt)
                    .ok_or_else(|| fail(format!("no clone session with target {tgt}")))?;
                a.sessions[i].forced_state = if clear {
                    None
                } else {
                    state.map(|s| {
                        StateKind::parse(&s)
                            .map(|k| k.name().to_string())
                            .unwrap_or(s)
                    })
                };
                Ok(())
            })??;
        }
        Cmd::Set(SetArgs { key, value, sid }) => {
            if key != "copy-seconds" {
                return Err(fail(format!(
                    "unknown setting '{key}' (known: copy-seconds)"
                )));
            }
            if !value.is_finite() || value < 0.0 {
                return Err(fail("copy-seconds must be a non-negative number"));
            }
            with_db(|db| -> SimResult<()> {
                match sid {
                    Some(s) => {
                        let s = db.resolve_sid(Some(&s))?;
                        db.array_mut(&s)?.copy_seconds = Some(value);
                    }
                    None => db.config.default_copy_seconds = Some(value),
                }
                Ok(())
            })??;
        }
        Cmd::Get(GetArgs { key, sid }) => {
            if key != "copy-seconds" {
                return Err(fail(format!(
                    "unknown setting '{key}' (known: copy-seconds)"
                )));
            }
            let v = with_db(|db| -> SimResult<f64> {
                Ok(match sid {
                    Some(s) => {
                        let s = db.resolve_sid(Some(&s))?;
                        db.copy_seconds(&s)
                    }
                    None => db
                        .config
                        .default_copy_seconds
                        .unwrap_or(super::model::DEFAULT_COPY_SECONDS),
                })
            })??;
            out(&format!("{v}\n"));
        }
        Cmd::Fail(f) => {
            let kind = f.kind.to_ascii_lowercase();
            if !FAULT_KINDS.iter().any(|(k, _)| *k == kind) {
                return Err(fail(format!(
                    "unknown fault kind '{}'\n{}",
                    f.kind,
                    fault_help()
                )));
            }
            let objects = match &f.devs {
                Some(l) => expand_devs(l).map_err(fail)?,
                None => vec![],
            };
            let on =
                f.on.as_deref()
                    .map(|l| {
                        l.split(',')
                            .map(|s| s.trim().to_ascii_lowercase())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
            let fault = Fault {
                kind,
                remaining: if f.always { None } else { Some(f.count.max(1)) },
                on,
                objects,
                rc: f.rc,
                message: f.message,
            };
            with_db(|db| db.faults.add(fault))?;
        }
        Cmd::Faults => {
            let text = with_db(|db| to_json(&db.faults.faults))?;
            out(&text);
        }
        Cmd::Clear { kind } => {
            let kind = kind.map(|k| k.to_ascii_lowercase());
            let n = with_db(|db| {
                let n = db.faults.clear(kind.as_deref());
                for a in db.arrays.values_mut() {
                    for s in &mut a.sessions {
                        let release = match (&kind, s.stuck.as_deref()) {
                            (_, None) => false,
                            (None, Some(_)) => true,
                            (Some(k), Some(st)) => k == st,
                        };
                        if release {
                            s.stuck = None;
                        }
                    }
                }
                n
            })?;
            out(&format!("{n} fault(s) cleared\n"));
        }
        Cmd::Clock(c) => match c {
            ClockCmd::Advance { secs } => clock::set_offset(clock::offset() + secs)?,
            ClockCmd::Set { offset } => clock::set_offset(offset)?,
            ClockCmd::Reset => clock::set_offset(0.0)?,
            ClockCmd::Show => {
                out(&format!(
                    "offset {} s, now {}\n",
                    clock::offset(),
                    clock::ctime(clock::now())
                ));
            }
        },
        Cmd::Reset => {
            with_db(|db| {
                db.arrays.clear();
                db.dgs.groups.clear();
                db.faults.faults.clear();
                db.config = Default::default();
            })?;
        }
        Cmd::Sysfs { dir } => {
            let paths = with_db(|db| {
                let mut v: Vec<String> = db
                    .arrays
                    .values()
                    .flat_map(|a| a.devices.iter().flat_map(Device::native_paths))
                    .collect();
                v.sort();
                v.dedup();
                v
            })?;
            for p in paths {
                let Some(name) = p.strip_prefix("/dev/").filter(|n| !n.contains('/')) else {
                    continue;
                };
                let device = dir.join("sys/block").join(name).join("device");
                std::fs::create_dir_all(&device)
                    .map_err(|e| fail(format!("cannot create {}: {e}", device.display())))?;
                let rescan = device.join("rescan");
                if !rescan.exists() {
                    std::fs::write(&rescan, "")
                        .map_err(|e| fail(format!("cannot write {}: {e}", rescan.display())))?;
                }
                out(&format!("{}\n", rescan.display()));
            }
        }
    }
    Ok(())
}
