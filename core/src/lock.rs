//! Service action locks (reference §9.2): one state-changing action per service at a
//! time, with syncs in a domain of their own.
//!
//! The lock is an exclusive `flock(2)` on a file of the service state directory. The
//! kernel drops it when the holder exits, however it exits, so a crashed action never
//! blocks the next one and there is nothing to clean up. The file also carries a JSON
//! record of the holder (`{"pid": .., "intent": "<action>", "since": "<rfc3339>"}`) so
//! that whoever waits can say who it waits for; that record is informational only and
//! is trusted only while the lock is actually held.
//!
//! Not re-entrant: acquiring a lock the same process already holds (through another
//! [`LockGuard`]) waits like any other contender, because `flock` locks belong to open
//! file descriptions, not processes, and then times out naming this process's own pid.
//! Callers take a service's lock once, at the top of an action. The flip side is that
//! threads of one process (`--parallel`) are serialized by the lock like processes.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How often a busy lock is tried again.
const POLL: Duration = Duration::from_millis(100);

/// Which lock an action takes. Syncs have their own so that a long `sync update` never
/// holds up a `start` or `stop`, as in OpenSVC (they only serialize with other syncs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockDomain {
    /// `lock.generic`: start, stop, provision and the other state-changing actions.
    Service,
    /// `lock.generic.sync`: every action whose name starts with `sync`.
    Sync,
}

impl LockDomain {
    /// The domain of an action, by OpenSVC's rule: a name starting with `sync` (in any
    /// spelling: `sync_update`, `sync update`, `syncresync`) takes the sync lock.
    pub fn for_action(action: &str) -> LockDomain {
        match crate::action::Action::parse(action) {
            Some(a) => a.lock_domain(),
            // A driver's own action named like a sync one (`sync_verify`) syncs too.
            None if action.trim_start().starts_with("sync") => LockDomain::Sync,
            None => LockDomain::Service,
        }
    }

    /// The lock file name, the same as OpenSVC G2's so the layouts stay familiar.
    pub fn file_name(self) -> &'static str {
        match self {
            LockDomain::Service => "lock.generic",
            LockDomain::Sync => "lock.generic.sync",
        }
    }

    /// The lock file of this domain in a service state directory.
    pub fn path(self, dir: &Path) -> PathBuf {
        dir.join(self.file_name())
    }
}

impl fmt::Display for LockDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockDomain::Service => "action",
            LockDomain::Sync => "sync",
        })
    }
}

/// Who holds a lock, from the record it wrote: what a waiting operator needs to decide
/// whether to wait longer or go and look at that process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The holder's process id.
    pub pid: u32,
    /// The action it runs.
    pub intent: String,
    /// When it took the lock; `None` for records written without it (OpenSVC G2).
    pub since: Option<Timestamp>,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pid == std::process::id() {
            write!(f, "this process (pid {})", self.pid)?;
        } else {
            write!(f, "pid {}", self.pid)?;
        }
        write!(f, " running '{}'", self.intent)?;
        if let Some(since) = self.since {
            write!(f, " since {since}")?;
        }
        Ok(())
    }
}

/// The JSON record in the lock file. Unknown members (G2's `progress`) are ignored.
#[derive(Serialize, Deserialize)]
struct Record {
    pid: u32,
    intent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<String>,
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another action kept the lock for the whole wait.
    #[error("{}", timeout_message(path, *domain, *timeout, holder.as_ref()))]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// Which lock it is.
        domain: LockDomain,
        /// How long we waited.
        timeout: Duration,
        /// Who held it at the end of the wait, when its record was readable.
        holder: Option<Holder>,
    },
    /// The state directory or the lock file could not be created or opened.
    #[error("can not create lock file {}: {source}", path.display())]
    Create {
        /// The lock file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// `flock` failed for another reason than the lock being busy.
    #[error("can not lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

fn timeout_message(
    path: &Path,
    domain: LockDomain,
    timeout: Duration,
    holder: Option<&Holder>,
) -> String {
    let svc = path
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let who = match holder {
        Some(h) => format!("held by {h}"),
        None => format!(
            "held by a process that left no record in {}",
            path.display()
        ),
    };
    format!(
        "timed out after {} waiting for the {domain} lock of svc {svc}: {who}",
        human_duration(timeout)
    )
}

/// `5s`, `1m30s`, `250ms`: waits are configured in these units, so they are quoted so.
fn human_duration(d: Duration) -> String {
    if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        crate::status::human_secs(d.as_secs())
    }
}

/// A held lock. Dropping it clears the holder record and releases the lock (the kernel
/// would release it at exit anyway; dropping early lets the next action start).
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    path: PathBuf,
    domain: LockDomain,
}

impl LockGuard {
    /// The lock file, for log lines.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The domain this guard holds.
    pub fn domain(&self) -> LockDomain {
        self.domain
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Clear the record first, while still holding the lock, so nobody reads a
        // record of a finished action; errors only cost an informational record.
        let _ = self.file.set_len(0);
        // SAFETY: the descriptor is owned by `self.file` and open until it drops.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// Takes the `domain` lock of the service whose state directory is `dir`, waiting up to
/// `timeout` (zero: a single try) while another action holds it.
///
/// Creates `dir` and the lock file (mode 0644) when missing. While waiting, `progress`
/// is called once, as soon as the holder's record can be read, so the command line can
/// say "waiting for lock held by pid N (action)". Once held, the file is rewritten with
/// this process's record; the file itself is never replaced, since a new inode would be
/// a new, separate lock.
pub fn acquire(
    dir: &Path,
    domain: LockDomain,
    intent: &str,
    timeout: Duration,
    mut progress: impl FnMut(&Holder),
) -> Result<LockGuard, LockError> {
    let path = domain.path(dir);
    let create = |source| LockError::Create {
        path: path.clone(),
        source,
    };
    fs::create_dir_all(dir).map_err(create)?;
    if let Some(refusal) = crate::state::symlink_refusal(&path, "lock file") {
        return Err(create(io::Error::other(refusal)));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false) // the holder's record must survive our open
        .mode(0o644)
        // Never through a planted symlink (checked above; O_NOFOLLOW closes the race).
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&path)
        .map_err(create)?;
    set_cloexec(&file).map_err(create)?;

    let deadline = Instant::now() + timeout;
    let mut reported = false;
    loop {
        match try_flock(&file, libc::LOCK_EX) {
            Ok(true) => break,
            Ok(false) => {}
            Err(source) => return Err(LockError::Lock { path, source }),
        }
        let holder = read_record(&path);
        if !reported {
            if let Some(h) = &holder {
                progress(h);
                reported = true;
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(LockError::Timeout {
                path,
                domain,
                timeout,
                holder,
            });
        }
        std::thread::sleep(POLL.min(deadline - now));
    }

    let record = Record {
        pid: std::process::id(),
        intent: intent.to_owned(),
        since: Timestamp::from_second(Timestamp::now().as_second())
            .ok()
            .map(|t| t.to_string()),
    };
    // Replace whatever a previous (possibly dead) holder left. The record is
    // informational: failing to write it does not make the lock less held.
    if let Ok(json) = serde_json::to_vec(&record) {
        let _ = file.set_len(0);
        let _ = file.write_all_at(&json, 0);
    }
    Ok(LockGuard { file, path, domain })
}

/// Who holds the `domain` lock of a service right now, for status displays and the
/// `running` list. `None` when the lock is free, whatever a dead holder left in the file,
/// and also when it is held but the holder's record is unreadable (see [`is_locked`]).
pub fn holder(dir: &Path, domain: LockDomain) -> Option<Holder> {
    if is_locked(dir, domain) {
        read_record(&domain.path(dir))
    } else {
        None
    }
}

/// Whether some process holds the `domain` lock of a service right now.
///
/// Probes with a shared non-blocking lock on a fresh descriptor, so concurrent probes
/// never see each other as holders and nothing is created when the file is missing.
pub fn is_locked(dir: &Path, domain: LockDomain) -> bool {
    let Ok(file) = File::open(domain.path(dir)) else {
        return false;
    };
    match try_flock(&file, libc::LOCK_SH) {
        Ok(true) => {
            // SAFETY: `file` owns the descriptor and is open.
            unsafe {
                libc::flock(file.as_raw_fd(), libc::LOCK_UN);
            }
            false
        }
        Ok(false) => true,
        Err(_) => false,
    }
}

/// The holder record of a lock file, if it parses.
fn read_record(path: &Path) -> Option<Holder> {
    let text = fs::read_to_string(path).ok()?;
    let record: Record = serde_json::from_str(text.trim()).ok()?;
    Some(Holder {
        pid: record.pid,
        intent: record.intent,
        since: record.since.and_then(|s| s.parse().ok()),
    })
}

/// One non-blocking `flock(op)`: `Ok(true)` when taken, `Ok(false)` when busy.
fn try_flock(file: &File, op: libc::c_int) -> io::Result<bool> {
    loop {
        // SAFETY: `file` owns the descriptor and is open for the whole call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

/// Makes sure the descriptor is not inherited by the commands an action runs: a
/// long-lived child (a daemon started by an app resource) must not keep the service
/// locked after the action ends.
fn set_cloexec(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: plain fcntl calls on a descriptor `file` keeps open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const SHORT: Duration = Duration::from_millis(300);

    fn no_progress(_: &Holder) {}

    /// Another "process": a separate open file description holding the lock, with the
    /// record a foreign holder would have written.
    fn foreign_holder(dir: &Path, domain: LockDomain, record: &str) -> File {
        fs::create_dir_all(dir).unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(domain.path(dir))
            .unwrap();
        assert!(try_flock(&file, libc::LOCK_EX).unwrap());
        file.set_len(0).unwrap();
        file.write_all_at(record.as_bytes(), 0).unwrap();
        file
    }

    #[test]
    fn domain_of_actions() {
        for a in [
            "sync_update",
            "sync update",
            "syncresync",
            "sync_all",
            "sync",
        ] {
            assert_eq!(LockDomain::for_action(a), LockDomain::Sync, "{a}");
        }
        for a in ["start", "stop", "provision", "run", "activate", "presync"] {
            assert_eq!(LockDomain::for_action(a), LockDomain::Service, "{a}");
        }
        let dir = Path::new("/var/lib/doppel/svc1");
        assert_eq!(
            LockDomain::Service.path(dir),
            Path::new("/var/lib/doppel/svc1/lock.generic")
        );
        assert_eq!(
            LockDomain::Sync.path(dir),
            Path::new("/var/lib/doppel/svc1/lock.generic.sync")
        );
    }

    #[test]
    fn acquire_writes_record_and_release_clears_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("var/lib/doppel/svc1");
        assert!(holder(&dir, LockDomain::Service).is_none());
        assert!(!is_locked(&dir, LockDomain::Service));

        let guard = acquire(&dir, LockDomain::Service, "start", SHORT, no_progress).unwrap();
        let path = dir.join("lock.generic");
        assert_eq!(guard.path(), path);
        assert_eq!(guard.domain(), LockDomain::Service);

        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json["pid"], std::process::id());
        assert_eq!(json["intent"], "start");
        let since: Timestamp = json["since"].as_str().unwrap().parse().unwrap();
        assert!((Timestamp::now().as_second() - since.as_second()).abs() < 60);

        assert!(is_locked(&dir, LockDomain::Service));
        let h = holder(&dir, LockDomain::Service).unwrap();
        assert_eq!(h.pid, std::process::id());
        assert_eq!(h.intent, "start");
        assert_eq!(h.since, Some(since));

        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o644, 0, "mode {mode:o}");

        drop(guard);
        assert!(path.exists(), "the lock file stays");
        assert_eq!(fs::read_to_string(&path).unwrap(), "");
        assert!(holder(&dir, LockDomain::Service).is_none());
        assert!(!is_locked(&dir, LockDomain::Service));

        // And it can be taken again.
        let again = acquire(&dir, LockDomain::Service, "stop", SHORT, no_progress).unwrap();
        assert_eq!(holder(&dir, LockDomain::Service).unwrap().intent, "stop");
        drop(again);
    }

    #[test]
    fn busy_lock_times_out_and_names_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("svc1");
        let _other = foreign_holder(
            &dir,
            LockDomain::Sync,
            r#"{"pid": 1234, "intent": "sync_update", "since": "2026-11-20T10:00:00Z"}"#,
        );

        let mut seen = Vec::new();
        let start = Instant::now();
        let err = acquire(&dir, LockDomain::Sync, "sync_resync", SHORT, |h| {
            seen.push(h.clone())
        })
        .unwrap_err();
        assert!(start.elapsed() >= SHORT);
        assert!(start.elapsed() < SHORT * 5);

        let expected = Holder {
            pid: 1234,
            intent: "sync_update".into(),
            since: Some("2026-11-20T10:00:00Z".parse().unwrap()),
        };
        assert_eq!(seen, vec![expected.clone()], "progress called exactly once");
        match &err {
            LockError::Timeout {
                path,
                domain,
                timeout,
                holder,
            } => {
                assert_eq!(path, &dir.join("lock.generic.sync"));
                assert_eq!(*domain, LockDomain::Sync);
                assert_eq!(*timeout, SHORT);
                assert_eq!(holder.as_ref(), Some(&expected));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "timed out after 300ms waiting for the sync lock of svc svc1: held by pid 1234 \
             running 'sync_update' since 2026-11-20T10:00:00Z"
        );
        // The waiter did not touch the holder's record.
        assert_eq!(holder(&dir, LockDomain::Sync), Some(expected));
    }

    #[test]
    fn timeout_message_in_seconds() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("web");
        let _other = foreign_holder(
            &dir,
            LockDomain::Service,
            r#"{"pid": 77, "intent": "stop"}"#,
        );
        let err = LockError::Timeout {
            path: LockDomain::Service.path(&dir),
            domain: LockDomain::Service,
            timeout: Duration::from_secs(5),
            holder: holder(&dir, LockDomain::Service),
        };
        assert_eq!(
            err.to_string(),
            "timed out after 5s waiting for the action lock of svc web: held by pid 77 \
             running 'stop'"
        );
    }

    #[test]
    fn zero_timeout_is_a_single_try() {
        let tmp = tempfile::tempdir().unwrap();
        let _other = foreign_holder(tmp.path(), LockDomain::Service, "");
        let start = Instant::now();
        let err = acquire(
            tmp.path(),
            LockDomain::Service,
            "start",
            Duration::ZERO,
            no_progress,
        )
        .unwrap_err();
        assert!(start.elapsed() < Duration::from_millis(50));
        // Held, but no readable record: still locked, holder unknown.
        assert!(matches!(err, LockError::Timeout { holder: None, .. }));
        assert!(
            err.to_string()
                .contains("held by a process that left no record")
        );
        assert!(is_locked(tmp.path(), LockDomain::Service));
        assert!(holder(tmp.path(), LockDomain::Service).is_none());
    }

    #[test]
    fn nested_acquire_in_the_same_process_is_not_reentrant() {
        let tmp = tempfile::tempdir().unwrap();
        let _guard = acquire(tmp.path(), LockDomain::Service, "start", SHORT, no_progress).unwrap();
        let err = acquire(tmp.path(), LockDomain::Service, "stop", SHORT, no_progress).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!(
                "held by this process (pid {}) running 'start'",
                std::process::id()
            )),
            "{msg}"
        );
    }

    #[test]
    fn a_dead_holder_never_blocks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let other = foreign_holder(
            dir,
            LockDomain::Service,
            r#"{"pid": 999999, "intent": "start", "since": "2020-01-01T00:00:00Z"}"#,
        );
        assert_eq!(holder(dir, LockDomain::Service).unwrap().pid, 999_999);
        // The holder "dies": the kernel releases its lock, its record stays behind.
        drop(other);
        assert!(
            fs::read_to_string(LockDomain::Service.path(dir))
                .unwrap()
                .contains("999999")
        );
        assert!(!is_locked(dir, LockDomain::Service));
        assert!(
            holder(dir, LockDomain::Service).is_none(),
            "stale record ignored"
        );

        let mut called = false;
        let guard = acquire(dir, LockDomain::Service, "stop", SHORT, |_| called = true).unwrap();
        assert!(!called);
        let h = holder(dir, LockDomain::Service).unwrap();
        assert_eq!((h.pid, h.intent.as_str()), (std::process::id(), "stop"));
        drop(guard);
    }

    #[test]
    fn garbage_in_a_free_lock_file_is_harmless() {
        let tmp = tempfile::tempdir().unwrap();
        let path = LockDomain::Sync.path(tmp.path());
        fs::write(
            &path,
            "12345\n not json at all, a much longer content than a record",
        )
        .unwrap();
        let guard = acquire(tmp.path(), LockDomain::Sync, "sync_all", SHORT, no_progress).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json["intent"], "sync_all");
        drop(guard);
    }

    #[test]
    fn waiting_ends_when_the_holder_releases() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let guard = acquire(&dir, LockDomain::Service, "start", SHORT, no_progress).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(guard);
        });
        let mut calls = 0;
        let guard = acquire(
            &dir,
            LockDomain::Service,
            "stop",
            Duration::from_secs(10),
            |h| {
                assert_eq!(h.intent, "start");
                calls += 1;
            },
        )
        .unwrap();
        releaser.join().unwrap();
        assert_eq!(calls, 1);
        assert_eq!(holder(&dir, LockDomain::Service).unwrap().intent, "stop");
        drop(guard);
    }

    #[test]
    fn sync_and_service_domains_do_not_conflict() {
        let tmp = tempfile::tempdir().unwrap();
        let sync = acquire(
            tmp.path(),
            LockDomain::Sync,
            "sync_update",
            SHORT,
            no_progress,
        )
        .unwrap();
        let start = Instant::now();
        let svc = acquire(tmp.path(), LockDomain::Service, "start", SHORT, no_progress).unwrap();
        assert!(start.elapsed() < Duration::from_millis(100));
        assert_eq!(
            holder(tmp.path(), LockDomain::Sync).unwrap().intent,
            "sync_update"
        );
        assert_eq!(
            holder(tmp.path(), LockDomain::Service).unwrap().intent,
            "start"
        );
        drop(sync);
        assert!(holder(tmp.path(), LockDomain::Sync).is_none());
        assert!(holder(tmp.path(), LockDomain::Service).is_some());
        drop(svc);
    }

    #[test]
    fn g2_records_without_since_are_read() {
        let tmp = tempfile::tempdir().unwrap();
        let _other = foreign_holder(
            tmp.path(),
            LockDomain::Service,
            r#"{"pid": 42, "intent": "start", "progress": {"rid": "fs#1"}}"#,
        );
        assert_eq!(
            holder(tmp.path(), LockDomain::Service),
            Some(Holder {
                pid: 42,
                intent: "start".into(),
                since: None
            })
        );
    }

    #[test]
    fn lock_descriptor_is_close_on_exec() {
        let tmp = tempfile::tempdir().unwrap();
        let guard = acquire(tmp.path(), LockDomain::Service, "start", SHORT, no_progress).unwrap();
        // SAFETY: the guard keeps the descriptor open.
        let flags = unsafe { libc::fcntl(guard.file.as_raw_fd(), libc::F_GETFD) };
        assert!(flags >= 0 && flags & libc::FD_CLOEXEC != 0);
    }

    #[test]
    fn uncreatable_directory_is_a_create_error() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("file");
        fs::write(&blocker, "").unwrap();
        let err = acquire(
            &blocker.join("svc"),
            LockDomain::Service,
            "start",
            SHORT,
            no_progress,
        )
        .unwrap_err();
        assert!(matches!(err, LockError::Create { .. }), "{err:?}");
        assert!(err.to_string().starts_with("can not create lock file "));
    }
}
