//! What the driver remembers of each client (state key `client.<name>`), and
//! the status computed from it. The status never runs a command.

use doppel_plugin_api::{Host, Status, StatusReport};
use serde::{Deserialize, Serialize};

use crate::phases::{duration_text, phase_label};

/// Where a client's migration stands, as far as doppel ran it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Migration {
    /// Never migrated by doppel, or cleaned up since.
    #[default]
    None,
    /// A full migration was started and has not ended (still running, or doppel
    /// was interrupted).
    Running,
    /// Single phases ran (`--phase`), the last one being `phase`, below 12.
    Partial,
    /// Migrated: all 12 phases done.
    Migrated,
    /// The last migration (or phase) failed at `phase`.
    Failed,
}

/// One client's record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    #[serde(default)]
    pub migration: Migration,
    /// The last phase reached (started) by the last migration or phase run, 0..=12.
    #[serde(default)]
    pub phase: u8,
    /// The last operation: `migrate`, `phase N`, `cleanup`, `wake`, `sleep`.
    #[serde(default)]
    pub operation: String,
    /// `running`, `ok` or `failed`.
    #[serde(default)]
    pub result: String,
    /// When the last operation started and ended (RFC 3339).
    #[serde(default)]
    pub started: String,
    #[serde(default)]
    pub finished: Option<String>,
    #[serde(default)]
    pub elapsed_secs: Option<f64>,
    /// Why the last operation failed.
    #[serde(default)]
    pub message: Option<String>,
    /// After a failed migration: whether `nimadm -C` cleaned it up.
    #[serde(default)]
    pub cleaned_up: Option<bool>,
    /// When the client was migrated (RFC 3339).
    #[serde(default)]
    pub migrated_at: Option<String>,
    /// How long the migration took (seconds), when a full run did it.
    #[serde(default)]
    pub migration_secs: Option<f64>,
    /// Its altinst_rootvg was woken up (`wake`) and not put back to sleep.
    #[serde(default)]
    pub awake: bool,
    /// The SPOT the migration used (for the cleanup hint).
    #[serde(default)]
    pub spot: String,
}

pub fn key(client: &str) -> String {
    format!("client.{client}")
}

pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// `client`'s record (default when never written or unreadable).
pub fn load(host: &Host, client: &str) -> Record {
    match host.state_get(&key(client)) {
        None => Record::default(),
        Some(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            host.warn(&format!(
                "client {client}: unreadable record ({e}): starting afresh"
            ));
            Record::default()
        }),
    }
}

pub fn save(host: &Host, client: &str, record: &Record) {
    let text = serde_json::to_string(record).unwrap_or_default();
    if let Err(e) = host.state_put(&key(client), &text) {
        host.warn(&format!(
            "client {client}: cannot store its record: {}",
            e.message
        ));
    }
}

/// An RFC 3339 time for the operator: local, to the second.
pub fn local_time(rfc3339: &str) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(ts) => ts
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

fn took(r: &Record) -> String {
    r.migration_secs
        .map(|s| format!(" in {}", duration_text(s)))
        .unwrap_or_default()
}

/// The status of the clients from their records:
/// all migrated → up; a failure → warn (client and phase); nothing run → n/a;
/// anything else (some clients not migrated yet, single phases, a run in
/// progress or interrupted) → warn.
pub fn report(clients: &[(String, Record)], svcname: &str) -> StatusReport {
    let mut lines: Vec<(bool, String)> = Vec::new();
    let mut tally = Tally::default();
    for (c, r) in clients {
        client_lines(c, r, svcname, &mut lines, &mut tally);
    }
    let state = if tally.failed > 0 {
        Status::Warn
    } else if tally.touched == 0 {
        Status::NotApplicable
    } else if tally.migrated == clients.len() {
        Status::Up
    } else {
        Status::Warn
    };
    let mut report = StatusReport::new(state);
    if tally.touched == 0 && tally.failed == 0 {
        report = report.info(format!(
            "no client migrated yet ({} clients)",
            clients.len()
        ));
    }
    for (warn, line) in lines {
        report = if warn && state == Status::Warn {
            report.warn(line)
        } else {
            report.info(line)
        };
    }
    report
}

/// Clients counted by what their records say.
#[derive(Default)]
struct Tally {
    /// Clients a migration ran on (whatever its end).
    touched: usize,
    migrated: usize,
    /// Failed migrations and failed operations (a client can count twice).
    failed: usize,
}

/// A client's status lines (true: a warning when the resource warns), counted.
fn client_lines(
    c: &str,
    r: &Record,
    svcname: &str,
    lines: &mut Vec<(bool, String)>,
    tally: &mut Tally,
) {
    let when = local_time(r.finished.as_deref().unwrap_or(&r.started));
    let op_failed = r.result == "failed" && r.migration != Migration::Failed;
    match r.migration {
        Migration::None => {
            if r.operation == "cleanup" && r.result == "ok" {
                lines.push((true, format!("{c}: not migrated (cleaned up on {when})")));
            } else {
                lines.push((true, format!("{c}: not migrated")));
            }
        }
        Migration::Running => {
            tally.touched += 1;
            lines.push((
                true,
                format!(
                    "{c}: migration started on {} not finished: at phase {}/12 ({}), running, or interrupted",
                    local_time(&r.started),
                    r.phase,
                    phase_label(r.phase)
                ),
            ));
        }
        Migration::Partial => {
            tally.touched += 1;
            lines.push((
                true,
                format!("{c}: phases 1-{}/12 done (single-phase runs, the last on {when}); next: --phase {}", r.phase, r.phase + 1),
            ));
        }
        Migration::Migrated => {
            tally.touched += 1;
            tally.migrated += 1;
            let at = r
                .migrated_at
                .as_deref()
                .map(local_time)
                .unwrap_or(when.clone());
            lines.push((
                false,
                format!("{c}: migrated (12/12 phases) on {at}{}", took(r)),
            ));
            if r.awake {
                lines.push((
                    false,
                    format!("{c}: altinst_rootvg is awake, mounted on the NIM master (doppel -s {svcname} sleep puts it back to sleep)"),
                ));
            }
        }
        Migration::Failed => {
            tally.touched += 1;
            tally.failed += 1;
            lines.push((true, failed_migration_line(c, r, &when)));
        }
    }
    if op_failed {
        tally.failed += 1;
        let why = r
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        lines.push((true, format!("{c}: {} failed on {when}{why}", r.operation)));
    }
}

/// A failed migration: the phase, why, and whether (and how) it was cleaned up.
fn failed_migration_line(c: &str, r: &Record, when: &str) -> String {
    let cleanup = match r.cleaned_up {
        Some(true) => "; cleaned up (nimadm -C)".to_owned(),
        Some(false) => {
            format!("; NOT cleaned up: nimadm -C -c {c} -s {} failed", r.spot)
        }
        None if r.phase == 0 => String::new(),
        None => format!("; not cleaned up (nimadm -C -c {c} -s {})", r.spot),
    };
    let at = if r.phase == 0 {
        "failed before any phase (refused by nimadm's checks)".to_owned()
    } else {
        format!("failed at phase {}/12 ({})", r.phase, phase_label(r.phase))
    };
    let why = r
        .message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    format!("{c}: {at} on {when}{why}{cleanup}")
}
