//! `drdsim`: the administrator's side of the simulator (not a DRD command):
//! set up the system and its disks, populate the booted image, inject faults,
//! simulate a reboot, move the clock.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use clap::{Parser, Subcommand};
use doppel_sim::common::faults::{Fault, FaultSet};
use doppel_sim::common::{
    SimError, SimResult, clock, err, out, read_json, to_json, write_json_atomic,
};

use crate::model::{Dirs, Disk, Image, IpdFile, System};
use crate::tree;

#[derive(Parser, Debug)]
#[command(
    name = "drdsim",
    about = "Set up and inspect doppel's simulated HP-UX DRD system ($DOPPEL_SIM_ROOT/drd)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start afresh: default disks, booted original, no clone, empty trees (all DRD state is forgotten)
    Init {
        /// Populate the booted image with a small HP-UX-like tree
        #[arg(long)]
        sample: bool,
        #[arg(long)]
        hostname: Option<String>,
        /// Root volume group (the clone is imported as drdNN for vgNN)
        #[arg(long, default_value = "vg00")]
        root_vg: String,
        /// Simulated duration of drd clone, in seconds
        #[arg(long)]
        clone_seconds: Option<f64>,
        /// Simulated duration of the copy phase of drd sync, in seconds
        #[arg(long)]
        sync_seconds: Option<f64>,
    },
    /// The system state as JSON
    Show,
    /// Print a directory of the simulator: original, clone, sync (the lists), base
    Path {
        #[arg(default_value = "base")]
        which: String,
    },
    /// Disks of the simulated host
    #[command(subcommand)]
    Disk(DiskCommand),
    /// The simulated SD-UX Installed Products Database (files drd sync filters out)
    #[command(subcommand)]
    Ipd(IpdCommand),
    /// Set a parameter: clone-seconds, sync-seconds, clone-efi, original-efi, hostname
    Set { name: String, value: String },
    /// Reboot: the activated image becomes the booted one
    Reboot,
    /// Move the clone creation and last sync dates SECS seconds into the past
    Backdate { secs: f64 },
    /// Arm a fault: <mode> (clone, sync, status, activate, deactivate, mount, umount) fails with an
    /// END ... failed. banner; truncate: the END banner is lost; rc: success banner, other exit code
    Fail {
        kind: String,
        #[arg(long)]
        count: Option<u32>,
        #[arg(long, conflicts_with = "count")]
        always: bool,
        /// Only for these modes, comma separated (also "preview" or "run")
        #[arg(long, value_delimiter = ',')]
        on: Vec<String>,
        /// Exit code (default: 1 for a mode fault and rc, 0 for truncate)
        #[arg(long, allow_hyphen_values = true)]
        rc: Option<i32>,
        /// ERROR text of a mode fault
        #[arg(long)]
        message: Option<String>,
    },
    /// Armed faults (JSON)
    Faults,
    /// Disarm faults (all, or of one kind)
    Clear { kind: Option<String> },
    /// The simulated clock shared by the simulators
    #[command(subcommand)]
    Clock(ClockCommand),
    /// Forget all DRD simulator state
    Reset,
}

#[derive(Subcommand, Debug)]
enum DiskCommand {
    /// Add a disk
    Add {
        dev: String,
        #[arg(long)]
        hw_path: Option<String>,
        /// In use by this active volume group
        #[arg(long)]
        vg: Option<String>,
        /// Carries LVM or file-system data (a clone target needs overwrite=true)
        #[arg(long)]
        data: bool,
    },
    /// Change a disk
    Set {
        dev: String,
        #[arg(long, conflicts_with = "free")]
        vg: Option<String>,
        /// Not in any volume group
        #[arg(long)]
        free: bool,
        #[arg(long, conflicts_with = "blank")]
        data: bool,
        /// No LVM or file-system data
        #[arg(long)]
        blank: bool,
    },
    /// Remove a disk
    Remove { dev: String },
    /// List the disks (JSON)
    List,
}

#[derive(Subcommand, Debug)]
enum IpdCommand {
    /// Register image paths (e.g. /etc/hosts) as IPD files
    Add {
        paths: Vec<String>,
        #[arg(long)]
        volatile: bool,
    },
    Remove {
        paths: Vec<String>,
    },
    List,
}

#[derive(Subcommand, Debug)]
enum ClockCommand {
    Advance {
        secs: f64,
    },
    Set {
        #[arg(allow_hyphen_values = true)]
        offset: f64,
    },
    Reset,
    Show,
}

pub fn main(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once("drdsim".to_owned()).chain(args)) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run(cli.command) {
        Ok(()) => 0,
        Err(e) => {
            err(&format!("drdsim: {}\n", e.message));
            e.code
        }
    }
}

fn fail(message: impl Into<String>) -> SimError {
    SimError::new(1, message)
}

fn io(what: &str) -> impl Fn(std::io::Error) -> SimError + '_ {
    move |e| fail(format!("{what}: {e}"))
}

fn with_system(dirs: &Dirs, f: impl FnOnce(&mut System) -> SimResult<()>) -> SimResult<()> {
    let _lock = dirs.state.lock().map_err(|e| fail(e.to_string()))?;
    let mut sys = dirs.load_system()?;
    f(&mut sys)?;
    dirs.save_system(&sys)
}

fn run(command: Command) -> SimResult<()> {
    match command {
        Command::Init {
            sample,
            hostname,
            root_vg,
            clone_seconds,
            sync_seconds,
        } => {
            let dirs = Dirs::open()?;
            let _lock = dirs.state.lock().map_err(|e| fail(e.to_string()))?;
            for entry in
                std::fs::read_dir(dirs.base()).map_err(io("cannot list the simulator directory"))?
            {
                let entry = entry.map_err(io("cannot list the simulator directory"))?;
                if entry.file_name() == ".lock" {
                    continue;
                }
                let p = entry.path();
                let r = if p.is_dir() && !p.is_symlink() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                r.map_err(io("cannot reset the simulator"))?;
            }
            std::fs::create_dir_all(dirs.original())
                .map_err(io("cannot create the original image"))?;
            let mut sys = System {
                root_vg,
                ..System::default()
            };
            if let Some(h) = hostname {
                sys.hostname = h;
            }
            if let Some(disk) = sys.disks.get_mut(&sys.original_disk.clone()) {
                disk.vg = Some(sys.root_vg.clone());
            }
            if let Some(s) = clone_seconds {
                sys.clone_seconds = s;
            }
            if let Some(s) = sync_seconds {
                sys.sync_seconds = s;
            }
            if sample {
                populate(&dirs.original()).map_err(io("cannot populate the original image"))?;
            }
            dirs.save_system(&sys)?;
            out(&format!("{}\n", dirs.base().display()));
            Ok(())
        }
        Command::Show => {
            let dirs = Dirs::open()?;
            let sys = dirs.load_system()?;
            out(&to_json(&sys));
            Ok(())
        }
        Command::Path { which } => {
            let dirs = Dirs::open()?;
            let p = match which.as_str() {
                "base" => dirs.base().to_owned(),
                "original" => dirs.original(),
                "clone" => dirs.clone_tree(),
                "sync" => dirs.sync_dir(),
                "log" => dirs.log_file(),
                other => {
                    return Err(fail(format!(
                        "unknown path '{other}' (base, original, clone, sync, log)"
                    )));
                }
            };
            out(&format!("{}\n", p.display()));
            Ok(())
        }
        Command::Disk(cmd) => disk(cmd),
        Command::Ipd(cmd) => ipd(cmd),
        Command::Set { name, value } => {
            let dirs = Dirs::open()?;
            with_system(&dirs, |sys| {
                let secs = || {
                    value
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                        .ok_or_else(|| fail(format!("'{value}' is not a number of seconds")))
                };
                match name.as_str() {
                    "clone-seconds" => sys.clone_seconds = secs()?,
                    "sync-seconds" => sys.sync_seconds = secs()?,
                    "clone-efi" => {
                        sys.clone_efi = value.clone();
                        if let Some(c) = sys.clone.as_mut() {
                            c.efi = value.clone();
                        }
                    }
                    "original-efi" => sys.original_efi = value.clone(),
                    "hostname" => sys.hostname = value.clone(),
                    other => {
                        return Err(fail(format!(
                            "unknown parameter '{other}' (clone-seconds, sync-seconds, clone-efi, original-efi, hostname)"
                        )));
                    }
                }
                Ok(())
            })
        }
        Command::Reboot => {
            let dirs = Dirs::open()?;
            with_system(&dirs, |sys| {
                let activated = sys.activated;
                sys.boot(activated);
                for name in ["sysimage_000", "sysimage_001"] {
                    let _ = std::fs::remove_file(dirs.mount_point(name));
                }
                let label = match sys.booted {
                    Image::Original => "original",
                    Image::Clone => "clone",
                };
                out(&format!(
                    "booted from the {label} image ({})\n",
                    sys.disk_of(sys.booted).unwrap_or("?")
                ));
                Ok(())
            })
        }
        Command::Backdate { secs } => {
            let dirs = Dirs::open()?;
            with_system(&dirs, |sys| {
                let Some(c) = sys.clone.as_mut() else {
                    return Err(fail("there is no clone to backdate"));
                };
                c.created -= secs;
                if let Some(s) = c.last_sync.as_mut() {
                    *s -= secs;
                }
                Ok(())
            })
        }
        Command::Fail {
            kind,
            count,
            always,
            on,
            rc,
            message,
        } => {
            let dirs = Dirs::open()?;
            let known = [
                "clone",
                "sync",
                "status",
                "activate",
                "deactivate",
                "mount",
                "umount",
                "truncate",
                "rc",
            ];
            if !known.contains(&kind.as_str()) {
                return Err(fail(format!(
                    "unknown fault kind '{kind}' ({})",
                    known.join(", ")
                )));
            }
            let path = dirs.faults_file();
            let _lock = dirs.state.lock().map_err(|e| fail(e.to_string()))?;
            let (mut set, _) = read_json::<FaultSet>(&path)?;
            set.add(Fault {
                kind,
                remaining: if always {
                    None
                } else {
                    Some(count.unwrap_or(1))
                },
                on,
                objects: Vec::new(),
                rc,
                message,
            });
            write_json_atomic(&path, &set)
        }
        Command::Faults => {
            let dirs = Dirs::open()?;
            let (set, _) = read_json::<FaultSet>(&dirs.faults_file())?;
            out(&to_json(&set));
            Ok(())
        }
        Command::Clear { kind } => {
            let dirs = Dirs::open()?;
            let path = dirs.faults_file();
            let _lock = dirs.state.lock().map_err(|e| fail(e.to_string()))?;
            let (mut set, _) = read_json::<FaultSet>(&path)?;
            let n = set.clear(kind.as_deref());
            write_json_atomic(&path, &set)?;
            out(&format!("{n} fault(s) cleared\n"));
            Ok(())
        }
        Command::Clock(cmd) => {
            match cmd {
                ClockCommand::Advance { secs } => clock::set_offset(clock::offset() + secs)?,
                ClockCommand::Set { offset } => clock::set_offset(offset)?,
                ClockCommand::Reset => clock::set_offset(0.0)?,
                ClockCommand::Show => {}
            }
            out(&format!(
                "offset {}s, now {}\n",
                clock::offset(),
                crate::output::drd_date(clock::now())
            ));
            Ok(())
        }
        Command::Reset => {
            let dirs = Dirs::open()?;
            std::fs::remove_dir_all(dirs.base())
                .map_err(io("cannot remove the simulator state"))?;
            Ok(())
        }
    }
}

fn disk(cmd: DiskCommand) -> SimResult<()> {
    let dirs = Dirs::open()?;
    if let DiskCommand::List = cmd {
        let sys = dirs.load_system()?;
        out(&to_json(&sys.disks));
        return Ok(());
    }
    with_system(&dirs, |sys| match cmd {
        DiskCommand::Add {
            dev,
            hw_path,
            vg,
            data,
        } => {
            if sys.disks.contains_key(&dev) {
                return Err(fail(format!("disk {dev} already exists")));
            }
            let hw_path = hw_path.unwrap_or_else(|| format!("0/1/1/0.{}.0", sys.disks.len()));
            sys.disks.insert(dev, Disk { hw_path, vg, data });
            Ok(())
        }
        DiskCommand::Set {
            dev,
            vg,
            free,
            data,
            blank,
        } => {
            let Some(d) = sys.disks.get_mut(&dev) else {
                return Err(fail(format!("no disk {dev}")));
            };
            if let Some(vg) = vg {
                d.vg = Some(vg);
            }
            if free {
                d.vg = None;
            }
            if data {
                d.data = true;
            }
            if blank {
                d.data = false;
            }
            Ok(())
        }
        DiskCommand::Remove { dev } => {
            if Some(dev.as_str()) == sys.disk_of(Image::Original)
                || Some(dev.as_str()) == sys.disk_of(Image::Clone)
            {
                return Err(fail(format!("disk {dev} holds a system image")));
            }
            sys.disks
                .remove(&dev)
                .map(|_| ())
                .ok_or_else(|| fail(format!("no disk {dev}")))
        }
        DiskCommand::List => Ok(()),
    })
}

fn ipd(cmd: IpdCommand) -> SimResult<()> {
    let dirs = Dirs::open()?;
    let _lock = dirs.state.lock().map_err(|e| fail(e.to_string()))?;
    let mut db = dirs.load_ipd()?;
    match cmd {
        IpdCommand::Add { paths, volatile } => {
            for p in paths {
                db.insert(
                    format!("/{}", p.trim_start_matches('/')),
                    IpdFile { volatile },
                );
            }
        }
        IpdCommand::Remove { paths } => {
            for p in paths {
                db.remove(&format!("/{}", p.trim_start_matches('/')));
            }
        }
        IpdCommand::List => {
            out(&to_json(&db));
            return Ok(());
        }
    }
    dirs.save_ipd(&db)
}

/// A small HP-UX-like tree; every entry dated one day ago so that edits show.
fn populate(root: &Path) -> std::io::Result<()> {
    let files: &[(&str, u32, &str)] = &[
        (
            "/etc/hosts",
            0o644,
            "127.0.0.1\tlocalhost loopback\n10.0.0.10\thpux01\n",
        ),
        (
            "/etc/passwd",
            0o644,
            "root:x:0:3::/:/sbin/sh\nadmin:x:101:20::/home/admin:/usr/bin/sh\n",
        ),
        ("/etc/group", 0o644, "root::0:root\nusers::20:\n"),
        (
            "/etc/fstab",
            0o644,
            "/dev/vg00/lvol3 / vxfs delaylog 0 1\n/dev/vg00/lvol1 /stand vxfs tranflush 0 1\n",
        ),
        ("/etc/lvmtab", 0o600, "vg00 /dev/disk/disk1\n"),
        (
            "/etc/rc.config.d/netconf",
            0o644,
            "HOSTNAME=\"hpux01\"\nINTERFACE_NAME[0]=\"lan0\"\n",
        ),
        ("/stand/vmunix", 0o755, "simulated HP-UX kernel\n"),
        ("/stand/bootconf", 0o644, "l /dev/disk/disk1_p2\n"),
        ("/var/adm/sw/products/INDEX", 0o644, "vendor_tag HP\n"),
        ("/var/adm/syslog/syslog.log", 0o644, "boot\n"),
        ("/opt/app/bin/app", 0o755, "#!/sbin/sh\necho app\n"),
        ("/opt/app/etc/app.conf", 0o640, "port=8080\n"),
        ("/opt/app/cache/data.bin", 0o644, "cache v1\n"),
        (
            "/home/admin/.profile",
            0o644,
            "export PATH=/usr/bin:/opt/app/bin\n",
        ),
    ];
    let dirs: &[(&str, u32)] = &[
        ("/tmp", 0o1777),
        ("/var/tmp", 0o1777),
        ("/var/opt/drd/tmp", 0o755),
    ];
    let then = (clock::real_now() as i64 - 86_400, 0u32);
    for (abs, mode, text) in files {
        let p = tree::host(root, abs);
        std::fs::create_dir_all(p.parent().expect("parent"))?;
        std::fs::write(&p, text)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))?;
    }
    for (abs, mode) in dirs {
        let p = tree::host(root, abs);
        std::fs::create_dir_all(&p)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))?;
    }
    let link = tree::host(root, "/sbin/init.d/app");
    std::fs::create_dir_all(link.parent().expect("parent"))?;
    std::os::unix::fs::symlink("/opt/app/bin/app", &link)?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::lchown(
            tree::host(root, "/opt/app/etc/app.conf"),
            Some(101),
            Some(20),
        )?;
        std::os::unix::fs::lchown(
            tree::host(root, "/home/admin/.profile"),
            Some(101),
            Some(20),
        )?;
    }
    let mut all = tree::walk(root)?;
    all.reverse();
    for (abs, _) in all {
        tree::set_mtime(&tree::host(root, &abs), then)?;
    }
    Ok(())
}
