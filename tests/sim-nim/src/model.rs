//! The simulated NIM master: clients, resources, alternate disks, settings,
//! faults and run history, kept in `$DOPPEL_SIM_ROOT/nim/state.json`.
//!
//! Every change takes the family lock (`nim/.lock`) for a short
//! read-modify-write ([`with_db`]). A migration holds, in addition, its
//! client's own lock (`nim/locks/<client>.lock`, see [`ClientLock`]) for its
//! whole duration, so two nimadm processes never work on one client at once
//! while different clients migrate in parallel.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use doppel_sim::common::{
    LockError, SimError, SimResult, StateDir, flock_exclusive, read_json, to_json,
};
use serde::{Deserialize, Serialize};

/// `$DOPPEL_SIM_ROOT/<FAMILY>/`.
pub const FAMILY: &str = "nim";
/// Simulated seconds per phase when nothing else is set.
pub const DEFAULT_PHASE_SECONDS: f64 = 0.5;
/// Level of new clients (the level they migrate from).
pub const DEFAULT_CLIENT_LEVEL: &str = "7100-05-06-2028";
/// Level of new SPOT and lpp_source resources (the level clients migrate to).
pub const DEFAULT_TARGET_LEVEL: &str = "7200-05-03-2148";
/// Where the real nimadm writes its per-client logs on the master.
pub const AIX_LOG_DIR: &str = "/var/adm/ras/alt_mig";
/// How many runs each client's history keeps.
const MAX_RUNS: usize = 100;

/// NIM resource types nimadm takes.
pub const RESOURCE_TYPES: &[&str] = &[
    "spot",
    "lpp_source",
    "script",
    "installp_bundle",
    "exclude_files",
    "image_data",
    "bosinst_data",
];

/// Where the client's alternate rootvg is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AltState {
    /// A migration is under way, or was interrupted (killed) part way.
    Migrating,
    /// A migration failed and did not clean up after itself.
    Failed,
    /// Migrated: altinst_rootvg is asleep (varied off) on the target disks.
    Migrated,
    /// Woken up by `nimadm -W`: exported and mounted on the master.
    Awake,
}

impl AltState {
    pub fn as_str(self) -> &'static str {
        match self {
            AltState::Migrating => "migrating",
            AltState::Failed => "failed",
            AltState::Migrated => "migrated",
            AltState::Awake => "awake",
        }
    }
}

/// A client's altinst_rootvg and the master-side objects of its migration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AltDisk {
    pub disks: Vec<String>,
    pub state: AltState,
    /// The last phase that completed (0..=12).
    pub phase_done: u8,
    /// Set when state is `failed`.
    #[serde(default)]
    pub failed_phase: Option<u8>,
    #[serde(default)]
    pub message: Option<String>,
    /// The level being installed (the lpp_source's).
    pub level: String,
    pub spot: String,
    pub lpp_source: String,
    #[serde(default)]
    pub cache_vg: Option<String>,
    /// The client exports its /alt_inst file systems to the master (phase 2 to 10).
    #[serde(default)]
    pub exports: bool,
    /// The master mounts them (phase 3 to 9), or holds cache file systems with -j.
    #[serde(default)]
    pub mounts: bool,
    pub updated: f64,
}

/// One nimadm invocation on a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub pid: u32,
    /// `migrate`, `phase <N>`, `cleanup`, `wake`, `sleep`.
    pub kind: String,
    pub start: f64,
    #[serde(default)]
    pub end: Option<f64>,
    /// `ok` or `failed`; none while running (or when the process was killed).
    #[serde(default)]
    pub result: Option<String>,
    /// The last phase started.
    #[serde(default)]
    pub phase: Option<u8>,
    #[serde(default)]
    pub message: Option<String>,
}

/// A NIM standalone client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub name: String,
    /// The running level (oslevel -s).
    pub level: String,
    /// Every disk of the client.
    pub disks: Vec<String>,
    /// The disks of the running rootvg.
    pub rootvg: Vec<String>,
    pub bootlist: Vec<String>,
    #[serde(default)]
    pub phase_seconds: Option<f64>,
    #[serde(default)]
    pub alt: Option<AltDisk>,
    /// After a migration with -r: the disks of the previous rootvg.
    #[serde(default)]
    pub old_rootvg: Vec<String>,
    #[serde(default)]
    pub runs: Vec<RunRecord>,
}

impl Client {
    pub fn new(name: &str, level: &str, disks: Vec<String>, rootvg: Vec<String>) -> Client {
        Client {
            name: name.to_owned(),
            level: level.to_owned(),
            bootlist: rootvg.clone(),
            disks,
            rootvg,
            phase_seconds: None,
            alt: None,
            old_rootvg: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// The unfinished run of process `pid` (its start time is not compared: a
    /// float read back from JSON may differ in its last bit).
    pub fn run_mut(&mut self, pid: u32) -> Option<&mut RunRecord> {
        self.runs
            .iter_mut()
            .rev()
            .find(|r| r.pid == pid && r.end.is_none())
    }

    pub fn push_run(&mut self, run: RunRecord) {
        self.runs.push(run);
        if self.runs.len() > MAX_RUNS {
            let extra = self.runs.len() - MAX_RUNS;
            self.runs.drain(..extra);
        }
    }
}

/// A NIM resource (spot, lpp_source, script, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    #[serde(rename = "type")]
    pub rtype: String,
    #[serde(default)]
    pub level: Option<String>,
}

/// An armed fault.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// `phase`, `cleanup`, `wake`, `sleep`.
    pub kind: String,
    /// Only this client (any when none).
    #[serde(default)]
    pub client: Option<String>,
    /// For `phase`: the phase that fails.
    #[serde(default)]
    pub phase: Option<u8>,
    /// Fires this many more times; none: until cleared.
    #[serde(default)]
    pub remaining: Option<u32>,
    #[serde(default)]
    pub rc: Option<i32>,
    #[serde(default)]
    pub message: Option<String>,
    /// For `phase`: nimadm does not clean up after the failure (the client keeps
    /// its failed altinst_rootvg, exports and mounts until `nimadm -C`).
    #[serde(default)]
    pub no_cleanup: bool,
}

impl Fault {
    fn matches(&self, kind: &str, client: &str, phase: Option<u8>) -> bool {
        self.kind == kind
            && self.remaining != Some(0)
            && self.client.as_deref().is_none_or(|c| c == client)
            && (self.phase.is_none() || self.phase == phase)
    }
}

/// Simulator-wide settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Simulated seconds per phase (default [`DEFAULT_PHASE_SECONDS`]).
    #[serde(default)]
    pub phase_seconds: Option<f64>,
}

/// Everything the simulated master knows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Db {
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub resources: BTreeMap<String, Resource>,
    #[serde(default)]
    pub clients: BTreeMap<String, Client>,
    #[serde(default)]
    pub faults: Vec<Fault>,
}

impl Db {
    /// Fires the first armed fault of `kind` for `client` (and `phase`).
    pub fn take_fault(&mut self, kind: &str, client: &str, phase: Option<u8>) -> Option<Fault> {
        let idx = self
            .faults
            .iter()
            .position(|f| f.matches(kind, client, phase))?;
        let fired = self.faults[idx].clone();
        if let Some(n) = self.faults[idx].remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.faults.remove(idx);
            }
        }
        Some(fired)
    }

    /// Seconds per phase for `client`.
    pub fn phase_seconds(&self, client: &str) -> f64 {
        self.clients
            .get(client)
            .and_then(|c| c.phase_seconds)
            .or(self.settings.phase_seconds)
            .unwrap_or(DEFAULT_PHASE_SECONDS)
    }

    pub fn client(&self, name: &str) -> SimResult<&Client> {
        self.clients.get(name).ok_or_else(|| not_a_client(name))
    }

    pub fn client_mut(&mut self, name: &str) -> SimResult<&mut Client> {
        self.clients.get_mut(name).ok_or_else(|| not_a_client(name))
    }
}

pub fn not_a_client(name: &str) -> SimError {
    SimError::new(
        1,
        format!(
            "nimadm: \"{name}\" is not a NIM standalone client defined on this master (lsnim -l {name})."
        ),
    )
}

fn state_dir() -> SimResult<StateDir> {
    StateDir::open(FAMILY)
}

/// Loads the state under the family lock, lets `f` change it, and saves it.
pub fn with_db<R>(f: impl FnOnce(&mut Db) -> SimResult<R>) -> SimResult<R> {
    let dir = state_dir()?;
    let _lock = dir.lock().map_err(|e| match e {
        LockError::Timeout(d) => SimError::new(
            1,
            format!(
                "nimadm: the NIM database is busy (lock not acquired within {:.0}s)",
                d.as_secs_f64()
            ),
        ),
        LockError::Io(e) => SimError::new(1, format!("nimadm: cannot lock the NIM database: {e}")),
    })?;
    let path = dir.join("state.json");
    let (mut db, raw): (Db, _) = read_json(&path)?;
    let before = db.clone();
    let r = f(&mut db);
    if db != before || raw.is_none() {
        save(&path, &db)?;
    }
    r
}

/// Writes the state through a temp file and a rename, without fsync: the
/// simulator's state needs atomicity (concurrent readers), not durability, and
/// a migration writes it a few dozen times.
fn save(path: &std::path::Path, db: &Db) -> SimResult<()> {
    let tmp = path.with_extension(format!("json.tmp.{}", std::process::id()));
    std::fs::write(&tmp, to_json(db))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            SimError::new(1, format!("cannot write {}: {e}", path.display()))
        })
}

/// Reads the state (under the family lock) without changing it.
pub fn read_db() -> SimResult<Db> {
    with_db(|db| Ok(db.clone()))
}

/// The simulated `/var/adm/ras/alt_mig` directory.
pub fn log_dir() -> SimResult<PathBuf> {
    Ok(state_dir()?.join("var/adm/ras/alt_mig"))
}

/// The simulated per-client log file.
pub fn log_path(client: &str) -> SimResult<PathBuf> {
    Ok(log_dir()?.join(format!("{client}_alt_mig.log")))
}

/// The path the real tool would print.
pub fn aix_log_path(client: &str) -> String {
    format!("{AIX_LOG_DIR}/{client}_alt_mig.log")
}

/// The per-client lock, held for a whole nimadm invocation.
pub struct ClientLock {
    _file: File,
    pid_path: PathBuf,
}

impl Drop for ClientLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pid_path);
    }
}

fn lock_paths(client: &str) -> SimResult<(PathBuf, PathBuf)> {
    let dir = state_dir()?.join("locks");
    std::fs::create_dir_all(&dir)
        .map_err(|e| SimError::new(1, format!("cannot create {}: {e}", dir.display())))?;
    Ok((
        dir.join(format!("{client}.lock")),
        dir.join(format!("{client}.pid")),
    ))
}

/// Takes `client`'s lock without waiting. `Ok(Err(pid))` when another process
/// holds it (its pid when known).
pub fn lock_client(client: &str) -> SimResult<Result<ClientLock, Option<u32>>> {
    let (lock_path, pid_path) = lock_paths(client)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .map_err(|e| SimError::new(1, format!("cannot open {}: {e}", lock_path.display())))?;
    let got = flock_exclusive(&file, Duration::ZERO)
        .map_err(|e| SimError::new(1, format!("cannot lock {}: {e}", lock_path.display())))?;
    if !got {
        let pid = std::fs::read_to_string(&pid_path)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        return Ok(Err(pid));
    }
    if let Ok(mut f) = File::create(&pid_path) {
        let _ = writeln!(f, "{}", std::process::id());
    }
    Ok(Ok(ClientLock {
        _file: file,
        pid_path,
    }))
}

/// The pid of the nimadm process working on `client` now, if any (read from the
/// pid file the lock holder writes; never probes the lock itself, so it cannot
/// disturb a starting nimadm).
pub fn client_busy(client: &str) -> Option<u32> {
    let (_, pid_path) = lock_paths(client).ok()?;
    let pid: u32 = std::fs::read_to_string(pid_path)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    alive.then_some(pid)
}

/// `7200-05-03-2148` → `7.2` (what `alt_disk_copy -M` takes).
pub fn version_of(level: &str) -> String {
    let digits: String = level.chars().take_while(|c| c.is_ascii_digit()).collect();
    match digits.as_bytes() {
        [a, b, ..] => format!("{}.{}", *a as char, *b as char),
        _ => level.to_owned(),
    }
}

/// The version/release part (`7200`) used to compare levels.
pub fn release_of(level: &str) -> u32 {
    level
        .split('-')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
