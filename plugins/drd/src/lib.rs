//! `sync.drd`: an inactive clone of the HP-UX root disk, created and kept current
//! with Dynamic Root Disk (`drd`), as the seed's "drd sync" document describes
//! (reference/vendor-tools.md §2).
//!
//! Every command is `<bin>/drd <mode> ...`, where `<bin>` is the `bin` option of
//! the node config's `[driver.drd]` table (default `/opt/drd/bin`). The sync lists
//! are read from `<sysroot>/var/opt/drd/sync/`, `sysroot` being the other option of
//! that table (default `/`; the lab points it at the simulator's system).
//!
//! Actions:
//! - `provision`: `drd clone -t <target> [-x overwrite=true] [-x mirror_disk=<dev>]`
//!   (nothing to do when the clone already lives on `target`). `--dry-run` runs the
//!   read-only preview `drd clone -p ...`.
//! - `sync_update`: `drd sync [-x exclude_list=<file>]`; `--dry-run` runs the
//!   preview `drd sync -p ...` and reports how many files would be copied (which
//!   ones at debug level, `doppel -v`), from `files_to_be_copied_by_drd_sync`.
//! - `sync_resync`: re-clone with `-x overwrite=true` onto `target` (or the current
//!   clone disk). It destroys the clone, so it is refused without `--force`.
//! - `activate` (`drd activate -x reboot=false`), `deactivate`, `mount`, `umount`.
//!
//! drd's exit codes are unreliable: success is judged by the `END ... succeeded.`
//! banner. A `failed.` banner fails the action even when drd exits 0; a missing
//! END banner fails it too; a `succeeded.` banner with a non-zero exit code
//! succeeds with a warning. `-x verbosity=N` (keyword `verbosity`) is passed to
//! every mode but `status`, whose fields only show at the default verbosity.
//!
//! Status, from `drd status` (it writes to stderr; both streams are parsed): no
//! clone → down; booted from the clone, or clone activated → warn with a message
//! saying so; clone EFI partition without a boot loader, or clone not on the
//! configured target → warn; else up. The Last Sync Date (the Clone Creation Date
//! when never synced) is reported as the last sync, so doppel applies
//! `sync_max_delay`.

use std::time::Duration;

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, Driver, Error, Host, InterruptedRun, KeywordSpec,
    KeywordType, Level, Manifest, OptionSpec, Problem, RECONCILE_METHOD, ResourceConfig, Status,
    StatusReport,
};
use jiff::tz::TimeZone;

/// Where drd lives when the node config does not say.
const DEFAULT_BIN: &str = "/opt/drd/bin";
/// The root of the host DRD runs on when the node config does not say.
const DEFAULT_SYSROOT: &str = "/";
/// Where drd sync writes its lists (an absolute path on the DRD host).
pub const SYNC_DIR: &str = "/var/opt/drd/sync";
/// The list of files `drd sync` copies (or would copy, with `-p`).
pub const FILES_TO_BE_COPIED: &str = "files_to_be_copied_by_drd_sync";
/// Files changed on the clone, which drd sync never overwrites.
pub const TARGET_CHANGED: &str = "filtered_out_by_target_changed_filter_sync_phase";
/// Time limit of `drd status`.
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);
/// DRD dates: `05/10/18 16:52:21 METDST` (US order, local time; the zone
/// abbreviation is ignored).
const DATE_FORMAT: &str = "%m/%d/%y %H:%M:%S";

mod commands;
mod output;
mod status;

use commands::Run;
pub use output::{Verdict, messages, verdict};
use status::report;
pub use status::{DrdStatus, parse_drd_date};

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

pub struct Drd {
    config: ResourceConfig,
    host: Host,
}

impl Drd {
    fn provision(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let target = self.target().ok_or_else(|| {
            Error::invalid(format!(
                "{}: keyword 'target' (the clone disk) is required to provision",
                self.config.rid
            ))
        })?;
        match self.query() {
            Ok(info) if info.has_clone() && info.value("Clone Disk") == Some(target.as_str()) => {
                let created = info.value("Clone Creation Date").unwrap_or("?");
                return Ok(ActionOutcome::new().message(format!(
                        "a clone of the root disk already exists on {target} (created {created}): nothing to provision ('sync resync --force' re-creates it)"
                    )).noop());
            }
            Ok(info) if info.has_clone() => {
                let other = info.value("Clone Disk").unwrap_or("?");
                self.host.warn(&format!("a clone exists on {other}: drd clone makes a new one on {target}, and the clone on {other} is left behind"));
            }
            Ok(_) => {}
            Err(e) => self.host.warn(&format!(
                "cannot read the clone status ({e}): cloning anyway"
            )),
        }
        let overwrite = self.config.get_bool("overwrite", false);
        if request.dry_run {
            self.drd(self.clone_args(&target, overwrite, true), Run::Preview)?;
            self.host.info(&format!(
                "dry-run: the drd clone preview accepts {target} as the clone target"
            ));
        }
        let ran = self.drd(self.clone_args(&target, overwrite, false), Run::Change)?;
        Ok(ActionOutcome::new().messages(
            ran.is_some()
                .then(|| format!("clone of the root disk created on {target}")),
        ))
    }

    fn sync_update(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let list = format!("{SYNC_DIR}/{FILES_TO_BE_COPIED}");
        if request.dry_run {
            self.drd(self.sync_args(true), Run::Preview)?;
            let mut messages = Vec::new();
            match self.read_list(FILES_TO_BE_COPIED) {
                Ok(files) => {
                    messages.push(format!(
                        "dry-run: drd sync would copy {} file(s) to the clone (listed in {list})",
                        files.len()
                    ));
                    for f in &files {
                        self.host.log(Level::Debug, &format!("would copy {f}"));
                    }
                }
                Err(e) => self.host.warn(&format!(
                    "drd sync -p succeeded but its list is unreadable: {e}"
                )),
            }
            if let Ok(changed) = self.read_list(TARGET_CHANGED)
                && !changed.is_empty()
            {
                messages.push(format!(
                        "dry-run: {} file(s) changed on the clone would not be overwritten (listed in {SYNC_DIR}/{TARGET_CHANGED})",
                        changed.len()
                    ));
                for f in &changed {
                    self.host
                        .log(Level::Debug, &format!("changed on the clone, kept: {f}"));
                }
            }
            self.drd(self.sync_args(false), Run::Change)?;
            return Ok(ActionOutcome::new().messages(messages));
        }
        self.drd(self.sync_args(false), Run::Change)?;
        let mut messages = Vec::new();
        match self.read_list(FILES_TO_BE_COPIED) {
            Ok(files) => {
                messages.push(format!(
                    "{} file(s) copied to the clone (listed in {list})",
                    files.len()
                ));
                for f in &files {
                    self.host.log(Level::Debug, &format!("copied {f}"));
                }
            }
            Err(e) => tracing::debug!("{e}"),
        }
        if let Ok(changed) = self.read_list(TARGET_CHANGED)
            && !changed.is_empty()
        {
            messages.push(format!(
                    "{} file(s) changed on the clone were kept, not overwritten (listed in {SYNC_DIR}/{TARGET_CHANGED})",
                    changed.len()
                ));
        }
        Ok(ActionOutcome::new().messages(messages))
    }

    fn sync_resync(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        if !request.force && !request.dry_run {
            return Err(Error::failed(
                "sync resync re-creates the clone with 'drd clone -x overwrite=true': everything on the clone is replaced, including changes made there with drd runcmd; use --force",
            ));
        }
        let target = match self.target() {
            Some(t) => t,
            None => {
                let info = self.query()?;
                info.value("Clone Disk").map(str::to_owned).ok_or_else(|| {
                    Error::failed("no clone to re-create and no 'target' keyword: set 'target' or run provision")
                })?
            }
        };
        if request.dry_run {
            self.drd(self.clone_args(&target, true, true), Run::Preview)?;
            if !request.force {
                self.host.warn(
                    "dry-run: without --dry-run, sync resync needs --force (it replaces the clone)",
                );
            }
        }
        let ran = self.drd(self.clone_args(&target, true, false), Run::Change)?;
        Ok(ActionOutcome::new().messages(
            ran.is_some()
                .then(|| format!("clone of the root disk re-created on {target}")),
        ))
    }

    fn activate(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        if request.dry_run {
            self.drd(
                self.simple_args("activate", &["-p", "-x", "reboot=false"]),
                Run::Preview,
            )?;
        }
        let ran = self.drd(
            self.simple_args("activate", &["-x", "reboot=false"]),
            Run::Change,
        )?;
        Ok(ActionOutcome::new().messages(
            ran.is_some()
                .then_some("the clone is activated: the system boots from it at the next reboot"),
        ))
    }

    fn plain(&self, mode: &str, done: &str) -> Result<ActionOutcome, Error> {
        let ran = self.drd(self.simple_args(mode, &[]), Run::Change)?;
        Ok(ActionOutcome::new().messages(ran.is_some().then(|| done.to_owned())))
    }
}

impl Drd {
    /// A drd run nobody saw end (doppel was killed): drd keeps no record of its
    /// own besides the disks, so `drd status` is the truth. Nothing is stored:
    /// the status reads `drd status` every time.
    fn reconcile(&self, run: &InterruptedRun) -> Result<ActionOutcome, Error> {
        let info = self.query()?;
        let report = report(&info, &self.config, &TimeZone::system());
        let mut found = format!("drd status says the clone is {}", report.state);
        if let Some(first) = report.messages.first() {
            found.push_str(&format!(" ({})", first.text));
        }
        let mode = run.argv.get(1).map(String::as_str).unwrap_or("drd");
        Ok(ActionOutcome::new().message(format!("after drd {mode}: {found}")))
    }
}

fn device_problem(config: &ResourceConfig, keyword: &str) -> Option<Problem> {
    let v = config.get(keyword)?.trim();
    if v.is_empty() || v.starts_with("/dev/") {
        return None;
    }
    Some(Problem::keyword(
        keyword,
        format!(
            "'{v}' is not a device file: expected /dev/disk/diskN (or a legacy /dev/dsk/cXtYdZ)"
        ),
    ))
}

impl Driver for Drd {
    fn manifest() -> Manifest {
        Manifest::new("sync", "drd", env!("CARGO_PKG_VERSION"))
            .reconciles()
            .node_option(OptionSpec::new("bin", "Directory of the drd command (default /opt/drd/bin)."))
            .node_option(OptionSpec::new("sysroot", "Root under which DRD keeps /var/opt/drd (default /)."))
            .description("An inactive clone of the HP-UX root disk kept current with Dynamic Root Disk (drd)")
            .keyword(
                KeywordSpec::new("target", KeywordType::String)
                    .provisioning()
                    .example("/dev/disk/disk2")
                    .desc("The disk receiving the clone of the booted root disk (drd clone -t). Required to provision; the status warns when the clone lives elsewhere."),
            )
            .keyword(
                KeywordSpec::new("overwrite", KeywordType::Boolean)
                    .provisioning()
                    .default_value("false")
                    .desc("Pass -x overwrite=true to drd clone on provision, allowing a target that already carries LVM, VxVM or file-system data. sync resync always overwrites."),
            )
            .keyword(
                KeywordSpec::new("exclude_list", KeywordType::String)
                    .example("/etc/drd/sync_exclude")
                    .desc("The administrator's exclude list for drd sync (-x exclude_list=<file>): files and directories of the booted system never copied to the clone, one path per line."),
            )
            .keyword(
                KeywordSpec::new("mirror_disk", KeywordType::String)
                    .provisioning()
                    .example("/dev/disk/disk3")
                    .desc("A second disk mirroring the clone (drd clone -x mirror_disk=<dev>)."),
            )
            .keyword(
                KeywordSpec::new("verbosity", KeywordType::Integer)
                    .candidates(&["0", "1", "2", "3", "4", "5"])
                    .desc("drd's -x verbosity for clone, sync, activate, deactivate, mount and umount: 0 errors and banners only, 1 warnings, 2 notes, 3 steps (drd's default), 4 and 5 more detail."),
            )
            .action(ActionSpec::standard("provision"))
            .action(ActionSpec::standard("sync_update"))
            .action(ActionSpec::standard("sync_resync"))
            .action(ActionSpec::new("activate", "Make the clone the primary boot image (drd activate -x reboot=false): it boots at the next reboot."))
            .action(ActionSpec::new("deactivate", "Make the booted image the primary boot image again (drd deactivate), undoing an activate not yet followed by a reboot."))
            .action(ActionSpec::new("mount", "Mount the inactive image under /var/opt/drd/mnts (drd mount)."))
            .action(ActionSpec::new("umount", "Unmount the inactive image (drd umount)."))
    }

    fn validate(config: &ResourceConfig) -> Vec<Problem> {
        let mut problems: Vec<Problem> = ["target", "mirror_disk"]
            .iter()
            .filter_map(|k| device_problem(config, k))
            .collect();
        if let (Some(t), Some(m)) = (config.get("target"), config.get("mirror_disk"))
            && !t.trim().is_empty()
            && t.trim() == m.trim()
        {
            problems.push(Problem::keyword(
                "mirror_disk",
                "the mirror disk must differ from the target disk",
            ));
        }
        if let Some(f) = config
            .get("exclude_list")
            .map(str::trim)
            .filter(|f| !f.is_empty())
            && !f.starts_with('/')
        {
            problems.push(Problem::keyword(
                "exclude_list",
                format!("'{f}' must be an absolute path (drd reads it on the host)"),
            ));
        }
        problems
    }

    fn open(config: ResourceConfig, host: Host) -> Result<Self, Error> {
        Ok(Drd { config, host })
    }

    fn status(&self) -> Result<StatusReport, Error> {
        Ok(match self.query() {
            Ok(info) => report(&info, &self.config, &TimeZone::system()),
            Err(e) => StatusReport::new(Status::Undef).error(e.message),
        })
    }

    fn call(&self, method: &str, request: serde_json::Value) -> Result<serde_json::Value, Error> {
        if method != RECONCILE_METHOD {
            return Err(Error::unsupported(method));
        }
        let run: InterruptedRun = serde_json::from_value(request)?;
        Ok(serde_json::to_value(self.reconcile(&run)?)?)
    }

    fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        match request.action.as_str() {
            "provision" => self.provision(request),
            "sync_update" => self.sync_update(request),
            "sync_resync" => self.sync_resync(request),
            "activate" => self.activate(request),
            "deactivate" => self.plain(
                "deactivate",
                "the booted image is the primary boot image again",
            ),
            "mount" => self.plain(
                "mount",
                "the inactive image is mounted under /var/opt/drd/mnts",
            ),
            "umount" => self.plain("umount", "the inactive image is unmounted"),
            other => Err(Error::unsupported(other)),
        }
    }
}

doppel_plugin_api::export_driver!(Drd);

#[cfg(test)]
mod tests;
