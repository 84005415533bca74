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
mod migrate;
mod ops;
mod phases;
mod records;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandOutput, Driver, Error, Host, InterruptedRun,
    KeywordSpec, KeywordType, Level, Manifest, OptionSpec, Problem, RECONCILE_METHOD,
    ResourceConfig, Status, StatusReport,
};

use crate::config::Settings;
use crate::ops::Op;
use crate::phases::phase_label;
use crate::records::Record;

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

#[cfg(test)]
mod tests;
