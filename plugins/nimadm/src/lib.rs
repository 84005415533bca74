//! `task.nimadm`: AIX NIM alternate disk migration of many clients at once,
//! from the NIM master, with `nimadm` (reference/vendor-tools.md §4).
//!
//! - `run`: one `<bin>/nimadm -c <client> -l <lpp_source> -s <spot> -d "<disks>" -Y
//!   [...]` per client (`-P <N>` with `--phase N`), at most `max_parallel` at
//!   once. A failed client does not stop the others; with `cleanup_on_failure`
//!   it gets `nimadm -C -c <client> -s <spot>`. The action fails when any client
//!   failed, naming each one and its phase.
//! - `unprovision`: `nimadm -C` for every client; `wake`: `nimadm -W`; `sleep`:
//!   `nimadm -S`. All take `--clients a,b`.
//! - status: from the driver's own records of each client (no command runs).
//!
//! Concurrency: the driver is synchronous but runs up to `max_parallel` clients
//! on std threads, each calling `host.run`. Since doppel hands a command's
//! output over only when it ends, a second thread per client follows the
//! client's log on the master (`<log_dir>/<client>_alt_mig.log`, by default
//! `/var/adm/ras/alt_mig`) while nimadm runs, and turns its phase banners
//! (`Executing nimadm phase N.`) into progress lines
//! `client <c>: phase N/12 (<what>), elapsed <t>`, repeated every
//! `progress_interval`. Every nimadm line goes to doppel's log at debug level
//! under the same `client <c>:` prefix. The final phase and result come from
//! the command's own output and exit code, never from the log. (Running the
//! phases one by one with `-P` instead would give progress without reading a
//! file, but would change what nimadm does: each `-P` run re-initialises, and
//! nimadm's own cleanup of a failed migration only happens in a full run.)
//!
//! The log is polled every second; the environment variable
//! `DOPPEL_NIMADM_POLL_MS` changes that (for tests; not a keyword).

mod config;
mod follow;
mod phases;
mod records;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandOutput, CommandRequest, Driver, Error, Host,
    InterruptedRun, KeywordSpec, KeywordType, Level, Manifest, OptionSpec, Problem,
    RECONCILE_METHOD, ResourceConfig, Status, StatusReport,
};

use crate::config::Settings;
use crate::follow::Follower;
use crate::phases::{banner_phase, duration_text, last_phase, phase_label};
use crate::records::{Migration, Record};

/// Where nimadm lives when the node config does not say.
const DEFAULT_BIN: &str = "/usr/sbin";
/// Where nimadm writes its per-client logs on the master.
const DEFAULT_LOG_DIR: &str = "/var/adm/ras/alt_mig";
/// Environment variable overriding the log poll interval, in milliseconds.
pub const POLL_ENV: &str = "DOPPEL_NIMADM_POLL_MS";
const DEFAULT_POLL: Duration = Duration::from_secs(1);
/// Time limit of `nimadm -C`, `-W` and `-S`.
const SHORT_TIMEOUT: Duration = Duration::from_secs(3600);

pub struct Nimadm {
    config: ResourceConfig,
    host: Host,
    /// Interval between two reads of a client's log.
    poll: Duration,
}

/// How one client's part of an action ended.
#[derive(Clone, Debug, PartialEq)]
struct Outcome {
    client: String,
    ok: bool,
    /// The phase reached (0: none, or not a migration).
    phase: u8,
    message: Option<String>,
    /// After a failure: whether the cleanup worked (none: not attempted).
    cleaned_up: Option<bool>,
    /// Not run, and why.
    skipped: Option<String>,
}

impl Outcome {
    fn ok(client: &str, phase: u8) -> Outcome {
        Outcome {
            client: client.to_owned(),
            ok: true,
            phase,
            message: None,
            cleaned_up: None,
            skipped: None,
        }
    }

    fn failed(client: &str, phase: u8, message: String) -> Outcome {
        Outcome {
            client: client.to_owned(),
            ok: false,
            phase,
            message: Some(message),
            cleaned_up: None,
            skipped: None,
        }
    }

    /// `lpar3 at phase 6/12 (migrate the filesets with installp): <why>; cleaned up`.
    fn describe_failure(&self, migration: bool) -> String {
        let mut text = self.client.clone();
        if migration {
            if self.phase == 0 {
                text.push_str(" before any phase");
            } else {
                text.push_str(&format!(
                    " at phase {}/12 ({})",
                    self.phase,
                    phase_label(self.phase)
                ));
            }
        }
        if let Some(m) = &self.message {
            text.push_str(&format!(": {m}"));
        }
        match self.cleaned_up {
            Some(true) => text.push_str("; cleaned up"),
            Some(false) => text.push_str("; cleanup failed too"),
            None => {}
        }
        text
    }
}

/// The operations on one client other than a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Cleanup,
    Wake,
    Sleep,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Cleanup => "cleanup",
            Op::Wake => "wake",
            Op::Sleep => "sleep",
        }
    }
}

/// What nimadm said when it failed: its last (up to 3) stderr lines on one
/// line, else its last stdout line.
fn last_line(out: &CommandOutput) -> String {
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if !errors.is_empty() {
        return errors[errors.len().saturating_sub(3)..].join(" ");
    }
    out.stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned()
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn poll_interval_from_env() -> Duration {
    std::env::var(POLL_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|ms| Duration::from_millis(ms.max(1)))
        .unwrap_or(DEFAULT_POLL)
}

impl Nimadm {
    fn settings(&self) -> Result<Settings, Error> {
        Settings::from_config(&self.config)
            .map_err(|problems| Error::problems(&self.config.rid, &problems))
    }

    fn tool(&self) -> String {
        self.config.tool_path("bin", DEFAULT_BIN, "nimadm")
    }

    fn log_path(&self, client: &str) -> PathBuf {
        let dir = self
            .config
            .option("log_dir")
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .unwrap_or(DEFAULT_LOG_DIR);
        PathBuf::from(dir).join(format!("{client}_alt_mig.log"))
    }

    fn say(&self, client: &str, message: &str) {
        self.host.info(&format!("client {client}: {message}"));
    }

    fn log(&self, level: Level, client: &str, message: &str) {
        self.host.log(level, &format!("client {client}: {message}"));
    }

    /// `nimadm -c <client> -l <lpp> -s <spot> -d "<disks>" -Y [options] [-B|-r] [-P <N>]`.
    fn migrate_argv(&self, s: &Settings, client: &str, phase: Option<u8>) -> Vec<String> {
        let mut argv = vec![
            self.tool(),
            "-c".into(),
            client.into(),
            "-l".into(),
            s.lpp_source.clone(),
            "-s".into(),
            s.spot.clone(),
            "-d".into(),
            s.disk_arg(client),
            "-Y".into(),
        ];
        for (flag, value) in [
            ("-j", &s.cache_vg),
            ("-a", &s.pre_migration),
            ("-z", &s.post_migration),
            ("-b", &s.bundle),
            ("-e", &s.exclude_files),
            ("-i", &s.image_data),
            ("-o", &s.bosinst_data),
            ("-m", &s.nfs_mount_options),
        ] {
            if let Some(v) = value {
                argv.push(flag.into());
                argv.push(v.clone());
            }
        }
        if !s.set_bootlist {
            argv.push("-B".into());
        } else if s.reboot {
            argv.push("-r".into());
        }
        if let Some(p) = phase {
            argv.push("-P".into());
            argv.push(p.to_string());
        }
        argv
    }

    fn op_argv(&self, s: &Settings, client: &str, op: Op) -> Vec<String> {
        let flag = match op {
            Op::Cleanup => "-C",
            Op::Wake => "-W",
            Op::Sleep => "-S",
        };
        let mut argv = vec![
            self.tool(),
            flag.into(),
            "-c".into(),
            client.into(),
            "-s".into(),
            s.spot.clone(),
        ];
        if op == Op::Wake {
            argv.push("-d".into());
            argv.push(s.disk_arg(client));
            if let Some(m) = &s.nfs_mount_options {
                argv.push("-m".into());
                argv.push(m.clone());
            }
        }
        argv
    }

    /// The clients to act on: all, or those of `--clients` (in configured order).
    fn selected(&self, s: &Settings, request: &ActionRequest) -> Result<Vec<String>, Error> {
        let Some(list) = request.options.get("clients") else {
            return Ok(s.clients.clone());
        };
        let asked: Vec<&str> = list
            .split([',', ' '])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if asked.is_empty() {
            return Err(Error::invalid("--clients: no client given"));
        }
        let unknown: Vec<&str> = asked
            .iter()
            .copied()
            .filter(|c| !s.clients.iter().any(|k| k == c))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::invalid(format!(
                "--clients: {} not among the clients of {} ({})",
                unknown.join(", "),
                self.config.rid,
                s.clients.join(" ")
            )));
        }
        Ok(s.clients
            .iter()
            .filter(|c| asked.contains(&c.as_str()))
            .cloned()
            .collect())
    }

    /// Runs `work` for each client, at most `max` at once, in the clients' order.
    /// A panic in one client's work fails that client only. Clients not started
    /// because the operator cancelled are missing from the result.
    fn parallel<T: Send>(
        &self,
        clients: &[String],
        max: usize,
        work: impl Fn(&str) -> T + Sync,
        on_panic: impl Fn(&str, String) -> T + Sync,
    ) -> Vec<T> {
        let n = clients.len();
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..max.clamp(1, n.max(1)) {
                scope.spawn(|| {
                    loop {
                        if self.host.cancelled() {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(client) = clients.get(i) else { break };
                        let r =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(client)))
                                .unwrap_or_else(|p| on_panic(client, panic_text(p)));
                        if let Ok(mut slots) = results.lock() {
                            slots[i] = Some(r);
                        }
                    }
                });
            }
        });
        results
            .into_inner()
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect()
    }

    /// Logs a progress line: client, phase of 12, elapsed.
    fn progress(&self, client: &str, phase: u8, since: Instant) {
        let elapsed = duration_text(since.elapsed().as_secs_f64());
        if phase == 0 {
            self.say(client, &format!("initializing, elapsed {elapsed}"));
        } else {
            self.say(
                client,
                &format!(
                    "phase {phase}/12 ({}), elapsed {elapsed}",
                    phase_label(phase)
                ),
            );
        }
    }

    /// Follows the client's log until `stop`, logging its lines (debug) and a
    /// progress line per new phase (and every `interval`). Returns how many
    /// lines it saw and the last phase.
    fn follow(
        &self,
        client: &str,
        mut follower: Follower,
        stop: &AtomicBool,
        since: Instant,
        interval: Duration,
        record: &Mutex<Record>,
    ) -> (usize, u8) {
        let (mut seen, mut phase) = (0usize, 0u8);
        let mut last_line_at = Instant::now();
        loop {
            let stopping = stop.load(Ordering::SeqCst);
            for line in follower.poll(&self.host) {
                seen += 1;
                self.log(Level::Debug, client, &line);
                if let Some(p) = banner_phase(&line).filter(|p| *p != phase) {
                    phase = p;
                    self.progress(client, p, since);
                    last_line_at = Instant::now();
                    if let Ok(mut r) = record.lock() {
                        r.phase = p;
                        records::save(&self.host, client, &r);
                    }
                }
            }
            if stopping {
                break;
            }
            if last_line_at.elapsed() >= interval {
                self.progress(client, phase, since);
                last_line_at = Instant::now();
            }
            let until = Instant::now() + self.poll;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
            }
        }
        if seen == 0 {
            self.host.log(
                Level::Debug,
                &format!("client {client}: nothing read from {} (set log_dir in [driver.nimadm] if nimadm logs elsewhere)", follower.path().display()),
            );
        }
        (seen, phase)
    }

    /// `nimadm -C` on one client after its failure. True when it worked.
    fn cleanup_after_failure(&self, s: &Settings, client: &str) -> bool {
        let mut request =
            CommandRequest::new(self.op_argv(s, client, Op::Cleanup)).timeout(SHORT_TIMEOUT);
        request.quiet = true;
        self.say(
            client,
            &format!("cleaning up the failed migration: {}", request.display()),
        );
        match self.host.run(&request) {
            Ok(out) if out.success() => {
                for line in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
                    self.log(Level::Debug, client, line);
                }
                self.say(client, "cleaned up");
                true
            }
            Ok(out) => {
                self.log(
                    Level::Error,
                    client,
                    &format!("cleanup failed: {}", last_line(&out)),
                );
                false
            }
            Err(e) => {
                self.log(
                    Level::Error,
                    client,
                    &format!("cleanup failed: {}", e.message),
                );
                false
            }
        }
    }

    /// Migrates one client (all phases, or `phase`).
    fn migrate_one(
        &self,
        s: &Settings,
        client: &str,
        phase: Option<u8>,
        request: &ActionRequest,
    ) -> Outcome {
        let what = match phase {
            Some(p) => format!("phase {p}/12"),
            None => "migration".to_owned(),
        };
        let mut command =
            CommandRequest::new(self.migrate_argv(s, client, phase)).timeout(s.client_timeout);
        command.quiet = true;
        if phase.is_none_or(|p| p == 1)
            && let Some(stop) = self.before_a_new_migration(s, client, request)
        {
            return stop;
        }
        if request.dry_run {
            return match self.host.run(&command) {
                Ok(_) => Outcome::ok(client, phase.unwrap_or(12)),
                Err(e) => Outcome::failed(client, 0, e.message),
            };
        }
        self.say(client, &format!("{what} started: {}", command.display()));
        let record = Mutex::new(running_record(s, phase));
        if let Ok(r) = record.lock() {
            records::save(&self.host, client, &r);
        }
        let since = Instant::now();
        let (out, (seen, followed_phase)) = self.run_followed(s, client, &command, &record, since);
        let elapsed = since.elapsed().as_secs_f64();
        let mut r = record.into_inner().unwrap_or_default();
        r.finished = Some(records::now());
        r.elapsed_secs = Some(elapsed);
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                r.migration = Migration::Failed;
                r.result = "failed".into();
                r.message = Some(e.message.clone());
                records::save(&self.host, client, &r);
                self.log(Level::Error, client, &format!("FAILED: {}", e.message));
                return Outcome::failed(client, 0, e.message);
            }
        };
        if seen == 0 {
            for line in out.stdout.lines() {
                self.log(Level::Debug, client, line);
            }
        }
        let reached = last_phase(&out.stdout).max(followed_phase);
        r.phase = reached;
        if out.success() {
            self.record_success(client, phase, reached, elapsed, &mut r);
            return Outcome::ok(client, r.phase);
        }
        self.record_failure(s, client, &out, reached, elapsed, r)
    }

    /// A client migrated or partly migrated before: an already migrated client
    /// is skipped unless --force, which first cleans up what the last run left.
    /// Returns the client's outcome when the migration must not go on.
    fn before_a_new_migration(
        &self,
        s: &Settings,
        client: &str,
        request: &ActionRequest,
    ) -> Option<Outcome> {
        let previous = records::load(&self.host, client);
        if previous.migration == Migration::None {
            return None;
        }
        if previous.migration == Migration::Migrated && !request.force {
            let at = previous
                .migrated_at
                .as_deref()
                .map(records::local_time)
                .unwrap_or_default();
            let why = format!(
                "already migrated on {at}: skipped (--force cleans it up and migrates it again)"
            );
            self.say(client, &why);
            return Some(Outcome {
                skipped: Some("already migrated".into()),
                ..Outcome::ok(client, 12)
            });
        }
        if !request.force {
            return None;
        }
        let mut cleanup =
            CommandRequest::new(self.op_argv(s, client, Op::Cleanup)).timeout(SHORT_TIMEOUT);
        cleanup.quiet = true;
        if request.dry_run {
            let _ = self.host.run(&cleanup);
            return None;
        }
        self.say(
            client,
            &format!("--force: cleaning up first: {}", cleanup.display()),
        );
        let why = match self.host.run(&cleanup) {
            Ok(o) if o.success() => return None,
            Ok(o) => last_line(&o),
            Err(e) => e.message,
        };
        Some(Outcome::failed(
            client,
            0,
            format!("cleanup before the migration failed: {why}"),
        ))
    }

    /// Runs the migration while a thread follows its log on the client (the
    /// progress lines and the phase reached); returns the command's result and
    /// what the follower saw: (lines seen, last phase).
    fn run_followed(
        &self,
        s: &Settings,
        client: &str,
        command: &CommandRequest,
        record: &Mutex<Record>,
        since: Instant,
    ) -> (Result<CommandOutput, Error>, (usize, u8)) {
        let stop = AtomicBool::new(false);
        let follower = Follower::new(&self.host, self.log_path(client));
        std::thread::scope(|scope| {
            let follower_thread = scope
                .spawn(|| self.follow(client, follower, &stop, since, s.progress_interval, record));
            let out = self.host.run(command);
            stop.store(true, Ordering::SeqCst);
            let followed = follower_thread.join().unwrap_or((0, 0));
            (out, followed)
        })
    }

    /// A successful run: the client migrated (its last phase ran) or partly
    /// migrated (`phase` below 12), recorded and said.
    fn record_success(
        &self,
        client: &str,
        phase: Option<u8>,
        reached: u8,
        elapsed: f64,
        r: &mut Record,
    ) {
        r.result = "ok".into();
        r.message = None;
        if phase.is_none_or(|p| p == 12) {
            r.migration = Migration::Migrated;
            r.migrated_at = r.finished.clone();
            r.migration_secs = phase.is_none().then_some(elapsed);
            r.phase = 12;
            self.say(
                client,
                &format!("migrated (12/12 phases) in {}", duration_text(elapsed)),
            );
        } else {
            r.migration = Migration::Partial;
            r.phase = phase.unwrap_or(reached);
            self.say(
                client,
                &format!("phase {reached}/12 done in {}", duration_text(elapsed)),
            );
        }
        records::save(&self.host, client, r);
    }

    /// A failed run: logged with the phase it reached and why, recorded, and
    /// cleaned up when `cleanup_on_failure` says so and there is something to undo.
    fn record_failure(
        &self,
        s: &Settings,
        client: &str,
        out: &CommandOutput,
        reached: u8,
        elapsed: f64,
        mut r: Record,
    ) -> Outcome {
        let detail = if out.timed_out {
            format!(
                "timed out after {} (killed; client_timeout)",
                duration_text(s.client_timeout.as_secs_f64())
            )
        } else if self.host.cancelled() {
            "cancelled".to_owned()
        } else {
            let line = last_line(out);
            let code = out
                .exit_code
                .map(|c| format!("exit code {c}"))
                .unwrap_or_else(|| "killed".into());
            if line.is_empty() {
                format!("nimadm failed ({code})")
            } else {
                format!("{line} ({code})")
            }
        };
        let at = if reached == 0 {
            "before any phase".to_owned()
        } else {
            format!("at phase {reached}/12 ({})", phase_label(reached))
        };
        self.log(
            Level::Error,
            client,
            &format!("FAILED {at} after {}: {detail}", duration_text(elapsed)),
        );
        r.migration = Migration::Failed;
        r.result = "failed".into();
        r.message = Some(detail.clone());
        r.cleaned_up = None;
        records::save(&self.host, client, &r);
        let mut outcome = Outcome::failed(client, reached, detail);
        // A run refused before its first phase (nimadm's checks, another nimadm on
        // the client, a phase out of order) changed nothing: nothing to clean up,
        // and a cleanup could undo another run's work.
        if reached == 0 {
            self.log(
                Level::Info,
                client,
                "nothing to clean up: nimadm stopped before its first phase",
            );
        } else if s.cleanup_on_failure && !self.host.cancelled() {
            let cleaned = self.cleanup_after_failure(s, client);
            r.cleaned_up = Some(cleaned);
            records::save(&self.host, client, &r);
            outcome.cleaned_up = Some(cleaned);
        }
        outcome
    }

    fn run(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let s = self.settings()?;
        if !s.accept_licenses {
            return Err(Error::invalid(format!(
                "{}: accept_licenses is not set: nimadm installs licensed software and needs -Y to accept the \
                 license agreements; review them, then set accept_licenses = true",
                self.config.rid
            )));
        }
        let phase = match request.options.get("phase").map(|p| p.trim()) {
            None | Some("") => None,
            Some(text) => match text.parse::<u8>() {
                Ok(p) if (1..=12).contains(&p) => Some(p),
                _ => {
                    return Err(Error::invalid(format!(
                        "--phase {text}: nimadm phases are 1 to 12"
                    )));
                }
            },
        };
        let clients = self.selected(&s, request)?;
        let parallel = s.max_parallel.min(clients.len());
        let what = match phase {
            Some(p) => format!("phase {p}/12 ({})", phase_label(p)),
            None => "migration".to_owned(),
        };
        self.host.info(&format!(
            "{what} of {} client(s): {} ({} at a time)",
            clients.len(),
            clients.join(" "),
            parallel
        ));
        let started = Instant::now();
        let outcomes = self.parallel(
            &clients,
            s.max_parallel,
            |c| self.migrate_one(&s, c, phase, request),
            |c, why| Outcome::failed(c, 0, format!("driver panicked: {why}")),
        );
        let total = duration_text(started.elapsed().as_secs_f64());
        if self.host.cancelled() {
            return Err(Error::cancelled());
        }
        let done: Vec<&str> = outcomes
            .iter()
            .filter(|o| o.ok && o.skipped.is_none())
            .map(|o| o.client.as_str())
            .collect();
        let skipped: Vec<&str> = outcomes
            .iter()
            .filter(|o| o.skipped.is_some())
            .map(|o| o.client.as_str())
            .collect();
        let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
        let mut summary = if request.dry_run {
            format!(
                "dry-run: {} of {} clients would run nimadm, {parallel} at a time",
                done.len(),
                clients.len()
            )
        } else {
            let verb = match phase {
                Some(p) => format!("ran phase {p}/12"),
                None => "migrated".to_owned(),
            };
            format!("{}/{} clients {verb} in {total}", done.len(), clients.len())
        };
        if !done.is_empty() {
            summary.push_str(&format!(": {}", done.join(" ")));
        }
        if !skipped.is_empty() {
            summary.push_str(&format!(
                "; skipped (already migrated): {}",
                skipped.join(" ")
            ));
        }
        if failed.is_empty() {
            return Ok({
                let mut outcome = ActionOutcome::new().message(summary);
                outcome.noop = done.is_empty();
                outcome
            });
        }
        self.host.info(&summary);
        let list: Vec<String> = failed.iter().map(|o| o.describe_failure(true)).collect();
        Err(Error::failed(format!(
            "{} of {} clients failed: {}",
            failed.len(),
            clients.len(),
            list.join("; ")
        )))
    }

    fn op_one(&self, s: &Settings, client: &str, op: Op, request: &ActionRequest) -> Outcome {
        let mut command = CommandRequest::new(self.op_argv(s, client, op)).timeout(SHORT_TIMEOUT);
        command.quiet = true;
        if request.dry_run {
            return match self.host.run(&command) {
                Ok(_) => Outcome::ok(client, 0),
                Err(e) => Outcome::failed(client, 0, e.message),
            };
        }
        self.say(client, &command.display());
        let since = Instant::now();
        let started = records::now();
        let out = self.host.run(&command);
        let mut r = records::load(&self.host, client);
        r.operation = op.name().into();
        r.started = started;
        r.finished = Some(records::now());
        r.elapsed_secs = Some(since.elapsed().as_secs_f64());
        r.spot = s.spot.clone();
        let outcome = match out {
            Ok(o) if o.success() => {
                for line in o.stdout.lines().filter(|l| !l.trim().is_empty()) {
                    self.say(client, line);
                }
                r.result = "ok".into();
                r.message = None;
                match op {
                    Op::Cleanup => {
                        r.migration = Migration::None;
                        r.phase = 0;
                        r.cleaned_up = None;
                        r.migrated_at = None;
                        r.migration_secs = None;
                        r.awake = false;
                    }
                    Op::Wake => r.awake = true,
                    Op::Sleep => r.awake = false,
                }
                Outcome::ok(client, 0)
            }
            Ok(o) => {
                let detail = last_line(&o);
                self.log(
                    Level::Error,
                    client,
                    &format!("{} FAILED: {detail}", op.name()),
                );
                r.result = "failed".into();
                r.message = Some(detail.clone());
                Outcome::failed(client, 0, detail)
            }
            Err(e) => {
                self.log(
                    Level::Error,
                    client,
                    &format!("{} FAILED: {}", op.name(), e.message),
                );
                r.result = "failed".into();
                r.message = Some(e.message.clone());
                Outcome::failed(client, 0, e.message)
            }
        };
        records::save(&self.host, client, &r);
        outcome
    }

    fn op(&self, request: &ActionRequest, op: Op) -> Result<ActionOutcome, Error> {
        let s = self.settings()?;
        let clients = self.selected(&s, request)?;
        let outcomes = self.parallel(
            &clients,
            s.max_parallel,
            |c| self.op_one(&s, c, op, request),
            |c, why| Outcome::failed(c, 0, format!("driver panicked: {why}")),
        );
        if self.host.cancelled() {
            return Err(Error::cancelled());
        }
        let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
        let verb = match op {
            Op::Cleanup => "cleaned up",
            Op::Wake => "woken up",
            Op::Sleep => "put to sleep",
        };
        let ok = outcomes.len() - failed.len();
        if failed.is_empty() {
            let prefix = if request.dry_run { "dry-run: " } else { "" };
            return Ok(ActionOutcome::new().messages(vec![format!(
                "{prefix}{ok}/{} clients {verb}: {}",
                clients.len(),
                clients.join(" ")
            )]));
        }
        let list: Vec<String> = failed.iter().map(|o| o.describe_failure(false)).collect();
        Err(Error::failed(format!(
            "{} {} of {} clients failed: {}",
            op.name(),
            failed.len(),
            clients.len(),
            list.join("; ")
        )))
    }
}

impl Driver for Nimadm {
    fn manifest() -> Manifest {
        let s = |name: &str| KeywordSpec::new(name, KeywordType::String);
        Manifest::new("task", "nimadm", env!("CARGO_PKG_VERSION"))
            .reconciles()
            .option(OptionSpec::new("phase", "Only this nimadm phase, 1 to 12 (-P).").actions(&["run"]))
            .option(OptionSpec::new("clients", "Only these clients, comma separated.").actions(&["run", "unprovision", "wake", "sleep"]))
            .node_option(OptionSpec::new("bin", "Directory of nimadm (default /usr/sbin)."))
            .node_option(OptionSpec::new("log_dir", "Where nimadm writes the clients' migration logs."))
            .description("AIX NIM alternate disk migration (nimadm) of many clients at once, from the NIM master")
            .keyword(
                KeywordSpec::new("clients", KeywordType::List)
                    .required()
                    .example("lpar1 lpar2 lpar3")
                    .desc("The NIM clients to migrate (one nimadm -c per client)."),
            )
            .keyword(s("lpp_source").required().example("lpp_7200").desc("The NIM lpp_source of the level to migrate to (-l)."))
            .keyword(s("spot").required().example("spot_7200").desc("The NIM SPOT of the level to migrate to (-s)."))
            .keyword(
                KeywordSpec::new("disks", KeywordType::List)
                    .example("hdisk1")
                    .desc("Target disks of every client (-d), unless client_disks names other disks for a client."),
            )
            .keyword(
                KeywordSpec::new("client_disks", KeywordType::List)
                    .example("lpar1:hdisk1,hdisk2 lpar2:hdisk3")
                    .desc("Per-client target disks, <client>:<disk>[,<disk>...], overriding disks for those clients."),
            )
            .keyword(s("cache_vg").example("nimadmvg").desc("Volume group of the master for local disk caching (-j), instead of NFS mounts of the client file systems. Needed for TCB-enabled clients."))
            .keyword(s("pre_migration").desc("NIM script resource run before the migration, in phase 4 (-a)."))
            .keyword(s("post_migration").desc("NIM script resource run after the migration, in phase 7 (-z)."))
            .keyword(s("bundle").desc("NIM installp_bundle resource installed with the migration (-b)."))
            .keyword(s("exclude_files").desc("NIM exclude_files resource: files not copied to the alternate rootvg (-e)."))
            .keyword(s("image_data").desc("NIM image_data resource (-i)."))
            .keyword(s("bosinst_data").desc("NIM bosinst_data resource (-o)."))
            .keyword(s("nfs_mount_options").desc("NFS mount options of the master's mounts (-m), also used by wake."))
            .keyword(
                KeywordSpec::new("accept_licenses", KeywordType::Boolean)
                    .default_value("false")
                    .desc("Accept the software license agreements (-Y). The run action refuses to start without it."),
            )
            .keyword(
                KeywordSpec::new("set_bootlist", KeywordType::Boolean)
                    .default_value("false")
                    .desc(
                        "Set each client's bootlist to its migrated disk at the end. The default false passes -B: the \
                         bootlist is not changed, unlike nimadm run by hand. doppel's rule, the same for task.nimadm and \
                         disk.alt_disk: a resource changes what a machine boots next only when the service says \
                         set_bootlist = true, so that an unplanned reboot never starts the migrated disk before the \
                         operator chose to.",
                    ),
            )
            .keyword(
                KeywordSpec::new("reboot", KeywordType::Boolean)
                    .default_value("false")
                    .desc("Reboot each client on its migrated disk at the end (-r). Needs set_bootlist."),
            )
            .keyword(
                KeywordSpec::new("max_parallel", KeywordType::Integer)
                    .default_value("4")
                    .desc("How many clients migrate at once (one nimadm process each)."),
            )
            .keyword(
                KeywordSpec::new("cleanup_on_failure", KeywordType::Boolean)
                    .default_value("true")
                    .desc("Run nimadm -C -c <client> -s <spot> on a client whose migration failed."),
            )
            .keyword(
                KeywordSpec::new("client_timeout", KeywordType::Duration)
                    .default_value("6h")
                    .desc("Kill a client's nimadm still running after this long (the client then fails)."),
            )
            .keyword(
                KeywordSpec::new("progress_interval", KeywordType::Duration)
                    .default_value("5m")
                    .desc("Repeat each client's progress line this often while a phase runs (a line is also logged at every new phase)."),
            )
            .action(ActionSpec::standard("run"))
            .action(ActionSpec::standard("unprovision"))
            .action(ActionSpec::new("wake", "Wake up each client's migrated altinst_rootvg and mount it on the NIM master (nimadm -W)."))
            .action(ActionSpec::new("sleep", "Unmount each client's woken altinst_rootvg and put it back to sleep (nimadm -S)."))
    }

    fn validate(config: &ResourceConfig) -> Vec<Problem> {
        Settings::from_config(config).err().unwrap_or_default()
    }

    fn open(config: ResourceConfig, host: Host) -> Result<Self, Error> {
        Ok(Nimadm {
            config,
            host,
            poll: poll_interval_from_env(),
        })
    }

    fn status(&self) -> Result<StatusReport, Error> {
        let s = match self.settings() {
            Ok(s) => s,
            Err(e) => return Ok(StatusReport::new(Status::Undef).error(e.message)),
        };
        let clients: Vec<(String, Record)> = s
            .clients
            .iter()
            .map(|c| (c.clone(), records::load(&self.host, c)))
            .collect();
        Ok(records::report(&clients, &self.config.svcname))
    }

    fn call(&self, method: &str, request: serde_json::Value) -> Result<serde_json::Value, Error> {
        if method != RECONCILE_METHOD {
            return Err(Error::unsupported(method));
        }
        let run: InterruptedRun = serde_json::from_value(request)?;
        Ok(serde_json::to_value(self.reconcile(&run)?)?)
    }

    fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        match request.action.as_str() {
            "run" => self.run(request),
            "unprovision" => self.op(request, Op::Cleanup),
            "wake" => self.op(request, Op::Wake),
            "sleep" => self.op(request, Op::Sleep),
            other => Err(Error::unsupported(other)),
        }
    }
}

doppel_plugin_api::export_driver!(Nimadm);

mod reconcile;

/// The record of a migration (or one phase) starting now: saved before nimadm
/// runs, so a status meanwhile shows it running.
fn running_record(s: &Settings, phase: Option<u8>) -> Record {
    Record {
        migration: Migration::Running,
        phase: 0,
        operation: phase
            .map(|p| format!("phase {p}"))
            .unwrap_or_else(|| "migrate".into()),
        result: "running".into(),
        started: records::now(),
        finished: None,
        elapsed_secs: None,
        message: None,
        cleaned_up: None,
        migrated_at: None,
        migration_secs: None,
        awake: false,
        spot: s.spot.clone(),
    }
}

#[cfg(test)]
mod tests;
