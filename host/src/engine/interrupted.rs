//! Runs a doppel that is gone left behind (issue 24): the in-flight records of
//! `inflight.rs`, found by the next status (and daemon tick) and action on the
//! resource. A command still running is an orphan: status says so, and a
//! state-changing action refuses to race it (or waits, `--waitlock`). A command
//! that ended is reconciled by its driver from what the tool left behind, then
//! forgotten; a driver that cannot reconcile leaves the resource `undef` until
//! an action runs on it again.

use std::os::fd::AsRawFd as _;
use std::time::Instant;

use doppel_plugin_api::InterruptedRun;

use super::*;
use crate::inflight::{self, Found, Standing};

/// What status shows of a resource's interrupted runs.
#[derive(Default)]
pub(super) struct Interrupted {
    /// Orphans still running (`drd clone started ... is still running (pid N)`).
    pub running: Vec<String>,
    /// Why the status cannot be trusted (a driver that cannot reconcile).
    pub undef: Vec<String>,
    /// What reconciliation found, for the status messages.
    pub reconciled: Vec<String>,
    /// Unreadable records and failed reconciliations.
    pub problems: Vec<String>,
}

/// An exclusive, non-blocking flock on a record, so two doppels (a status and
/// an action) never reconcile the same run twice.
struct RecordLock {
    _file: std::fs::File,
}

impl RecordLock {
    /// `None` when another doppel holds it, or the record is gone.
    fn try_take(found: &Found, wait: bool) -> Option<RecordLock> {
        let file = std::fs::File::open(&found.path).ok()?;
        let flags = if wait {
            libc::LOCK_EX
        } else {
            libc::LOCK_EX | libc::LOCK_NB
        };
        // SAFETY: plain syscall on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), flags) } != 0 {
            return None;
        }
        // Reconciled and removed by the other doppel while we waited?
        found.path.exists().then_some(RecordLock { _file: file })
    }
}

impl Run {
    fn inflight_dir(&self, rid: &str) -> std::path::PathBuf {
        inflight::dir_of(&self.paths.resource_state_dir(&self.svc.name, rid))
    }

    fn reconciles(&self, rid: &str) -> bool {
        self.registry
            .get(&self.resource(rid).type_name)
            .is_some_and(|d| d.manifest().reconciles)
    }

    /// `driver sync.x cannot reconcile an interrupted run: <cmd> ... has ended (pid N)`.
    fn cannot_reconcile(&self, rid: &str, found: &Found) -> String {
        format!(
            "driver {} cannot reconcile an interrupted run: {}",
            self.resource(rid).type_name,
            found.record.ended()
        )
    }

    /// Has the driver of `rid` reconcile the ended run `found`, then forgets it.
    /// `Ok(None)` when another doppel is at it. Blocking.
    fn reconcile(&self, rid: &str, found: &Found, wait: bool) -> Result<Option<String>, String> {
        let Some(_lock) = RecordLock::try_take(found, wait) else {
            return Ok(None);
        };
        let record = &found.record;
        let run = InterruptedRun {
            action: record.action.clone(),
            argv: record.argv.clone(),
            pid: record.pid,
            started: record.started.clone(),
        };
        let outcome = self
            .open(rid)
            .and_then(|o| o.reconcile(&run))
            .map_err(|e| format!("cannot reconcile {}: {}", record.ended(), e.message))?;
        found.clear().map_err(|e| {
            format!(
                "reconciled {}, but cannot remove its record {}: {e}",
                record.ended(),
                found.path.display()
            )
        })?;
        let found_text = if outcome.messages.is_empty() {
            "nothing left to record".to_owned()
        } else {
            outcome.messages.join("; ")
        };
        let line = format!("reconciled: {}: {found_text}", record.ended());
        self.log.info(Some(rid), &line);
        Ok(Some(line))
    }

    /// The interrupted runs of `rid` for its status, reconciling those that
    /// ended (not under `--dry-run`: it would record nothing). Blocking.
    pub(super) fn interrupted(&self, rid: &str) -> Interrupted {
        let mut out = Interrupted::default();
        for found in inflight::scan(&self.inflight_dir(rid)) {
            let found = match found {
                Ok(f) => f,
                Err(why) => {
                    out.problems.push(why);
                    continue;
                }
            };
            match found.standing {
                Standing::Owned => {}
                Standing::Orphan => out.running.push(found.record.still_running()),
                Standing::Ended if !self.reconciles(rid) => {
                    out.undef.push(self.cannot_reconcile(rid, &found));
                }
                Standing::Ended if self.spec.dry_run => out.problems.push(format!(
                    "{} (not reconciled under --dry-run)",
                    found.record.ended()
                )),
                Standing::Ended => match self.reconcile(rid, &found, false) {
                    Ok(Some(line)) => out.reconciled.push(line),
                    Ok(None) => {}
                    Err(why) => out.problems.push(why),
                },
            }
        }
        out
    }

    /// Before a state-changing action on `rids`: reconciles what ended, and
    /// refuses while an orphan runs (waits for it with `--waitlock`; skips
    /// it when scheduled). `Err((message, skipped))`. Blocking.
    pub(super) fn settle_interrupted(&self, rids: &[String]) -> Result<(), (String, bool)> {
        let waitlock = if self.spec.scheduled {
            None
        } else {
            self.spec.waitlock
        };
        let started = Instant::now();
        let mut announced = false;
        loop {
            let mut running: Vec<String> = Vec::new();
            for rid in rids {
                for found in inflight::scan(&self.inflight_dir(rid)) {
                    let found = match found {
                        Ok(f) => f,
                        Err(why) => {
                            self.log.warn(Some(rid), &why);
                            continue;
                        }
                    };
                    match found.standing {
                        Standing::Owned => {}
                        Standing::Orphan => {
                            running.push(format!("{rid}: {}", found.record.still_running()))
                        }
                        Standing::Ended if self.spec.dry_run => self.log.warn(
                            Some(rid),
                            &format!("{} (not reconciled under --dry-run)", found.record.ended()),
                        ),
                        Standing::Ended if !self.reconciles(rid) => {
                            // The action about to run establishes the resource's
                            // state again: its result replaces the unknown one.
                            self.log.warn(
                                Some(rid),
                                &format!(
                                    "{}; {} goes on and its result replaces it",
                                    self.cannot_reconcile(rid, &found),
                                    self.spec.action.replace('_', " ")
                                ),
                            );
                            if let Err(e) = found.clear() {
                                self.log.warn(
                                    Some(rid),
                                    &format!("cannot remove {}: {e}", found.path.display()),
                                );
                            }
                        }
                        Standing::Ended => {
                            if let Err(why) = self.reconcile(rid, &found, true) {
                                return Err((format!("{rid}: {why}"), false));
                            }
                        }
                    }
                }
            }
            if running.is_empty() {
                return Ok(());
            }
            let what = self.spec.action.replace('_', " ");
            let text = running.join("; ");
            if self.spec.dry_run {
                self.log.warn(
                    None,
                    &format!("{text}: {what} would refuse to start over it"),
                );
                return Ok(());
            }
            if self.spec.scheduled {
                return Err((format!("{text}: not starting {what} over it"), true));
            }
            let Some(limit) = waitlock else {
                return Err((
                    format!(
                        "{text}: not starting {what} over it (--waitlock <duration> waits for it)"
                    ),
                    false,
                ));
            };
            if started.elapsed() >= limit {
                return Err((
                    format!(
                        "{text} after waiting {}s: not starting {what} over it",
                        limit.as_secs()
                    ),
                    false,
                ));
            }
            if crate::runner::cancelled() {
                return Err(("interrupted".into(), false));
            }
            if !announced {
                announced = true;
                self.log.info(
                    None,
                    &format!("waiting up to {}s for {text}", limit.as_secs()),
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
