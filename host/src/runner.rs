//! Running commands for drivers and triggers: one place for logging (the seed's
//! conventions), `--dry-run`, timeouts, cancellation and environment.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use doppel_core::state::KvStore;
use doppel_plugin_api::{CommandOutput, CommandRequest, Error, HostServices, Level};

use crate::inflight::Journal;
use crate::logger::ServiceLog;
use crate::ssh::{Remote, SshTarget};

/// The `path` of a `read_file` / `write_file` request.
fn file_path(request: &serde_json::Value) -> Result<std::path::PathBuf, Error> {
    request
        .get("path")
        .and_then(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .ok_or_else(|| Error::invalid("read_file/write_file: no path"))
}

/// Set by Ctrl-C (SIGINT/SIGTERM): waits end, running commands are killed.
pub static CANCELLED: AtomicBool = AtomicBool::new(false);

pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::Relaxed)
}

/// The places for tool commands in this process (node config
/// `max_parallel_commands`): a command holds one from its spawn to the end of its
/// wait, so thousands of services refreshed at once never run thousands of tools.
struct CommandSlots {
    in_use: Mutex<usize>,
    freed: std::sync::Condvar,
    limit: std::sync::atomic::AtomicUsize,
}

static COMMAND_SLOTS: CommandSlots = CommandSlots {
    in_use: Mutex::new(0),
    freed: std::sync::Condvar::new(),
    limit: std::sync::atomic::AtomicUsize::new(doppel_core::node::DEFAULT_MAX_PARALLEL_COMMANDS),
};

/// Sets how many commands run at once (at least 1); from the node config.
pub fn set_max_parallel_commands(n: usize) {
    COMMAND_SLOTS.limit.store(n.max(1), Ordering::Relaxed);
    COMMAND_SLOTS.freed.notify_all();
}

/// A command's place, given back when dropped.
struct CommandSlot;

impl Drop for CommandSlot {
    fn drop(&mut self) {
        let mut in_use = COMMAND_SLOTS
            .in_use
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *in_use -= 1;
        COMMAND_SLOTS.freed.notify_one();
    }
}

/// Waits for a place to run a command (cancellation ends the wait).
fn command_slot(log: &ServiceLog, rid: Option<&str>) -> Result<CommandSlot, Error> {
    let mut in_use = COMMAND_SLOTS
        .in_use
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut said = false;
    loop {
        let limit = COMMAND_SLOTS.limit.load(Ordering::Relaxed);
        if *in_use < limit {
            *in_use += 1;
            return Ok(CommandSlot);
        }
        if cancelled() {
            return Err(Error::cancelled());
        }
        if !said {
            said = true;
            log.log(
                rid,
                Level::Debug,
                &format!("waiting for one of the {limit} command places (max_parallel_commands)"),
            );
        }
        in_use = COMMAND_SLOTS
            .freed
            .wait_timeout(in_use, CANCEL_CHECK)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Runs `request` to completion (or timeout / cancellation), logging as the seed
/// does: the command line at INFO before it runs (unless `announce` is false:
/// triggers log their own `<keyword>: <command>` line), stdout at INFO, stderr of
/// a successful command as WARNING "command succesful but stderr" (INFO when the
/// request says `warn_to_info`), stderr of a failure at ERROR. Under `dry_run`,
/// state-changing commands are logged and not run.
///
/// On the resource's host: locally, or through `ssh` when the
/// resource sets `ssh = <destination>` (ssh's own failure is then an error
/// naming the destination, never the tool's exit code). With a `journal`, the
/// command is recorded (with the command line the driver asked for) from its
/// spawn to its end: the in-flight record the next doppel finds if this one is
/// killed meanwhile (`inflight.rs`).
pub fn run_on(
    log: &ServiceLog,
    rid: Option<&str>,
    request: &CommandRequest,
    dry_run: bool,
    announce: bool,
    ssh: Option<&SshTarget>,
    journal: Option<(&Journal, &[String])>,
) -> Result<CommandOutput, Error> {
    match ssh {
        None => spawn_and_wait(log, rid, request, dry_run, announce, None, journal),
        Some(target) => {
            let remote = target.wrap(request)?;
            if let Err(e) = std::fs::create_dir_all(&target.control_dir) {
                return Err(Error::failed(format!(
                    "cannot create {}: {e}",
                    target.control_dir.display()
                )));
            }
            let out = spawn_and_wait(
                log,
                rid,
                &remote.request,
                dry_run,
                announce,
                Some(&remote),
                journal,
            )?;
            target.check(out)
        }
    }
}

fn spawn_and_wait(
    log: &ServiceLog,
    rid: Option<&str>,
    request: &CommandRequest,
    dry_run: bool,
    announce: bool,
    remote: Option<&Remote>,
    journal: Option<(&Journal, &[String])>,
) -> Result<CommandOutput, Error> {
    let Some(program) = request.argv.first() else {
        return Err(Error::invalid("empty command"));
    };
    let display = match remote {
        Some(r) => r.shown.clone(),
        None => request.display(),
    };
    let hold_stdin = remote.is_some_and(|r| r.hold_stdin);
    if dry_run && !request.read_only {
        log.info(rid, &format!("dry-run: {display}"));
        return Ok(CommandOutput::skipped());
    }
    let quiet = request.quiet;
    if announce {
        log.log(
            rid,
            if quiet { Level::Debug } else { Level::Info },
            &display,
        );
    }
    let mut cmd = command_for(request, hold_stdin);
    let _slot = command_slot(log, rid)?;
    let mut child = cmd.spawn().map_err(|e| spawn_error(program, &e))?;
    // Recorded before anything waits on it; removed when `_in_flight` drops,
    // however this function returns.
    let _in_flight =
        journal.and_then(|journal| record_in_flight(log, rid, journal, request, child.id()));
    let held_stdin = feed_stdin(&mut child, request);
    // A streamed command's stdout lines come here as they are written, and are
    // logged from this thread (the log is not 'static).
    let streamed = request.stream && !quiet;
    let (line_tx, lines) = mpsc::channel::<String>();
    let out_reader = Reader::spawn(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        streamed.then(|| line_tx.clone()),
    );
    // Tools that report progress on stderr (drd, SYMCLI) stream it the same way.
    let err_reader = Reader::spawn(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        streamed.then(|| line_tx.clone()),
    );
    let log_lines = || {
        for line in lines.try_iter() {
            log.info(rid, &line);
        }
    };
    let ended = wait_or_kill(child, request.timeout_secs, log_lines);
    drop(held_stdin);
    // A background process the command left behind (`app &` in a start script)
    // may hold the pipes open for ever: read what comes within a grace period.
    let grace = Instant::now() + OUTPUT_GRACE;
    let (stdout, out_done) = out_reader.finish(grace);
    let (stderr, err_done) = err_reader.finish(grace);
    log_lines();
    if !(out_done && err_done) {
        log.log(
            rid,
            Level::Debug,
            "a process started by the command still holds its output open: not waiting for it",
        );
    }
    let exit_code = if ended.killed {
        None
    } else {
        ended.status.and_then(|s| s.code())
    };
    let mut output = CommandOutput::killed(&stdout, &stderr);
    output.exit_code = exit_code;
    output.timed_out = ended.timed_out;
    log_command_output(log, rid, request, program, &output, streamed, ended.killed);
    Ok(output)
}

/// The command to spawn: piped output, input piped only when there is some to
/// give (or a remote command's to hold open), in its own process group.
fn command_for(request: &CommandRequest, hold_stdin: bool) -> Command {
    let mut cmd = Command::new(&request.argv[0]);
    cmd.args(&request.argv[1..])
        .envs(&request.env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so a timeout or a cancellation kills everything it started.
    cmd.process_group(0);
    cmd.stdin(if request.stdin.is_some() || hold_stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    if let Some(cwd) = &request.cwd {
        cmd.current_dir(cwd);
    }
    cmd
}

/// A spawn failure in the operator's words. Not logged here: the caller
/// reports the error (once).
fn spawn_error(program: &str, e: &std::io::Error) -> Error {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "command not found".to_owned(),
        std::io::ErrorKind::PermissionDenied => "command is not executable".to_owned(),
        _ => e.to_string(),
    };
    Error::failed(format!("{program}: {why}"))
}

/// The in-flight record of a spawned command (with the command line the driver
/// asked for, and the one run when they differ). A journal that cannot be
/// written is warned about, never fatal: the command runs anyway.
fn record_in_flight(
    log: &ServiceLog,
    rid: Option<&str>,
    (journal, asked): (&Journal, &[String]),
    request: &CommandRequest,
    pid: u32,
) -> Option<crate::inflight::Entry> {
    let ran = (asked != request.argv.as_slice()).then_some(request.argv.as_slice());
    match journal.record(pid, asked, ran) {
        Ok(entry) => Some(entry),
        Err(e) => {
            log.warn(
                rid,
                &format!(
                    "cannot record the running command in {}: {e} (a doppel killed now would leave it unaccounted for)",
                    journal.dir.display()
                ),
            );
            None
        }
    }
}

/// Writes the request's input from a thread, or returns the input to hold open.
/// A remote command's input stays open while it runs: closing it (after the
/// wait, or by doppel's death) is what tells the remote side to kill the command.
fn feed_stdin(
    child: &mut std::process::Child,
    request: &CommandRequest,
) -> Option<std::process::ChildStdin> {
    let mut stdin = child.stdin.take()?;
    match request.stdin.clone() {
        Some(text) => {
            std::thread::spawn(move || {
                let _ = stdin.write_all(text.as_bytes());
            });
            None
        }
        None => Some(stdin),
    }
}

/// How a command's wait ended.
struct WaitEnd {
    status: Option<std::process::ExitStatus>,
    timed_out: bool,
    /// Killed by doppel (a timeout or a cancellation).
    killed: bool,
}

/// Waits for the child's exit, killing its process group at the deadline or on
/// cancellation; `log_lines` logs streamed output as it arrives.
fn wait_or_kill(
    mut child: std::process::Child,
    timeout_secs: Option<f64>,
    log_lines: impl Fn(),
) -> WaitEnd {
    let deadline = timeout_secs.map(|s| Instant::now() + Duration::from_secs_f64(s));
    // The child's exit arrives as an event from a thread blocked in wait(2): no
    // polling delay on the common path. The loop only wakes up on its own to
    // notice a timeout or a cancellation (Ctrl-C, SIGTERM).
    let pgid = child.id() as libc::pid_t;
    let (exited_tx, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = exited_tx.send(child.wait().ok());
    });
    let mut timed_out = false;
    loop {
        let now = Instant::now();
        let tick = match deadline {
            Some(d) => d.saturating_duration_since(now).min(CANCEL_CHECK),
            None => CANCEL_CHECK,
        };
        let waited = exited.recv_timeout(tick);
        log_lines();
        let status = match waited {
            Ok(status) => status,
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    timed_out = true;
                }
                if !(timed_out || cancelled()) {
                    continue;
                }
                // The whole process group: a shell's children (`sleep 30; ...`) too,
                // or they would keep the pipes open and the wait would go on. The
                // child is not reaped before the waiter sees it exit, so the group
                // id is still its own.
                // SAFETY: plain syscall on the group this child leads.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
                return WaitEnd {
                    status: exited.recv().ok().flatten(),
                    timed_out,
                    killed: true,
                };
            }
        };
        return WaitEnd {
            status,
            timed_out,
            killed: false,
        };
    }
}

/// Logs an ended command as the seed does: stdout at INFO (unless streamed or
/// quiet), a success's stderr as a warning, a failure's stderr at ERROR and how
/// it ended at DEBUG.
fn log_command_output(
    log: &ServiceLog,
    rid: Option<&str>,
    request: &CommandRequest,
    program: &str,
    output: &CommandOutput,
    streamed: bool,
    killed: bool,
) {
    let quiet = request.quiet;
    if !quiet && !streamed && !output.stdout.trim().is_empty() {
        log.info(rid, output.stdout.trim_end());
    }
    let stderr_text = output.stderr.trim_end();
    if output.exit_code == Some(0) {
        if !stderr_text.is_empty() && !quiet && !streamed {
            log.log(
                rid,
                if request.warn_to_info {
                    Level::Info
                } else {
                    Level::Warn
                },
                &format!(
                    "command succesful but stderr\n\n{}\n",
                    stderr_text.trim_start_matches('\n')
                ),
            );
        }
        return;
    }
    if !stderr_text.is_empty() && !streamed {
        // A failing query's stderr is the driver's to interpret (it may retry).
        log.log(
            rid,
            if quiet { Level::Debug } else { Level::Error },
            stderr_text,
        );
    }
    let how = if output.timed_out {
        format!(
            "timed out after {}s (killed)",
            request.timeout_secs.unwrap_or(0.0)
        )
    } else if killed {
        "cancelled (killed)".to_owned()
    } else {
        match output.exit_code {
            Some(c) => format!("exited with code {c}"),
            None => "killed by a signal".to_owned(),
        }
    };
    // The caller's error (run_checked, a trigger's "blocking error [...]") says
    // how the command ended; repeating it here would log every failure twice.
    log.log(
        rid,
        Level::Debug,
        &format!("{} {how}", program.rsplit('/').next().unwrap_or(program)),
    );
}

/// How often a running command's wait looks at the cancellation flag.
const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// How long to keep reading a command's output after it exited.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Reads a pipe on a thread into a shared buffer, so the caller can stop waiting.
struct Reader {
    buf: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Reader {
    /// Reads `pipe` to its end; with `lines`, also sends each complete non-blank
    /// line as it arrives (and the last, unterminated one at the end).
    fn spawn(pipe: Option<Box<dyn Read + Send>>, lines: Option<mpsc::Sender<String>>) -> Reader {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = mpsc::channel();
        let shared = buf.clone();
        std::thread::spawn(move || {
            let mut pending: Vec<u8> = Vec::new();
            let send = |bytes: &[u8]| {
                if let Some(tx) = &lines {
                    let text = String::from_utf8_lossy(bytes);
                    let text = text.trim_end();
                    if !text.trim().is_empty() {
                        let _ = tx.send(text.to_owned());
                    }
                }
            };
            if let Some(mut p) = pipe {
                let mut chunk = [0u8; 8192];
                loop {
                    match p.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            shared
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .extend_from_slice(&chunk[..n]);
                            if lines.is_some() {
                                pending.extend_from_slice(&chunk[..n]);
                                while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                                    let line: Vec<u8> = pending.drain(..=i).collect();
                                    send(&line);
                                }
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            }
            send(&pending);
            let _ = tx.send(());
        });
        Reader { buf, done }
    }

    /// What was read, and whether the pipe was closed by `deadline`.
    fn finish(self, deadline: Instant) -> (String, bool) {
        let closed = self
            .done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok();
        let bytes = std::mem::take(&mut *self.buf.lock().unwrap_or_else(|e| e.into_inner()));
        (String::from_utf8_lossy(&bytes).into_owned(), closed)
    }
}

/// The host services one resource's driver gets.
pub struct ResourceHost {
    pub log: Arc<ServiceLog>,
    pub rid: String,
    pub dry_run: bool,
    pub kv: KvStore,
    pub env: BTreeMap<String, String>,
    /// `ssh = <destination>`: every command runs on that host.
    pub ssh: Option<SshTarget>,
    /// Where the resource's state-changing commands are recorded while they run.
    pub journal: Option<Journal>,
}

impl ResourceHost {
    /// The journal and command line to record `request` under: state-changing
    /// commands only (a query left running changes nothing).
    fn journal_for<'a>(
        &'a self,
        request: &'a CommandRequest,
    ) -> Option<(&'a Journal, &'a [String])> {
        if request.read_only {
            return None;
        }
        self.journal.as_ref().map(|j| (j, request.argv.as_slice()))
    }
}

impl HostServices for ResourceHost {
    fn log(&self, level: Level, message: &str) {
        self.log.log(Some(&self.rid), level, message);
    }

    fn run_command(&self, request: &CommandRequest) -> Result<CommandOutput, Error> {
        let mut request = request.clone();
        for (k, v) in &self.env {
            request.env.entry(k.clone()).or_insert_with(|| v.clone());
        }
        run_on(
            &self.log,
            Some(&self.rid),
            &request,
            self.dry_run,
            true,
            self.ssh.as_ref(),
            self.journal_for(&request),
        )
    }

    fn state_get(&self, key: &str) -> Option<String> {
        self.kv.get(key)
    }

    fn state_put(&self, key: &str, value: &str) -> Result<(), Error> {
        if self.dry_run {
            return Ok(());
        }
        self.kv
            .put(key, value)
            .map_err(|e| Error::failed(format!("cannot store state {key}: {e}")))
    }

    fn cancelled(&self) -> bool {
        cancelled()
    }

    fn call(&self, method: &str, request: &serde_json::Value) -> Result<serde_json::Value, Error> {
        match method {
            "now" => Ok(serde_json::Value::String(
                jiff::Timestamp::now().to_string(),
            )),
            "progress" => {
                let text = request.get("text").and_then(|t| t.as_str()).unwrap_or("");
                self.log.progress(Some(&self.rid), text);
                Ok(serde_json::Value::Null)
            }
            "dry_run" => Ok(serde_json::Value::Bool(self.dry_run)),
            "features" => {
                let mut features = doppel_plugin_api::HostFeatures::current();
                features
                    .features
                    .extend(["read_file", "write_file"].map(str::to_owned));
                Ok(serde_json::to_value(features).unwrap_or(serde_json::Value::Null))
            }
            "read_file" => {
                let path = file_path(request)?;
                let offset = request.get("offset").and_then(|o| o.as_u64()).unwrap_or(0);
                let chunk = match &self.ssh {
                    None => doppel_plugin_api::files::read_local(&path, offset)?,
                    Some(target) => {
                        let out = run_on(
                            &self.log,
                            Some(&self.rid),
                            &SshTarget::read_request(&path, offset),
                            self.dry_run,
                            false,
                            Some(target),
                            None,
                        )?;
                        target.read_answer(&path, &out)?
                    }
                };
                Ok(serde_json::to_value(chunk).unwrap_or(serde_json::Value::Null))
            }
            "write_file" => {
                let path = file_path(request)?;
                let text = request.get("text").and_then(|t| t.as_str()).unwrap_or("");
                let atomic = request
                    .get("atomic")
                    .and_then(|a| a.as_bool())
                    .unwrap_or(true);
                let place = match &self.ssh {
                    Some(t) => format!("{} on {}", path.display(), t.destination),
                    None => path.display().to_string(),
                };
                if self.dry_run {
                    self.log
                        .info(Some(&self.rid), &format!("dry-run: write {place}"));
                    return Ok(serde_json::Value::Null);
                }
                self.log
                    .log(Some(&self.rid), Level::Debug, &format!("write {place}"));
                match &self.ssh {
                    None => doppel_plugin_api::files::write_local(&path, text.as_bytes(), atomic)
                        .map_err(|e| {
                        Error::failed(format!("cannot write {}: {e}", path.display()))
                    })?,
                    Some(target) => {
                        let out = run_on(
                            &self.log,
                            Some(&self.rid),
                            &SshTarget::write_request(&path, text, atomic),
                            false,
                            false,
                            Some(target),
                            None,
                        )?;
                        if out.exit_code != Some(0) {
                            return Err(target.file_error("write", &path, &out));
                        }
                    }
                }
                Ok(serde_json::Value::Null)
            }
            other => Err(Error::unsupported(other)),
        }
    }
}
