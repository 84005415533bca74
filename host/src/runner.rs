//! Running commands for drivers and triggers: one place for logging (the seed's
//! conventions), `--dry-run`, timeouts, cancellation and environment.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use doppel_core::state::KvStore;
use doppel_plugin_api::{CommandOutput, CommandRequest, Error, HostServices, Level};

use crate::logger::ServiceLog;

/// Set by Ctrl-C (SIGINT/SIGTERM): waits end, running commands are killed.
pub static CANCELLED: AtomicBool = AtomicBool::new(false);

pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::Relaxed)
}

/// Runs `request` to completion (or timeout / cancellation), logging as the seed
/// does: the command line at INFO before it runs, stdout at INFO, stderr of a
/// successful command as WARNING "command succesful but stderr", stderr of a failure
/// at ERROR. Under `dry_run`, state-changing commands are logged and not run.
pub fn run_logged(log: &ServiceLog, rid: Option<&str>, request: &CommandRequest, dry_run: bool) -> Result<CommandOutput, Error> {
    run_command(log, rid, request, dry_run, true)
}

/// [`run_logged`], optionally without logging the command line (triggers log
/// their own `<keyword>: <command>` line).
pub fn run_command(
    log: &ServiceLog,
    rid: Option<&str>,
    request: &CommandRequest,
    dry_run: bool,
    announce: bool,
) -> Result<CommandOutput, Error> {
    let Some(program) = request.argv.first() else {
        return Err(Error::invalid("empty command"));
    };
    let display = request.display();
    if dry_run && !request.read_only {
        log.info(rid, &format!("dry-run: {display}"));
        return Ok(CommandOutput { dry_run: true, ..CommandOutput::default() });
    }
    let quiet = request.quiet;
    if announce {
        log.log(rid, if quiet { Level::Debug } else { Level::Info }, &display);
    }
    let mut cmd = Command::new(program);
    cmd.args(&request.argv[1..]).envs(&request.env).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if request.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    if let Some(cwd) = &request.cwd {
        cmd.current_dir(cwd);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "command not found".to_owned(),
                std::io::ErrorKind::PermissionDenied => "command is not executable".to_owned(),
                _ => e.to_string(),
            };
            let message = format!("{program}: {why}");
            log.error(rid, &message);
            return Err(Error::failed(message));
        }
    };
    if let (Some(text), Some(mut stdin)) = (request.stdin.clone(), child.stdin.take()) {
        std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
    }
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out_thread = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err_thread = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = request.timeout_secs.map(|s| Instant::now() + Duration::from_secs_f64(s));
    let mut timed_out = false;
    let mut killed = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            timed_out = true;
        }
        if timed_out || cancelled() {
            killed = true;
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    let exit_code = if killed { None } else { status.and_then(|s| s.code()) };
    let output = CommandOutput { exit_code, stdout, stderr, dry_run: false, timed_out };
    if !quiet && !output.stdout.trim().is_empty() {
        log.info(rid, output.stdout.trim_end());
    }
    let stderr_text = output.stderr.trim_end();
    if output.exit_code == Some(0) {
        if !stderr_text.is_empty() && !quiet {
            log.warn(rid, &format!("command succesful but stderr\n\n{}\n", stderr_text.trim_start_matches('\n')));
        }
    } else {
        if !stderr_text.is_empty() {
            log.error(rid, stderr_text);
        }
        let how = if timed_out {
            format!("timed out after {}s (killed)", request.timeout_secs.unwrap_or(0.0))
        } else if killed {
            "cancelled (killed)".to_owned()
        } else {
            match output.exit_code {
                Some(c) => format!("exited with code {c}"),
                None => "killed by a signal".to_owned(),
            }
        };
        log.log(rid, if quiet { Level::Debug } else { Level::Error }, &format!("{} {how}", program.rsplit('/').next().unwrap_or(program)));
    }
    Ok(output)
}

/// The host services one resource's driver gets.
pub struct ResourceHost {
    pub log: Arc<ServiceLog>,
    pub rid: String,
    pub dry_run: bool,
    pub kv: KvStore,
    pub env: BTreeMap<String, String>,
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
        run_logged(&self.log, Some(&self.rid), &request, self.dry_run)
    }

    fn state_get(&self, key: &str) -> Option<String> {
        self.kv.get(key)
    }

    fn state_put(&self, key: &str, value: &str) -> Result<(), Error> {
        if self.dry_run {
            return Ok(());
        }
        self.kv.put(key, value).map_err(|e| Error::failed(format!("cannot store state {key}: {e}")))
    }

    fn cancelled(&self) -> bool {
        cancelled()
    }

    fn call(&self, method: &str, _request: &serde_json::Value) -> Result<serde_json::Value, Error> {
        match method {
            "now" => Ok(serde_json::Value::String(jiff::Timestamp::now().to_string())),
            "dry_run" => Ok(serde_json::Value::Bool(self.dry_run)),
            other => Err(Error::unsupported(other)),
        }
    }
}
