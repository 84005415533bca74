//! Helpers shared by every simulator: where state lives, locking, atomic
//! writes, the simulated clock, fault injection and process plumbing.
//!
//! Layout under `$DOPPEL_SIM_ROOT`:
//!
//! ```text
//! $DOPPEL_SIM_ROOT/
//!   clock.json            simulated clock offset (shared by all simulators)
//!   <simulator>/          one directory per simulator family ("symmetrix", "drd", ...)
//!     .lock               flock(2) target serialising every state change
//!     ...                 the simulator's own JSON files, written atomically
//! ```
//!
//! A simulator opens its [`StateDir`], takes the [`DirLock`] for the whole
//! read-modify-write cycle and writes files with [`write_json_atomic`].
//! Sleeping (polling intervals) goes through [`clock::sleep`] so that
//! `$DOPPEL_SIM_TIME_SCALE` can shorten it in tests.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Environment variable naming the simulators' state root (required).
pub const ROOT_ENV: &str = "DOPPEL_SIM_ROOT";
/// Optional factor applied to every real sleep (polling intervals), e.g. `0.1`.
pub const TIME_SCALE_ENV: &str = "DOPPEL_SIM_TIME_SCALE";
/// Optional seconds to wait for the state lock before reporting contention (default 30).
pub const LOCK_TIMEOUT_ENV: &str = "DOPPEL_SIM_LOCK_TIMEOUT";

/// An error with the exit code the simulated tool returns for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    pub code: i32,
    pub message: String,
}

impl SimError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        SimError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SimError {}

pub type SimResult<T> = Result<T, SimError>;

/// `$DOPPEL_SIM_ROOT`, created if missing. Errors carry exit code 1.
pub fn sim_root() -> SimResult<PathBuf> {
    match std::env::var_os(ROOT_ENV) {
        Some(v) if !v.is_empty() => {
            let p = PathBuf::from(v);
            fs::create_dir_all(&p).map_err(|e| {
                SimError::new(
                    1,
                    format!("cannot create {ROOT_ENV} directory {}: {e}", p.display()),
                )
            })?;
            Ok(p)
        }
        _ => Err(SimError::new(
            1,
            format!(
                "{ROOT_ENV} is not set: the doppel simulators keep their state under that \
                 directory (export {ROOT_ENV}=/path/to/dir)"
            ),
        )),
    }
}

/// The state directory of one simulator family, `$DOPPEL_SIM_ROOT/<name>`.
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// Open (create) `$DOPPEL_SIM_ROOT/<name>`.
    pub fn open(name: &str) -> SimResult<StateDir> {
        let path = sim_root()?.join(name);
        Self::at(path)
    }

    /// Use an explicit directory (tests of the library itself).
    pub fn at(path: PathBuf) -> SimResult<StateDir> {
        fs::create_dir_all(&path)
            .map_err(|e| SimError::new(1, format!("cannot create {}: {e}", path.display())))?;
        Ok(StateDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Take the exclusive lock of this directory, waiting up to
    /// `$DOPPEL_SIM_LOCK_TIMEOUT` seconds (default 30).
    pub fn lock(&self) -> Result<DirLock, LockError> {
        self.lock_timeout(lock_timeout())
    }

    pub fn lock_timeout(&self, timeout: Duration) -> Result<DirLock, LockError> {
        let lock_path = self.path.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(LockError::Io)?;
        if flock_exclusive(&file, timeout).map_err(LockError::Io)? {
            Ok(DirLock { _file: file })
        } else {
            Err(LockError::Timeout(timeout))
        }
    }
}

/// Held exclusive lock; released when dropped (the descriptor is closed).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

#[derive(Debug)]
pub enum LockError {
    Timeout(Duration),
    Io(io::Error),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Timeout(d) => write!(f, "lock not acquired within {:.1}s", d.as_secs_f64()),
            LockError::Io(e) => write!(f, "lock error: {e}"),
        }
    }
}

fn lock_timeout() -> Duration {
    std::env::var(LOCK_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(30))
}

/// `flock(LOCK_EX)` with a timeout (polls `LOCK_NB`). `Ok(false)` on timeout.
pub fn flock_exclusive(file: &File, timeout: Duration) -> io::Result<bool> {
    let start = Instant::now();
    loop {
        // SAFETY: flock on a valid, open descriptor owned by `file`.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(code) if code == libc::EWOULDBLOCK || code == libc::EAGAIN => {
                if start.elapsed() >= timeout {
                    return Ok(false);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => return Err(err),
        }
    }
}

/// Write `data` to `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Serialize `value` as pretty JSON (with a final newline).
pub fn to_json<T: Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}

pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> SimResult<()> {
    write_atomic(path, to_json(value).as_bytes())
        .map_err(|e| SimError::new(1, format!("cannot write {}: {e}", path.display())))
}

/// Read a JSON file; a missing file gives `T::default()`. Returns the raw text
/// too so callers can skip rewriting unchanged files.
pub fn read_json<T: DeserializeOwned + Default>(path: &Path) -> SimResult<(T, Option<String>)> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let v = serde_json::from_str(&text).map_err(|e| {
                SimError::new(
                    1,
                    format!("corrupt simulator state file {}: {e}", path.display()),
                )
            })?;
            Ok((v, Some(text)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((T::default(), None)),
        Err(e) => Err(SimError::new(
            1,
            format!("cannot read {}: {e}", path.display()),
        )),
    }
}

/// The simulated clock: real time plus an offset stored in `$DOPPEL_SIM_ROOT/clock.json`,
/// so tests can jump forward (`symsim clock advance 86400`) instead of sleeping.
pub mod clock {
    use super::*;
    use serde::Deserialize;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[derive(Debug, Default, Serialize, Deserialize)]
    struct ClockFile {
        #[serde(default)]
        offset_seconds: f64,
    }

    fn clock_path() -> Option<PathBuf> {
        std::env::var_os(ROOT_ENV)
            .filter(|v| !v.is_empty())
            .map(|r| PathBuf::from(r).join("clock.json"))
    }

    /// Offset (seconds) added to the real time; 0 when unset or unreadable.
    pub fn offset() -> f64 {
        clock_path()
            .and_then(|p| read_json::<ClockFile>(&p).ok())
            .map(|(c, _)| c.offset_seconds)
            .filter(|o| o.is_finite())
            .unwrap_or(0.0)
    }

    pub fn set_offset(seconds: f64) -> SimResult<()> {
        let root = sim_root()?;
        write_json_atomic(
            &root.join("clock.json"),
            &ClockFile {
                offset_seconds: seconds,
            },
        )
    }

    /// Real time in seconds since the epoch.
    pub fn real_now() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }

    /// Simulated now (seconds since the epoch).
    pub fn now() -> f64 {
        real_now() + offset()
    }

    /// Factor from `$DOPPEL_SIM_TIME_SCALE` (default 1).
    pub fn time_scale() -> f64 {
        std::env::var(TIME_SCALE_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .unwrap_or(1.0)
    }

    /// Sleep `seconds` of tool time (scaled by `$DOPPEL_SIM_TIME_SCALE`).
    pub fn sleep(seconds: f64) {
        let s = seconds * time_scale();
        if s > 0.0 && s.is_finite() {
            std::thread::sleep(Duration::from_secs_f64(s.min(86_400.0)));
        }
    }

    /// Local time in C `ctime` style without the newline, e.g. `Thu Feb 25 10:20:56 2010`
    /// (the format of SYMCLI's `last_action`, parsed with `%a %b %d %H:%M:%S %Y`).
    pub fn ctime(ts: f64) -> String {
        format_local(ts, "%a %b %d %H:%M:%S %Y")
    }

    /// Format a timestamp in the local time zone (`TZ` honoured) with strftime directives.
    pub fn format_local(ts: f64, fmt: &str) -> String {
        let secs = ts.floor() as i64;
        match jiff::Timestamp::from_second(secs) {
            Ok(t) => t
                .to_zoned(jiff::tz::TimeZone::system())
                .strftime(fmt)
                .to_string(),
            Err(_) => String::from("Thu Jan 01 00:00:00 1970"),
        }
    }
}

/// Fault injection shared by the simulators: a list of armed faults, each with
/// a kind, an optional remaining count and optional filters.
pub mod faults {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct Fault {
        /// What fails (simulator specific: "activate", "lock", "xml", ...).
        pub kind: String,
        /// How many more times it fires; `None` = until cleared.
        #[serde(default)]
        pub remaining: Option<u32>,
        /// Restrict to these operations (tool or action names); empty = the kind's default.
        #[serde(default)]
        pub on: Vec<String>,
        /// Restrict to operations touching one of these objects (devices, disks, ...).
        #[serde(default)]
        pub objects: Vec<String>,
        /// Exit code to return instead of the kind's default.
        #[serde(default)]
        pub rc: Option<i32>,
        /// Message to print instead of the kind's default.
        #[serde(default)]
        pub message: Option<String>,
    }

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct FaultSet {
        #[serde(default)]
        pub faults: Vec<Fault>,
    }

    impl FaultSet {
        pub fn add(&mut self, fault: Fault) {
            self.faults.push(fault);
        }

        /// Remove the faults of `kind` (all faults when `None`); returns how many.
        pub fn clear(&mut self, kind: Option<&str>) -> usize {
            let before = self.faults.len();
            self.faults
                .retain(|f| kind.is_some_and(|k| !f.kind.eq_ignore_ascii_case(k)));
            before - self.faults.len()
        }

        /// First armed fault of `kind` accepted by `matches`, without consuming it.
        pub fn peek(&self, kind: &str, matches: impl Fn(&Fault) -> bool) -> Option<&Fault> {
            self.faults
                .iter()
                .find(|f| f.kind.eq_ignore_ascii_case(kind) && f.remaining != Some(0) && matches(f))
        }

        /// Fire the first armed fault of `kind` accepted by `matches`: decrement
        /// its count (dropping it at zero) and return a copy.
        pub fn take(&mut self, kind: &str, matches: impl Fn(&Fault) -> bool) -> Option<Fault> {
            let idx = self.faults.iter().position(|f| {
                f.kind.eq_ignore_ascii_case(kind) && f.remaining != Some(0) && matches(f)
            })?;
            let fired = self.faults[idx].clone();
            if let Some(n) = self.faults[idx].remaining.as_mut() {
                *n -= 1;
                if *n == 0 {
                    self.faults.remove(idx);
                }
            }
            Some(fired)
        }
    }

    impl Fault {
        /// True when `on` is empty and `default_on` accepts the operation, or `on`
        /// names one of `ops` (or "any").
        pub fn applies_to(&self, ops: &[&str], default_on: &[&str]) -> bool {
            let list: Vec<&str> = if self.on.is_empty() {
                default_on.to_vec()
            } else {
                self.on.iter().map(String::as_str).collect()
            };
            list.iter().any(|o| {
                o.eq_ignore_ascii_case("any") || ops.iter().any(|op| op.eq_ignore_ascii_case(o))
            })
        }

        /// True when no object filter is set or one of `objects` is listed,
        /// compared with `eq`.
        pub fn touches(&self, objects: &[String], eq: impl Fn(&str, &str) -> bool) -> bool {
            self.objects.is_empty()
                || self
                    .objects
                    .iter()
                    .any(|f| objects.iter().any(|o| eq(f, o)))
        }
    }
}

/// Write to stdout now, ignoring errors (closed pipe): simulators never panic on output.
pub fn out(s: &str) {
    let mut o = io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// Write to stderr now, ignoring errors.
pub fn err(s: &str) {
    let mut e = io::stderr().lock();
    let _ = e.write_all(s.as_bytes());
    let _ = e.flush();
}

/// Run a simulator's main function and exit with its code. A panic (a bug in
/// the simulator) prints one line naming the tool and exits 70, never a backtrace.
pub fn run_main(
    tool: &'static str,
    main: impl FnOnce(Vec<String>) -> i32 + std::panic::UnwindSafe,
) -> ! {
    std::panic::set_hook(Box::new(move |info| {
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown".to_string()
        };
        err(&format!("{tool}: internal simulator error: {msg}\n"));
    }));
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = std::panic::catch_unwind(move || main(args)).unwrap_or(70);
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::faults::{Fault, FaultSet};
    use super::*;

    #[test]
    fn faults_fire_count_times_and_filter() {
        let mut set = FaultSet::default();
        set.add(Fault {
            kind: "lock".into(),
            remaining: Some(2),
            ..Default::default()
        });
        set.add(Fault {
            kind: "xml".into(),
            remaining: None,
            on: vec!["symdev".into()],
            ..Default::default()
        });
        assert!(set.take("lock", |_| true).is_some());
        assert!(set.take("LOCK", |_| true).is_some());
        assert!(set.take("lock", |_| true).is_none(), "count exhausted");
        let xml = set.peek("xml", |_| true).cloned().unwrap();
        assert!(xml.applies_to(&["symdev", "list"], &[]));
        assert!(!xml.applies_to(&["symclone", "query"], &["any"]));
        for _ in 0..3 {
            assert!(set.take("xml", |_| true).is_some(), "until cleared");
        }
        assert_eq!(set.clear(Some("xml")), 1);
        assert!(set.faults.is_empty());
        let f = Fault {
            objects: vec!["0B60".into()],
            ..Default::default()
        };
        assert!(
            f.touches(&["00B60".into()], |a, b| u32::from_str_radix(a, 16).ok()
                == u32::from_str_radix(b, 16).ok())
        );
        assert!(Fault::default().applies_to(&["activate"], &["activate"]));
        assert!(!Fault::default().applies_to(&["verify"], &["activate"]));
    }

    #[test]
    fn atomic_json_roundtrip_and_default() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.json");
        let (v, raw): (Vec<u32>, _) = read_json(&p).unwrap();
        assert!(v.is_empty() && raw.is_none());
        write_json_atomic(&p, &vec![1u32, 2]).unwrap();
        let (v, raw): (Vec<u32>, _) = read_json(&p).unwrap();
        assert_eq!(v, [1, 2]);
        assert!(raw.unwrap().ends_with('\n'));
        std::fs::write(&p, "{garbage").unwrap();
        assert!(read_json::<Vec<u32>>(&p).is_err());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn lock_is_exclusive_with_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::at(dir.path().join("sim")).unwrap();
        let held = sd.lock_timeout(Duration::from_millis(10)).unwrap();
        match sd.lock_timeout(Duration::from_millis(50)) {
            Err(LockError::Timeout(_)) => {}
            other => panic!("expected timeout, got {other:?}"),
        }
        drop(held);
        assert!(sd.lock_timeout(Duration::from_millis(50)).is_ok());
    }

    #[test]
    fn ctime_format() {
        // 2010-02-25 10:20:56 UTC, the example of the reference
        let s = clock::format_local(1_267_093_256.0, "%a %b %d %H:%M:%S %Y");
        let parts: Vec<&str> = s.split(' ').collect();
        assert_eq!(parts.len(), 5, "{s}");
        assert_eq!(parts[4], "2010");
    }
}
