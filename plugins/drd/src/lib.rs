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

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandOutput, CommandRequest, Driver, Error, Host,
    InterruptedRun, KeywordSpec, KeywordType, Level, Manifest, OptionSpec, Problem,
    RECONCILE_METHOD, ResourceConfig, Status, StatusReport,
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

// ---------------------------------------------------------------------------
// Output parsing
// ---------------------------------------------------------------------------

/// What the END banner of a drd run says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `END <Operation> succeeded.`
    Succeeded,
    /// `END <Operation> failed.` (or anything but succeeded).
    Failed,
    /// No END banner: the output was cut, or drd died.
    Missing,
}

/// The verdict of the last `=======  <date>  END ...` banner in `text`.
pub fn verdict(text: &str) -> Verdict {
    // `=======  <date>  END <Operation> succeeded. (user=..)  (jobid=..)`: the first
    // BEGIN or END word after the date says which banner it is.
    let end = text.lines().rev().map(str::trim).find_map(|l| {
        let rest = l.strip_prefix("=======")?;
        let mut words = rest
            .split_whitespace()
            .skip_while(|w| *w != "BEGIN" && *w != "END");
        (words.next()? == "END").then(|| words.collect::<Vec<_>>())
    });
    match end {
        None => Verdict::Missing,
        Some(words) if words.iter().any(|w| w.trim_end_matches('.') == "succeeded") => {
            Verdict::Succeeded
        }
        Some(_) => Verdict::Failed,
    }
}

/// The messages of the lines starting with `prefix` (`ERROR:`, `WARNING:`), each
/// joined with its indented continuation lines.
pub fn messages(text: &str, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix(prefix) {
            out.extend(current.take());
            current = Some(rest.trim().to_owned());
        } else if current.is_some()
            && line.starts_with(' ')
            && !trimmed.is_empty()
            && !trimmed.starts_with('*')
        {
            if let Some(c) = current.as_mut() {
                c.push(' ');
                c.push_str(trimmed);
            }
        } else {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

/// Both streams of a drd run: stdout first, then stderr (where drd writes).
fn combined(out: &CommandOutput) -> String {
    match (out.stdout.trim().is_empty(), out.stderr.trim().is_empty()) {
        (true, _) => out.stderr.clone(),
        (false, true) => out.stdout.clone(),
        (false, false) => format!("{}\n{}", out.stdout.trim_end(), out.stderr),
    }
}

/// The fields of `drd status`, by label (`Clone Disk` → `/dev/disk/disk2`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DrdStatus {
    pub fields: BTreeMap<String, String>,
}

impl DrdStatus {
    /// Reads `  Label:   value` lines (an optional `* ` before the label is
    /// accepted); the value is everything after the first `:`.
    pub fn parse(text: &str) -> DrdStatus {
        let mut fields = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("=======") {
                continue;
            }
            let line = line.strip_prefix("* ").unwrap_or(line).trim_start();
            let Some((label, value)) = line.split_once(':') else {
                continue;
            };
            let label = label.trim();
            let known = [
                "Original Disk",
                "Original EFI Partition",
                "Clone Disk",
                "Clone EFI Partition",
                "Clone Creation Date",
                "Last Sync Date",
                "Clone Mirror Disk",
                "Mirror EFI Partition",
                "Booted Disk",
                "Activated Disk",
                "Clone Rehost Status",
                "Original Rehost Status",
            ];
            if known.contains(&label) {
                fields.insert(label.to_owned(), value.trim().to_owned());
            }
        }
        DrdStatus { fields }
    }

    /// A field's value; `None` when absent, empty or `None`.
    pub fn value(&self, label: &str) -> Option<&str> {
        self.fields
            .get(label)
            .map(String::as_str)
            .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("none"))
    }

    /// The device inside the parentheses of `Booted Disk` / `Activated Disk`.
    pub fn device(&self, label: &str) -> Option<&str> {
        let v = self.value(label)?;
        let inner = v.split_once('(')?.1.split_once(')')?.0.trim();
        (!inner.is_empty()).then_some(inner)
    }

    /// True when `Booted Disk` / `Activated Disk` names the clone.
    pub fn is_clone(&self, label: &str) -> bool {
        self.value(label)
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("clone"))
    }

    pub fn has_clone(&self) -> bool {
        self.value("Clone Disk").is_some() && self.value("Clone Creation Date").is_some()
    }
}

/// Reads a DRD date (`05/10/18 16:52:21 METDST`) in `tz`.
pub fn parse_drd_date(text: &str, tz: &TimeZone) -> Option<jiff::Zoned> {
    let mut parts = text.split_whitespace();
    let day = parts.next()?;
    let time = parts.next()?;
    let dt = jiff::civil::DateTime::strptime(DATE_FORMAT, format!("{day} {time}")).ok()?;
    dt.to_zoned(tz.clone()).ok()
}

/// The status report for a parsed `drd status`, dates read in `tz`.
fn report(info: &DrdStatus, config: &ResourceConfig, tz: &TimeZone) -> StatusReport {
    if !info.has_clone() {
        return StatusReport::new(Status::Down)
            .info("no clone of the root disk (drd status: Clone Disk None); provision creates it");
    }
    let clone_disk = info.value("Clone Disk").unwrap_or("?");
    let mut warnings: Vec<String> = Vec::new();
    let mut infos: Vec<String> = Vec::new();
    let created = info.value("Clone Creation Date").unwrap_or("");
    let (label, date) = match info.value("Last Sync Date") {
        Some(d) => ("last synced", d),
        None => ("created, never synced", created),
    };
    let mut last_sync = None;
    match parse_drd_date(date, tz) {
        Some(when) => {
            infos.push(format!(
                "clone on {clone_disk}, {label} {}",
                when.strftime("%Y-%m-%d %H:%M:%S")
            ));
            last_sync = Some(when.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string());
        }
        None => warnings.push(format!(
            "clone on {clone_disk}: cannot read the date '{date}' of drd status"
        )),
    }
    let booted = info.device("Booted Disk").unwrap_or("?");
    let activated = info.device("Activated Disk").unwrap_or("?");
    if info.is_clone("Booted Disk") {
        warnings.push(format!(
            "the system is booted from the clone ({booted}): the original is the inactive image, and drd sync only runs from the booted original"
        ));
        if !info.is_clone("Activated Disk") {
            infos.push(format!(
                "the original ({activated}) is activated: the next boot returns to it"
            ));
        }
    } else if info.is_clone("Activated Disk") {
        warnings.push(format!(
            "the clone ({activated}) is activated: the next boot starts from it ('deactivate' undoes this)"
        ));
    }
    if let Some(efi) = info.value("Clone EFI Partition")
        && !efi.to_ascii_lowercase().contains("boot loader present")
    {
        warnings.push(format!(
            "clone EFI partition: {efi}: the clone may not boot"
        ));
    }
    if let Some(target) = config
        .get("target")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        && target != clone_disk
        && !info.is_clone("Booted Disk")
    {
        warnings.push(format!(
            "the clone is on {clone_disk}, not on the configured target {target}"
        ));
    }
    if let Some(mirror) = config
        .get("mirror_disk")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        && info.value("Clone Mirror Disk") != Some(mirror)
    {
        let current = info.value("Clone Mirror Disk").unwrap_or("None");
        warnings.push(format!(
            "the clone mirror disk is {current}, not the configured mirror_disk {mirror}"
        ));
    }
    let mut report = StatusReport::new(if warnings.is_empty() {
        Status::Up
    } else {
        Status::Warn
    });
    for w in warnings {
        report = report.warn(w);
    }
    for i in infos {
        report = report.info(i);
    }
    if let Some(t) = last_sync {
        report = report.last_sync(t);
    }
    report
}

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

pub struct Drd {
    config: ResourceConfig,
    host: Host,
}

/// How a drd command is run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    /// Changes the system: logged at INFO, skipped by `--dry-run`.
    Change,
    /// A `-p` preview: runs under `--dry-run`; its output goes to the debug log.
    Preview,
    /// `drd status`: runs under `--dry-run`, with a time limit, quietly.
    Query,
}

impl Drd {
    fn tool(&self) -> String {
        self.config.tool_path("bin", DEFAULT_BIN, "drd")
    }

    /// Where DRD's `/var/opt/drd` lives: `<sysroot>/var/opt/drd`.
    fn sysroot(&self) -> PathBuf {
        PathBuf::from(
            self.config
                .option("sysroot")
                .filter(|r| !r.trim().is_empty())
                .unwrap_or(DEFAULT_SYSROOT),
        )
    }

    fn sync_list(&self, name: &str) -> PathBuf {
        self.sysroot()
            .join(SYNC_DIR.trim_start_matches('/'))
            .join(name)
    }

    /// Reads a sync list: its non-empty lines.
    fn read_list(&self, name: &str) -> Result<Vec<String>, String> {
        let path = self.sync_list(name);
        // Through the host: the list is on the DRD host, which is another one
        // when the resource sets `ssh`.
        match self.host.read_file(&path) {
            Ok(Some(t)) => Ok(t
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()),
            Ok(None) => Err(format!(
                "cannot read {}: No such file or directory",
                path.display()
            )),
            Err(e) => Err(e.message),
        }
    }

    fn verbosity_args(&self) -> Vec<String> {
        if self
            .config
            .get("verbosity")
            .is_some_and(|v| !v.trim().is_empty())
        {
            vec![
                "-x".into(),
                format!("verbosity={}", self.config.get_int("verbosity", 3)),
            ]
        } else {
            Vec::new()
        }
    }

    fn clone_args(&self, target: &str, overwrite: bool, preview: bool) -> Vec<String> {
        let mut args: Vec<String> = vec!["clone".into()];
        if preview {
            args.push("-p".into());
        }
        args.extend(["-t".into(), target.to_owned()]);
        if overwrite {
            args.extend(["-x".into(), "overwrite=true".into()]);
        }
        if let Some(m) = self
            .config
            .get("mirror_disk")
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            args.extend(["-x".into(), format!("mirror_disk={m}")]);
        }
        args.extend(self.verbosity_args());
        args
    }

    fn sync_args(&self, preview: bool) -> Vec<String> {
        let mut args: Vec<String> = vec!["sync".into()];
        if preview {
            args.push("-p".into());
        }
        if let Some(f) = self
            .config
            .get("exclude_list")
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            args.extend(["-x".into(), format!("exclude_list={f}")]);
        }
        args.extend(self.verbosity_args());
        args
    }

    fn simple_args(&self, mode: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![mode.into()];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.extend(self.verbosity_args());
        args
    }

    /// Runs `drd <args>` and judges it by its END banner. `Ok(None)` when skipped
    /// by `--dry-run`; `Ok(Some(output))` when drd reported success.
    fn drd(&self, args: Vec<String>, how: Run) -> Result<Option<String>, Error> {
        let mode = args.first().cloned().unwrap_or_default();
        let mut argv = vec![self.tool()];
        argv.extend(args);
        let mut request = CommandRequest::new(argv);
        match how {
            Run::Change => {
                // drd runs for minutes to hours and writes its phases on stderr:
                // doppel logs each line at INFO as it comes (not as "command
                // succesful but stderr" once it ends).
                request = request.streamed();
            }
            Run::Preview => request = request.read_only(),
            Run::Query => request = request.read_only().timeout(QUERY_TIMEOUT),
        }
        let out = self.host.run(&request)?;
        if out.dry_run {
            return Ok(None);
        }
        let text = combined(&out);
        // A preview's or a query's output is quiet (doppel logs it at debug level
        // only): relay it; a change's was streamed already.
        if how != Run::Change && !text.trim().is_empty() {
            let level = if how == Run::Change {
                Level::Info
            } else {
                Level::Debug
            };
            self.host.log(level, text.trim_end());
        }
        let what = if how == Run::Preview {
            format!("drd {mode} -p")
        } else {
            format!("drd {mode}")
        };
        // A preview's or a query's warnings are the caller's to summarise.
        let warn_level = if how == Run::Change {
            Level::Warn
        } else {
            Level::Debug
        };
        if out.timed_out {
            return Err(Error::failed(format!("{what} timed out")));
        }
        let code = match out.exit_code {
            Some(c) => format!("exit code {c}"),
            None => "killed".to_owned(),
        };
        let errors = messages(&text, "ERROR:");
        match verdict(&text) {
            Verdict::Succeeded => {
                for w in messages(&text, "WARNING:") {
                    self.host.log(warn_level, &format!("{what}: {w}"));
                }
                match out.exit_code {
                    Some(0) => {}
                    Some(2) => self.host.log(warn_level, &format!("{what} succeeded with warnings (exit code 2)")),
                    _ => self.host.log(warn_level, &format!(
                        "{what} reported success in its END banner but ended with {code}: drd's exit codes are unreliable, the banner is trusted"
                    )),
                }
                Ok(Some(text))
            }
            Verdict::Failed => {
                let why = if errors.is_empty() {
                    "see /var/opt/drd/drd.log".to_owned()
                } else {
                    errors.join("; ")
                };
                let code_note = if out.exit_code == Some(0) {
                    " (its END banner says failed, although it exited 0)"
                } else {
                    ""
                };
                Err(Error::failed(format!("{what} failed{code_note}: {why}")))
            }
            Verdict::Missing => {
                let detail = if errors.is_empty() {
                    text.lines()
                        .rev()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .map(|l| format!("; last line: {l}"))
                        .unwrap_or_default()
                } else {
                    format!(": {}", errors.join("; "))
                };
                Err(Error::failed(format!(
                    "{what} printed no END banner ({code}): its outcome is unknown, see /var/opt/drd/drd.log{detail}"
                )))
            }
        }
    }

    /// `drd status`, parsed.
    fn query(&self) -> Result<DrdStatus, Error> {
        let text = self
            .drd(vec!["status".into()], Run::Query)?
            .unwrap_or_default();
        Ok(DrdStatus::parse(&text))
    }

    fn target(&self) -> Option<String> {
        self.config
            .get("target")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    }

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
