//! The scheduler's records under `var/lib/doppel/<svc>/scheduler/`: last runs,
//! successes, restart counts.

use super::*;

// ---------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------

/// `var/lib/doppel/<svc>/scheduler/`.
pub(super) fn scheduler_dir(paths: &Paths, svc: &str) -> PathBuf {
    paths.service_state_dir(svc).join("scheduler")
}

/// Reads a last-run record: RFC 3339, G2's epoch float, or a local `YYYY-MM-DD HH:MM:SS`.
/// `None` when missing or unreadable.
pub(super) fn read_stamp(path: &Path) -> Option<Timestamp> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    if let Ok(secs) = text.parse::<f64>() {
        if secs.is_finite() {
            return Timestamp::from_millisecond((secs * 1000.0) as i64).ok();
        }
    }
    let dt = text.parse::<jiff::civil::DateTime>().ok()?;
    dt.to_zoned(jiff::tz::TimeZone::system())
        .ok()
        .map(|z| z.timestamp())
}

pub(super) fn write_stamp(path: &Path, at: Timestamp) -> std::io::Result<()> {
    let at = at.round(jiff::Unit::Second).unwrap_or(at);
    state::write_atomic(path, format!("{at}\n").as_bytes())
}

/// RFC 3339 in UTC, to the second.
pub(super) fn utc(ts: Timestamp) -> String {
    ts.round(jiff::Unit::Second).unwrap_or(ts).to_string()
}

pub(super) fn in_zone(ts: Timestamp, like: &Zoned) -> Zoned {
    ts.to_zoned(like.time_zone().clone())
}

/// The file content before a write, to put back when the task did not run after all.
pub(super) struct Previous {
    pub(super) path: PathBuf,
    pub(super) bytes: Option<Vec<u8>>,
}

impl Previous {
    pub(super) fn save(path: PathBuf) -> Previous {
        let bytes = std::fs::read(&path).ok();
        Previous { path, bytes }
    }

    pub(super) fn restore(self) {
        let _ = match self.bytes {
            Some(b) => state::write_atomic(&self.path, &b),
            None => std::fs::remove_file(&self.path).or(Ok(())),
        };
    }
}

pub(super) fn read_count(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

pub(super) fn restart_count_path(paths: &Paths, svc: &str, rid: &str) -> PathBuf {
    scheduler_dir(paths, svc).join(format!("restart_count_{rid}"))
}
