//! `drd <mode> [-?] [-p] [-q] [-v] [-x option=value]... [-x -?] [-X option_file] [-t target]`.
//!
//! Modes simulated: clone, sync, status, activate, deactivate, mount, umount.
//! Every mode prints its BEGIN/END banners and steps on stderr, filtered by
//! verbosity, and exits 0 (success), 1 (error) or 2 (success with warnings).

use std::collections::BTreeMap;

use doppel_sim::common::faults::{Fault, FaultSet};
use doppel_sim::common::{LockError, SimError, clock, err, read_json, write_json_atomic};

use crate::model::{
    CloneInfo, Dirs, FILES_TO_BE_COPIED, FILTERED_TARGET_CHANGED, Image, ManifestEntry, SYNC_DIR,
    System,
};
use crate::output::{Console, DEFAULT_VERBOSITY, drd_date};
use crate::sync::{self, Exclude};
use crate::tree;

/// The modes of the real tool; the last three are not simulated.
const MODES: &[&str] = &[
    "clone",
    "sync",
    "status",
    "activate",
    "deactivate",
    "mount",
    "umount",
    "runcmd",
    "rehost",
    "unrehost",
];

/// The operation name printed in a mode's banners.
pub fn operation(mode: &str) -> &'static str {
    match mode {
        "clone" => "Clone System Image",
        "sync" => "Synchronize Inactive System Image",
        "status" => "Displaying DRD Clone Image Information",
        "activate" => "Activate Inactive System Image",
        "deactivate" => "Deactivate Inactive System Image",
        "mount" => "Mount Inactive System Image",
        "umount" => "Unmount Inactive System Image",
        _ => "DRD Operation",
    }
}

/// The `-x` options a mode accepts, with their defaults.
fn x_options(mode: &str) -> &'static [(&'static str, &'static str)] {
    match mode {
        "clone" => &[
            ("verbosity", "3"),
            ("overwrite", "false"),
            ("mirror_disk", ""),
        ],
        "sync" => &[("verbosity", "3"), ("exclude_list", "")],
        "activate" => &[("verbosity", "3"), ("reboot", "false")],
        _ => &[("verbosity", "3")],
    }
}

/// Modes accepting `-p`.
fn previewable(mode: &str) -> bool {
    matches!(mode, "clone" | "sync" | "activate")
}

fn usage(mode: Option<&str>) -> String {
    let common = "[-?] [-q] [-v] [-x option=value] [-x -?] [-X option_file]";
    match mode {
        Some("clone") => format!("Usage: drd clone [-p] {common} -t target_device_file\n"),
        Some(m) if previewable(m) => format!("Usage: drd {m} [-p] {common}\n"),
        Some(m) if MODES.contains(&m) => format!("Usage: drd {m} {common}\n"),
        _ => format!(
            "Usage: drd <mode> {common} ...\n  modes: {}\n  drd <mode> -? shows the options of a mode\n",
            MODES.join(" ")
        ),
    }
}

/// A parsed command line.
#[derive(Debug, Default, PartialEq)]
pub struct Invocation {
    pub mode: String,
    pub preview: bool,
    pub help: bool,
    pub x_help: bool,
    pub steps: i32,
    pub x: BTreeMap<String, String>,
    pub target: Option<String>,
}

impl Invocation {
    pub fn verbosity(&self) -> i32 {
        let base = self
            .x
            .get("verbosity")
            .and_then(|v| v.parse::<i32>().ok())
            .unwrap_or(DEFAULT_VERBOSITY);
        (base + self.steps).clamp(0, 5)
    }

    fn flag(&self, name: &str) -> bool {
        self.x
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn opt(&self, name: &str) -> Option<&str> {
        self.x
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

fn set_x(inv: &mut Invocation, text: &str) -> Result<(), String> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(format!(
            "The option \"{text}\" must be given as option=value."
        ));
    };
    let key = key.trim();
    let value = value.trim();
    let Some((_, _)) = x_options(&inv.mode).iter().find(|(k, _)| *k == key) else {
        return Err(format!(
            "The option \"{key}\" is not valid for the \"{}\" mode (drd {} -x -? lists them).",
            inv.mode, inv.mode
        ));
    };
    let ok = match key {
        "verbosity" => value.parse::<i32>().is_ok_and(|v| (0..=5).contains(&v)),
        "overwrite" | "reboot" => matches!(value.to_ascii_lowercase().as_str(), "true" | "false"),
        _ => !value.is_empty(),
    };
    if !ok {
        return Err(format!(
            "The value \"{value}\" is not valid for the option \"{key}\"."
        ));
    }
    inv.x.insert(key.to_owned(), value.to_owned());
    Ok(())
}

/// Parses the command line (options in any order after the mode).
pub fn parse(args: &[String]) -> Result<Invocation, String> {
    let mut inv = Invocation::default();
    let Some(mode) = args.first() else {
        return Err("A mode must be given.".into());
    };
    if mode == "-?" || mode == "-h" || mode == "--help" {
        inv.help = true;
        return Ok(inv);
    }
    if !MODES.contains(&mode.as_str()) {
        return Err(format!("\"{mode}\" is not a valid mode."));
    }
    inv.mode = mode.clone();
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        let value = |i: &mut usize| -> Result<String, String> {
            *i += 1;
            args.get(*i)
                .cloned()
                .ok_or_else(|| format!("The option \"{a}\" needs a value."))
        };
        match a {
            "-?" => inv.help = true,
            "-x" => {
                let v = value(&mut i)?;
                if v == "-?" {
                    inv.x_help = true;
                } else {
                    set_x(&mut inv, &v)?;
                }
            }
            "-X" => {
                let file = value(&mut i)?;
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| format!("The option file \"{file}\" cannot be read: {e}."))?;
                for line in text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                {
                    set_x(&mut inv, line)?;
                }
            }
            "-t" if inv.mode == "clone" => inv.target = Some(value(&mut i)?),
            _ if a.starts_with("-x") && a.len() > 2 => set_x(&mut inv, &a[2..])?,
            _ if a.starts_with("-t") && a.len() > 2 && inv.mode == "clone" => {
                inv.target = Some(a[2..].to_owned())
            }
            _ if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| "pqv".contains(c)) => {
                for c in a[1..].chars() {
                    match c {
                        'p' if previewable(&inv.mode) => inv.preview = true,
                        'p' => {
                            return Err(format!(
                                "The -p option is not valid for the \"{}\" mode.",
                                inv.mode
                            ));
                        }
                        'q' => inv.steps -= 1,
                        _ => inv.steps += 1,
                    }
                }
            }
            _ => {
                return Err(format!(
                    "The argument \"{a}\" is not valid for the \"{}\" mode.",
                    inv.mode
                ));
            }
        }
        i += 1;
    }
    Ok(inv)
}

/// The `drd` entry point: returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let inv = match parse(&args) {
        Ok(inv) => inv,
        Err(message) => {
            let mode = args
                .first()
                .map(String::as_str)
                .filter(|m| MODES.contains(m));
            err(&format!("ERROR:   {message}\n{}", usage(mode)));
            return 1;
        }
    };
    if inv.help {
        err(&usage(Some(inv.mode.as_str()).filter(|m| !m.is_empty())));
        return 0;
    }
    if inv.x_help {
        let mut text = format!("Options of drd {} (-x option=value):\n", inv.mode);
        for (k, d) in x_options(&inv.mode) {
            text.push_str(&format!(
                "  {k:<14} default: {}\n",
                if d.is_empty() { "none" } else { d }
            ));
        }
        err(&text);
        return 0;
    }
    if matches!(inv.mode.as_str(), "runcmd" | "rehost" | "unrehost") {
        err(&format!(
            "ERROR:   drd {} is not simulated by doppel's DRD simulator.\n",
            inv.mode
        ));
        return 1;
    }
    match run(&inv) {
        Ok(code) => code,
        Err(e) => {
            err(&format!("ERROR:   {}\n", e.message));
            e.code
        }
    }
}

/// State shared by a mode's implementation.
struct Ctx<'a> {
    dirs: &'a Dirs,
    sys: System,
    inv: &'a Invocation,
    con: Console,
}

fn run(inv: &Invocation) -> Result<i32, SimError> {
    let dirs = Dirs::open()?;
    let _lock = dirs.state.lock().map_err(|e| match e {
        LockError::Timeout(_) => SimError::new(
            1,
            "Another DRD command is running on this system; try again later.",
        ),
        LockError::Io(e) => SimError::new(1, format!("cannot lock the DRD simulator state: {e}")),
    })?;
    let mut sys = dirs.load_system()?;
    sys.jobs += 1;
    dirs.save_system(&sys)?;
    let jobid = format!("{}-{:02}", sys.hostname, sys.jobs);
    let con = Console::new(inv.verbosity(), jobid, Some(dirs.log_file()));

    // Faults: `<mode>` fails the mode, `truncate` loses the END banner, `rc` changes the exit code.
    let (mut faults, raw) = read_json::<FaultSet>(&dirs.faults_file())?;
    let ops = [
        inv.mode.as_str(),
        if inv.preview { "preview" } else { "run" },
    ];
    let applies = |f: &Fault| f.applies_to(&ops, &["any"]);
    let mode_fault = faults.take(&inv.mode, applies);
    let truncate = faults.take("truncate", applies);
    let rc_fault = faults.take("rc", applies);
    if raw.is_some() && (mode_fault.is_some() || truncate.is_some() || rc_fault.is_some()) {
        write_json_atomic(&dirs.faults_file(), &faults)?;
    }

    let op = operation(&inv.mode);
    let mut ctx = Ctx {
        dirs: &dirs,
        sys,
        inv,
        con,
    };
    ctx.con.begin(op);
    let result = match &mode_fault {
        Some(f) => {
            ctx.con.info("Reading Current System Information");
            Err(f.message.clone().unwrap_or_else(|| {
                format!("{op} fails: simulated failure (drdsim fail {}).", inv.mode)
            }))
        }
        None => match inv.mode.as_str() {
            "clone" => clone(&mut ctx),
            "sync" => sync_mode(&mut ctx),
            "status" => status(&mut ctx),
            "activate" => activate(&mut ctx),
            "deactivate" => deactivate(&mut ctx),
            "mount" => mount(&mut ctx),
            "umount" => umount(&mut ctx),
            other => Err(format!("drd {other} is not simulated.")),
        },
    };
    if result.is_ok() {
        dirs.save_system(&ctx.sys)?;
    }
    let mut con = ctx.con;
    if truncate.is_some() {
        con.muted = true;
    }
    let mut code = match result {
        Ok(()) => {
            con.end(op, true);
            if con.warnings > 0 { 2 } else { 0 }
        }
        Err(message) => {
            con.error(&message);
            con.end(op, false);
            1
        }
    };
    if let Some(f) = mode_fault {
        code = f.rc.unwrap_or(1);
    }
    if let Some(f) = truncate {
        code = f.rc.unwrap_or(0);
    }
    if let Some(f) = rc_fault {
        code = f.rc.unwrap_or(1);
    }
    Ok(code)
}

fn sleep_part(total: f64, fraction: f64) {
    clock::sleep(total * fraction);
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what} fails: {e}.")
}

/// Checks that `dev` can be the target (or mirror) of a new clone.
fn check_target(sys: &System, dev: &str, overwrite: bool) -> Result<(), String> {
    let Some(disk) = sys.disks.get(dev) else {
        return Err(format!(
            "The disk \"{dev}\" cannot be found: it is not a disk of this system."
        ));
    };
    if Some(dev) == sys.disk_of(sys.booted) {
        return Err(format!(
            "The disk \"{dev}\" holds the booted system image (volume group \"{}\") and cannot be the target of a clone.",
            sys.root_vg
        ));
    }
    if let Some(vg) = &disk.vg {
        return Err(format!(
            "The disk \"{dev}\" is in use by the active volume group \"{vg}\" and cannot be the target of a clone."
        ));
    }
    if disk.data && !overwrite {
        return Err(format!(
            "The disk \"{dev}\" contains LVM, VxVM or file system data.\nUse \"-x overwrite=true\" to overwrite it."
        ));
    }
    Ok(())
}

/// Removes the mount points of the inactive image.
fn unmount(dirs: &Dirs) {
    for name in ["sysimage_000", "sysimage_001"] {
        let _ = std::fs::remove_file(dirs.mount_point(name));
    }
}

fn clone(ctx: &mut Ctx) -> Result<(), String> {
    let inv = ctx.inv;
    ctx.con.info("Reading Current System Information");
    ctx.con.info("Selecting System Image To Clone");
    ctx.con.info("Selecting Target Disk");
    let Some(target) = inv.target.clone() else {
        return Err("The target disk must be given with \"-t target_device_file\".".into());
    };
    let overwrite = inv.flag("overwrite");
    check_target(&ctx.sys, &target, overwrite)?;
    let mirror = inv.opt("mirror_disk").map(str::to_owned);
    if let Some(m) = &mirror {
        if *m == target {
            return Err(format!(
                "The mirror disk \"{m}\" must differ from the target disk."
            ));
        }
        check_target(&ctx.sys, m, overwrite)?;
    }
    ctx.con.verbose(&format!(
        "Target disk: {target} ({})",
        ctx.sys.hw_path(&target)
    ));
    ctx.con
        .info("Selecting Volume Manager For New System Image");
    ctx.con.info("Analyzing For System Image Cloning");
    if inv.preview {
        ctx.con.note(&format!(
            "Preview only: \"{target}\" can be the target of a clone; no clone was created."
        ));
        return Ok(());
    }
    let dirs = ctx.dirs;
    if ctx.sys.mounted {
        ctx.con
            .note("The inactive system image was mounted; it is unmounted first.");
        unmount(dirs);
        ctx.sys.mounted = false;
    }
    // Booted from the clone: the booted image becomes the original.
    if ctx.sys.booted == Image::Clone {
        let old = ctx
            .sys
            .clone
            .clone()
            .expect("booted from a clone that exists");
        let tmp = dirs.base().join(".swap");
        let swap = || -> std::io::Result<()> {
            std::fs::rename(dirs.original(), &tmp)?;
            std::fs::rename(dirs.clone_tree(), dirs.original())?;
            std::fs::rename(&tmp, dirs.clone_tree())
        };
        swap().map_err(io_err("Selecting the booted system image"))?;
        let previous_original = std::mem::replace(&mut ctx.sys.original_disk, old.disk.clone());
        ctx.sys.original_efi = old.efi.clone();
        if let Some(c) = ctx.sys.clone.as_mut() {
            c.disk = previous_original;
        }
        ctx.sys.booted = Image::Original;
        ctx.sys.activated = ctx.sys.activated.other();
    }
    let previous_clone_disk = ctx.sys.clone.as_ref().map(|c| c.disk.clone());
    let total = ctx.sys.clone_seconds;
    ctx.con.info("Creating New File Systems");
    sleep_part(total, 0.1);
    ctx.con.info("Copying File Systems To New System Image");
    let entries = tree::copy_tree(&dirs.original(), &dirs.clone_tree())
        .map_err(io_err("Copying File Systems To New System Image"))?;
    ctx.con
        .verbose(&format!("{} files and directories copied", entries.len()));
    sleep_part(total, 0.7);
    let manifest = entries
        .iter()
        .map(|(abs, m)| {
            (
                abs.clone(),
                ManifestEntry {
                    kind: m.kind,
                    size: m.size,
                    mtime: m.mtime,
                },
            )
        })
        .collect();
    dirs.save_manifest(&manifest).map_err(|e| e.message)?;
    ctx.con.info("Making New System Image Bootable");
    sleep_part(total, 0.1);
    ctx.con.info("Unmounting New System Image Clone");
    sleep_part(total, 0.1);
    ctx.con.info(&format!(
        "System image: \"sysimage_001\" on disk \"{target}\""
    ));
    for dev in std::iter::once(&target).chain(mirror.iter()) {
        if let Some(d) = ctx.sys.disks.get_mut(dev) {
            d.data = true;
        }
    }
    if previous_clone_disk.as_deref() != Some(target.as_str()) && ctx.sys.activated == Image::Clone
    {
        ctx.sys.activated = ctx.sys.booted;
    }
    ctx.sys.clone = Some(CloneInfo {
        disk: target,
        mirror_disk: mirror,
        created: clock::now(),
        last_sync: None,
        efi: ctx.sys.clone_efi.clone(),
    });
    Ok(())
}

fn sync_mode(ctx: &mut Ctx) -> Result<(), String> {
    let inv = ctx.inv;
    let dirs = ctx.dirs;
    ctx.con.info("Reading Current System Information");
    if ctx.sys.booted == Image::Clone {
        return Err("The system is booted from the clone image.\ndrd sync only copies changes from the booted original system to the inactive clone.".into());
    }
    ctx.con.info("Locating Inactive System Image");
    if ctx.sys.clone.is_none() || !dirs.clone_tree().is_dir() {
        return Err(
            "There is no inactive system image to synchronize: create one with \"drd clone\"."
                .into(),
        );
    }
    let exclude = match inv.opt("exclude_list") {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("The exclude list \"{file}\" cannot be read: {e}."))?;
            let ex = Exclude::parse(&text);
            ctx.con
                .verbose(&format!("Exclude list {file}: {} entries", ex.len()));
            ex
        }
        None => Exclude::default(),
    };
    let mounted = ctx.sys.mounted;
    if !mounted {
        ctx.con.info("Mounting Inactive System Image");
    }
    ctx.con.info("Determining File Systems To Be Synchronized");
    ctx.con.info("Determining Files To Be Synchronized");
    let manifest = dirs.load_manifest().map_err(|e| e.message)?;
    let ipd = dirs.load_ipd().map_err(|e| e.message)?;
    let plan = sync::plan(
        &dirs.original(),
        &dirs.clone_tree(),
        &manifest,
        &ipd,
        &exclude,
        &ctx.sys.clone_group(),
    )
    .map_err(io_err("Determining Files To Be Synchronized"))?;
    ctx.con.verbose(&format!(
        "{} files in the booted root volume group, {} excluded by the exclude list, {} unchanged",
        plan.considered + plan.excluded,
        plan.excluded,
        plan.unchanged
    ));
    ctx.con
        .info("Trimming The List Of Files To Be Synchronized");
    for (name, paths) in &plan.filtered {
        ctx.con.verbose(&format!(
            "{} files filtered out, listed in {SYNC_DIR}/{name}",
            paths.len()
        ));
    }
    sync::write_lists(&dirs.sync_dir(), &plan)
        .map_err(io_err("Writing the synchronization lists"))?;
    let n = plan.copy.len();
    ctx.con.info(&format!(
        "{n} files to be copied are listed in {SYNC_DIR}/{FILES_TO_BE_COPIED}"
    ));
    let changed = plan.list(FILTERED_TARGET_CHANGED).len();
    if changed > 0 {
        ctx.con.warning(&format!(
            "{changed} files changed on the inactive image since drd last wrote them are not synchronized.\nThey are listed in {SYNC_DIR}/{FILTERED_TARGET_CHANGED}."
        ));
    }
    if inv.preview {
        ctx.con
            .note("Preview only: no file was copied to the inactive system image.");
    } else {
        ctx.con.info("Copying Files To Inactive System Image");
        let original = dirs.original();
        let clone = dirs.clone_tree();
        let mut copier = tree::Copier::new(&original, &clone);
        let mut manifest = manifest;
        for (abs, meta) in &plan.copy {
            ctx.con.detail(&format!("Copying {abs}"));
            copier.copy(abs, meta).map_err(|e| {
                format!("Copying \"{abs}\" to the inactive system image fails: {e}.")
            })?;
            manifest.insert(
                abs.clone(),
                ManifestEntry {
                    kind: meta.kind,
                    size: meta.size,
                    mtime: meta.mtime,
                },
            );
        }
        copier
            .finish()
            .map_err(io_err("Copying Files To Inactive System Image"))?;
        dirs.save_manifest(&manifest).map_err(|e| e.message)?;
        sleep_part(ctx.sys.sync_seconds, 1.0);
        ctx.con.verbose(&format!("{n} files copied"));
        if let Some(c) = ctx.sys.clone.as_mut() {
            c.last_sync = Some(clock::now());
        }
    }
    if !mounted {
        ctx.con.info("Unmounting Inactive System Image");
    }
    Ok(())
}

fn status(ctx: &mut Ctx) -> Result<(), String> {
    let sys = &ctx.sys;
    let none = || "None".to_owned();
    let disk_label = |image: Image| match sys.disk_of(image) {
        Some(d) => format!("{} ({d})", image.label()),
        None => none(),
    };
    let clone = sys.clone.as_ref();
    let fields = [
        ("Original Disk", sys.original_disk.clone()),
        ("Original EFI Partition", sys.original_efi.clone()),
        (
            "Clone Disk",
            clone.map(|c| c.disk.clone()).unwrap_or_else(none),
        ),
        (
            "Clone EFI Partition",
            clone.map(|c| c.efi.clone()).unwrap_or_else(none),
        ),
        (
            "Clone Creation Date",
            clone.map(|c| drd_date(c.created)).unwrap_or_else(none),
        ),
        (
            "Last Sync Date",
            clone
                .and_then(|c| c.last_sync)
                .map(drd_date)
                .unwrap_or_else(none),
        ),
        (
            "Clone Mirror Disk",
            clone
                .and_then(|c| c.mirror_disk.clone())
                .unwrap_or_else(none),
        ),
        (
            "Mirror EFI Partition",
            clone
                .and_then(|c| c.mirror_disk.as_ref().map(|_| c.efi.clone()))
                .unwrap_or_else(none),
        ),
        ("Booted Disk", disk_label(sys.booted)),
        ("Activated Disk", disk_label(sys.activated)),
    ];
    for (label, value) in fields {
        ctx.con.field(label, &value);
    }
    Ok(())
}

fn bootpaths(ctx: &mut Ctx, primary_after: Image, verb: &str) {
    let sys = &ctx.sys;
    let path = |image: Image| match sys.disk_of(image) {
        Some(d) => format!("{} [{d}]", sys.hw_path(d)),
        None => "<none> []".to_owned(),
    };
    let lines = [
        format!("Primary bootpath : {} before {verb}.", path(sys.activated)),
        format!("Primary bootpath : {} after {verb}.", path(primary_after)),
        format!(
            "Alternate bootpath : {} before {verb}.",
            path(sys.activated.other())
        ),
        format!(
            "Alternate bootpath : {} after {verb}.",
            path(primary_after.other())
        ),
        format!("HA Alternate bootpath : <none> [] before {verb}."),
        format!("HA Alternate bootpath : <none> [] after {verb}."),
    ];
    for l in lines {
        ctx.con.info(&l);
    }
}

fn require_clone(ctx: &mut Ctx) -> Result<(), String> {
    ctx.con.info("Checking for Valid Inactive System Image");
    if ctx.sys.clone.is_none() {
        return Err(
            "There is no valid inactive system image: create one with \"drd clone\".".into(),
        );
    }
    Ok(())
}

fn activate(ctx: &mut Ctx) -> Result<(), String> {
    require_clone(ctx)?;
    ctx.con.info("Reading Current System Information");
    ctx.con.info("Locating Inactive System Image");
    ctx.con.info("Determining Bootpath Status");
    let target = ctx.sys.inactive();
    bootpaths(ctx, target, "activate");
    if ctx.inv.preview {
        ctx.con
            .note("Preview only: the bootpaths were not changed.");
        return Ok(());
    }
    ctx.con.info("Activating Inactive System Image");
    ctx.sys.activated = target;
    if ctx.inv.flag("reboot") {
        ctx.con.info("Rebooting System");
        unmount(ctx.dirs);
        let activated = ctx.sys.activated;
        ctx.sys.boot(activated);
    }
    Ok(())
}

fn deactivate(ctx: &mut Ctx) -> Result<(), String> {
    require_clone(ctx)?;
    ctx.con.info("Reading Current System Information");
    ctx.con.info("Determining Bootpath Status");
    let booted = ctx.sys.booted;
    bootpaths(ctx, booted, "deactivate");
    if ctx.sys.activated == booted {
        ctx.con
            .note("The booted system image is already the primary boot image.");
    }
    ctx.con.info("Deactivating Inactive System Image");
    ctx.sys.activated = booted;
    Ok(())
}

fn mount_name(sys: &System) -> &'static str {
    if sys.inactive() == Image::Clone {
        "sysimage_001"
    } else {
        "sysimage_000"
    }
}

fn mount(ctx: &mut Ctx) -> Result<(), String> {
    require_clone(ctx)?;
    ctx.con.info("Locating Inactive System Image");
    let name = mount_name(&ctx.sys);
    let point = format!("/var/opt/drd/mnts/{name}");
    if ctx.sys.mounted {
        ctx.con.note(&format!(
            "The inactive system image is already mounted at {point}."
        ));
        return Ok(());
    }
    ctx.con.info("Mounting Inactive System Image");
    let link = ctx.dirs.mount_point(name);
    let target = ctx.dirs.image(ctx.sys.inactive());
    let make = || -> std::io::Result<()> {
        if let Some(dir) = link.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link)
    };
    make().map_err(io_err("Mounting Inactive System Image"))?;
    ctx.con
        .verbose(&format!("System image \"{name}\" mounted at {point}"));
    ctx.sys.mounted = true;
    Ok(())
}

fn umount(ctx: &mut Ctx) -> Result<(), String> {
    require_clone(ctx)?;
    if !ctx.sys.mounted {
        ctx.con.note("The inactive system image is not mounted.");
        return Ok(());
    }
    ctx.con.info("Locating Inactive System Image");
    ctx.con.info("Unmounting Inactive System Image");
    unmount(ctx.dirs);
    ctx.sys.mounted = false;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_options_in_any_order() {
        let inv = parse(&args(
            "clone -x overwrite=true -t /dev/disk/disk2 -v -xverbosity=2",
        ))
        .unwrap();
        assert_eq!(inv.target.as_deref(), Some("/dev/disk/disk2"));
        assert!(inv.flag("overwrite"));
        assert_eq!(inv.verbosity(), 3);
        let inv = parse(&args("sync -p -qq -x exclude_list=/etc/x")).unwrap();
        assert!(inv.preview);
        assert_eq!(inv.verbosity(), 1);
        assert_eq!(inv.opt("exclude_list"), Some("/etc/x"));
        assert!(parse(&args("status -p")).is_err());
        assert!(parse(&args("sync -x overwrite=true")).is_err());
        assert!(parse(&args("clone -x overwrite=maybe")).is_err());
        assert!(parse(&args("sync -x verbosity=9")).is_err());
        assert!(parse(&args("frobnicate")).is_err());
        assert!(parse(&args("sync extra")).is_err());
        assert!(parse(&args("activate -x reboot=false")).is_ok());
        assert!(parse(&args("status -x -?")).unwrap().x_help);
    }
}
