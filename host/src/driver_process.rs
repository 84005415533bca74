//! Driver isolation: every driver library is loaded and called in a process of its
//! own, so a driver that aborts, exits, segfaults, overflows its stack or hangs
//! cannot take doppel down (docs/ARCHITECTURE.md, "Driver processes").
//!
//! The driver process is the `doppel` binary re-executed as
//! `doppel __driver-host <library>`: it opens that one library through
//! plugin-api's frozen ABI and serves its calls over a pipe, one JSON message a
//! line, carrying the protocol's own JSON texts (configs, requests, replies,
//! wire errors). Host callbacks travel back over the same pipe and are served here
//! by the resource's [`HostServices`]: commands run in this process, so logging,
//! `--dry-run`, command timeouts and the killing of process groups stay in one
//! place, and the driver process only ever holds the driver's own code.
//!
//! One process per driver and command (the daemon keeps its own for its life),
//! started on the first call, serving concurrent calls (a thread each). When it
//! dies, the calls in flight fail with one line naming the driver, its file and
//! how it died, and the next call starts a fresh one (re-opening its resources).
//! Each call has a time limit after which the process group is killed; Ctrl-C /
//! SIGTERM ask the driver to stop and kill it after [`CANCEL_GRACE`].
//!
//! Discovery reads the manifests in one short-lived process ([`probe`]): a library
//! that kills its process while loading is reported broken and the probe goes on
//! with the next file in a new process.
//!
//! `DOPPEL_DRIVERS_IN_PROCESS=1` loads the drivers into doppel itself, as before:
//! for driver authors under a debugger only; the daemon never does.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, CommandRequest, Error, ErrorKind, HostServices, Level,
    LoadedDriver, Manifest, OpenResource, Problem, ResourceConfig, StatusReport, load_driver,
};
use serde::{Deserialize, Serialize};

/// The hidden first argument that makes `doppel` a driver process.
pub const HOST_MODE: &str = "__driver-host";

/// Set to `1` to load drivers into doppel itself (driver authors' debugging only).
pub const IN_PROCESS_ENV: &str = "DOPPEL_DRIVERS_IN_PROCESS";

/// How long a cancelled call may take to return before its driver is killed.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// How long loading a library and reading its manifest may take.
pub const LOAD_LIMIT: Duration = Duration::from_secs(10);

/// Time limits when the manifest sets none.
const DEFAULT_OPEN_LIMIT: u64 = 60;
const DEFAULT_VALIDATE_LIMIT: u64 = 60;
const DEFAULT_STATUS_LIMIT: u64 = 120;

/// Set by the daemon: it never loads a driver into itself.
static IN_PROCESS_FORBIDDEN: AtomicBool = AtomicBool::new(false);

/// Has the operator asked for in-process drivers (and may have them)?
pub fn in_process_requested() -> bool {
    !IN_PROCESS_FORBIDDEN.load(Ordering::Relaxed)
        && std::env::var_os(IN_PROCESS_ENV).is_some_and(|v| v == "1")
}

/// Makes [`IN_PROCESS_ENV`] ineffective in this process; true if it was set.
pub fn forbid_in_process() -> bool {
    let requested = in_process_requested();
    IN_PROCESS_FORBIDDEN.store(true, Ordering::Relaxed);
    requested
}

// ---------------------------------------------------------------------------
// The pipe protocol.

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum ToChild {
    Validate {
        id: u64,
        config: String,
    },
    /// Several configs at once (a service's resources of this driver): one
    /// [`FromChild::Done`] whose `ok` is the list of [`Answer`]s, in order.
    ValidateAll {
        id: u64,
        configs: Vec<String>,
    },
    Open {
        id: u64,
        config: String,
    },
    Call {
        id: u64,
        handle: u64,
        method: String,
        request: String,
    },
    Close {
        handle: u64,
    },
    /// The answer to a host callback.
    Reply {
        cb: u64,
        ok: Option<String>,
        err: Option<String>,
    },
    /// The operator asked to stop: `cancelled()` is true from now on.
    Cancel,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum FromChild {
    Ready {
        manifest: String,
    },
    LoadFailed {
        error: String,
    },
    Done {
        id: u64,
        ok: Option<String>,
        err: Option<String>,
    },
    Log {
        handle: u64,
        level: u8,
        message: String,
    },
    /// A host callback: `run_command`, `state_get`, `state_put` or `call`.
    Host {
        cb: u64,
        handle: u64,
        method: String,
        a: String,
        b: String,
    },
}

/// One config's result in the answer to [`ToChild::ValidateAll`]: its problems
/// (JSON) or a wire error.
#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    ok: Option<String>,
    err: Option<String>,
}

/// One line of [`probe`]'s output.
#[derive(Debug, Serialize, Deserialize)]
struct ProbeLine {
    path: PathBuf,
    manifest: Option<String>,
    error: Option<String>,
}

fn to_line<T: Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string(value).expect("protocol messages serialize");
    s.push('\n');
    s
}

// ---------------------------------------------------------------------------
// Opening a library safely (both modes).

/// Why loading `meta` (of the file or directory `what`) would be unsafe.
pub(crate) fn unsafe_owner_or_mode(meta: &std::fs::Metadata, what: &str) -> Option<String> {
    let mode = meta.mode();
    if mode & 0o022 != 0 {
        return Some(format!(
            "{what} is writable by group or others (mode {:o}); fix with chmod go-w",
            mode & 0o7777
        ));
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != 0 && meta.uid() != me {
        return Some(format!(
            "{what} is owned by uid {}, neither root nor the invoking user",
            meta.uid()
        ));
    }
    None
}

/// Opens `path` and checks the file actually opened and its real directory
/// (after symlinks): regular, neither writable by group or others, owned by root
/// or the invoking user. Returns the open file (load it through
/// `/proc/self/fd/<fd>`, so what was checked is what is loaded) and its real path.
pub fn open_checked(path: &Path) -> Result<(File, PathBuf), String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .or_else(|_| path.canonicalize())
        .map_err(|e| format!("cannot resolve its real path: {e}"))?;
    let real_dir = real.parent().unwrap_or(Path::new("/"));
    let dir_meta =
        std::fs::metadata(real_dir).map_err(|e| format!("cannot stat its directory: {e}"))?;
    let via_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let dir_what = if via_link {
        format!("the symlink's target directory {}", real_dir.display())
    } else {
        "its directory".to_owned()
    };
    if let Some(why) = unsafe_owner_or_mode(&dir_meta, &dir_what) {
        return Err(why);
    }
    if let Some(why) = unsafe_owner_or_mode(&meta, "the file") {
        return Err(why);
    }
    Ok((file, real))
}

/// [`open_checked`], then loads the opened file.
fn load_checked(path: &Path) -> Result<LoadedDriver, String> {
    let (file, real) = open_checked(path)?;
    let fd_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    // Without /proc (a bare chroot), the checked path it is.
    let fd_path = if fd_path.exists() { fd_path } else { real };
    let loaded = load_driver(&fd_path).map_err(|e| e.to_string());
    // Kept open for the life of the process: the dynamic loader knows a library
    // by the name it was opened with, and a reused `/proc/self/fd/<n>` would be
    // taken for the library loaded before.
    std::mem::forget(file);
    loaded
}

// ---------------------------------------------------------------------------
// The child: `doppel __driver-host [--probe] <library>...`.

/// Moves the protocol off fds 0 and 1, so a driver printing to stdout (or
/// reading stdin) cannot corrupt it: its stdout goes to stderr, stdin is empty.
fn protocol_fds() -> (File, File) {
    // SAFETY: plain descriptor syscalls on fds this process owns; the new fds
    // are owned by the returned Files only.
    unsafe {
        let input = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3);
        let output = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
        libc::dup2(2, 1);
        (File::from_raw_fd(input), File::from_raw_fd(output))
    }
}

/// Ends this process and every process in its group (tools the driver started
/// itself): the parent is gone or done.
fn end_group() -> ! {
    // SAFETY: signals our own process group, which this process leads.
    unsafe {
        libc::kill(0, libc::SIGKILL);
    }
    std::process::exit(0)
}

/// The entry point of a driver process (`args` after [`HOST_MODE`]).
pub fn host_main(args: &[OsString]) -> ExitCode {
    let (input, output) = protocol_fds();
    let output = Arc::new(Mutex::new(output));
    if args.first().is_some_and(|a| a == "--probe") {
        for path in &args[1..] {
            let path = PathBuf::from(path);
            let line = match load_checked(&path)
                .and_then(|d| serde_json::to_string(d.manifest()).map_err(|e| e.to_string()))
            {
                Ok(manifest) => ProbeLine {
                    path,
                    manifest: Some(manifest),
                    error: None,
                },
                Err(error) => ProbeLine {
                    path,
                    manifest: None,
                    error: Some(error),
                },
            };
            let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
            if out.write_all(to_line(&line).as_bytes()).is_err() {
                end_group();
            }
        }
        return ExitCode::SUCCESS;
    }
    let Some(path) = args.first().map(PathBuf::from) else {
        eprintln!("usage: doppel {HOST_MODE} [--probe] <driver library>...");
        return ExitCode::from(2);
    };
    let driver = match load_checked(&path) {
        Ok(d) => d,
        Err(error) => {
            send(&output, &FromChild::LoadFailed { error });
            return ExitCode::SUCCESS;
        }
    };
    let manifest = serde_json::to_string(driver.manifest()).unwrap_or_default();
    send(&output, &FromChild::Ready { manifest });
    serve(Arc::new(driver), input, output);
    end_group()
}

fn send(output: &Mutex<File>, message: &FromChild) {
    let line = to_line(message);
    let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
    if out.write_all(line.as_bytes()).is_err() {
        end_group();
    }
}

/// A host callback's answer, as the child receives it.
type CallbackReply = Result<Option<String>, Error>;

/// What the child shares between its reader and its call threads.
struct ChildShared {
    output: Mutex<File>,
    resources: Mutex<HashMap<u64, Arc<OpenResource>>>,
    pending: Mutex<HashMap<u64, mpsc::Sender<CallbackReply>>>,
    next_cb: AtomicU64,
    cancelled: AtomicBool,
}

fn serve(driver: Arc<LoadedDriver>, input: File, output: Arc<Mutex<File>>) {
    let output = Arc::try_unwrap(output)
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .expect("only the serve loop holds the output");
    let shared = Arc::new(ChildShared {
        output: Mutex::new(output),
        resources: Mutex::new(HashMap::new()),
        pending: Mutex::new(HashMap::new()),
        next_cb: AtomicU64::new(1),
        cancelled: AtomicBool::new(false),
    });
    for line in BufReader::new(input).lines() {
        let Ok(line) = line else { break };
        let Ok(message) = serde_json::from_str::<ToChild>(&line) else {
            continue;
        };
        match message {
            ToChild::Validate { id, config } => {
                // On the reader itself: validation is pure and quick (no host
                // callbacks), so a thread would cost more than the call. A hang
                // is still killed at the call's time limit.
                shared.done(id, validate_text(&driver, &config));
            }
            ToChild::ValidateAll { id, configs } => {
                shared.done(id, Ok(validate_all_text(&driver, &configs)));
            }
            ToChild::Open { id, config } => {
                let (driver, shared) = (driver.clone(), shared.clone());
                std::thread::spawn(move || open_resource(&driver, &shared, id, &config));
            }
            ToChild::Call {
                id,
                handle,
                method,
                request,
            } => {
                let shared = shared.clone();
                let resource = shared
                    .resources
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&handle)
                    .cloned();
                std::thread::spawn(move || {
                    shared.done(id, call_resource(resource, &method, &request));
                });
            }
            ToChild::Close { handle } => {
                shared
                    .resources
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&handle);
            }
            ToChild::Reply { cb, ok, err } => {
                let waiter = shared
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&cb);
                if let Some(w) = waiter {
                    let _ = w.send(match err {
                        Some(e) => Err(Error::from_wire(&e)),
                        None => Ok(ok),
                    });
                }
            }
            ToChild::Cancel => shared.cancelled.store(true, Ordering::Relaxed),
        }
    }
}

/// The answer to [`ToChild::ValidateAll`]: each config's problems or error, in
/// order.
fn validate_all_text(driver: &LoadedDriver, configs: &[String]) -> String {
    let answers: Vec<Answer> = configs
        .iter()
        .map(|config| match validate_text(driver, config) {
            Ok(text) => Answer {
                ok: Some(text),
                err: None,
            },
            Err(e) => Answer {
                ok: None,
                err: Some(e.to_wire()),
            },
        })
        .collect();
    encode(&answers)
}

/// [`ToChild::Open`], on a thread of its own: opens the resource with a host
/// proxy of handle `id` and keeps it under that handle.
fn open_resource(driver: &LoadedDriver, shared: &Arc<ChildShared>, id: u64, config: &str) {
    let host = Arc::new(ProxyHost {
        handle: id,
        shared: shared.clone(),
    });
    let result = serde_json::from_str::<ResourceConfig>(config)
        .map_err(|e| Error::invalid(format!("bad resource config: {e}")))
        .and_then(|c| driver.open(&c, host));
    let result = result.map(|resource| {
        shared
            .resources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, Arc::new(resource));
        "null".to_owned()
    });
    shared.done(id, result);
}

/// [`ToChild::Call`] on an open resource (`None`: its handle is unknown).
fn call_resource(
    resource: Option<Arc<OpenResource>>,
    method: &str,
    request: &str,
) -> Result<String, Error> {
    let resource = resource.ok_or_else(|| Error::failed("resource is not open"))?;
    serde_json::from_str::<serde_json::Value>(request)
        .map_err(|e| Error::invalid(format!("bad request: {e}")))
        .and_then(|v| resource.call(method, &v))
        .map(|v| encode(&v))
}

/// The driver's validation of one config (JSON), as JSON problems.
fn validate_text(driver: &LoadedDriver, config: &str) -> Result<String, Error> {
    serde_json::from_str::<ResourceConfig>(config)
        .map_err(|e| Error::invalid(format!("bad resource config: {e}")))
        .and_then(|c| driver.validate(&c))
        .map(|problems| encode(&problems))
}

fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("protocol types serialize")
}

impl ChildShared {
    fn send(&self, message: &FromChild) {
        send(&self.output, message);
    }

    fn done(&self, id: u64, result: Result<String, Error>) {
        let (ok, err) = match result {
            Ok(text) => (Some(text), None),
            Err(e) => (None, Some(e.to_wire())),
        };
        self.send(&FromChild::Done { id, ok, err });
    }

    /// Asks the parent to serve a callback and waits for the answer.
    fn host_call(
        &self,
        handle: u64,
        method: &str,
        a: String,
        b: String,
    ) -> Result<Option<String>, Error> {
        let cb = self.next_cb.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cb, tx);
        self.send(&FromChild::Host {
            cb,
            handle,
            method: method.to_owned(),
            a,
            b,
        });
        // The parent answers every callback, or closes the pipe (and this process
        // ends).
        rx.recv()
            .unwrap_or_else(|_| Err(Error::failed("doppel went away")))
    }
}

/// The driver's [`HostServices`] in the child: everything goes to the parent,
/// except `cancelled`, which the parent pushes.
struct ProxyHost {
    handle: u64,
    shared: Arc<ChildShared>,
}

impl HostServices for ProxyHost {
    fn log(&self, level: Level, message: &str) {
        self.shared.send(&FromChild::Log {
            handle: self.handle,
            level: level as u8,
            message: message.to_owned(),
        });
    }

    fn run_command(
        &self,
        request: &CommandRequest,
    ) -> Result<doppel_plugin_api::CommandOutput, Error> {
        let text = self
            .shared
            .host_call(self.handle, "run_command", encode(request), String::new())?
            .unwrap_or_default();
        serde_json::from_str(&text)
            .map_err(|e| Error::failed(format!("unreadable command output: {e}")))
    }

    fn state_get(&self, key: &str) -> Option<String> {
        self.shared
            .host_call(self.handle, "state_get", key.to_owned(), String::new())
            .ok()
            .flatten()
    }

    fn state_put(&self, key: &str, value: &str) -> Result<(), Error> {
        self.shared
            .host_call(self.handle, "state_put", key.to_owned(), value.to_owned())
            .map(|_| ())
    }

    fn cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::Relaxed)
    }

    fn call(&self, method: &str, request: &serde_json::Value) -> Result<serde_json::Value, Error> {
        let text = self
            .shared
            .host_call(self.handle, "call", method.to_owned(), encode(request))?
            .unwrap_or_else(|| "null".into());
        serde_json::from_str(&text).map_err(|e| Error::failed(format!("unreadable reply: {e}")))
    }
}

// ---------------------------------------------------------------------------
// The parent.

/// How a process ended, as the operator reads it: `killed by SIGABRT`,
/// `exited with code 3`.
pub fn describe_exit(status: std::process::ExitStatus) -> String {
    if let Some(signal) = status.signal() {
        let name = match signal {
            libc::SIGABRT => "SIGABRT".to_owned(),
            libc::SIGSEGV => "SIGSEGV".to_owned(),
            libc::SIGBUS => "SIGBUS".to_owned(),
            libc::SIGILL => "SIGILL".to_owned(),
            libc::SIGFPE => "SIGFPE".to_owned(),
            libc::SIGKILL => "SIGKILL".to_owned(),
            libc::SIGTERM => "SIGTERM".to_owned(),
            libc::SIGTRAP => "SIGTRAP".to_owned(),
            libc::SIGSYS => "SIGSYS".to_owned(),
            libc::SIGPIPE => "SIGPIPE".to_owned(),
            libc::SIGINT => "SIGINT".to_owned(),
            other => format!("signal {other}"),
        };
        return format!("killed by {name}");
    }
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => "ended".to_owned(),
    }
}

/// `sync.x (libdoppel_driver_x.so)`: how messages name a driver.
fn label(type_name: &str, path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    format!("{type_name} ({file})")
}

/// The binary driver processes run: this very one, through `/proc/self/exe`, so
/// a daemon whose package was upgraded under it still starts driver processes
/// speaking its own protocol.
fn doppel_exe() -> Result<PathBuf, Error> {
    let this = Path::new("/proc/self/exe");
    if this.exists() {
        return Ok(this.to_owned());
    }
    std::env::current_exe()
        .map_err(|e| Error::failed(format!("cannot find the doppel executable: {e}")))
}

/// Reads the manifests of `files`, each file's result in order. Every library is
/// loaded in a child process; one that kills it or hangs is reported and the
/// probe goes on with the next file in a new child.
pub fn probe(files: &[PathBuf]) -> Vec<(PathBuf, Result<Manifest, String>)> {
    if in_process_requested() {
        return files
            .iter()
            .map(|f| (f.clone(), load_checked(f).map(|d| d.manifest().clone())))
            .collect();
    }
    let mut results = Vec::new();
    let mut rest = files;
    while !rest.is_empty() {
        let got = probe_some(rest);
        let n = got.len();
        results.extend(got);
        rest = &rest[n.min(rest.len())..];
    }
    results
}

/// Probes `files` in one child until it ends; the first file without an answer
/// (if any) is the one that ended it, and is reported as such.
fn probe_some(files: &[PathBuf]) -> Vec<(PathBuf, Result<Manifest, String>)> {
    let exe = match doppel_exe() {
        Ok(e) => e,
        Err(e) => {
            return files
                .iter()
                .map(|f| (f.clone(), Err(e.message.clone())))
                .collect();
        }
    };
    let spawned = Command::new(exe)
        .arg(HOST_MODE)
        .arg("--probe")
        .args(files)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return files
                .iter()
                .map(|f| {
                    (
                        f.clone(),
                        Err(format!("cannot start a driver process: {e}")),
                    )
                })
                .collect();
        }
    };
    let stdout = child.stdout.take().expect("piped");
    let tail = StderrTail::spawn(child.stderr.take());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut results = Vec::new();
    let mut deadline = Instant::now() + LOAD_LIMIT;
    while results.len() < files.len() {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                let Ok(p) = serde_json::from_str::<ProbeLine>(&line) else {
                    continue;
                };
                let result = match (p.manifest, p.error) {
                    (Some(m), _) => serde_json::from_str::<Manifest>(&m)
                        .map_err(|e| format!("cannot read the driver manifest: {e}")),
                    (None, Some(e)) => Err(e),
                    (None, None) => Err("no answer".into()),
                };
                results.push((files[results.len()].clone(), result));
                deadline = Instant::now() + LOAD_LIMIT;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                kill_group(child.id());
                let _ = child.wait();
                results.push((
                    files[results.len()].clone(),
                    Err(format!(
                        "hung while loading (killed after {}s)",
                        LOAD_LIMIT.as_secs()
                    )),
                ));
                return results;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let how = child
                    .wait()
                    .map(describe_exit)
                    .unwrap_or_else(|e| e.to_string());
                let last = tail.last_line(Duration::from_millis(200));
                let why = match last {
                    Some(l) => format!("crashed while loading the library: {how} ({l})"),
                    None => format!("crashed while loading the library: {how}"),
                };
                results.push((files[results.len()].clone(), Err(why)));
                return results;
            }
        }
    }
    let _ = child.wait();
    results
}

fn kill_group(pid: u32) {
    // SAFETY: signals the process group the child leads (spawned with
    // process_group(0)), never ours.
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

/// The last lines a driver process wrote on stderr (its own messages, a
/// `panic = "abort"` panic, Rust's "has overflowed its stack").
#[derive(Clone)]
struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    done: Arc<(Mutex<bool>, std::sync::Condvar)>,
}

impl StderrTail {
    const KEEP: usize = 10;

    fn spawn(pipe: Option<std::process::ChildStderr>) -> StderrTail {
        let tail = StderrTail {
            lines: Arc::new(Mutex::new(VecDeque::new())),
            done: Arc::new((Mutex::new(false), std::sync::Condvar::new())),
        };
        let t = tail.clone();
        std::thread::spawn(move || {
            if let Some(pipe) = pipe {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let line = line.trim_end().to_owned();
                    if line.is_empty() {
                        continue;
                    }
                    let mut l = t.lines.lock().unwrap_or_else(|e| e.into_inner());
                    if l.len() == Self::KEEP {
                        l.pop_front();
                    }
                    l.push_back(line);
                }
            }
            let (m, cv) = &*t.done;
            *m.lock().unwrap_or_else(|e| e.into_inner()) = true;
            cv.notify_all();
        });
        tail
    }

    /// Waits (up to `wait`) for the pipe to close, then returns what was kept.
    fn lines(&self, wait: Duration) -> Vec<String> {
        let (m, cv) = &*self.done;
        let guard = m.lock().unwrap_or_else(|e| e.into_inner());
        let _ = cv.wait_timeout_while(guard, wait, |done| !*done);
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn last_line(&self, wait: Duration) -> Option<String> {
        self.lines(wait).pop()
    }
}

/// Per-call time limits of one resource (seconds; `None`: no limit).
#[derive(Clone, Debug, Default)]
pub struct CallLimits {
    /// `status_timeout` of the resource, overriding the driver's.
    pub status: Option<u64>,
    /// `action_timeout` of the resource, overriding the driver's.
    pub action: Option<u64>,
}

impl CallLimits {
    /// The resource's `status_timeout` and `action_timeout` keywords.
    pub fn of(r: &doppel_core::service::ResourceDef) -> CallLimits {
        let secs = |k: &str| {
            r.values
                .get(k)
                .and_then(|v| doppel_core::convert::to_duration_secs(&v.value).ok())
        };
        CallLimits {
            status: secs("status_timeout"),
            action: secs("action_timeout"),
        }
    }
}

/// The limit of `entry` (`status`, `open`, `validate`, or an action name) and
/// where it comes from, for the message.
fn limit_of(
    manifest: &Manifest,
    limits: &CallLimits,
    entry: &str,
    is_action: bool,
) -> Option<(u64, &'static str)> {
    let declared = |k: &str| manifest.call_timeouts.get(k).copied();
    if is_action {
        if let Some(s) = limits.action {
            return Some((s, "action_timeout"));
        }
        return declared(entry)
            .or_else(|| declared("action"))
            .map(|s| (s, "the driver's limit"));
    }
    // Reconciling an interrupted run is queries, like a status.
    if entry == "status" || entry == doppel_plugin_api::RECONCILE_METHOD {
        if let Some(s) = limits.status {
            return Some((s, "status_timeout"));
        }
    }
    let default = match entry {
        "open" => Some(DEFAULT_OPEN_LIMIT),
        "validate" => Some(DEFAULT_VALIDATE_LIMIT),
        "status" | doppel_plugin_api::RECONCILE_METHOD => Some(DEFAULT_STATUS_LIMIT),
        _ => None,
    };
    match declared(entry) {
        Some(s) => Some((s, "the driver's limit")),
        None => default.map(|s| (s, "doppel's default")),
    }
}

/// A loaded driver: its manifest, its file, and how it is called.
pub struct Driver {
    manifest: Manifest,
    path: PathBuf,
    backend: Backend,
}

enum Backend {
    // Boxed: the debugging mode is the rare one, not worth the size of every driver.
    InProcess(Box<LoadedDriver>),
    Process(Pool),
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("type", &self.manifest.type_name())
            .field("path", &self.path)
            .finish()
    }
}

impl Driver {
    /// A driver called in its own process (started on first use).
    pub fn isolated(manifest: Manifest, path: PathBuf) -> Driver {
        let label = label(&manifest.type_name(), &path);
        Driver {
            backend: Backend::Process(Pool {
                label,
                path: path.clone(),
                current: Mutex::new(None),
            }),
            manifest,
            path,
        }
    }

    /// A driver loaded into this process (`DOPPEL_DRIVERS_IN_PROCESS=1`).
    pub fn in_process(path: PathBuf) -> Result<Driver, String> {
        let loaded = load_checked(&path)?;
        Ok(Driver {
            manifest: loaded.manifest().clone(),
            path,
            backend: Backend::InProcess(Box::new(loaded)),
        })
    }

    /// The driver's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Asks the driver to check a resource's configuration.
    pub fn validate(&self, config: &ResourceConfig) -> Result<Vec<Problem>, Error> {
        match &self.backend {
            Backend::InProcess(d) => d.validate(config),
            Backend::Process(pool) => {
                let limit = limit_of(&self.manifest, &CallLimits::default(), "validate", false);
                let conn = pool.conn()?;
                let text = conn.request(&pool.label, "validate", None, limit, |id| {
                    ToChild::Validate {
                        id,
                        config: encode(config),
                    }
                })?;
                read_problems(&text)
            }
        }
    }

    /// Asks the driver to check several configurations: sends one message to
    /// its process for them all and returns without waiting, so the batches of
    /// several drivers run at once; [`PendingValidation::finish`] collects the
    /// results, in order. If the process dies or runs past the time limit on the
    /// batch, each config is checked again on its own (in a fresh process), so
    /// the one that does it is named as by [`Driver::validate`].
    pub fn validate_all<'a>(
        &'a self,
        configs: &[&'a ResourceConfig],
    ) -> Result<PendingValidation<'a>, Error> {
        let pool = match &self.backend {
            Backend::InProcess(_) => {
                return Ok(PendingValidation {
                    driver: self,
                    configs: configs.to_vec(),
                    sent: None,
                });
            }
            Backend::Process(pool) => pool,
        };
        let conn = pool.conn()?;
        let texts: Vec<String> = configs.iter().map(encode).collect();
        let started = conn.start(&pool.label, "validate", None, |id| ToChild::ValidateAll {
            id,
            configs: texts,
        })?;
        Ok(PendingValidation {
            driver: self,
            configs: configs.to_vec(),
            sent: Some((conn, started)),
        })
    }

    /// Opens a resource; `host` serves its callbacks.
    pub fn open(
        self: &Arc<Self>,
        config: &ResourceConfig,
        host: Arc<dyn HostServices>,
        limits: CallLimits,
    ) -> Result<OpenedResource, Error> {
        match &self.backend {
            Backend::InProcess(d) => Ok(OpenedResource::InProcess(d.open(config, host)?)),
            Backend::Process(_) => {
                let resource = IsolatedResource {
                    driver: self.clone(),
                    config: encode(config),
                    host,
                    limits,
                    opened: Mutex::new(None),
                };
                resource.ensure_open()?;
                Ok(OpenedResource::Isolated(resource))
            }
        }
    }
}

fn read_problems(text: &str) -> Result<Vec<Problem>, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::failed(format!("driver sent an unreadable reply: {e}")))
}

/// A batch of validations sent to a driver process (or to be run in this one).
pub struct PendingValidation<'a> {
    driver: &'a Driver,
    configs: Vec<&'a ResourceConfig>,
    sent: Option<(Arc<Conn>, Started)>,
}

impl PendingValidation<'_> {
    /// Waits for the answer: each config's problems, in order.
    pub fn finish(self) -> Vec<Result<Vec<Problem>, Error>> {
        let driver = self.driver;
        let Some((conn, started)) = self.sent else {
            return self.configs.iter().map(|c| driver.validate(c)).collect();
        };
        let Backend::Process(pool) = &driver.backend else {
            unreachable!("a batch is sent to driver processes only");
        };
        let limit = limit_of(&driver.manifest, &CallLimits::default(), "validate", false);
        let answer = conn.wait(&pool.label, "validate", limit, started);
        let answers = match answer {
            Ok(text) => serde_json::from_str::<Vec<Answer>>(&text)
                .ok()
                .filter(|a| a.len() == self.configs.len()),
            // The operator's interruption stops them all.
            Err(e) if e.kind == ErrorKind::Cancelled => {
                return self.configs.iter().map(|_| Err(e.clone())).collect();
            }
            // Died or timed out on one of them: find out which, one at a time.
            Err(_) => None,
        };
        let Some(answers) = answers else {
            return self.configs.iter().map(|c| driver.validate(c)).collect();
        };
        answers
            .into_iter()
            .map(|a| match (a.ok, a.err) {
                (_, Some(e)) => Err(Error::from_wire(&e)),
                (Some(text), None) => read_problems(&text),
                (None, None) => Ok(Vec::new()),
            })
            .collect()
    }
}

/// The driver processes of one driver: the live one, if any.
struct Pool {
    label: String,
    path: PathBuf,
    current: Mutex<Option<Arc<Conn>>>,
}

impl Pool {
    /// The live driver process, started if there is none (or it died).
    fn conn(&self) -> Result<Arc<Conn>, Error> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = current.as_ref() {
            if c.alive() {
                return Ok(c.clone());
            }
        }
        let conn = Conn::spawn(&self.label, &self.path)?;
        *current = Some(conn.clone());
        Ok(conn)
    }
}

enum Outcome {
    Done(Result<String, Error>),
    Died(String),
}

/// A request sent to a driver process, its answer still to come.
pub struct Started {
    id: u64,
    rx: mpsc::Receiver<Outcome>,
    at: Instant,
}

/// One running driver process.
struct Conn {
    pid: u32,
    stdin: Mutex<ChildStdin>,
    pending: Mutex<HashMap<u64, mpsc::Sender<Outcome>>>,
    hosts: Mutex<HashMap<u64, Arc<dyn HostServices>>>,
    /// How it ended, once it has.
    death: Mutex<Option<String>>,
    /// Why doppel killed it, if it did.
    killed_for: Mutex<Option<String>>,
    next_id: AtomicU64,
    cancel_sent: AtomicBool,
    /// Killed by doppel: no new call goes to it.
    doomed: AtomicBool,
    tail: StderrTail,
}

impl Conn {
    fn spawn(label: &str, path: &Path) -> Result<Arc<Conn>, Error> {
        let mut child = Command::new(doppel_exe()?)
            .arg(HOST_MODE)
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a time limit or an interruption kills the
            // driver and anything it started; the terminal's Ctrl-C reaches doppel
            // only, which decides.
            .process_group(0)
            .spawn()
            .map_err(|e| Error::failed(format!("driver {label}: cannot start its process: {e}")))?;
        let stdout = child.stdout.take().expect("piped");
        let stdin = child.stdin.take().expect("piped");
        let tail = StderrTail::spawn(child.stderr.take());
        let mut reader = BufReader::new(stdout);
        // The first line says whether the library loaded.
        let (tx, rx) = mpsc::channel();
        let first = std::thread::spawn(move || {
            let mut line = String::new();
            let n = reader.read_line(&mut line).unwrap_or(0);
            let _ = tx.send(if n == 0 { None } else { Some(line) });
            reader
        });
        let first_line = match rx.recv_timeout(LOAD_LIMIT) {
            Ok(l) => l,
            Err(_) => {
                kill_group(child.id());
                let _ = child.wait();
                return Err(Error::failed(format!(
                    "driver {label} hung while loading (killed after {}s)",
                    LOAD_LIMIT.as_secs()
                )));
            }
        };
        let reader = first.join().expect("reader thread");
        match first_line.and_then(|l| serde_json::from_str::<FromChild>(&l).ok()) {
            Some(FromChild::Ready { .. }) => {}
            Some(FromChild::LoadFailed { error }) => {
                let _ = child.wait();
                return Err(Error::failed(format!("driver {label}: {error}")));
            }
            _ => {
                let how = child
                    .wait()
                    .map(describe_exit)
                    .unwrap_or_else(|e| e.to_string());
                return Err(Error::failed(format!(
                    "driver {label} crashed while loading: {how}"
                )));
            }
        }
        let conn = Arc::new(Conn {
            pid: child.id(),
            stdin: Mutex::new(stdin),
            pending: Mutex::new(HashMap::new()),
            hosts: Mutex::new(HashMap::new()),
            death: Mutex::new(None),
            killed_for: Mutex::new(None),
            next_id: AtomicU64::new(1),
            cancel_sent: AtomicBool::new(false),
            doomed: AtomicBool::new(false),
            tail,
        });
        let c = conn.clone();
        std::thread::spawn(move || c.read_loop(reader, child));
        Ok(conn)
    }

    fn alive(&self) -> bool {
        !self.doomed.load(Ordering::Relaxed)
            && self
                .death
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none()
    }

    fn write(&self, message: &ToChild) {
        let line = to_line(message);
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        // A failed write means the process is gone: the reader reports how.
        let _ = stdin.write_all(line.as_bytes());
        let _ = stdin.flush();
    }

    fn kill(&self, why: String) {
        *self.killed_for.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
        // The next call starts a fresh process without waiting for this one's end.
        self.doomed.store(true, Ordering::Relaxed);
        kill_group(self.pid);
    }

    fn host(&self, handle: u64) -> Option<Arc<dyn HostServices>> {
        self.hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&handle)
            .cloned()
    }

    fn read_loop(self: Arc<Self>, reader: BufReader<std::process::ChildStdout>, mut child: Child) {
        for line in reader.lines() {
            let Ok(line) = line else { break };
            let Ok(message) = serde_json::from_str::<FromChild>(&line) else {
                continue;
            };
            match message {
                FromChild::Done { id, ok, err } => {
                    let waiter = self
                        .pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&id);
                    if let Some(w) = waiter {
                        let result = match err {
                            Some(e) => Err(Error::from_wire(&e)),
                            None => Ok(ok.unwrap_or_default()),
                        };
                        let _ = w.send(Outcome::Done(result));
                    }
                }
                FromChild::Log {
                    handle,
                    level,
                    message,
                } => {
                    if let Some(h) = self.host(handle) {
                        h.log(Level::from_u8(level), &message);
                    }
                }
                FromChild::Host {
                    cb,
                    handle,
                    method,
                    a,
                    b,
                } => {
                    let Some(host) = self.host(handle) else {
                        self.write(&ToChild::Reply {
                            cb,
                            ok: None,
                            err: Some(Error::failed("resource is closed").to_wire()),
                        });
                        continue;
                    };
                    if method == "run_command" {
                        // Commands can run for hours: not on the reader.
                        let me = self.clone();
                        std::thread::spawn(move || {
                            let reply = serve_callback(&*host, &method, &a, &b);
                            me.reply(cb, reply);
                        });
                    } else {
                        let reply = serve_callback(&*host, &method, &a, &b);
                        self.reply(cb, reply);
                    }
                }
                FromChild::Ready { .. } | FromChild::LoadFailed { .. } => {}
            }
        }
        let how = child
            .wait()
            .map(describe_exit)
            .unwrap_or_else(|e| e.to_string());
        *self.death.lock().unwrap_or_else(|e| e.into_inner()) = Some(how.clone());
        let waiters: Vec<_> = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (_, w) in waiters {
            let _ = w.send(Outcome::Died(how.clone()));
        }
    }

    fn reply(&self, cb: u64, reply: Result<Option<String>, Error>) {
        let (ok, err) = match reply {
            Ok(v) => (v, None),
            Err(e) => (None, Some(e.to_wire())),
        };
        self.write(&ToChild::Reply { cb, ok, err });
    }

    /// Sends the request `build(id)` and waits for its answer, the process's
    /// death, the time limit or the operator's interruption.
    fn request(
        &self,
        label: &str,
        what: &str,
        host: Option<Arc<dyn HostServices>>,
        limit: Option<(u64, &'static str)>,
        build: impl FnOnce(u64) -> ToChild,
    ) -> Result<String, Error> {
        let started = self.start(label, what, host, build)?;
        self.wait(label, what, limit, started)
    }

    /// Sends the request `build(id)`; [`Conn::wait`] waits for its answer.
    fn start(
        &self,
        label: &str,
        what: &str,
        host: Option<Arc<dyn HostServices>>,
        build: impl FnOnce(u64) -> ToChild,
    ) -> Result<Started, Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        if let Some(h) = host {
            self.hosts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, h);
        }
        if !self.alive() {
            // Died between the pool's check and now: the reader drained already.
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            let how = self.death.lock().unwrap_or_else(|e| e.into_inner()).clone();
            return Err(self.crashed(label, what, how.unwrap_or_default()));
        }
        self.write(&build(id));
        Ok(Started {
            id,
            rx,
            at: Instant::now(),
        })
    }

    /// Waits for the answer to a request [`Conn::start`] sent, the process's
    /// death, the time limit (counted from the sending) or the operator's
    /// interruption.
    fn wait(
        &self,
        label: &str,
        what: &str,
        limit: Option<(u64, &'static str)>,
        started: Started,
    ) -> Result<String, Error> {
        let Started { id, rx, at } = started;
        let deadline = limit.map(|(s, _)| at + Duration::from_secs(s));
        let mut cancel_deadline: Option<Instant> = None;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Outcome::Done(result)) => return result,
                Ok(Outcome::Died(how)) => return Err(self.crashed(label, what, how)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(self.crashed(label, what, "lost".into()));
                }
            }
            let now = Instant::now();
            if let (Some(d), Some((secs, source))) = (deadline, limit) {
                if now >= d {
                    self.forget(id);
                    self.kill(format!("{what} ran past its time limit"));
                    return Err(Error::failed(format!(
                        "driver {label} timed out in {what} after {secs}s ({source}): killed"
                    )));
                }
            }
            if crate::runner::cancelled() {
                match cancel_deadline {
                    None => {
                        if !self.cancel_sent.swap(true, Ordering::Relaxed) {
                            self.write(&ToChild::Cancel);
                        }
                        cancel_deadline = Some(now + CANCEL_GRACE);
                    }
                    Some(d) if now >= d => {
                        self.forget(id);
                        self.kill("interrupted".into());
                        return Err(Error::new(
                            ErrorKind::Cancelled,
                            format!(
                                "cancelled: driver {label} did not stop within {}s of the interruption: killed",
                                CANCEL_GRACE.as_secs()
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
    }

    fn forget(&self, id: u64) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    fn crashed(&self, label: &str, what: &str, how: String) -> Error {
        let killed_for = self
            .killed_for
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let message = match killed_for {
            Some(why) => format!("driver {label} was killed during {what}: another call {why}"),
            None => format!("driver {label} crashed in {what}: {how}"),
        };
        Error::failed(message)
    }
}

fn serve_callback(
    host: &dyn HostServices,
    method: &str,
    a: &str,
    b: &str,
) -> Result<Option<String>, Error> {
    match method {
        "run_command" => {
            let request: CommandRequest = serde_json::from_str(a)
                .map_err(|e| Error::invalid(format!("bad command request: {e}")))?;
            host.run_command(&request).map(|out| Some(encode(&out)))
        }
        "state_get" => Ok(host.state_get(a)),
        "state_put" => host.state_put(a, b).map(|()| None),
        "call" => {
            let value = serde_json::from_str(b).unwrap_or(serde_json::Value::Null);
            host.call(a, &value).map(|v| Some(encode(&v)))
        }
        other => Err(Error::unsupported(other)),
    }
}

/// A resource opened by a driver, in its process or (debugging) in doppel.
pub enum OpenedResource {
    InProcess(OpenResource),
    Isolated(IsolatedResource),
}

impl OpenedResource {
    /// The resource's status as the driver sees it.
    pub fn status(&self) -> Result<StatusReport, Error> {
        match self {
            OpenedResource::InProcess(r) => r.status(),
            OpenedResource::Isolated(r) => r.call("status", "{}".into(), false),
        }
    }

    /// Runs an action.
    pub fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        match self {
            OpenedResource::InProcess(r) => r.action(request),
            OpenedResource::Isolated(r) => r.call("action", encode(request), true),
        }
    }

    /// Asks the driver to reconcile an interrupted run (its manifest says
    /// `reconciles`): the generic call path, method `reconcile`.
    pub fn reconcile(
        &self,
        run: &doppel_plugin_api::InterruptedRun,
    ) -> Result<ActionOutcome, Error> {
        let method = doppel_plugin_api::RECONCILE_METHOD;
        match self {
            OpenedResource::InProcess(r) => {
                let value = serde_json::to_value(run).unwrap_or_default();
                let answer = r.call(method, &value)?;
                serde_json::from_value(answer)
                    .map_err(|e| Error::failed(format!("driver sent an unreadable reply: {e}")))
            }
            OpenedResource::Isolated(r) => r.call(method, encode(run), false),
        }
    }
}

/// A resource of a driver process. Re-opened in a fresh process after a crash.
pub struct IsolatedResource {
    driver: Arc<Driver>,
    config: String,
    host: Arc<dyn HostServices>,
    limits: CallLimits,
    opened: Mutex<Option<(Arc<Conn>, u64)>>,
}

impl IsolatedResource {
    fn pool(&self) -> &Pool {
        match &self.driver.backend {
            Backend::Process(p) => p,
            Backend::InProcess(_) => unreachable!("isolated resources come from driver processes"),
        }
    }

    /// The live process and this resource's handle in it, opening it there if
    /// needed.
    fn ensure_open(&self) -> Result<(Arc<Conn>, u64), Error> {
        let pool = self.pool();
        let conn = pool.conn().inspect_err(|e| self.report(e, None, true))?;
        {
            let opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((c, h)) = opened.as_ref() {
                if Arc::ptr_eq(c, &conn) {
                    return Ok((c.clone(), *h));
                }
            }
        }
        let limit = limit_of(&self.driver.manifest, &self.limits, "open", false);
        let id_cell = Mutex::new(0);
        let config = self.config.clone();
        conn.request(&pool.label, "open", Some(self.host.clone()), limit, |id| {
            *id_cell.lock().unwrap_or_else(|e| e.into_inner()) = id;
            ToChild::Open { id, config }
        })
        .inspect_err(|e| self.report(e, Some(&conn), true))?;
        let handle = *id_cell.lock().unwrap_or_else(|e| e.into_inner());
        *self.opened.lock().unwrap_or_else(|e| e.into_inner()) = Some((conn.clone(), handle));
        Ok((conn, handle))
    }

    /// Logs a driver process's death (`log_error`: the one-line error too) and
    /// its last words on stderr in the resource's log.
    fn report(&self, e: &Error, conn: Option<&Conn>, log_error: bool) {
        let died = [
            ") crashed in ",
            ") timed out in ",
            ") crashed while loading",
        ]
        .iter()
        .any(|m| e.message.contains(m));
        if !died {
            return;
        }
        if log_error {
            self.host.log(Level::Error, &e.message);
        }
        if let Some(conn) = conn {
            for line in conn.tail.lines(Duration::from_millis(200)) {
                self.host
                    .log(Level::Info, &format!("driver stderr: {line}"));
            }
        }
    }

    fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        request: String,
        is_action: bool,
    ) -> Result<T, Error> {
        let (conn, handle) = self.ensure_open()?;
        let entry = if is_action {
            serde_json::from_str::<ActionRequest>(&request)
                .map(|r| r.action)
                .unwrap_or_else(|_| method.to_owned())
        } else {
            method.to_owned()
        };
        let limit = limit_of(&self.driver.manifest, &self.limits, &entry, is_action);
        let what = entry.clone();
        let text = conn
            .request(&self.pool().label, &what, None, limit, |id| ToChild::Call {
                id,
                handle,
                method: method.to_owned(),
                request,
            })
            .inspect_err(|e| {
                if e.kind == ErrorKind::Cancelled {
                    self.host.log(Level::Warn, &e.message);
                }
                // An action's failure is logged by the engine (once).
                self.report(e, Some(&conn), !is_action);
            })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::failed(format!("driver sent an unreadable reply: {e}")))
    }
}

impl Drop for IsolatedResource {
    fn drop(&mut self) {
        let opened = self.opened.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((conn, handle)) = opened {
            conn.hosts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&handle);
            if conn.alive() {
                conn.write(&ToChild::Close { handle });
            }
        }
    }
}
