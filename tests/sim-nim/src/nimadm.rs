//! The `nimadm` command: migration (all 12 phases, or one with `-P`), cleanup
//! (`-C`), wake-up (`-W`), sleep (`-S`) and SPOT sync (`-M`).
//!
//! Output goes to stdout and, from "Initializing log" on, to the client's log
//! under the simulated `/var/adm/ras/alt_mig/`, line by line as the phases run,
//! so a caller can follow a migration by reading the log. Errors go to stderr
//! (and to the log).

use std::fs::{File, OpenOptions};
use std::io::Write as _;

use doppel_sim::common::{SimError, SimResult, clock, err, out};

use crate::args::{Opts, split_disks, usage_error};
use crate::model::{
    AltDisk, AltState, ClientLock, Db, RunRecord, aix_log_path, lock_client, log_dir, log_path,
    read_db, release_of, version_of, with_db,
};

/// The line around each phase banner.
pub const RULE: &str =
    "+-----------------------------------------------------------------------------+";

/// Short names of the 12 phases (vendor-tools.md §4.2).
pub const PHASES: [&str; 12] = [
    "alt_disk_install phase 1: clone rootvg to altinst_rootvg",
    "export the /alt_inst file systems to the master",
    "mount the client file systems on the master",
    "pre-migration script",
    "save configuration, restore bos, merge the device database",
    "migrate the filesets with installp",
    "post-migration script",
    "bosboot: write the client boot image",
    "remove the master's mounts",
    "remove the client exports",
    "alt_disk_install phase 3: put altinst_rootvg to sleep, set the bootlist",
    "cleanup",
];

/// Entry point of the `nimadm` binary.
pub fn main(args: Vec<String>) -> i32 {
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            let mut text = e.message;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            err(&text);
            e.code
        }
    }
}

fn run(args: &[String]) -> SimResult<i32> {
    let o = Opts::parse(args)?;
    if o.has('T') || o.has('O') || o.has('N') {
        return Err(SimError::new(
            1,
            "nimadm: the mksysb forms (-T, -O, -N) are not simulated by doppel's nimadm simulator.",
        ));
    }
    let modes: Vec<char> = ['C', 'W', 'S', 'M']
        .into_iter()
        .filter(|c| o.flag(*c))
        .collect();
    if modes.len() > 1 {
        return Err(usage_error(
            "The -C, -W, -S and -M flags cannot be used together.",
        ));
    }
    match modes.first() {
        Some('C') => cleanup(&o),
        Some('W') => wake(&o),
        Some('S') => sleep(&o),
        Some('M') => sync_spot(&o),
        _ => migrate(&o),
    }
}

/// Where the lines go: stdout, and the client's log once it is open.
struct Console {
    log: Option<File>,
}

impl Console {
    fn new() -> Console {
        Console { log: None }
    }

    fn line(&mut self, text: &str) {
        out(&format!("{text}\n"));
        self.write_log(text);
    }

    fn error(&mut self, text: &str) {
        err(&format!("{text}\n"));
        self.write_log(text);
    }

    fn write_log(&mut self, text: &str) {
        if let Some(f) = self.log.as_mut() {
            let _ = writeln!(f, "{text}");
            let _ = f.flush();
        }
    }

    /// Opens the client's log: a new file (new inode) when `fresh`, else appended.
    fn open_log(&mut self, client: &str, fresh: bool) -> SimResult<()> {
        let dir = log_dir()?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| SimError::new(1, format!("cannot create {}: {e}", dir.display())))?;
        let path = log_path(client)?;
        if fresh {
            let _ = std::fs::remove_file(&path);
        }
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| {
                SimError::new(
                    1,
                    format!("nimadm: cannot open log {}: {e}", aix_log_path(client)),
                )
            })?;
        self.log = Some(f);
        Ok(())
    }

    fn banner(&mut self, phase: u8) {
        self.line("");
        self.line(RULE);
        self.line(&format!("Executing nimadm phase {phase}."));
        self.line(RULE);
    }
}

/// Takes the client's lock, or explains who holds it (`-F` goes on without it).
fn take_lock(o: &Opts, con: &mut Console, client: &str) -> SimResult<Option<ClientLock>> {
    match lock_client(client)? {
        Ok(lock) => Ok(Some(lock)),
        Err(pid) => {
            let holder = pid.map(|p| format!(" (process {p})")).unwrap_or_default();
            if o.flag('F') {
                con.error(&format!("nimadm: Warning: another nimadm operation is running for client {client}{holder}; going on (-F)."));
                Ok(None)
            } else {
                Err(SimError::new(
                    1,
                    format!(
                        "nimadm: Another nimadm operation is in progress for client {client}{holder}.\n\
                         nimadm: Wait for it to end (or use -F if that process no longer exists)."
                    ),
                ))
            }
        }
    }
}

fn check_resource(db: &Db, name: &str, rtype: &str, flag: char) -> SimResult<()> {
    match db.resources.get(name) {
        Some(r) if r.rtype == rtype => Ok(()),
        Some(r) => Err(SimError::new(
            1,
            format!(
                "nimadm: The resource \"{name}\" given with -{flag} is a {} resource, not a {rtype} resource.",
                r.rtype
            ),
        )),
        None => Err(SimError::new(
            1,
            format!("nimadm: Unable to find {rtype} resource \"{name}\" (-{flag}) on this master."),
        )),
    }
}

/// Records the start of a run of this process.
fn start_run(client: &str, kind: &str) -> SimResult<()> {
    let start = clock::now();
    let pid = std::process::id();
    with_db(|db| {
        db.client_mut(client)?.push_run(RunRecord {
            pid,
            kind: kind.to_owned(),
            start,
            end: None,
            result: None,
            phase: None,
            message: None,
        });
        Ok(())
    })
}

fn end_run(client: &str, ok: bool, message: Option<String>) -> SimResult<()> {
    let pid = std::process::id();
    with_db(|db| {
        if let Some(r) = db.client_mut(client)?.run_mut(pid) {
            r.end = Some(clock::now());
            r.result = Some(if ok { "ok" } else { "failed" }.to_owned());
            r.message = message;
        }
        Ok(())
    })
}

/// What a migration was asked to do.
struct Plan {
    client: String,
    spot: String,
    lpp: String,
    disks: Vec<String>,
    level: String,
    cache_vg: Option<String>,
    pre: Option<String>,
    post: Option<String>,
    bundle: Option<String>,
    exclude: Option<String>,
    keep_bootlist: bool,
    reboot: bool,
    debug: bool,
}

impl Plan {
    fn quoted_disks(&self) -> String {
        format!("\"{}\"", self.disks.join(" "))
    }
}

fn migrate(o: &Opts) -> SimResult<i32> {
    let client = o.require('c', "NIM client")?.to_owned();
    let lpp = o.require('l', "lpp_source")?.to_owned();
    let spot = o.require('s', "SPOT")?.to_owned();
    let disks = split_disks(o.require('d', "target disks")?);
    if disks.is_empty() {
        return Err(usage_error("The -d flag (target disks) is required."));
    }
    if o.flag('B') && o.flag('r') {
        return Err(usage_error("The -B and -r flags cannot be used together."));
    }
    let phase: Option<u8> = match o.value('P') {
        None => None,
        Some(text) => match text.trim().parse::<u8>() {
            Ok(p) if (1..=12).contains(&p) => Some(p),
            _ => {
                return Err(SimError::new(
                    1,
                    format!("nimadm: Invalid phase \"{text}\": the phases are 1 to 12."),
                ));
            }
        },
    };
    let accepted = o.flag('Y')
        || std::env::var("ADM_ACCEPT_LICENSES").is_ok_and(|v| v.eq_ignore_ascii_case("yes"));

    let mut con = Console::new();
    con.line("Initializing the NIM master.");
    if !o.has('j') && phase.is_none_or(|p| p == 1) {
        con.line("0513-029 The portmap Subsystem is already active.");
        con.line("0513-059 The nfsd Subsystem has been started.");
        con.line("0513-029 The biod Subsystem is already active.");
    }
    con.line(&format!("Initializing NIM client {client}."));
    read_db()?.client(&client)?;
    let _lock = take_lock(o, &mut con, &client)?;
    let db = read_db()?;
    let c = db.client(&client)?.clone();
    con.line("Verifying alt_disk_migration eligibility.");
    check_resource(&db, &spot, "spot", 's')?;
    check_resource(&db, &lpp, "lpp_source", 'l')?;
    for (flag, rtype) in [
        ('a', "script"),
        ('z', "script"),
        ('b', "installp_bundle"),
        ('e', "exclude_files"),
        ('i', "image_data"),
        ('o', "bosinst_data"),
    ] {
        if let Some(name) = o.value(flag) {
            check_resource(&db, name, rtype, flag)?;
        }
    }
    let spot_level = db.resources[&spot].level.clone().unwrap_or_default();
    let level = db.resources[&lpp].level.clone().unwrap_or_default();
    if spot_level != level {
        return Err(SimError::new(
            1,
            format!(
                "nimadm: The SPOT {spot} ({spot_level}) and the lpp_source {lpp} ({level}) are not at the same level.\n\
                 nimadm: bos.alt_disk_install.rte must be at the same level on the master, the SPOT and the lpp_source (see nimadm -M)."
            ),
        ));
    }
    if !accepted {
        return Err(SimError::new(
            1,
            "nimadm: The software license agreements have not been accepted: use -Y, or export ADM_ACCEPT_LICENSES=yes.",
        ));
    }
    for d in &disks {
        if !c.disks.contains(d) {
            return Err(SimError::new(
                1,
                format!("nimadm: Disk {d} does not exist on client {client}."),
            ));
        }
        if c.rootvg.contains(d) {
            return Err(SimError::new(
                1,
                format!(
                    "nimadm: Disk {d} belongs to the rootvg of client {client}: choose a free disk."
                ),
            ));
        }
        if c.old_rootvg.contains(d) {
            return Err(SimError::new(
                1,
                format!(
                    "nimadm: Disk {d} belongs to volume group old_rootvg on client {client} (alt_rootvg_op -X old_rootvg frees it)."
                ),
            ));
        }
    }
    let first = phase.unwrap_or(1);
    let cleanup_hint = format!("nimadm -C -c {client} -s {spot}");
    if first == 1 {
        if let Some(alt) = &c.alt {
            let why = match alt.state {
                AltState::Migrating => format!(
                    "client {client} has an incomplete alt_disk_migration ({} of 12 phases done) on {}",
                    alt.phase_done,
                    alt.disks.join(" ")
                ),
                AltState::Failed => format!(
                    "the alt_disk_migration of client {client} failed in phase {} and was not cleaned up",
                    alt.failed_phase.unwrap_or(alt.phase_done + 1)
                ),
                AltState::Migrated | AltState::Awake => format!(
                    "disk(s) {} of client {client} belong to volume group altinst_rootvg (a previous migration to {})",
                    alt.disks.join(" "),
                    alt.level
                ),
            };
            return Err(SimError::new(
                1,
                format!("nimadm: Not eligible: {why}.\nnimadm: Run \"{cleanup_hint}\" first."),
            ));
        }
        if release_of(&level) <= release_of(&c.level) {
            return Err(SimError::new(
                1,
                format!(
                    "nimadm: Client {client} is at level {} and the lpp_source {lpp} at {level}: alt_disk_migration \
                     needs a higher version or release.",
                    c.level
                ),
            ));
        }
    } else {
        let Some(alt) = &c.alt else {
            return Err(SimError::new(
                1,
                format!(
                    "nimadm: Phase {first} cannot run: client {client} has no alt_disk_migration in progress (start with phase 1)."
                ),
            ));
        };
        if alt.state != AltState::Migrating {
            return Err(SimError::new(
                1,
                format!(
                    "nimadm: Phase {first} cannot run: the alt_disk_migration of client {client} is {}.",
                    alt.state.as_str()
                ),
            ));
        }
        if alt.disks != disks {
            return Err(SimError::new(
                1,
                format!(
                    "nimadm: The migration of client {client} in progress is on disk(s) {}, not {}.",
                    alt.disks.join(" "),
                    disks.join(" ")
                ),
            ));
        }
        if alt.phase_done + 1 != first {
            return Err(SimError::new(
                1,
                format!(
                    "nimadm: Phase {first} cannot run: the last completed phase for client {client} is {} (run phase {} next).",
                    alt.phase_done,
                    alt.phase_done + 1
                ),
            ));
        }
    }

    let plan = Plan {
        client: client.clone(),
        spot,
        lpp,
        disks,
        level,
        cache_vg: o.value('j').map(str::to_owned),
        pre: o.value('a').map(str::to_owned),
        post: o.value('z').map(str::to_owned),
        bundle: o.value('b').map(str::to_owned),
        exclude: o.value('e').map(str::to_owned),
        keep_bootlist: o.flag('B'),
        reboot: o.flag('r'),
        debug: o.flag('D') || o.flag('E'),
    };
    con.open_log(&client, first == 1)?;
    con.line(&format!("Initializing log: {}", aix_log_path(&client)));
    con.line("Starting Alternate Disk Migration.");
    let kind = match phase {
        Some(p) => format!("phase {p}"),
        None => "migrate".to_owned(),
    };
    start_run(&client, &kind)?;
    let last = phase.unwrap_or(12);
    for p in first..=last {
        con.banner(p);
        let fault = with_db(|db| {
            let pid = std::process::id();
            let c = db.client_mut(&plan.client)?;
            if let Some(r) = c.run_mut(pid) {
                r.phase = Some(p);
            }
            if p == 1 {
                c.alt = Some(AltDisk {
                    disks: plan.disks.clone(),
                    state: AltState::Migrating,
                    phase_done: 0,
                    failed_phase: None,
                    message: None,
                    level: plan.level.clone(),
                    spot: plan.spot.clone(),
                    lpp_source: plan.lpp.clone(),
                    cache_vg: plan.cache_vg.clone(),
                    exports: false,
                    mounts: false,
                    updated: clock::now(),
                });
            }
            let seconds = db.phase_seconds(&plan.client);
            Ok((db.take_fault("phase", &plan.client, Some(p)), seconds))
        })?;
        let (fault, seconds) = fault;
        let (before, after) = phase_lines(p, &plan);
        for l in &before {
            con.line(l);
        }
        if let Some(f) = fault {
            clock::sleep(seconds / 2.0);
            return fail_phase(&mut con, &plan, p, f);
        }
        clock::sleep(seconds);
        with_db(|db| {
            let c = db.client_mut(&plan.client)?;
            apply_phase(c, p, &plan);
            Ok(())
        })?;
        for l in &after {
            con.line(l);
        }
    }
    end_run(&client, true, None)?;
    Ok(0)
}

/// The effect of a completed phase on the client and the master.
fn apply_phase(c: &mut crate::model::Client, p: u8, plan: &Plan) {
    let cached = plan.cache_vg.is_some();
    let mut reboot_to: Option<AltDisk> = None;
    if let Some(alt) = c.alt.as_mut() {
        alt.phase_done = p;
        alt.updated = clock::now();
        match p {
            2 if cached => alt.mounts = true,
            2 => alt.exports = true,
            3 if !cached => alt.mounts = true,
            9 if !cached => alt.mounts = false,
            10 if cached => alt.mounts = false,
            10 => alt.exports = false,
            12 => {
                alt.state = AltState::Migrated;
                alt.exports = false;
                alt.mounts = false;
                if plan.reboot {
                    reboot_to = Some(alt.clone());
                }
            }
            _ => {}
        }
    }
    if p == 11 && !plan.keep_bootlist {
        c.bootlist = plan.disks.clone();
    }
    if let Some(alt) = reboot_to {
        // The client boots the migrated disks: they become rootvg, the old ones old_rootvg.
        c.old_rootvg = std::mem::replace(&mut c.rootvg, alt.disks.clone());
        c.level = alt.level;
        c.bootlist = alt.disks;
        c.alt = None;
    }
}

fn fail_phase(con: &mut Console, plan: &Plan, p: u8, f: crate::model::Fault) -> SimResult<i32> {
    let client = &plan.client;
    let what = PHASES[usize::from(p - 1)];
    let message = f.message.clone().unwrap_or_else(|| {
        format!("nimadm: Error executing nimadm phase {p} ({what}) on client {client}: simulated failure.")
    });
    con.error(&message);
    let cleanup = !plan.debug && !f.no_cleanup;
    let summary = format!("phase {p}: {}", message.trim_start_matches("nimadm: "));
    if cleanup {
        con.line("");
        con.line("Cleaning up alt_disk_migration on the NIM master.");
        con.line(&format!(
            "Cleaning up alt_disk_migration on client {client}."
        ));
        with_db(|db| {
            let c = db.client_mut(client)?;
            if c.alt.take().is_some_and(|alt| c.bootlist == alt.disks) {
                c.bootlist = c.rootvg.clone();
            }
            Ok(())
        })?;
    } else {
        with_db(|db| {
            let c = db.client_mut(client)?;
            if let Some(alt) = c.alt.as_mut() {
                alt.state = AltState::Failed;
                alt.failed_phase = Some(p);
                alt.message = Some(message.clone());
                alt.updated = clock::now();
            }
            Ok(())
        })?;
        let why = if plan.debug {
            "debug mode (-D/-E)"
        } else {
            "the cleanup failed"
        };
        con.error(&format!(
            "nimadm: The failed migration of client {client} was not cleaned up ({why}): run \"nimadm -C -c {client} -s {}\".",
            plan.spot
        ));
    }
    end_run(client, false, Some(summary))?;
    Ok(f.rc.unwrap_or(1))
}

/// The lines of phase `p`: printed when it starts, and when it ends.
fn phase_lines(p: u8, plan: &Plan) -> (Vec<String>, Vec<String>) {
    let c = &plan.client;
    let v = version_of(&plan.level);
    let fs = ["", "home", "opt", "tmp", "usr", "var"];
    let cache_root = format!("/{c}_alt/alt_inst");
    let under = |base: &str, f: &str| {
        if f.is_empty() {
            base.to_owned()
        } else {
            format!("{base}/{f}")
        }
    };
    let s = |t: &str| t.to_owned();
    let mut before: Vec<String> = Vec::new();
    let mut after: Vec<String> = Vec::new();
    match p {
        1 => {
            before.push(s("Cloning altinst_rootvg on client, Phase 1."));
            before.push(format!(
                "Client alt_disk_install command: alt_disk_copy -M {v} -P1 -d {}",
                plan.quoted_disks()
            ));
            before.push(s("Calling mkszfile to create new /image.data file."));
            before.push(s("Checking disk sizes."));
            before.push(s(
                "Creating cloned rootvg volume group and associated logical volumes.",
            ));
            for lv in [
                "hd5", "hd6", "hd8", "hd4", "hd2", "hd9var", "hd3", "hd1", "hd10opt",
            ] {
                before.push(format!("Creating logical volume alt_{lv}"));
            }
            for f in fs {
                before.push(format!("Creating {} file system.", under("/alt_inst", f)));
            }
            if let Some(e) = &plan.exclude {
                before.push(format!(
                    "Excluding the files listed in exclude_files resource {e}."
                ));
            }
            before.push(s("Generating a list of files"));
            before.push(s(
                "for backup and restore into the alternate file system...",
            ));
            after.push(s("Phase 1 complete."));
        }
        2 => {
            if let Some(vg) = &plan.cache_vg {
                before.push(format!(
                    "Creating nimadm cache file systems on volume group {vg}."
                ));
                before.push(s("Checking for initial required cache space."));
                for f in fs {
                    before.push(format!(
                        "Creating cache file system {}",
                        under(&cache_root, f)
                    ));
                }
            } else {
                before.push(format!(
                    "Exporting alt_inst file systems from client {c} to the NIM master:"
                ));
                for f in fs {
                    before.push(format!("Exporting {} from client.", under("/alt_inst", f)));
                }
            }
        }
        3 => {
            if plan.cache_vg.is_some() {
                before.push(s("Syncing client data to cache ..."));
            } else {
                before.push(s(
                    "NFS mounting client's alt_inst file systems on the NIM master:",
                ));
                for f in fs {
                    before.push(format!("Mounting {c}:{}.", under("/alt_inst", f)));
                }
            }
        }
        4 => match &plan.pre {
            Some(a) => before.push(format!("Executing pre-migration script resource {a}.")),
            None => before.push(s(
                "nimadm: There is no user customization script specified for this phase.",
            )),
        },
        5 => {
            before.push(s("Saving system configuration files."));
            before.push(s("Checking for initial required migration space."));
            before.push(s("Setting up for base operating system restore."));
            before.push(cache_root.clone());
            before.push(s("Restoring base operating system."));
            before.push(s("Merging system configuration files."));
            for m in [
                "ODM_merge Config_Rules",
                "ODM_merge SRCextmeth",
                "ODM_merge SRCsubsys",
                "ODM_merge SWservAt",
                "convert_errnotify",
            ] {
                before.push(format!("Running migration merge method: {m}."));
            }
        }
        6 => {
            before.push(s("Installing and migrating software."));
            before.push(s("Updating install utilities."));
            if let Some(b) = &plan.bundle {
                before.push(format!("Installing the filesets of installp_bundle {b}."));
            }
            before.push(s(RULE));
            before.push(s("                    Pre-installation Verification..."));
            before.push(s(RULE));
            before.push(s("Verifying selections...done"));
            before.push(s("Verifying requisites...done"));
            before.push(s("Results..."));
            let fileset = |name: &str| {
                format!(
                    "{name:<28}{:<16}{:<12}{:<12}SUCCESS",
                    format!("{v}.0.0"),
                    "USR",
                    "APPLY"
                )
            };
            after.push(s(""));
            after.push(s("Installation Summary"));
            after.push(s("--------------------"));
            after.push(s(
                "Name                        Level           Part        Event       Result",
            ));
            after.push(s(
                "-------------------------------------------------------------------------------",
            ));
            for f in [
                "bos.rte",
                "bos.alt_disk_install.rte",
                "bos.net.tcp.client",
                "bos.mp64",
            ] {
                after.push(fileset(f));
            }
        }
        7 => match &plan.post {
            Some(z) => before.push(format!("Executing post-migration script resource {z}.")),
            None => before.push(s(
                "nimadm: There is no user customization script specified for this phase.",
            )),
        },
        8 => {
            before.push(s("Creating client boot image."));
            after.push(s("bosboot: Boot image is 51228 512 byte blocks."));
            after.push(format!(
                "Writing boot image to client's alternate boot disk {}.",
                plan.disks[0]
            ));
        }
        9 => {
            if plan.cache_vg.is_some() {
                before.push(s("Adjusting client file system sizes ..."));
                before.push(s("Syncing cache data to client ..."));
            } else {
                before.push(s("Unmounting client mounts on the NIM master."));
                for f in fs.iter().rev() {
                    before.push(format!("forced unmount of {}", under(&cache_root, f)));
                }
            }
        }
        10 => {
            if plan.cache_vg.is_some() {
                before.push(s("Unmounting client mounts on the NIM master."));
                before.push(s("Removing nimadm cache file systems."));
            } else {
                before.push(format!("Unexporting alt_inst file systems on client {c}:"));
                for f in fs {
                    before.push(format!("unexporting {}", under("/alt_inst", f)));
                }
            }
        }
        11 => {
            before.push(s("Cloning altinst_rootvg on client, Phase 3."));
            let b = if plan.keep_bootlist { " -B" } else { "" };
            before.push(format!(
                "Client alt_disk_install command: alt_disk_copy -M {v} -P3{b} -d {}",
                plan.quoted_disks()
            ));
            before.push(s("## Phase 3 ###################"));
            before.push(s("Verifying altinst_rootvg..."));
            before.push(s("Modifying ODM on cloned disk."));
            for f in fs.iter().rev() {
                before.push(format!("forced unmount of {}", under("/alt_inst", f)));
            }
            before.push(s(
                "Changing logical volume names in volume group descriptor area.",
            ));
            before.push(s("Fixing LV control blocks..."));
            before.push(s("Fixing file system superblocks..."));
            if plan.keep_bootlist {
                after.push(s("The bootlist is not changed (-B)."));
            } else {
                after.push(format!(
                    "Bootlist is set to the boot disk: {} blv=hd5",
                    plan.disks[0]
                ));
            }
        }
        _ => {
            before.push(s("Cleaning up alt_disk_migration on the NIM master."));
            before.push(format!("Cleaning up alt_disk_migration on client {c}."));
            if plan.reboot {
                after.push(format!(
                    "Rebooting client {c} from disk(s) {} (-r).",
                    plan.disks.join(" ")
                ));
            }
        }
    }
    (before, after)
}

/// The client named by `-c`, or by the first operand (the AIX 5.2 form `nimadm -C client -s spot`).
fn client_arg(o: &Opts) -> SimResult<String> {
    match o
        .value('c')
        .filter(|v| !v.trim().is_empty())
        .or(o.operands.first().map(String::as_str))
    {
        Some(c) => Ok(c.to_owned()),
        None => Err(usage_error("The -c flag (NIM client) is required.")),
    }
}

/// Common start of -C, -W, -S: master and client initialization, the lock, the log.
fn begin(
    o: &Opts,
    con: &mut Console,
    kind: &str,
) -> SimResult<(String, String, Option<ClientLock>, Db)> {
    let client = client_arg(o)?;
    let spot = o.require('s', "SPOT")?.to_owned();
    con.line("Initializing the NIM master.");
    con.line(&format!("Initializing NIM client {client}."));
    let db = read_db()?;
    db.client(&client)?;
    check_resource(&db, &spot, "spot", 's')?;
    let lock = take_lock(o, con, &client)?;
    let db = read_db()?;
    con.open_log(&client, false)?;
    con.write_log(&format!("nimadm {kind} started for client {client}."));
    Ok((client, spot, lock, db))
}

fn cleanup(o: &Opts) -> SimResult<i32> {
    let mut con = Console::new();
    let (client, _spot, _lock, db) = begin(o, &mut con, "cleanup")?;
    con.line("Starting Alternate Disk Migration cleanup.");
    start_run(&client, "cleanup")?;
    let fault = with_db(|db| Ok(db.take_fault("cleanup", &client, None)))?;
    clock::sleep(db.phase_seconds(&client) / 2.0);
    if let Some(f) = fault {
        let message = f.message.unwrap_or_else(|| format!("nimadm: Unable to clean up alt_disk_migration on client {client}: simulated failure."));
        con.error(&message);
        end_run(&client, false, Some(message))?;
        return Ok(f.rc.unwrap_or(1));
    }
    let removed = with_db(|db| {
        let c = db.client_mut(&client)?;
        let alt = c.alt.take();
        if alt.as_ref().is_some_and(|alt| c.bootlist == alt.disks) {
            c.bootlist = c.rootvg.clone();
        }
        Ok(alt.map(|a| (a, c.bootlist.clone())))
    })?;
    con.line("Cleaning up alt_disk_migration on the NIM master.");
    match removed {
        Some((alt, bootlist)) => {
            if alt.mounts {
                con.line("Unmounting client mounts on the NIM master.");
                if let Some(vg) = &alt.cache_vg {
                    con.line(&format!(
                        "Removing nimadm cache file systems from volume group {vg}."
                    ));
                }
            }
            if alt.exports {
                con.line(&format!(
                    "Removing the alt_inst exports of client {client}."
                ));
            }
            con.line(&format!(
                "Cleaning up alt_disk_migration on client {client}."
            ));
            con.line("Client alt_disk_install command: alt_rootvg_op -X altinst_rootvg");
            con.line(&format!(
                "Removing altinst_rootvg from disk(s) {}.",
                alt.disks.join(" ")
            ));
            if let Some(b) = bootlist.first() {
                con.line(&format!("Bootlist is set to the boot disk: {b} blv=hd5"));
            }
        }
        None => {
            con.line(&format!(
                "Cleaning up alt_disk_migration on client {client}."
            ));
            con.line(&format!(
                "nimadm: There is no alt_disk_migration to clean up on client {client}."
            ));
        }
    }
    end_run(&client, true, None)?;
    Ok(0)
}

fn wake(o: &Opts) -> SimResult<i32> {
    let disks = split_disks(o.require('d', "target disks")?);
    let mut con = Console::new();
    let (client, _spot, _lock, db) = begin(o, &mut con, "wake-up")?;
    let alt = db.client(&client)?.alt.clone();
    let not = |why: String| {
        Err(SimError::new(
            1,
            format!("nimadm: Cannot wake up the altinst_rootvg of client {client}: {why}."),
        ))
    };
    let Some(alt) = alt else {
        return not("the client has no altinst_rootvg".into());
    };
    match alt.state {
        AltState::Migrated => {}
        AltState::Awake => return not("it is already awake (nimadm -S puts it to sleep)".into()),
        s => {
            return not(format!(
                "its migration is {} (nimadm -C cleans it up)",
                s.as_str()
            ));
        }
    }
    if alt.disks != disks {
        return not(format!(
            "it is on disk(s) {}, not {}",
            alt.disks.join(" "),
            disks.join(" ")
        ));
    }
    con.line("Starting Alternate Disk Migration wake-up.");
    start_run(&client, "wake")?;
    if let Some(f) = with_db(|db| Ok(db.take_fault("wake", &client, None)))? {
        let message = f.message.unwrap_or_else(|| {
            format!(
                "nimadm: Unable to wake up altinst_rootvg on client {client}: simulated failure."
            )
        });
        con.error(&message);
        end_run(&client, false, Some(message))?;
        return Ok(f.rc.unwrap_or(1));
    }
    con.line(&format!(
        "Client alt_disk_install command: alt_rootvg_op -W -d {}",
        alt.disks.join(" ")
    ));
    con.line("Waking up altinst_rootvg disk(s).");
    clock::sleep(db.phase_seconds(&client) / 2.0);
    con.line(&format!(
        "Exporting alt_inst file systems from client {client} to the NIM master."
    ));
    con.line(&format!("NFS mounting client's alt_inst file systems on the NIM master under /{client}_alt/alt_inst."));
    if let Some(z) = o.value('z') {
        check_resource(&db, z, "script", 'z')?;
        con.line(&format!("Executing post-migration script resource {z}."));
    }
    with_db(|db| {
        if let Some(a) = db.client_mut(&client)?.alt.as_mut() {
            a.state = AltState::Awake;
            a.exports = true;
            a.mounts = true;
            a.updated = clock::now();
        }
        Ok(())
    })?;
    con.line(&format!(
        "The altinst_rootvg of client {client} is awake and mounted on the NIM master."
    ));
    end_run(&client, true, None)?;
    Ok(0)
}

fn sleep(o: &Opts) -> SimResult<i32> {
    let mut con = Console::new();
    let (client, _spot, _lock, db) = begin(o, &mut con, "sleep")?;
    let alt = db.client(&client)?.alt.clone();
    match alt.as_ref().map(|a| a.state) {
        Some(AltState::Awake) => {}
        Some(s) => {
            return Err(SimError::new(
                1,
                format!(
                    "nimadm: The altinst_rootvg of client {client} is not awake (it is {}).",
                    s.as_str()
                ),
            ));
        }
        None => {
            return Err(SimError::new(
                1,
                format!("nimadm: Client {client} has no altinst_rootvg."),
            ));
        }
    }
    con.line("Starting Alternate Disk Migration sleep.");
    start_run(&client, "sleep")?;
    if let Some(f) = with_db(|db| Ok(db.take_fault("sleep", &client, None)))? {
        let message = f.message.unwrap_or_else(|| format!("nimadm: Unable to put altinst_rootvg to sleep on client {client}: simulated failure."));
        con.error(&message);
        end_run(&client, false, Some(message))?;
        return Ok(f.rc.unwrap_or(1));
    }
    con.line("Unmounting client mounts on the NIM master.");
    con.line(&format!(
        "Removing the alt_inst exports of client {client}."
    ));
    clock::sleep(db.phase_seconds(&client) / 2.0);
    con.line("Client alt_disk_install command: alt_rootvg_op -S");
    con.line("Putting altinst_rootvg to sleep.");
    with_db(|db| {
        if let Some(a) = db.client_mut(&client)?.alt.as_mut() {
            a.state = AltState::Migrated;
            a.exports = false;
            a.mounts = false;
            a.updated = clock::now();
        }
        Ok(())
    })?;
    end_run(&client, true, None)?;
    Ok(0)
}

fn sync_spot(o: &Opts) -> SimResult<i32> {
    let spot = o.require('s', "SPOT")?.to_owned();
    let lpp = o.require('l', "lpp_source")?.to_owned();
    with_db(|db| {
        check_resource(db, &spot, "spot", 's')?;
        check_resource(db, &lpp, "lpp_source", 'l')?;
        let level = db.resources[&lpp].level.clone();
        if let Some(r) = db.resources.get_mut(&spot) {
            r.level = level;
        }
        Ok(())
    })?;
    out(&format!(
        "Synchronizing bos.alt_disk_install.rte and bos.alt_disk_install.boot_images of SPOT {spot} with lpp_source {lpp}.\n\
         Installing the alt_disk_install filesets on the NIM master.\n"
    ));
    Ok(0)
}
