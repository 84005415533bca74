//! The in-flight record of every state-changing tool command a driver runs
//! (issue 24): written in the resource's state directory before doppel waits
//! on the command, removed when it ends. If doppel is killed in between
//! (SIGKILL, out of memory, a lost terminal), the command goes on as an orphan
//! (it has its own process group) and the record is what the next status,
//! action or daemon tick finds: still running (refuse to race it), or ended
//! (the driver reconciles from what the tool left behind).
//!
//! A record names the command's pid *and* its start time from
//! `/proc/<pid>/stat`, and the same for doppel, so a pid reused by an
//! unrelated process is never taken for the command (or for its doppel).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use doppel_core::state;
use serde::{Deserialize, Serialize};

/// The directory of a resource's records, under its state directory.
pub fn dir_of(resource_state_dir: &Path) -> PathBuf {
    resource_state_dir.join("inflight")
}

/// One running command, as written to `inflight/<pid>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks after boot at which it started.
    pub start_ticks: u64,
    /// The command line as the driver asked for it (not the `ssh` wrapping).
    pub argv: Vec<String>,
    /// The command line that ran (the `ssh ...` line for a remote resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran: Option<Vec<String>>,
    pub service: String,
    pub rid: String,
    pub action: String,
    /// When it started (RFC 3339).
    pub started: String,
    pub doppel_pid: u32,
    pub doppel_start_ticks: u64,
}

impl Record {
    /// `drd clone` (the program's name and its first argument, as an operator says it).
    pub fn short_command(&self) -> String {
        let program = self.argv.first().map(String::as_str).unwrap_or("command");
        let program = program.rsplit('/').next().unwrap_or(program);
        match self.argv.get(1) {
            Some(a) if !a.starts_with('-') => format!("{program} {a}"),
            _ => program.to_owned(),
        }
    }

    /// `12:01` in local time (with the date when it is not today).
    pub fn started_local(&self) -> String {
        let Ok(ts) = self.started.parse::<jiff::Timestamp>() else {
            return self.started.clone();
        };
        let tz = jiff::tz::TimeZone::system();
        let at = ts.to_zoned(tz.clone());
        let today = jiff::Timestamp::now().to_zoned(tz).date();
        if at.date() == today {
            at.strftime("%H:%M:%S").to_string()
        } else {
            at.strftime("%Y-%m-%d %H:%M:%S").to_string()
        }
    }

    /// `drd clone started 12:01:07 by a doppel that is gone is still running (pid 4242)`.
    pub fn still_running(&self) -> String {
        format!(
            "{} started {} by a doppel that is gone is still running (pid {})",
            self.short_command(),
            self.started_local(),
            self.pid
        )
    }

    /// `drd clone started 12:01:07 by a doppel that is gone has ended (pid 4242)`.
    pub fn ended(&self) -> String {
        format!(
            "{} started {} by a doppel that is gone has ended (pid {})",
            self.short_command(),
            self.started_local(),
            self.pid
        )
    }
}

/// Where a record stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Its doppel is alive: that doppel waits on the command and will clear it.
    Owned,
    /// Its doppel is gone and the command still runs: an orphan.
    Orphan,
    /// Its doppel is gone and so is the command: nobody saw how it ended.
    Ended,
}

/// A record found in a resource's directory.
#[derive(Clone, Debug)]
pub struct Found {
    pub path: PathBuf,
    pub record: Record,
    pub standing: Standing,
}

impl Found {
    /// Forgets the record (after reconciliation, or once an action replaced it).
    pub fn clear(&self) -> io::Result<()> {
        remove(&self.path)
    }
}

fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// The start time (field 22 of `/proc/<pid>/stat`) of a live, non-zombie process.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain anything:
    // the fields after the last ')' are plain.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // Field 3 is the state; 22 is the 20th after the name.
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

fn alive(pid: u32, ticks: u64) -> bool {
    pid != 0 && start_ticks(pid) == Some(ticks)
}

/// This process's pid and start time.
pub fn me() -> (u32, u64) {
    static ME: OnceLock<(u32, u64)> = OnceLock::new();
    *ME.get_or_init(|| {
        let pid = std::process::id();
        (pid, start_ticks(pid).unwrap_or(0))
    })
}

/// What doppel knows when it starts a resource's command.
#[derive(Clone, Debug)]
pub struct Journal {
    pub dir: PathBuf,
    pub service: String,
    pub rid: String,
    pub action: String,
}

/// A written record, removed when dropped (the command ended, however).
pub struct Entry {
    path: PathBuf,
}

impl Drop for Entry {
    fn drop(&mut self) {
        let _ = remove(&self.path);
    }
}

impl Journal {
    /// Records command `pid` (just spawned) before doppel waits on it. `argv` is
    /// what the driver asked for, `ran` what was spawned when it differs.
    pub fn record(&self, pid: u32, argv: &[String], ran: Option<&[String]>) -> io::Result<Entry> {
        let (doppel_pid, doppel_start_ticks) = me();
        let record = Record {
            pid,
            // A command that already ended has no start time left to read: 0
            // never matches a live process, so the record reads as ended.
            start_ticks: start_ticks(pid).unwrap_or(0),
            argv: argv.to_vec(),
            ran: ran.map(<[String]>::to_vec),
            service: self.service.clone(),
            rid: self.rid.clone(),
            action: self.action.clone(),
            started: jiff::Timestamp::now().to_string(),
            doppel_pid,
            doppel_start_ticks,
        };
        let path = self.dir.join(format!("{pid}.json"));
        state::write_json(&path, &record)?;
        Ok(Entry { path })
    }
}

/// The records of a resource, oldest first; unreadable ones as `Err(why)`.
pub fn scan(dir: &Path) -> Vec<Result<Found, String>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<Result<Found, String>> = Vec::new();
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    for path in paths {
        match state::read_json::<Record>(&path) {
            state::ReadOutcome::Ok(record) => {
                let standing = if alive(record.doppel_pid, record.doppel_start_ticks) {
                    Standing::Owned
                } else if alive(record.pid, record.start_ticks) {
                    Standing::Orphan
                } else {
                    Standing::Ended
                };
                found.push(Ok(Found {
                    path,
                    record,
                    standing,
                }));
            }
            state::ReadOutcome::Missing => {}
            state::ReadOutcome::Corrupt { error } => {
                found.push(Err(format!(
                    "in-flight record {} is unreadable ({error})",
                    path.display()
                )));
            }
        }
    }
    found.sort_by(|a, b| match (a, b) {
        (Ok(a), Ok(b)) => a.record.started.cmp(&b.record.started),
        _ => std::cmp::Ordering::Equal,
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_read_and_a_reused_pid_is_not_mistaken() {
        let (pid, ticks) = me();
        assert!(ticks > 0);
        assert!(alive(pid, ticks));
        assert!(
            !alive(pid, ticks + 1),
            "another start time is another process"
        );
        assert!(!alive(0, 0));
    }

    #[test]
    fn records_are_written_found_and_cleared() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal {
            dir: tmp.path().join("inflight"),
            service: "svc".into(),
            rid: "sync#0".into(),
            action: "sync_update".into(),
        };
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let argv = vec!["/opt/drd/bin/drd".to_owned(), "clone".to_owned()];
        let entry = journal.record(child.id(), &argv, None).unwrap();
        let found = scan(&journal.dir);
        assert_eq!(found.len(), 1);
        let f = found[0].as_ref().unwrap();
        assert_eq!(f.standing, Standing::Owned, "this process is its doppel");
        assert_eq!(f.record.short_command(), "drd clone");
        // The same record from a doppel that is gone: an orphan while it runs...
        let mut gone = f.record.clone();
        gone.doppel_start_ticks += 1;
        state::write_json(&f.path, &gone).unwrap();
        assert_eq!(
            scan(&journal.dir)[0].as_ref().unwrap().standing,
            Standing::Orphan
        );
        // ... ended once it is gone (reaped: a zombie counts as ended too).
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            scan(&journal.dir)[0].as_ref().unwrap().standing,
            Standing::Ended
        );
        drop(entry);
        assert!(scan(&journal.dir).is_empty());
    }
}
