//! `sync.symclone`: EMC Symmetrix TimeFinder/Clone pairs driven with SYMCLI, as
//! OpenSVC's symclone driver drives them (reference/opensvc.md §8).
//!
//! Every clone command is `<bin>/symclone -sid <symid> -f <pairs file> ...`, where the
//! pairs file (one `<src> <dst>` line per pair) lives in the resource's state
//! directory. The status comes from `<bin>/symdev -sid <symid> list -v -devs
//! <dst,...> -output xml_e`. `<bin>` is the `bin` option of the node config's
//! `[driver.symclone]` table (default `/usr/symcli/bin`).
//!
//! Actions:
//! - `start`, `sync_break`: activate the clones (nothing to do when every pair is
//!   already active), after waiting for an activable state; then wait for the
//!   active state.
//! - `sync_resync`: recreate the clones (refused while the service is up unless
//!   `--force`).
//! - `sync_update`: recreate, then activate.
//! - `sync_restore`: restore the sources from the targets, wait for the restored
//!   state, and terminate the restore session.
//!
//! On Linux, an activation (start, sync_break, sync_update) ends with the device
//! refresh of OpenSVC's linux.py ([`rescan`]): rescan of the targets' SCSI paths,
//! `sg_turs`, `multipath -r`; the `rescan` keyword turns it off.
//!
//! Waits poll the symdev XML every few seconds through `host.sleep` (so Ctrl-C stops
//! them). The poll interval can be changed with the environment variable
//! `DOPPEL_SYMCLONE_POLL_MS` (milliseconds); it exists for tests against the SYMCLI
//! simulator and is not a configuration keyword.

use std::path::Path;
use std::time::{Duration, Instant};

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandRequest, Driver, Error, Host, InterruptedRun,
    KeywordSpec, KeywordType, Manifest, OptionSpec, Problem, RECONCILE_METHOD, ResourceConfig,
    Status, StatusReport,
};
use jiff::tz::TimeZone;

mod cloneset;
mod commands;
mod pairs;
mod xml;

use cloneset::CloneSet;
use pairs::{Pair, parse_pairs};
use xml::Node;

/// Where SYMCLI lives when the node config does not say.
const DEFAULT_BIN: &str = "/usr/symcli/bin";
/// Environment variable overriding the poll interval of the waits, in milliseconds
/// (for tests; not a keyword).
pub const POLL_ENV: &str = "DOPPEL_SYMCLONE_POLL_MS";
/// The poll interval of the waits.
const DEFAULT_POLL: Duration = Duration::from_secs(3);
/// Attempts of a status query hitting lock contention at the start of an action.
const LOCK_ATTEMPTS: u32 = 5;
/// Time limit of read-only queries (symdev list, symclone verify).
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);
/// The format of `last_action` in SYMCLI output (local time).
const LAST_ACTION_FORMAT: &str = "%a %b %d %H:%M:%S %Y";

/// States in which a pair's target holds an activated point-in-time copy.
const ACTIVE_STATES: &[&str] = &["copied", "copyinprog", "copyonaccess"];
/// States from which a pair can be activated.
const ACTIVABLE_STATES: &[&str] = &["recreated", "precopy", "created"];

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

/// What a wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal {
    Activable,
    Active,
}

impl Goal {
    fn states(self) -> &'static [&'static str] {
        match self {
            Goal::Activable => ACTIVABLE_STATES,
            Goal::Active => ACTIVE_STATES,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Goal::Activable => "activable state",
            Goal::Active => "active state",
        }
    }

    fn list(self) -> &'static str {
        match self {
            Goal::Activable => "recreated, precopy or created",
            Goal::Active => "copied, copyinprog or copyonaccess",
        }
    }
}

/// A `sync.symclone` resource: one clone set (its `pairs` on array `symid`),
/// driven with SYMCLI through the host.
pub struct Symclone {
    config: ResourceConfig,
    host: Host,
    /// Interval between two polls of a wait.
    poll: Duration,
}

impl Symclone {
    /// Waits (up to `timeout`) until every pair is in one of `goal`'s states. Starts
    /// from `initial` when the caller just queried. Under `--dry-run`, does not wait.
    fn wait_for(
        &self,
        goal: Goal,
        pairs: &[Pair],
        timeout: Duration,
        dry_run: bool,
        initial: Option<CloneSet>,
    ) -> Result<(), Error> {
        if let Some(set) = &initial {
            if set.all_in(goal.states()) {
                return Ok(());
            }
            if goal == Goal::Activable {
                set.check_sessions()?;
            }
        }
        if dry_run {
            self.host.info(&format!(
                "dry-run: would wait for {} ({}, max {}s)",
                goal.name(),
                goal.list(),
                timeout.as_secs()
            ));
            return Ok(());
        }
        let n = pairs.len();
        let start = Instant::now();
        let mut current = initial;
        loop {
            let set = match current.take() {
                Some(set) => Some(set),
                None => match self.query(pairs) {
                    Ok(set) => Some(set),
                    Err(e) if e.transient => {
                        self.host.warn(&format!("{} (retrying)", e.message));
                        None
                    }
                    Err(e) => return Err(Error::failed(e.message)),
                },
            };
            let ready = set.as_ref().map(|s| s.count(goal.states())).unwrap_or(0);
            if ready == n && set.is_some() {
                return Ok(());
            }
            if let (Goal::Activable, Some(set)) = (goal, &set) {
                set.check_sessions()?;
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                let details = set
                    .as_ref()
                    .map(|s| {
                        s.not_in(goal.states())
                            .iter()
                            .map(|p| p.describe())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_else(|| "state unknown".into());
                return Err(Error::failed(format!(
                    "timed out waiting for {} ({}s; {}): {ready}/{n} devs ready; {details}",
                    goal.name(),
                    timeout.as_secs(),
                    goal.list()
                )));
            }
            // The states of the pairs not there yet: what the operator watches.
            let pending = set
                .as_ref()
                .map(|s| {
                    let states: Vec<String> = s
                        .not_in(goal.states())
                        .iter()
                        .map(|p| p.describe())
                        .collect();
                    format!(": {}", states.join(", "))
                })
                .unwrap_or_default();
            self.host.progress(&format!(
                "waiting for {}: {ready}/{n} devs ready ({}s/{}s){pending}",
                goal.name(),
                elapsed.as_secs(),
                timeout.as_secs()
            ));
            self.host.sleep(self.poll.min(timeout - elapsed))?;
        }
    }

    /// True when `verify -<state>` succeeds for one of the activable states (every
    /// pair in that state), as OpenSVC's `is_activable()`.
    fn verify_activable(&self, file: &Path) -> Result<bool, Error> {
        for state in ACTIVABLE_STATES {
            let flag = format!("-{state}");
            let argv = self.symclone_argv(file, &["verify", &flag])?;
            let program = argv[0].clone();
            let out = self
                .host
                .run(&CommandRequest::new(argv).read_only().timeout(QUERY_TIMEOUT))
                .map_err(|e| Error::failed(format!("cannot run {program}: {e}")))?;
            match out.exit_code {
                Some(0) => return Ok(true),
                Some(127) => {
                    return Err(Error::failed(format!(
                        "{program} not found (exit code 127)"
                    )));
                }
                _ => {}
            }
        }
        Ok(false)
    }

    /// Recreates the clones unless they are already activable. Returns whether the
    /// recreate command was issued.
    fn recreate(&self, file: &Path) -> Result<bool, Error> {
        if self.verify_activable(file)? {
            self.host.info("symclone are already recreated");
            return Ok(false);
        }
        self.host
            .run_checked(&CommandRequest::new(self.recreate_argv(file)?).warn_to_info())?;
        Ok(true)
    }

    /// Activates the clones. `after_recreate`: a recreate was just issued (under
    /// `--dry-run` it did not happen, so the current state says nothing).
    fn activate(
        &self,
        pairs: &[Pair],
        file: &Path,
        request: &ActionRequest,
        after_recreate: bool,
    ) -> Result<ActionOutcome, Error> {
        let timeout = self.recreate_timeout();
        let initial = if request.dry_run && after_recreate {
            None
        } else {
            let set = self.query_patient(pairs)?;
            if set.all_in(ACTIVE_STATES) {
                self.host.info("symclone target devices are already active");
                return Ok(ActionOutcome::new().noop());
            }
            Some(set)
        };
        self.wait_for(Goal::Activable, pairs, timeout, request.dry_run, initial)?;
        self.host
            .run_checked(&CommandRequest::new(self.activate_argv(file)?).warn_to_info())?;
        self.wait_for(Goal::Active, pairs, timeout, request.dry_run, None)?;
        if self.rescan_enabled() {
            self.refresh_devices(pairs, request.dry_run)?;
        }
        let message = if request.dry_run {
            format!("would activate {} clone pair(s)", pairs.len())
        } else {
            format!("{} clone pair(s) activated", pairs.len())
        };
        Ok(ActionOutcome::new().message(message))
    }

    fn resync(
        &self,
        pairs: &[Pair],
        file: &Path,
        request: &ActionRequest,
    ) -> Result<ActionOutcome, Error> {
        // Refused while the service runs by doppel itself: the manifest marks
        // sync_resync destructive.
        let _ = (pairs, request);
        let ran = self.recreate(file)?;
        Ok({
            let mut outcome = ActionOutcome::new();
            outcome.noop = !ran;
            outcome
        })
    }

    fn update(
        &self,
        pairs: &[Pair],
        file: &Path,
        request: &ActionRequest,
    ) -> Result<ActionOutcome, Error> {
        let ran = self.recreate(file)?;
        let mut outcome = self.activate(pairs, file, request, ran)?;
        outcome.noop = outcome.noop && !ran;
        Ok(outcome)
    }

    fn restore(
        &self,
        pairs: &[Pair],
        file: &Path,
        request: &ActionRequest,
    ) -> Result<ActionOutcome, Error> {
        let set = self.query_patient(pairs)?;
        let inactive = set.not_in(ACTIVE_STATES);
        if !inactive.is_empty() {
            let labels: Vec<String> = inactive.iter().map(|p| p.pair.label()).collect();
            return Err(Error::failed(format!(
                "{} not in active state ({})",
                labels.join(", "),
                Goal::Active.list()
            )));
        }
        self.host.run_checked(
            &CommandRequest::new(self.symclone_argv(file, &["-noprompt", "restore"])?)
                .warn_to_info(),
        )?;
        let terminate = CommandRequest::new(
            self.symclone_argv(file, &["-noprompt", "terminate", "-restored"])?,
        )
        .warn_to_info();
        let timeout = self.restore_timeout();
        if request.dry_run {
            self.host.info(&format!(
                "dry-run: would wait for restored state (max {}s)",
                timeout.as_secs()
            ));
        } else {
            let count = (timeout.as_secs() / 10).max(1).to_string();
            let argv =
                self.symclone_argv(file, &["verify", "-restored", "-i", "10", "-c", &count])?;
            let program = argv[0].clone();
            let mut verify = CommandRequest::new(argv)
                .read_only()
                .timeout(timeout + Duration::from_secs(120));
            verify.quiet = false;
            verify.warn_to_info = true;
            self.host.info(&format!(
                "waiting for restored state (max {}s)",
                timeout.as_secs()
            ));
            let out = self
                .host
                .run(&verify)
                .map_err(|e| Error::failed(format!("cannot run {program}: {e}")))?;
            if self.host.cancelled() {
                return Err(Error::cancelled());
            }
            if !out.success() {
                return Err(Error::failed(format!(
                    "timeout waiting for devs to become 'restored'. once restored, you can terminate running: {}",
                    terminate.display()
                )));
            }
        }
        self.host.run_checked(&terminate)?;
        let message = if request.dry_run {
            format!("would restore {} clone pair(s)", pairs.len())
        } else {
            format!("{} clone pair(s) restored", pairs.len())
        };
        Ok(ActionOutcome::new().message(message))
    }
}

fn poll_interval_from_env() -> Duration {
    std::env::var(POLL_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_POLL)
}

impl Driver for Symclone {
    fn manifest() -> Manifest {
        Manifest::new("sync", "symclone", env!("CARGO_PKG_VERSION"))
            .reconciles()
            // A status is one read-only symdev query of the resource's own
            // pairs (SYMAPI serialises its database access itself) and shares
            // nothing with the others: a service's clone sets are refreshed at once.
            .reentrant()
            .node_option(OptionSpec::new("bin", "Directory of the SYMCLI commands (default /usr/symcli/bin)."))
            .node_option(OptionSpec::new("sysroot", "Root of the /sys tree the Linux device refresh writes to (default /)."))
            .node_option(OptionSpec::new("sg_turs", "Full path of sg_turs, for the device refresh (default /usr/bin/sg_turs)."))
            .node_option(OptionSpec::new("multipath", "Full path of multipath, for the device refresh (default /sbin/multipath)."))
            .description("EMC Symmetrix TimeFinder/Clone pairs driven with SYMCLI")
            .keyword(
                KeywordSpec::new("consistent", KeywordType::Boolean)
                    .default_value("True")
                    .desc("Use -consistent in symclone commands."),
            )
            .keyword(
                KeywordSpec::new("symid", KeywordType::String)
                    .required()
                    .not_scopable()
                    .desc("Identifier of the symmetrix array hosting the source and target devices pairs pointed by 'pairs'."),
            )
            .keyword(
                KeywordSpec::new("pairs", KeywordType::List)
                    .required()
                    .example("00B60:00B61 00B62:00B63")
                    .desc("Whitespace-separated list of devices <src>:<dst> devid pairs to drive with this resource."),
            )
            .keyword(
                KeywordSpec::new("precopy", KeywordType::Boolean)
                    .default_value("True")
                    .desc("Use -precopy on recreate."),
            )
            .keyword(
                KeywordSpec::new("recreate_timeout", KeywordType::Duration)
                    .default_value("300")
                    .desc("Maximum time to wait for the clone pairs to reach an activable state (recreated, precopy or created) before activating them, and then for the active state."),
            )
            .keyword(
                KeywordSpec::new("restore_timeout", KeywordType::Duration)
                    .default_value("300")
                    .desc("Maximum time to wait for the clone pairs to reach the restored state during a sync restore, before terminating the restore session."),
            )
            .keyword(
                KeywordSpec::new("rescan", KeywordType::Boolean)
                    .default_value(if rescan::supported() { "True" } else { "False" })
                    .candidates(&["True", "False"])
                    .desc("Linux only: after an activation, check that the target devices are visible from this host, rescan their SCSI paths (echo 1 > /sys/block/<dev>/device/rescan), wait until each answers sg_turs, and reload their multipath map (multipath -v0 -r), as OpenSVC does, so that the host does not read the old data from its caches. The paths come from symdev (Dev_Info/pd_name, Front_End/Port/pd_name). False skips it (targets not used by this host)."),
            )
            .action(ActionSpec::standard("start"))
            .action(ActionSpec::standard("sync_break"))
            .action(ActionSpec::standard("sync_resync").destructive())
            .action(ActionSpec::standard("sync_update").destructive())
            .action(ActionSpec::standard("sync_restore").destructive())
    }

    fn validate(config: &ResourceConfig) -> Vec<Problem> {
        let mut problems = match parse_pairs(&config.get_list("pairs")) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .into_iter()
                .map(|e| Problem::keyword("pairs", e))
                .collect(),
        };
        if !rescan::supported() && config.get_bool("rescan", false) {
            problems.push(Problem::keyword(
                "rescan",
                "rescan = true needs Linux: the refresh writes /sys/block/<dev>/device/rescan",
            ));
        }
        problems.extend(rescan::node_config_problems(config));
        problems
    }

    fn open(config: ResourceConfig, host: Host) -> Result<Self, Error> {
        Ok(Symclone {
            config,
            host,
            poll: poll_interval_from_env(),
        })
    }

    fn status(&self) -> Result<StatusReport, Error> {
        let pairs = match self.pairs() {
            Ok(p) => p,
            Err(e) => return Ok(StatusReport::new(Status::Undef).error(e.message)),
        };
        Ok(match self.query(&pairs) {
            Ok(set) => set.report(&TimeZone::system()),
            Err(e) => StatusReport::new(Status::Undef).error(e.message),
        })
    }

    fn call(&self, method: &str, request: serde_json::Value) -> Result<serde_json::Value, Error> {
        if method != RECONCILE_METHOD {
            return Err(Error::unsupported(method));
        }
        let run: InterruptedRun = serde_json::from_value(request)?;
        // The pairs' states are SYMCLI's (symclone query): nothing of the
        // interrupted run is kept by the driver, so the query is all there is.
        let pairs = self.pairs()?;
        let set = self.query(&pairs).map_err(|e| Error::failed(e.message))?;
        let report = set.report(&TimeZone::system());
        let mut found = format!(
            "after {}: symclone query says the pairs are {}",
            run.argv.get(1).map(String::as_str).unwrap_or("symclone"),
            report.state
        );
        if let Some(first) = report.messages.first() {
            found.push_str(&format!(" ({})", first.text));
        }
        Ok(serde_json::to_value(ActionOutcome::new().message(found))?)
    }

    fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let run: fn(&Symclone, &[Pair], &Path, &ActionRequest) -> Result<ActionOutcome, Error> =
            match request.action.as_str() {
                "start" | "sync_break" => |d, pairs, file, req| d.activate(pairs, file, req, false),
                "sync_resync" => Symclone::resync,
                "sync_update" => Symclone::update,
                "sync_restore" => Symclone::restore,
                other => return Err(Error::unsupported(other)),
            };
        let pairs = self.pairs()?;
        let file = self.write_pairs(&pairs)?;
        run(self, &pairs, &file, request)
    }
}

doppel_plugin_api::export_driver!(Symclone);

mod rescan;
pub use rescan::NODE_CONFIG_KEYS;

#[cfg(test)]
mod tests;
