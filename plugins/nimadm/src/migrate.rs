//! A migration: one nimadm run per client, followed through its log, and
//! recorded (the `run` action).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, CommandOutput, CommandRequest, Error, Level,
};

use crate::config::Settings;
use crate::follow::Follower;
use crate::ops::Op;
use crate::phases::{banner_phase, duration_text, last_phase, phase_label};
use crate::records::{self, Migration, Record};
use crate::{Nimadm, Outcome, SHORT_TIMEOUT, last_line};

impl Nimadm {
    /// `nimadm -c <client> -l <lpp> -s <spot> -d "<disks>" -Y [options] [-B|-r] [-P <N>]`.
    pub(crate) fn migrate_argv(
        &self,
        s: &Settings,
        client: &str,
        phase: Option<u8>,
    ) -> Vec<String> {
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
    pub(crate) fn cleanup_after_failure(&self, s: &Settings, client: &str) -> bool {
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

    pub(crate) fn run(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
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
}

/// The record of a migration (or one phase) starting now: saved before nimadm
/// runs, so a status meanwhile shows it running.
pub(crate) fn running_record(s: &Settings, phase: Option<u8>) -> Record {
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
