//! The scheduler: `doppel daemon [--once] [--now T]` and `doppel -s <svc> print schedule`.
//!
//! # Tasks
//!
//! Each service has these scheduled tasks (reference/opensvc.md §7.3):
//!
//! * `status`: refresh the status cache, on `DEFAULT.status_schedule` (default `@10`);
//! * for each enabled resource with a `schedule` keyword whose driver implements the
//!   action: `sync_update` (sync resources) or `run` (task resources), run in process
//!   by the engine like `doppel -s <svc> sync update --rid <rid>`, with `scheduled`
//!   set (an unmet `sync_update_depends` skips the resource with a log line) and a 1 s
//!   lock wait;
//! * for each enabled resource with `restart > 0`: a monitor that starts the resource
//!   (`start --rid <rid>`) when its cached status is down, warn or stdby down, at most
//!   `restart` times until it is seen up again. A non-standby resource is restarted
//!   only when its service is meant to run: the last unscoped `start` recorded the
//!   intent `started` (after `doppel -s <svc> stop` the daemon must not undo the
//!   stop); a service doppel never started or stopped counts as meant to run while
//!   something of it is up (avail up, warn or stdby up). A service with
//!   `DEFAULT.orchestrate = ha` has no restart monitors: its cluster manager
//!   (Pacemaker) recovers it, and two managers restarting the same resources
//!   would fight; its scheduled syncs, tasks and status refreshes still run.
//!
//! `~` schedules are seeded with `stable_seed("<svc>/<rid>/<nodename>")`
//! (`<svc>/<action>/<nodename>` for service tasks), so tasks and nodes spread.
//!
//! # Records
//!
//! Under `var/lib/doppel/<svc>/scheduler/`: `last_<action>_<rid>` (`last_status` for
//! the service task) holds the start of the last run (RFC 3339, written atomically when
//! the task starts) and `last_<action>_<rid>.success` the start of the last run that
//! succeeded (written when it ends). `allowed(now, last)` reads the former, so a failed
//! run waits for its interval like a successful one (it is retried in the next window).
//! A task that finds its lock busy records nothing and is tried again on the next tick.
//! `restart_count_<rid>` counts the restarts of a resource since it was last up.
//! G2's epoch-float content (`1714953600.123`) is still read.
//!
//! # Loop
//!
//! A tick every 10 s (sooner when a task is due earlier) reloads the service files
//! that changed (all of them on SIGHUP), then starts the due tasks: the tasks of one
//! service run one after the other, services run concurrently, and a task still
//! running is not started again. An invalid service file costs one warning, then is
//! ignored until it changes. SIGTERM or SIGINT: no new task starts, running ones get
//! 60 s to finish (then their commands are killed), exit 0.
//!
//! Decisions go to the service log with rid `scheduler` (service tasks) or the
//! resource's rid: `* DEMO.SYNC#0 - INFO - scheduled sync_update (schedule "00:00-01:00@61 mon")`.
//! "Not due" decisions are logged at info with `--once`, at trace in the loop (every
//! 10 s would drown the log).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use doppel_core::lock::{self, LockDomain};
use doppel_core::node::NodeConfig;
use doppel_core::paths::Paths;
use doppel_core::plan::{self, Selection};
use doppel_core::restart::{self, RestartDecision};
use doppel_core::schedule::{Schedule, stable_seed};
use doppel_core::service::{Origin, Resolved, ResourceDef, Service};
use doppel_core::state;
use doppel_plugin_api::{Level, Status};
use jiff::{Timestamp, Zoned};
use serde::Serialize;

use crate::cli::{ActionArgs, Format};
use crate::cmd_drivers::{load_registry, warn_skipped};
use crate::drivers::Registry;
use crate::engine::{self, ActionSpec, ResourceResult, Run, ServiceOutcome};
use crate::logger::ServiceLog;
use crate::{Context, UsageError, services};

/// The longest sleep between two ticks.
const TICK: Duration = Duration::from_secs(10);
/// How long a scheduled action waits for its lock before giving up until the next tick.
const WAITLOCK: Duration = Duration::from_secs(1);
/// How long running actions get to finish after SIGTERM before their commands are killed.
const DRAIN: Duration = Duration::from_secs(60);
/// How long killed actions get to wind down after that.
const KILL_GRACE: Duration = Duration::from_secs(10);
/// The rid of service-level log lines.
const SCHEDULER: &str = "scheduler";

mod records;
mod render;
mod tasks;

use records::*;
pub use render::print_schedule;
use tasks::*;

// ---------------------------------------------------------------------------
// The daemon
// ---------------------------------------------------------------------------

/// What every job shares.
struct Shared {
    paths: Paths,
    node: NodeConfig,
    registry: Arc<Registry>,
    /// `--now`: the time of every decision and record.
    fixed_now: Option<Zoned>,
    once: bool,
    /// Keys of the tasks started and not finished.
    running: Mutex<HashSet<String>>,
    /// SIGTERM/SIGINT seen: start nothing new.
    stopping: AtomicBool,
    /// Tasks that found their lock busy: not tried again before this instant.
    backoff: Mutex<HashMap<String, std::time::Instant>>,
}

impl Shared {
    fn now(&self) -> Zoned {
        self.fixed_now.clone().unwrap_or_else(Zoned::now)
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Marks `key` running; false if it already was.
    fn claim(&self, key: String) -> bool {
        self.running.lock().expect("lock").insert(key)
    }

    fn release(&self, key: &str) {
        self.running.lock().expect("lock").remove(key);
    }

    /// A task found its lock busy: try it again on the next regular tick, not sooner.
    fn back_off(&self, key: String) {
        self.backoff
            .lock()
            .expect("lock")
            .insert(key, std::time::Instant::now() + TICK);
    }

    fn backing_off(&self, key: &str) -> bool {
        let mut map = self.backoff.lock().expect("lock");
        map.retain(|_, until| *until > std::time::Instant::now());
        map.contains_key(key)
    }
}

/// A service as the daemon knows it.
struct Entry {
    /// The file content it was loaded from.
    bytes: Vec<u8>,
    log: Arc<ServiceLog>,
    /// `None`: invalid, ignored until the file changes.
    loaded: Option<LoadedService>,
}

struct LoadedService {
    svc: Arc<Service>,
    tasks: Vec<Task>,
    restarts: Vec<RestartTask>,
}

/// One piece of work of a job.
enum Unit {
    Task(Task),
    Restart(RestartTask),
}

impl Unit {
    fn key(&self, svc: &str) -> String {
        match self {
            Unit::Task(t) => t.key(svc),
            Unit::Restart(r) => r.key(svc),
        }
    }

    /// The rid its log lines carry and the action it runs.
    fn rid_action(&self) -> (&str, &str) {
        match self {
            Unit::Task(t) => (t.log_rid(), &t.action),
            Unit::Restart(r) => (&r.rid, "restart"),
        }
    }
}

/// How a unit ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Done {
    Ok,
    /// Nothing to do, or skipped by a condition, or the lock was busy.
    Skipped,
    Failed,
}

struct Daemon<'a> {
    ctx: &'a Context,
    shared: Arc<Shared>,
    level: Level,
    services: BTreeMap<String, Entry>,
    /// When the restart monitors last ran: they run once per regular tick, not on the
    /// extra ticks that follow a finished job.
    last_monitor: Option<std::time::Instant>,
}

impl Daemon<'_> {
    /// Reloads the service files that changed (every file when `force`), drops the
    /// removed ones.
    fn reload(&mut self, force: bool) {
        let dir = self.ctx.paths.services_dir();
        let names = match doppel_core::service::list_services(&dir) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("doppel daemon: warning: cannot list {}: {e}", dir.display());
                return;
            }
        };
        self.services.retain(|name, _| names.contains(name));
        for name in names {
            let Ok(bytes) = std::fs::read(self.ctx.paths.service_file(&name)) else {
                continue;
            };
            let previous = self.services.get(&name);
            if previous.is_some_and(|e| !force && e.bytes == bytes) {
                continue;
            }
            let known = previous.is_some();
            let log = match previous {
                Some(e) => e.log.clone(),
                // No descriptor held per known service: a node of thousands of
                // services would run out of them.
                None => ServiceLog::open_per_record(
                    &self.ctx.paths.service_log(&name),
                    &name,
                    self.level,
                ),
            };
            let loaded = services::load(self.ctx, &self.shared.registry, &name, true);
            let loaded = match (loaded.service, loaded.diagnostics.first()) {
                (Some(svc), None) if svc.foreign_reason().is_some() => {
                    // Another node's service: never scheduled here (its schedules,
                    // status and restarts belong to its own nodes' daemons).
                    let reason = svc.foreign_reason().unwrap_or_default();
                    log.info(
                        Some(SCHEDULER),
                        &format!("not scheduled on this node: {reason}"),
                    );
                    None
                }
                (Some(svc), None) => {
                    let (tasks, restarts) = tasks_of(&svc, &self.shared.registry);
                    for t in &tasks {
                        if let Err(e) = &t.schedule {
                            log.warn(
                                Some(t.log_rid()),
                                &format!("{} will not be scheduled: {e}", t.action),
                            );
                        }
                    }
                    if known {
                        log.info(Some(SCHEDULER), "service file reloaded");
                    }
                    Some(LoadedService {
                        svc: Arc::new(svc),
                        tasks,
                        restarts,
                    })
                }
                (_, first) => {
                    let n = loaded.diagnostics.len().max(1);
                    let first = first
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "cannot be loaded".into());
                    log.warn(
                        Some(SCHEDULER),
                        &format!("invalid service file ({n} error(s), first: {first}): ignored until it changes"),
                    );
                    None
                }
            };
            self.services.insert(name, Entry { bytes, log, loaded });
        }
    }

    /// Starts the due tasks of every service as jobs. Returns when the next task is
    /// due (among those not due now).
    fn dispatch(&mut self, jobs: &mut tokio::task::JoinSet<bool>) -> Option<Zoned> {
        let now = self.shared.now();
        let monitor = self.shared.once
            || self
                .last_monitor
                .is_none_or(|t| t.elapsed() + Duration::from_millis(500) >= TICK);
        if monitor {
            self.last_monitor = Some(std::time::Instant::now());
        }
        let mut wake: Option<Zoned> = None;
        let not_due_level = if self.shared.once {
            Level::Info
        } else {
            Level::Trace
        };
        for (name, entry) in &self.services {
            let Some(loaded) = &entry.loaded else {
                continue;
            };
            let svc = &loaded.svc;
            let dir = scheduler_dir(&self.shared.paths, name);
            // Status first (restarts read the cache it refreshes), then restarts, then
            // the resource tasks.
            let mut units = Vec::new();
            let mut resource_units = Vec::new();
            // Frozen (`doppel freeze`): the status is still refreshed, nothing is
            // run on the service.
            let frozen = crate::engine::is_frozen(&self.shared.paths, name);
            for task in &loaded.tasks {
                if (svc.disabled || frozen) && task.rid.is_some() {
                    if frozen {
                        entry.log.log(
                            Some(task.log_rid()),
                            not_due_level,
                            &format!("skip {}: the service is frozen", task.action),
                        );
                    }
                    continue;
                }
                let Ok(schedule) = &task.schedule else {
                    continue;
                };
                let key = task.key(name);
                if self.shared.running.lock().expect("lock").contains(&key) {
                    entry.log.log(
                        Some(task.log_rid()),
                        Level::Trace,
                        &format!("{} still running", task.action),
                    );
                    continue;
                }
                if self.shared.backing_off(&key) {
                    continue;
                }
                let last = read_stamp(&dir.join(task.stamp_name())).map(|l| in_zone(l, &now));
                match schedule.allowed(now.clone(), last.clone()) {
                    Ok(()) => {
                        if self.shared.claim(key) {
                            match task.rid {
                                None => units.push(Unit::Task(task.clone())),
                                Some(_) => resource_units.push(Unit::Task(task.clone())),
                            }
                        }
                    }
                    Err(reason) => {
                        let next = schedule.next(now.clone(), last);
                        let when = next
                            .as_ref()
                            .map(|n| utc(n.timestamp()))
                            .unwrap_or_else(|| "never".into());
                        entry.log.log(
                            Some(task.log_rid()),
                            not_due_level,
                            &format!("skip {}: not due: {reason} (next run {when})", task.action),
                        );
                        if let Some(n) = next {
                            if n > now && wake.as_ref().is_none_or(|w| n < *w) {
                                wake = Some(n);
                            }
                        }
                    }
                }
            }
            if monitor && !svc.disabled && !frozen {
                for r in &loaded.restarts {
                    if !self.shared.backing_off(&r.key(name)) && self.shared.claim(r.key(name)) {
                        units.push(Unit::Restart(r.clone()));
                    }
                }
            }
            units.extend(resource_units);
            if units.is_empty() {
                continue;
            }
            let (shared, svc, log) = (self.shared.clone(), svc.clone(), entry.log.clone());
            jobs.spawn(job(shared, svc, log, units));
        }
        wake
    }
}

/// Runs the units of one service one after the other. False if one failed.
async fn job(
    shared: Arc<Shared>,
    svc: Arc<Service>,
    log: Arc<ServiceLog>,
    units: Vec<Unit>,
) -> bool {
    let mut ok = true;
    for unit in units {
        let key = unit.key(&svc.name);
        if shared.stopping() {
            let (rid, action) = unit.rid_action();
            log.info(Some(rid), &format!("daemon stopping: {action} not started"));
            shared.release(&key);
            continue;
        }
        let done = match &unit {
            Unit::Task(t) if t.rid.is_none() => status_task(&shared, &svc, &log, t).await,
            Unit::Task(t) => resource_task(&shared, &svc, &log, t).await,
            Unit::Restart(r) => restart_task(&shared, &svc, &log, r).await,
        };
        shared.release(&key);
        if done == Done::Failed {
            ok = false;
        }
    }
    ok
}

fn spec(action: &str, rid: Option<&str>) -> ActionSpec {
    ActionSpec {
        action: action.to_owned(),
        selection: Selection {
            rid: rid.map(str::to_owned),
            ..Selection::default()
        },
        waitlock: Some(WAITLOCK),
        scheduled: true,
        ..ActionSpec::default()
    }
}

async fn run_engine(
    shared: &Arc<Shared>,
    svc: &Service,
    log: &Arc<ServiceLog>,
    spec: ActionSpec,
) -> ServiceOutcome {
    let run = Run::new(
        svc.clone(),
        shared.paths.clone(),
        shared.registry.clone(),
        log.clone(),
        spec,
        &shared.node,
    );
    engine::run_service(run).await
}

/// Is the `domain` lock of the service busy? Then say so and retry on the next tick.
fn lock_busy(shared: &Shared, svc: &Service, log: &ServiceLog, rid: &str, action: &str) -> bool {
    let dir = shared.paths.service_state_dir(&svc.name);
    let domain = LockDomain::for_action(action);
    if !lock::is_locked(&dir, domain) {
        return false;
    }
    let who = lock::holder(&dir, domain)
        .map(|h| format!(" by {h}"))
        .unwrap_or_default();
    log.info(
        Some(rid),
        &format!("skip {action}: the {domain} lock is held{who}: retry on the next tick"),
    );
    true
}

async fn status_task(
    shared: &Arc<Shared>,
    svc: &Arc<Service>,
    log: &Arc<ServiceLog>,
    task: &Task,
) -> Done {
    let dir = scheduler_dir(&shared.paths, &svc.name);
    let stamp = dir.join(task.stamp_name());
    let at = shared.now().timestamp();
    log.info(
        Some(SCHEDULER),
        &format!("scheduled status (schedule {:?})", task.raw),
    );
    if let Err(e) = write_stamp(&stamp, at) {
        log.warn(
            Some(SCHEDULER),
            &format!("cannot write {}: {e}", stamp.display()),
        );
    }
    let outcome = run_engine(shared, svc, log, spec("status", None)).await;
    if outcome.status.is_some() {
        let _ = write_stamp(&dir.join(format!("{}.success", task.stamp_name())), at);
        Done::Ok
    } else {
        log.error(Some(SCHEDULER), "scheduled status failed");
        Done::Failed
    }
}

async fn resource_task(
    shared: &Arc<Shared>,
    svc: &Arc<Service>,
    log: &Arc<ServiceLog>,
    task: &Task,
) -> Done {
    let rid = task.rid.as_deref().expect("resource task");
    let action = task.action.as_str();
    if lock_busy(shared, svc, log, rid, action) {
        shared.back_off(task.key(&svc.name));
        return Done::Skipped;
    }
    let dir = scheduler_dir(&shared.paths, &svc.name);
    let stamp = dir.join(task.stamp_name());
    let previous = Previous::save(stamp.clone());
    let at = shared.now().timestamp();
    log.info(
        Some(rid),
        &format!("scheduled {action} (schedule {:?})", task.raw),
    );
    if let Err(e) = write_stamp(&stamp, at) {
        log.warn(Some(rid), &format!("cannot write {}: {e}", stamp.display()));
    }
    let outcome = run_engine(shared, svc, log, spec(action, Some(rid))).await;
    if outcome.lock_timed_out {
        previous.restore();
        shared.back_off(task.key(&svc.name));
        log.info(
            Some(rid),
            &format!(
                "skip {action}: {}: retry on the next tick",
                outcome.error.as_deref().unwrap_or("lock busy")
            ),
        );
        return Done::Skipped;
    }
    let result = outcome.resources.iter().find(|r| r.rid == rid);
    match result.map(|r| r.result) {
        Some(ResourceResult::Ok) if outcome.ok => {
            let _ = write_stamp(&dir.join(format!("{}.success", task.stamp_name())), at);
            log.info(Some(rid), &format!("scheduled {action} succeeded"));
            Done::Ok
        }
        Some(ResourceResult::Skipped) => Done::Skipped,
        None if outcome.ok => {
            log.info(Some(rid), &format!("scheduled {action}: nothing to do"));
            Done::Skipped
        }
        _ => {
            let why = result
                .and_then(|r| r.message.clone())
                .or(outcome.error.clone())
                .unwrap_or_else(|| "error".into());
            log.error(Some(rid), &format!("scheduled {action} failed: {why}"));
            Done::Failed
        }
    }
}

async fn restart_task(
    shared: &Arc<Shared>,
    svc: &Arc<Service>,
    log: &Arc<ServiceLog>,
    task: &RestartTask,
) -> Done {
    let rid = task.rid.as_str();
    let Some((seen, count)) = restart_wanted(shared, svc, log, task) else {
        return Done::Skipped;
    };
    if lock_busy(shared, svc, log, rid, "start") {
        shared.back_off(task.key(&svc.name));
        return Done::Skipped;
    }
    let count_path = restart_count_path(&shared.paths, &svc.name, rid);
    let dir = scheduler_dir(&shared.paths, &svc.name);
    let stamp = dir.join(format!("last_restart_{rid}"));
    // Put back if the start never ran (the lock was taken meanwhile): a
    // restart that did not happen is not counted.
    let previous = (
        Previous::save(stamp.clone()),
        Previous::save(count_path.clone()),
    );
    let at = shared.now().timestamp();
    log.info(
        Some(rid),
        &format!(
            "{seen}: restart {}/{} (start --rid {rid})",
            count + 1,
            task.max
        ),
    );
    let _ = write_stamp(&stamp, at);
    if let Err(e) = state::write_atomic(&count_path, format!("{}\n", count + 1).as_bytes()) {
        log.warn(
            Some(rid),
            &format!("cannot write {}: {e}", count_path.display()),
        );
    }
    let outcome = run_engine(shared, svc, log, spec("start", Some(rid))).await;
    if outcome.lock_timed_out {
        previous.0.restore();
        previous.1.restore();
        shared.back_off(task.key(&svc.name));
        log.info(
            Some(rid),
            &format!(
                "skip restart: {}: retry on the next tick",
                outcome.error.as_deref().unwrap_or("lock busy")
            ),
        );
        return Done::Skipped;
    }
    judge_restart(
        log,
        task,
        count,
        &outcome,
        &dir.join(format!("last_restart_{rid}.success")),
        at,
    )
}

/// Whether the resource is to be restarted now, by core's restart decision on
/// its cached status, the service's intent and the restarts counted so far.
/// Returns the status seen and that count; a reset or a skip is logged here.
fn restart_wanted(
    shared: &Shared,
    svc: &Service,
    log: &ServiceLog,
    task: &RestartTask,
) -> Option<(Status, u32)> {
    let rid = task.rid.as_str();
    let Some(cache) = engine::read_status_cache(&shared.paths, &svc.name) else {
        log.log(
            Some(rid),
            Level::Trace,
            "restart monitor: no status cache yet",
        );
        return None;
    };
    let res = cache.resources.iter().find(|r| r.rid == rid)?;
    let count_path = restart_count_path(&shared.paths, &svc.name, rid);
    let count = read_count(&count_path);
    let intent = engine::read_intent(&shared.paths, &svc.name);
    let decision = restart::decide(restart::RestartInputs {
        status: res.status,
        standby: svc.resource(rid).is_some_and(|r| r.standby),
        intent: intent.as_deref(),
        service_avail: cache.avail,
        count,
        max: task.max,
    });
    match decision {
        RestartDecision::Restart { .. } => Some((res.status, count)),
        RestartDecision::ResetCount => {
            let _ = std::fs::remove_file(&count_path);
            log.info(
                Some(rid),
                &format!("{} again: restart count reset", res.status),
            );
            None
        }
        RestartDecision::Skip(why) => {
            log.log(Some(rid), Level::Trace, &why);
            None
        }
    }
}

/// A restart succeeded when the start did and the resource is up after it; a
/// successful start is stamped (`success_stamp`) even when the status disagrees.
fn judge_restart(
    log: &ServiceLog,
    task: &RestartTask,
    count: u32,
    outcome: &ServiceOutcome,
    success_stamp: &Path,
    at: Timestamp,
) -> Done {
    let rid = task.rid.as_str();
    let started = outcome.ok
        && outcome
            .resources
            .iter()
            .any(|r| r.rid == rid && r.result == ResourceResult::Ok);
    let now_status = outcome
        .status
        .as_ref()
        .and_then(|s| s.resources.iter().find(|r| r.rid == rid))
        .map(|r| r.status);
    let up = matches!(now_status, Some(Status::Up | Status::StdbyUp));
    if started {
        let _ = write_stamp(success_stamp, at);
    }
    if started && up {
        log.info(Some(rid), "restarted");
        return Done::Ok;
    }
    let state = now_status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "unknown".into());
    let last = if count + 1 >= task.max {
        ": no more restarts until it is up again"
    } else {
        ""
    };
    log.warn(
        Some(rid),
        &format!(
            "restart {}/{} did not bring it up ({state}){last}",
            count + 1,
            task.max
        ),
    );
    Done::Failed
}

/// Waits for the running jobs; on a stop request, at most [`DRAIN`], then kills
/// their commands and waits [`KILL_GRACE`] more. Returns false if a job failed.
async fn drain(
    jobs: &mut tokio::task::JoinSet<bool>,
    signals: &mut Signals,
    shared: &Shared,
) -> bool {
    let mut ok = true;
    let mut deadline: Option<tokio::time::Instant> = if shared.stopping() {
        Some(tokio::time::Instant::now() + DRAIN)
    } else {
        None
    };
    loop {
        if jobs.is_empty() {
            return ok;
        }
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            j = jobs.join_next() => {
                if let Some(r) = j {
                    ok &= r.unwrap_or(false);
                }
            }
            s = signals.next() => {
                if s == Sig::Hup {
                    continue;
                }
                if shared.stopping() {
                    // A second request: do not wait any longer.
                    crate::runner::CANCELLED.store(true, Ordering::Relaxed);
                    eprintln!("doppel daemon: stopping now: running commands are killed");
                    deadline = Some(tokio::time::Instant::now() + KILL_GRACE);
                } else {
                    shared.stopping.store(true, Ordering::Relaxed);
                    eprintln!("doppel daemon: {}: stopping: waiting up to {}s for the running actions", s.name(), DRAIN.as_secs());
                    deadline = Some(tokio::time::Instant::now() + DRAIN);
                }
            }
            () = timer => {
                if crate::runner::cancelled() {
                    eprintln!("doppel daemon: {} action(s) still running: exiting", jobs.len());
                    jobs.abort_all();
                    return ok;
                }
                crate::runner::CANCELLED.store(true, Ordering::Relaxed);
                eprintln!("doppel daemon: running actions did not finish in {}s: killing their commands", DRAIN.as_secs());
                deadline = Some(tokio::time::Instant::now() + KILL_GRACE);
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sig {
    Term,
    Int,
    Hup,
}

impl Sig {
    fn name(self) -> &'static str {
        match self {
            Sig::Term => "SIGTERM",
            Sig::Int => "SIGINT",
            Sig::Hup => "SIGHUP",
        }
    }
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Sig {
        tokio::select! {
            _ = self.term.recv() => Sig::Term,
            _ = self.int.recv() => Sig::Int,
            _ = self.hup.recv() => Sig::Hup,
        }
    }
}

/// `doppel daemon [--once] [--now T]`.
pub fn run(ctx: &Context, once: bool, now: Option<&str>) -> anyhow::Result<ExitCode> {
    let fixed_now = match now {
        Some(text) => Some(
            crate::cmd_schedule::parse_time(text)
                .map_err(|e| UsageError(format!("invalid --now value {text:?}: {e}")))?,
        ),
        None => None,
    };
    if crate::driver_process::forbid_in_process() {
        eprintln!(
            "doppel daemon: warning: {} is for debugging drivers: ignored, drivers run in their own processes",
            crate::driver_process::IN_PROCESS_ENV
        );
    }
    let registry = Arc::new(load_registry(ctx));
    warn_skipped(ctx, &registry);
    // A misspelled key of a driver table would make every scheduled action use a
    // default: refuse to start, as an action would.
    crate::cmd_actions::check_node_config(ctx, &registry)?;
    let shared = Arc::new(Shared {
        paths: ctx.paths.clone(),
        node: ctx.node.clone(),
        registry,
        fixed_now,
        once,
        running: Mutex::new(HashSet::new()),
        stopping: AtomicBool::new(false),
        backoff: Mutex::new(HashMap::new()),
    });
    let mut daemon = Daemon {
        ctx,
        shared: shared.clone(),
        level: engine::console_level(ctx.quiet, ctx.verbose),
        services: BTreeMap::new(),
        last_monitor: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ok = runtime.block_on(async {
        let mut signals = Signals::new()?;
        let mut jobs = tokio::task::JoinSet::new();
        if once {
            daemon.reload(false);
            daemon.dispatch(&mut jobs);
            return anyhow::Ok(drain(&mut jobs, &mut signals, &shared).await);
        }
        if !ctx.quiet {
            eprintln!("doppel daemon: started (pid {}, services in {})", std::process::id(), ctx.paths.services_dir().display());
        }
        let mut force = false;
        loop {
            daemon.reload(force);
            force = false;
            while let Some(r) = jobs.try_join_next() {
                let _ = r;
            }
            let wake = daemon.dispatch(&mut jobs);
            let now = Zoned::now();
            let sleep = wake
                .and_then(|w| Duration::try_from(w.timestamp().duration_since(now.timestamp())).ok())
                .map_or(TICK, |d| d.clamp(Duration::from_millis(500), TICK));
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                // A finished job may make another task due (or free its lock): tick now.
                Some(_) = jobs.join_next(), if !jobs.is_empty() => {}
                s = signals.next() => match s {
                    Sig::Hup => {
                        if !ctx.quiet {
                            eprintln!("doppel daemon: SIGHUP: reloading every service file");
                        }
                        force = true;
                    }
                    Sig::Term | Sig::Int => {
                        shared.stopping.store(true, Ordering::Relaxed);
                        if !ctx.quiet {
                            eprintln!("doppel daemon: {}: stopping: waiting up to {}s for {} running job(s)", s.name(), DRAIN.as_secs(), jobs.len());
                        }
                        break;
                    }
                },
            }
        }
        drain(&mut jobs, &mut signals, &shared).await;
        if !ctx.quiet {
            eprintln!("doppel daemon: stopped");
        }
        Ok(true)
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_rfc3339_and_g2_epochs() {
        let dir = tempfile_dir();
        let p = dir.join("last");
        std::fs::write(&p, "2024-05-06T00:30:00Z\n").unwrap();
        assert_eq!(
            read_stamp(&p),
            Some("2024-05-06T00:30:00Z".parse().unwrap())
        );
        std::fs::write(&p, "1714955400.25\n").unwrap();
        assert_eq!(read_stamp(&p).map(|t| t.as_second()), Some(1_714_955_400));
        std::fs::write(&p, "garbage").unwrap();
        assert_eq!(read_stamp(&p), None);
        write_stamp(&p, "2024-05-06T00:30:00.7Z".parse().unwrap()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "2024-05-06T00:30:01Z\n"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("doppel-daemon-unit-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn sources_are_short() {
        let r = Resolved {
            value: "@10".into(),
            origin: Origin::File {
                location: "/etc/doppel/services/demo.conf:7".into(),
                key: "schedule@n1".into(),
            },
        };
        assert_eq!(source_of(Some(&r), "schedule"), "demo.conf:7 (schedule@n1)");
        assert_eq!(source_of(None, "schedule"), "default");
    }
}
