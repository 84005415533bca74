//! `aixsim`: set up the simulated AIX machine and inject faults (not an AIX command).

use clap::{Args, Parser, Subcommand};
use doppel_sim::common::faults::Fault;
use doppel_sim::common::{SimError, SimResult, clock, err, out, to_json};

use crate::machine::{
    Disk, Machine, MachineDir, ROOTVG, VolumeGroup, natural_key, parse_size_mb, pvid_for,
};
use crate::tree::populate_sample;

/// Fault kinds `aixsim fail` accepts.
pub const FAULT_KINDS: &[(&str, &str)] = &[
    (
        "phase1",
        "the next alt_disk_copy phase 1 fails after the copy (the new altinst_rootvg is cleaned up)",
    ),
    ("phase2", "the next alt_disk_copy phase 2 fails"),
    ("phase3", "the next alt_disk_copy phase 3 fails"),
    ("cleanup", "the next alt_rootvg_op -X fails"),
    ("wake", "the next alt_rootvg_op -W fails"),
    ("sleep", "the next alt_rootvg_op -S fails"),
    ("lspv", "the next lspv fails"),
    ("bootlist", "the next bootlist that sets a list fails"),
];

#[derive(Parser, Debug)]
#[command(
    name = "aixsim",
    about = "Set up and steer the doppel AIX simulator (state under $DOPPEL_SIM_ROOT/aix)",
    version
)]
struct Cli {
    /// Act on the simulated machine $DOPPEL_SIM_ROOT/aix/hosts/<HOST> instead of the local one
    /// (default: $DOPPEL_SIM_AIX_HOST).
    #[arg(long, global = true)]
    host: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Start over with a new machine: hdisk0 in rootvg (booted) and free disks.
    Init(InitArgs),
    /// The machine state (JSON).
    Show,
    /// Disks.
    #[command(subcommand)]
    Disk(DiskCmd),
    /// Volume groups (e.g. a data volume group that makes a disk "in use").
    #[command(subcommand)]
    Vg(VgCmd),
    /// Volume group file trees.
    #[command(subcommand)]
    Tree(TreeCmd),
    /// Set a simulator setting.
    Set(SetArgs),
    /// Show a simulator setting.
    Get { name: String },
    /// Boot from the first disk of the normal bootlist (a booted clone becomes rootvg,
    /// the former rootvg old_rootvg).
    Reboot,
    /// Arm a fault (see `aixsim fail --help` for the kinds).
    Fail(FailArgs),
    /// The armed faults (JSON).
    Faults,
    /// Disarm faults (all, or one kind).
    Clear { kind: Option<String> },
    /// The simulated clock shared by all simulators.
    #[command(subcommand)]
    Clock(ClockCmd),
    /// Forget the machine (the next command starts with a new default machine).
    Reset,
}

#[derive(Args, Debug)]
struct InitArgs {
    /// Free disks besides hdisk0.
    #[arg(long, value_delimiter = ',', default_value = "hdisk1,hdisk2")]
    disks: Vec<String>,
    /// Size of every disk (30g, 512m, or megabytes).
    #[arg(long, default_value = "30g")]
    size: String,
    /// Space used in rootvg: what a clone needs.
    #[arg(long, default_value = "6g")]
    used: String,
    /// oslevel of the running system.
    #[arg(long, default_value = crate::machine::DEFAULT_LEVEL)]
    level: String,
    /// Do not write the sample files into the rootvg tree.
    #[arg(long)]
    empty: bool,
}

#[derive(Subcommand, Debug)]
enum DiskCmd {
    /// Add disks (free: volume group None).
    Add {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long, default_value = "30g")]
        size: String,
        /// lspv shows `none` as the PVID.
        #[arg(long)]
        no_pvid: bool,
        /// MPIO paths (bootlist -o prints one line per path).
        #[arg(long, default_value_t = 1)]
        paths: u32,
        /// alt_disk_copy refuses it unless -g.
        #[arg(long)]
        not_bootable: bool,
    },
    /// Change a disk.
    Set {
        name: String,
        #[arg(long)]
        size: Option<String>,
        #[arg(long)]
        paths: Option<u32>,
        #[arg(long)]
        bootable: Option<bool>,
        #[arg(long, conflicts_with = "no_pvid")]
        pvid: Option<String>,
        #[arg(long)]
        no_pvid: bool,
    },
    /// Remove a free disk.
    Remove { name: String },
}

#[derive(Subcommand, Debug)]
enum VgCmd {
    /// Create a volume group on free disks.
    Create {
        name: String,
        #[arg(long, value_delimiter = ',', required = true)]
        disks: Vec<String>,
        #[arg(long)]
        varied_off: bool,
    },
    /// Remove a volume group (its disks become free; its tree is deleted).
    Remove { name: String },
    /// Change a volume group.
    Set {
        name: String,
        /// Space used (rootvg: what a clone needs).
        #[arg(long)]
        used: Option<String>,
        #[arg(long)]
        level: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum TreeCmd {
    /// Print the directory holding a volume group's files (default rootvg).
    Path { vg: Option<String> },
    /// Write the sample files into a volume group's tree (default rootvg).
    Populate { vg: Option<String> },
}

#[derive(Args, Debug)]
struct SetArgs {
    /// copy-seconds: simulated duration of the phase 1 copy.
    name: String,
    value: String,
}

#[derive(Args, Debug)]
struct FailArgs {
    /// phase1, phase2, phase3, cleanup, wake, sleep, lspv, bootlist.
    kind: String,
    #[arg(long, conflicts_with = "always")]
    count: Option<u32>,
    #[arg(long)]
    always: bool,
    /// Only when the command touches one of these disks.
    #[arg(long, value_delimiter = ',')]
    disks: Vec<String>,
    /// Exit code instead of 1.
    #[arg(long)]
    rc: Option<i32>,
    /// Message instead of the default one.
    #[arg(long)]
    message: Option<String>,
}

#[derive(Subcommand, Debug)]
enum ClockCmd {
    /// Move the simulated clock forward by SECS seconds.
    Advance { secs: f64 },
    /// Set the offset from real time.
    Set { offset: f64 },
    /// Back to real time.
    Reset,
    /// The offset and the simulated time.
    Show,
}

pub fn main(argv: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once("aixsim".to_string()).chain(argv)) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            err(&format!("aixsim: {}\n", e.message));
            e.code
        }
    }
}

fn fail(msg: impl Into<String>) -> SimError {
    SimError::new(1, msg)
}

fn size(text: &str) -> SimResult<u64> {
    parse_size_mb(text).ok_or_else(|| {
        fail(format!(
            "invalid size {text:?} (use 30g, 512m or megabytes)"
        ))
    })
}

fn run(cli: Cli) -> SimResult<()> {
    let host = cli.host.or_else(|| {
        std::env::var(crate::machine::HOST_ENV)
            .ok()
            .filter(|h| !h.is_empty())
    });
    let dir = MachineDir::for_host(host.as_deref())?;
    match cli.cmd {
        Cmd::Init(a) => {
            let mut m = Machine::new_default();
            let sz = size(&a.size)?;
            m.disks.retain(|d| d.name == "hdisk0");
            m.disks[0].size_mb = sz;
            for d in &a.disks {
                if d == "hdisk0" || m.disk(d).is_some() {
                    return Err(fail(format!(
                        "disk {d} listed twice (hdisk0 is the rootvg disk)"
                    )));
                }
                m.disks.push(Disk {
                    name: d.clone(),
                    pvid: Some(pvid_for(d)),
                    size_mb: sz,
                    paths: 1,
                    bootable: true,
                });
            }
            let root = m.vg_mut(ROOTVG).expect("default rootvg");
            root.used_mb = size(&a.used)?;
            root.level = a.level;
            dir.reset(Some(&m))?;
            if !a.empty {
                populate_sample(&dir.tree(ROOTVG))?;
            }
            out(&format!("{}\n", dir.path().display()));
        }
        Cmd::Show => out(&to_json(&dir.load()?)),
        Cmd::Disk(c) => dir.with(|m| disk(m, c))?,
        Cmd::Vg(c) => dir.with(|m| vg(m, &dir, c))?,
        Cmd::Tree(TreeCmd::Path { vg }) => {
            let vg = vg.unwrap_or_else(|| ROOTVG.into());
            let m = dir.load()?;
            if m.vg(&vg).is_none() {
                return Err(fail(format!("no volume group {vg}")));
            }
            out(&format!("{}\n", dir.tree(&vg).display()));
        }
        Cmd::Tree(TreeCmd::Populate { vg }) => {
            let vg = vg.unwrap_or_else(|| ROOTVG.into());
            let m = dir.load()?;
            if m.vg(&vg).is_none() {
                return Err(fail(format!("no volume group {vg}")));
            }
            populate_sample(&dir.tree(&vg))?;
        }
        Cmd::Set(a) => match a.name.as_str() {
            "copy-seconds" => {
                let v: f64 = a
                    .value
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| fail("copy-seconds: expected a number of seconds >= 0"))?;
                dir.with(|m| {
                    m.settings.copy_seconds = v;
                    Ok(())
                })?;
            }
            other => {
                return Err(fail(format!(
                    "unknown setting {other} (settings: copy-seconds)"
                )));
            }
        },
        Cmd::Get { name } => match name.as_str() {
            "copy-seconds" => out(&format!("{}\n", dir.load()?.settings.copy_seconds)),
            other => {
                return Err(fail(format!(
                    "unknown setting {other} (settings: copy-seconds)"
                )));
            }
        },
        Cmd::Reboot => {
            let what = dir.with(|m| m.reboot(&dir))?;
            out(&format!("{what}\n"));
        }
        Cmd::Fail(a) => {
            if !FAULT_KINDS.iter().any(|(k, _)| *k == a.kind) {
                let kinds: Vec<String> = FAULT_KINDS
                    .iter()
                    .map(|(k, d)| format!("  {k}: {d}"))
                    .collect();
                return Err(fail(format!(
                    "unknown fault kind {}; kinds:\n{}",
                    a.kind,
                    kinds.join("\n")
                )));
            }
            let fault = Fault {
                kind: a.kind,
                remaining: if a.always {
                    None
                } else {
                    Some(a.count.unwrap_or(1))
                },
                on: Vec::new(),
                objects: a.disks,
                rc: a.rc,
                message: a.message,
            };
            dir.with(|m| {
                m.faults.add(fault);
                Ok(())
            })?;
        }
        Cmd::Faults => out(&to_json(&dir.load()?.faults)),
        Cmd::Clear { kind } => {
            let n = dir.with(|m| Ok(m.faults.clear(kind.as_deref())))?;
            out(&format!("{n} fault(s) cleared\n"));
        }
        Cmd::Clock(c) => match c {
            ClockCmd::Advance { secs } => clock::set_offset(clock::offset() + secs)?,
            ClockCmd::Set { offset } => clock::set_offset(offset)?,
            ClockCmd::Reset => clock::set_offset(0.0)?,
            ClockCmd::Show => {
                let now = clock::now();
                out(&format!(
                    "offset {}s, now {}\n",
                    clock::offset(),
                    clock::format_local(now, "%Y-%m-%d %H:%M:%S")
                ));
            }
        },
        Cmd::Reset => dir.reset(None)?,
    }
    Ok(())
}

fn disk(m: &mut Machine, c: DiskCmd) -> SimResult<()> {
    match c {
        DiskCmd::Add {
            names,
            size: s,
            no_pvid,
            paths,
            not_bootable,
        } => {
            let sz = size(&s)?;
            for n in names {
                if m.disk(&n).is_some() {
                    return Err(fail(format!("disk {n} already exists")));
                }
                if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(fail(format!("invalid disk name {n:?}")));
                }
                let pvid = if no_pvid { None } else { Some(pvid_for(&n)) };
                m.disks.push(Disk {
                    name: n,
                    pvid,
                    size_mb: sz,
                    paths: paths.max(1),
                    bootable: !not_bootable,
                });
            }
            m.disks.sort_by_key(|d| natural_key(&d.name));
        }
        DiskCmd::Set {
            name,
            size: s,
            paths,
            bootable,
            pvid,
            no_pvid,
        } => {
            let sz = s.as_deref().map(size).transpose()?;
            let d = m
                .disk_mut(&name)
                .ok_or_else(|| fail(format!("no disk {name}")))?;
            if let Some(sz) = sz {
                d.size_mb = sz;
            }
            if let Some(p) = paths {
                d.paths = p.max(1);
            }
            if let Some(b) = bootable {
                d.bootable = b;
            }
            if let Some(p) = pvid {
                d.pvid = Some(p);
            }
            if no_pvid {
                d.pvid = None;
            }
        }
        DiskCmd::Remove { name } => {
            if m.disk(&name).is_none() {
                return Err(fail(format!("no disk {name}")));
            }
            if let Some(vg) = m.vg_of(&name) {
                return Err(fail(format!(
                    "{name} belongs to {}: remove the volume group first",
                    vg.name
                )));
            }
            m.disks.retain(|d| d.name != name);
            m.normal.retain(|e| e.device != name);
            m.service.retain(|e| e.device != name);
        }
    }
    Ok(())
}

fn vg(m: &mut Machine, dir: &MachineDir, c: VgCmd) -> SimResult<()> {
    match c {
        VgCmd::Create {
            name,
            disks,
            varied_off,
        } => {
            if m.vg(&name).is_some() {
                return Err(fail(format!("volume group {name} already exists")));
            }
            for d in &disks {
                if m.disk(d).is_none() {
                    return Err(fail(format!("no disk {d}")));
                }
                if let Some(v) = m.vg_of(d) {
                    return Err(fail(format!("{d} already belongs to {}", v.name)));
                }
            }
            std::fs::create_dir_all(dir.tree(&name))
                .map_err(|e| fail(format!("cannot create the tree of {name}: {e}")))?;
            m.vgs.push(VolumeGroup {
                name,
                disks,
                varied_on: !varied_off,
                used_mb: 0,
                level: String::new(),
                alt: None,
            });
        }
        VgCmd::Remove { name } => {
            if name == ROOTVG {
                return Err(fail("rootvg cannot be removed"));
            }
            m.remove_vg(&name, dir)?;
        }
        VgCmd::Set { name, used, level } => {
            let used = used.as_deref().map(size).transpose()?;
            let v = m
                .vg_mut(&name)
                .ok_or_else(|| fail(format!("no volume group {name}")))?;
            if let Some(u) = used {
                v.used_mb = u;
            }
            if let Some(l) = level {
                v.level = l;
            }
        }
    }
    Ok(())
}
