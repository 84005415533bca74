//! The operations on a client other than a migration: `unprovision`
//! (`nimadm -C`), `wake` (`-W`) and `sleep` (`-S`).

use std::time::Instant;

use doppel_plugin_api::{ActionOutcome, ActionRequest, CommandRequest, Error, Level};

use crate::config::Settings;
use crate::records::{self, Migration};
use crate::{Nimadm, Outcome, SHORT_TIMEOUT, last_line};

/// The operations on one client other than a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Cleanup,
    Wake,
    Sleep,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Cleanup => "cleanup",
            Op::Wake => "wake",
            Op::Sleep => "sleep",
        }
    }
}

impl Nimadm {
    pub(crate) fn op_argv(&self, s: &Settings, client: &str, op: Op) -> Vec<String> {
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

    pub(crate) fn op_one(
        &self,
        s: &Settings,
        client: &str,
        op: Op,
        request: &ActionRequest,
    ) -> Outcome {
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

    pub(crate) fn op(&self, request: &ActionRequest, op: Op) -> Result<ActionOutcome, Error> {
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
