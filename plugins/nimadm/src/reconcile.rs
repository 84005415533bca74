//! A nimadm run nobody saw end (doppel was killed while it ran, issue 24):
//! the client's record is set from what nimadm left behind, never guessed.
//!
//! - `lsnim -l <client>`: `Cstate` says whether an operation is still being
//!   performed (a nimadm that died mid-run leaves it so), `Cstate_result`
//!   whether the last one ended in `success` or `failure`.
//! - the client's `alt_mig` log: the last phase nimadm started, its error
//!   line, whether it cleaned up after a failure.

use doppel_plugin_api::{ActionOutcome, CommandRequest, Error, InterruptedRun};

use crate::phases::{banner_phase, phase_label};
use crate::records::{self, Migration, Record};
use crate::{Nimadm, SHORT_TIMEOUT};

/// What `lsnim -l <client>` says of its last operation.
#[derive(Debug, Default, PartialEq)]
pub struct NimState {
    pub cstate: String,
    /// `success`, `failure`, or none.
    pub result: Option<String>,
}

pub fn parse_lsnim(text: &str) -> NimState {
    let mut state = NimState::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key.trim() {
            "Cstate" => state.cstate = value.trim().to_owned(),
            "Cstate_result" => state.result = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    state
}

/// What the client's log shows of the last run.
#[derive(Debug, Default, PartialEq)]
pub struct LogState {
    /// The last phase started (0: none).
    pub phase: u8,
    /// The last `nimadm: ...` error line.
    pub error: Option<String>,
    /// nimadm cleaned up after its failure.
    pub cleaned_up: bool,
}

pub fn parse_log(text: &str) -> LogState {
    let mut state = LogState::default();
    for line in text.lines() {
        if let Some(p) = banner_phase(line) {
            state.phase = p;
        } else if line.starts_with("nimadm: Error") || line.starts_with("nimadm: error") {
            state.error = Some(line.trim().to_owned());
            state.cleaned_up = false;
        } else if state.error.is_some()
            && line.starts_with("Cleaning up alt_disk_migration on client")
        {
            state.cleaned_up = true;
        }
    }
    state
}

impl Nimadm {
    pub(crate) fn reconcile(&self, run: &InterruptedRun) -> Result<ActionOutcome, Error> {
        let client = run
            .flag_value("-c")
            .ok_or_else(|| Error::failed(format!("no client (-c) in {}", run.argv.join(" "))))?;
        let lsnim = self.config.tool_path("bin", crate::DEFAULT_BIN, "lsnim");
        let out = self.host.run_checked(
            &CommandRequest::new([lsnim, "-l".to_owned(), client.to_owned()])
                .read_only()
                .timeout(SHORT_TIMEOUT),
        )?;
        let nim = parse_lsnim(&out.stdout);
        let path = self.log_path(client);
        let log_text = std::fs::read_to_string(&path).unwrap_or_default();
        let log = parse_log(&log_text);
        let ended = log_changed_at(&path);
        let mut r = records::load(&self.host, client);
        let op = interrupted_op(run);
        let phase_arg: Option<u8> = run.flag_value("-P").and_then(|p| p.parse().ok());
        let performing = nim.cstate.contains("being performed");
        let verdict = match (performing, nim.result.as_deref()) {
            (true, _) => None,
            (false, Some("success")) => Some(true),
            (false, Some(_)) => Some(false),
            (false, None) => None,
        };
        r.finished = Some(ended.clone());
        r.elapsed_secs = elapsed_between(&run.started, &ended);
        let summary = match op {
            "migrate" => settle_migration(&mut r, verdict, phase_arg, &log, &nim, &ended),
            other => settle_operation(&mut r, other, verdict, &log, &nim),
        };
        records::save(&self.host, client, &r);
        Ok(ActionOutcome::new().message(format!("client {client}: {summary}")))
    }
}

/// When the client's log last changed: the closest nimadm leaves to its end
/// time (now, when there is no log).
fn log_changed_at(path: &std::path::Path) -> String {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .map(|t| t.to_string())
        .unwrap_or_else(records::now)
}

/// What the interrupted nimadm was doing, by its flags.
fn interrupted_op(run: &InterruptedRun) -> &'static str {
    if run.argv.iter().any(|a| a == "-C") {
        "cleanup"
    } else if run.argv.iter().any(|a| a == "-W") {
        "wake"
    } else if run.argv.iter().any(|a| a == "-S") {
        "sleep"
    } else {
        "migrate"
    }
}

/// Seconds from `started` to `ended` (RFC 3339 times), none if either is unreadable.
fn elapsed_between(started: &str, ended: &str) -> Option<f64> {
    match (
        started.parse::<jiff::Timestamp>(),
        ended.parse::<jiff::Timestamp>(),
    ) {
        (Ok(a), Ok(b)) => Some((b.as_millisecond() - a.as_millisecond()).max(0) as f64 / 1000.0),
        _ => None,
    }
}

/// The record of an interrupted migration, by lsnim's verdict (none while
/// lsnim still says it is being performed, or has no result) and the log.
/// Returns the summary line.
fn settle_migration(
    r: &mut Record,
    verdict: Option<bool>,
    phase_arg: Option<u8>,
    log: &LogState,
    nim: &NimState,
    ended: &str,
) -> String {
    r.operation = phase_arg
        .map(|p| format!("phase {p}"))
        .unwrap_or_else(|| "migrate".into());
    r.phase = log.phase;
    match verdict {
        Some(true) if phase_arg.is_none_or(|p| p == 12) => {
            r.migration = Migration::Migrated;
            r.result = "ok".into();
            r.message = None;
            r.phase = 12;
            r.migrated_at = Some(ended.to_owned());
            r.migration_secs = if phase_arg.is_none() {
                r.elapsed_secs
            } else {
                None
            };
            "migrated (12/12 phases; lsnim: Cstate_result = success)".to_owned()
        }
        Some(true) => {
            r.migration = Migration::Partial;
            r.result = "ok".into();
            r.message = None;
            r.phase = phase_arg.unwrap_or(log.phase);
            format!("phase {}/12 done (lsnim: Cstate_result = success)", r.phase)
        }
        Some(false) => {
            r.migration = Migration::Failed;
            r.result = "failed".into();
            r.message = Some(
                log.error
                    .clone()
                    .unwrap_or_else(|| "nimadm failed (lsnim: Cstate_result = failure)".into()),
            );
            r.cleaned_up = log.cleaned_up.then_some(true);
            format!(
                "failed at phase {}/12 ({}){}",
                log.phase,
                phase_label(log.phase),
                if log.cleaned_up {
                    ", cleaned up by nimadm"
                } else {
                    ""
                }
            )
        }
        None => {
            r.migration = Migration::Failed;
            r.result = "failed".into();
            let why = format!(
                "nimadm was interrupted at phase {}/12 ({}): lsnim says \"{}\" with no result and its log ends there",
                log.phase,
                phase_label(log.phase),
                nim.cstate
            );
            r.message = Some(why.clone());
            r.cleaned_up = None;
            why
        }
    }
}

/// The record of an interrupted cleanup, wake or sleep. Returns the summary line.
fn settle_operation(
    r: &mut Record,
    op: &str,
    verdict: Option<bool>,
    log: &LogState,
    nim: &NimState,
) -> String {
    r.operation = op.to_owned();
    if verdict == Some(true) {
        r.result = "ok".into();
        r.message = None;
        match op {
            "cleanup" => {
                r.migration = Migration::None;
                r.phase = 0;
                r.awake = false;
                r.migrated_at = None;
            }
            "wake" => r.awake = true,
            _ => r.awake = false,
        }
        return format!("{op} done (lsnim: Cstate_result = success)");
    }
    r.result = "failed".into();
    let why = log
        .error
        .clone()
        .unwrap_or_else(|| format!("{op} did not end cleanly (lsnim: Cstate = {})", nim.cstate));
    r.message = Some(why.clone());
    format!("{op} failed: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsnim_and_log_are_read() {
        let nim = parse_lsnim(
            "lpar1:\n   class          = machines\n   Cstate         = ready for a NIM operation\n   Cstate_result  = failure\n",
        );
        assert_eq!(nim.cstate, "ready for a NIM operation");
        assert_eq!(nim.result.as_deref(), Some("failure"));
        let log = parse_log(
            "Executing nimadm phase 1.\nExecuting nimadm phase 4.\nnimadm: Error executing nimadm phase 4 (x).\n\nCleaning up alt_disk_migration on the NIM master.\nCleaning up alt_disk_migration on client lpar1.\n",
        );
        assert_eq!((log.phase, log.cleaned_up), (4, true));
        assert!(log.error.unwrap().contains("phase 4"));
        // Phase 12 cleans up too: no error, no cleanup after one.
        let done = parse_log(
            "Executing nimadm phase 12.\nCleaning up alt_disk_migration on client lpar1.\n",
        );
        assert_eq!(
            done,
            LogState {
                phase: 12,
                error: None,
                cleaned_up: false
            }
        );
    }
}
