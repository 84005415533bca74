//! Running actions on a service: selection, ordering, conditions, triggers,
//! optional resources, locks, status refresh (DESIGN §6).
//!
//! Drivers are synchronous: every driver call runs on tokio's blocking pool.
//! Resources of a parallel subset run as concurrent tasks.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use doppel_core::action::Action;
use doppel_core::lock::{self, LockDomain};
use doppel_core::paths::Paths;
use doppel_core::plan::{self, Selection};
use doppel_core::service::{NodeRole, ResourceDef, Service};
use doppel_core::state::{self, KvStore, ReadOutcome};
use doppel_core::status::{self as agg, Aggregate, ResourceStatusInput};
use doppel_plugin_api::{
    ActionRequest, CommandRequest, Error as DriverError, ErrorKind, Level, MessageLevel,
    ResourceConfig, Status, StatusMessage,
};
use serde::{Deserialize, Serialize};

use crate::driver_process::{CallLimits, OpenedResource};
use crate::drivers::Registry;
use crate::logger::ServiceLog;
use crate::runner::{ResourceHost, run_on};
use crate::workers::map_in_workers;

mod interrupted;
mod outcome;
mod status;

pub use outcome::{ResourceOutcome, ResourceResult, ServiceOutcome};
use status::read_status_cache_or;
pub use status::{
    ResourceStatus, ServiceStatus, frozen_path, intent_path, is_frozen, read_intent,
    read_status_cache, status_cache,
};

/// The actions doppel itself knows (any other is a driver's own action).
pub fn is_standard_action(action: &str) -> bool {
    Action::parse(action).is_some()
}

/// Standard actions that only read.
pub fn is_read_only(action: &str) -> bool {
    Action::parse(action).is_some_and(Action::is_read_only)
}

/// Normalises `sync resync`/`syncresync` spellings to `sync_resync`.
pub fn action_name(words: &[&str]) -> String {
    let joined = words.join("_");
    Action::parse(&joined).map_or(joined, |a| a.name().to_owned())
}

/// What the operator asked.
#[derive(Clone, Debug, Default)]
pub struct ActionSpec {
    pub action: String,
    pub selection: Selection,
    pub dry_run: bool,
    pub force: bool,
    pub waitlock: Option<Duration>,
    pub options: BTreeMap<String, String>,
    /// Run by the scheduler: unmet conditions skip the resource instead of failing.
    pub scheduled: bool,
}

/// Everything shared by the resources of one service action.
pub struct Run {
    pub svc: Service,
    pub paths: Paths,
    pub registry: Arc<Registry>,
    pub log: Arc<ServiceLog>,
    pub spec: ActionSpec,
    node_options: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// The node config's `[ssh]` table, for resources with `ssh = <destination>`.
    ssh_config: doppel_core::node::SshConfig,
    opened: Mutex<HashMap<String, Arc<OpenedResource>>>,
    /// Statuses known during this action; a resource's entry is dropped when it acts.
    statuses: Mutex<HashMap<String, Status>>,
    /// The service's availability as last evaluated.
    last_avail: Mutex<Option<Status>>,
}

impl Run {
    pub fn new(
        svc: Service,
        paths: Paths,
        registry: Arc<Registry>,
        log: Arc<ServiceLog>,
        spec: ActionSpec,
        node: &doppel_core::node::NodeConfig,
    ) -> Arc<Run> {
        let node_options = svc
            .resources
            .iter()
            .map(|r| (r.driver.clone(), node.driver_options(&r.driver)))
            .collect();
        Arc::new(Run {
            svc,
            paths,
            registry,
            log,
            spec,
            node_options,
            ssh_config: node.ssh.clone(),
            opened: Mutex::new(HashMap::new()),
            statuses: Mutex::new(HashMap::new()),
            last_avail: Mutex::new(None),
        })
    }

    fn resource(&self, rid: &str) -> &ResourceDef {
        self.svc.resource(rid).expect("planned rids exist")
    }

    /// Does the driver of `r` implement `action`?
    fn implements(&self, r: &ResourceDef, action: &str) -> bool {
        self.registry.implements(&r.type_name, action)
    }

    fn state_changing(&self, r: &ResourceDef, action: &str) -> bool {
        if is_read_only(action) {
            return false;
        }
        self.registry
            .get(&r.type_name)
            .and_then(|d| d.manifest().find_action(action).map(|a| a.state_changing))
            .unwrap_or(true)
    }

    /// Does the driver of `r` mark `action` destructive in its manifest?
    fn destructive(&self, r: &ResourceDef, action: &str) -> bool {
        self.registry
            .get(&r.type_name)
            .and_then(|d| d.manifest().find_action(action).map(|a| a.destructive))
            .unwrap_or(false)
    }

    /// The resources that show the service is running: every non-sync resource
    /// that is up or warn (`app#0 is up`). Standby resources are up on a passive
    /// node too, so they do not count.
    fn running_users(&self, status: &ServiceStatus) -> Vec<String> {
        status
            .resources
            .iter()
            .filter(|s| {
                self.svc
                    .resource(&s.rid)
                    .is_some_and(|r| r.group != "sync" && !r.standby)
                    && matches!(s.status, Status::Up | Status::Warn)
            })
            .map(|s| format!("{} is {}", s.rid, s.status))
            .collect()
    }

    /// `no selected resource implements provision (sync#0 sync.symclone: start,
    /// sync_break, ...; app#0 app.script: start, stop)`.
    fn nothing_implements(&self, action: &str, selected: &[&ResourceDef]) -> String {
        let mut by_type: Vec<(String, Vec<String>)> = Vec::new();
        for r in selected {
            match by_type.iter_mut().find(|(t, _)| *t == r.type_name) {
                Some((_, rids)) => rids.push(r.rid.clone()),
                None => by_type.push((r.type_name.clone(), vec![r.rid.clone()])),
            }
        }
        let parts: Vec<String> = by_type
            .iter()
            .map(|(t, rids)| {
                let actions = self
                    .registry
                    .get(t)
                    .map(|d| {
                        let names: Vec<&str> = d
                            .manifest()
                            .actions
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect();
                        if names.is_empty() {
                            "no action".to_owned()
                        } else {
                            names.join(", ")
                        }
                    })
                    .unwrap_or_else(|| "not installed".to_owned());
                format!("{} {t}: {actions}", rids.join(","))
            })
            .collect();
        format!(
            "no selected resource implements {} ({})",
            action.replace('_', " "),
            parts.join("; ")
        )
    }

    fn config(&self, r: &ResourceDef) -> ResourceConfig {
        let mut config = ResourceConfig::new(&self.svc.name, &r.rid, &self.svc.nodename)
            .state_dir(self.paths.resource_state_dir(&self.svc.name, &r.rid));
        config.keywords = r.driver_keywords.clone();
        config.driver_options = self
            .node_options
            .get(&r.driver)
            .cloned()
            .unwrap_or_default();
        config
    }

    /// Where the commands of resource `rid` run when it sets `ssh`.
    fn ssh_target(&self, rid: Option<&str>) -> Option<crate::ssh::SshTarget> {
        let r = self
            .svc
            .resources
            .iter()
            .find(|r| Some(r.rid.as_str()) == rid)?;
        let destination = r.values.get("ssh")?.value.trim().to_owned();
        if destination.is_empty() {
            return None;
        }
        Some(crate::ssh::SshTarget {
            destination,
            config: self.ssh_config.clone(),
            control_dir: self.paths.root().join("var/lib/doppel/.ssh"),
        })
    }

    fn env(&self, rid: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("SVCNAME", self.svc.name.as_str()),
            ("RID", rid),
            ("ACTION", self.spec.action.as_str()),
        ] {
            env.insert(format!("DOPPEL_{k}"), v.to_owned());
            env.insert(format!("OPENSVC_{k}"), v.to_owned());
        }
        env
    }

    /// Opens (once) the driver resource of `rid`. Blocking: call from the blocking pool.
    fn open(&self, rid: &str) -> Result<Arc<OpenedResource>, DriverError> {
        if let Some(o) = self.opened.lock().expect("lock").get(rid) {
            return Ok(o.clone());
        }
        let r = self.resource(rid);
        let driver = self.registry.get(&r.type_name).ok_or_else(|| {
            DriverError::failed(format!("driver {} is not installed", r.type_name))
        })?;
        let state_dir = self.paths.resource_state_dir(&self.svc.name, rid);
        let journal = crate::inflight::Journal {
            dir: crate::inflight::dir_of(&state_dir),
            service: self.svc.name.clone(),
            rid: rid.to_owned(),
            action: self.spec.action.clone(),
        };
        let host = ResourceHost {
            log: self.log.clone(),
            rid: rid.to_owned(),
            dry_run: self.spec.dry_run,
            kv: KvStore::new(state_dir),
            env: self.env(rid),
            ssh: self.ssh_target(Some(rid)),
            journal: Some(journal),
        };
        let opened = Arc::new(driver.open(&self.config(r), Arc::new(host), CallLimits::of(r))?);
        self.opened
            .lock()
            .expect("lock")
            .insert(rid.to_owned(), opened.clone());
        Ok(opened)
    }

    /// The status of `rid` as doppel reports it (disable, nostatus, standby,
    /// sync_max_delay applied). Blocking.
    fn evaluate(&self, rid: &str) -> ResourceStatus {
        let r = self.resource(rid);
        let mut out = self.unevaluated(r);
        if r.disabled {
            return out;
        }
        if r.nostatus() {
            out.messages
                .push(StatusMessage::new(MessageLevel::Info, "nostatus tag"));
            return out;
        }
        // Runs a doppel that is gone left behind: reconciled first (the status
        // then reads what was recorded), orphans shown as in progress.
        let interrupted = self.interrupted(rid);
        let report = self.open(rid).and_then(|o| o.status());
        match report {
            Ok(report) => {
                out.status = report.state;
                out.messages = report.messages;
                out.last_sync = report.last_sync.clone();
                if let (Some(max), Some(last)) = (r.sync_max_delay, report.last_sync.as_deref()) {
                    match last.parse::<jiff::Timestamp>() {
                        Ok(ts) => {
                            let (s, msg) = agg::apply_sync_max_delay(
                                out.status,
                                Some(ts),
                                jiff::Timestamp::now(),
                                max,
                            );
                            out.status = s;
                            if let Some(m) = msg {
                                out.messages.push(StatusMessage::new(MessageLevel::Warn, m));
                            }
                        }
                        Err(e) => out.messages.push(StatusMessage::new(
                            MessageLevel::Warn,
                            format!("driver reported an unreadable last sync {last:?}: {e}"),
                        )),
                    }
                }
            }
            Err(e) => {
                out.status = Status::Undef;
                out.messages
                    .push(StatusMessage::new(MessageLevel::Error, e.message));
            }
        }
        for line in interrupted.reconciled {
            out.messages
                .push(StatusMessage::new(MessageLevel::Info, line));
        }
        for line in interrupted.running {
            out.messages.push(StatusMessage::new(
                MessageLevel::Warn,
                format!("in progress: {line}"),
            ));
        }
        for line in interrupted.problems {
            out.messages
                .push(StatusMessage::new(MessageLevel::Warn, line));
        }
        if !interrupted.undef.is_empty() {
            out.status = Status::Undef;
            for line in interrupted.undef {
                out.messages
                    .push(StatusMessage::new(MessageLevel::Error, line));
            }
        }
        if r.standby {
            out.status = agg::standby(out.status);
        }
        out
    }

    /// The current status of `rid` for a condition: known from this action, else
    /// asked from the driver now.
    async fn current_status(self: &Arc<Self>, rid: &str) -> Status {
        if let Some(s) = self.statuses.lock().expect("lock").get(rid) {
            return *s;
        }
        let run = self.clone();
        let id = rid.to_owned();
        let status = tokio::task::spawn_blocking(move || run.evaluate(&id).status)
            .await
            .unwrap_or(Status::Undef);
        self.statuses
            .lock()
            .expect("lock")
            .insert(rid.to_owned(), status);
        status
    }

    /// Runs a trigger. `Ok(Some(reason))` when it failed (the caller decides if that
    /// matters): the exit code, a timeout, or why it could not start.
    async fn trigger(
        self: &Arc<Self>,
        rid: Option<&str>,
        keyword: &str,
        command: &str,
    ) -> Result<Option<String>, String> {
        let argv = CommandRequest::line_argv(command)
            .ok_or_else(|| format!("{keyword}: cannot split {command:?}"))?;
        let mut request = CommandRequest::new(argv).timeout(self.svc.trigger_timeout);
        request.env = self.env(rid.unwrap_or(""));
        let target = self.ssh_target(rid);
        if self.spec.dry_run {
            let shown = match &target {
                Some(t) => {
                    t.wrap(&request)
                        .map_err(|e| format!("{keyword}: {}", e.message))?
                        .shown
                }
                None => command.to_owned(),
            };
            self.log.info(rid, &format!("dry-run: {keyword}: {shown}"));
            return Ok(None);
        }
        self.log.info(rid, &format!("{keyword}: {command}"));
        let run = self.clone();
        let rid_owned = rid.map(str::to_owned);
        let out = tokio::task::spawn_blocking(move || {
            run_on(
                &run.log,
                rid_owned.as_deref(),
                &request,
                false,
                false,
                target.as_ref(),
                None,
            )
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(match out {
            Ok(o) if o.exit_code == Some(0) => None,
            Ok(o) if o.timed_out => Some(format!(
                "timed out after {}s, killed",
                self.svc.trigger_timeout.as_secs()
            )),
            Ok(o) => Some(match o.exit_code {
                Some(code) => code.to_string(),
                None => "killed".to_owned(),
            }),
            Err(e) => Some(e.message),
        })
    }

    /// Runs the `pre`/`blocking_pre` (or `post`/`blocking_post`) triggers of a
    /// resource (or of the service when `r` is `None`).
    async fn triggers(
        self: &Arc<Self>,
        r: Option<&ResourceDef>,
        when: &str,
        action: &str,
    ) -> Result<(), String> {
        for (kind, blocking) in [(when.to_owned(), false), (format!("blocking_{when}"), true)] {
            let keyword = format!("{kind}_{action}");
            let command = match r {
                Some(r) => r.trigger(&kind, action).map(str::to_owned),
                None => self
                    .svc
                    .triggers
                    .get(&keyword)
                    .cloned()
                    .filter(|c| !c.trim().is_empty()),
            };
            let Some(command) = command else { continue };
            let rid = r.map(|r| r.rid.as_str());
            if let Some(reason) = self.trigger(rid, &keyword, &command).await? {
                if blocking {
                    return Err(format!("{keyword}: {command} blocking error [{reason}]"));
                }
                self.log.warn(
                    rid,
                    &format!("{keyword}: {command} non-blocking error [{reason}]"),
                );
            }
        }
        Ok(())
    }

    /// The part of the action on one resource.
    async fn act(self: &Arc<Self>, rid: String, action: String) -> ResourceOutcome {
        let r = self.resource(&rid).clone();
        let outcome = |result, message: Option<String>| ResourceOutcome {
            rid: rid.clone(),
            result,
            message,
            invalid_request: false,
        };
        if r.noaction() && self.state_changing(&r, &action) {
            self.log
                .info(Some(&rid), &format!("noaction tag: skip {action}"));
            return outcome(ResourceResult::Skipped, Some("noaction tag".into()));
        }
        if action == "stop" && r.standby && !self.spec.force {
            self.log.info(
                Some(&rid),
                "skip 'stop' on standby resource (--force to override)",
            );
            return outcome(ResourceResult::Skipped, Some("standby".into()));
        }
        for condition in r.conditions.get(&action).into_iter().flatten() {
            let current = self.current_status(&condition.rid).await;
            if !condition.states.contains(&current) {
                let message = format!(
                    "{rid}: {action} requires {}, current state {current}",
                    condition.describe()
                );
                if self.spec.scheduled {
                    self.log.info(Some(&rid), &format!("skip: {message}"));
                    return outcome(ResourceResult::Skipped, Some(message));
                }
                return self.failed(&r, &action, message);
            }
        }
        if let Err(message) = self.triggers(Some(&r), "pre", &action).await {
            return self.failed(&r, &action, message);
        }
        let mut request = ActionRequest::new(&action);
        request.dry_run = self.spec.dry_run;
        request.force = self.spec.force;
        request.options = self.spec.options.clone();
        request.service_avail = self.service_avail();
        request.scheduled = self.spec.scheduled;
        let run = self.clone();
        let id = rid.clone();
        let result =
            tokio::task::spawn_blocking(move || run.open(&id).and_then(|o| o.action(&request)))
                .await
                .unwrap_or_else(|e| Err(DriverError::failed(format!("driver call failed: {e}"))));
        self.statuses.lock().expect("lock").remove(&rid);
        match result {
            Ok(done) => {
                for m in &done.messages {
                    self.log.info(Some(&rid), m);
                }
            }
            Err(e) if e.kind == ErrorKind::Cancelled => {
                self.log.error(Some(&rid), "cancelled");
                return outcome(ResourceResult::Failed, Some("cancelled".into()));
            }
            Err(e) if e.kind == ErrorKind::Invalid => {
                let mut failed = self.failed(&r, &action, e.message);
                failed.invalid_request = failed.result == ResourceResult::Failed;
                return failed;
            }
            Err(e) => return self.failed(&r, &action, e.message),
        }
        if let Err(message) = self.triggers(Some(&r), "post", &action).await {
            return self.failed(&r, &action, message);
        }
        outcome(ResourceResult::Ok, None)
    }

    fn failed(&self, r: &ResourceDef, action: &str, message: String) -> ResourceOutcome {
        self.log.error(Some(&r.rid), &message);
        let message = if message.starts_with(&format!("{}:", r.rid)) {
            message
        } else {
            format!("{}: {message}", r.rid)
        };
        // `optional` keeps a failing accessory resource from blocking the service's
        // lifecycle (start, stop, ...). An action the operator aims at the resource
        // itself (sync resync, run, a driver action) must report its failure.
        let lifecycle = Action::parse(action).is_some_and(Action::is_lifecycle);
        if r.optional && lifecycle {
            self.log.info(
                Some(&r.rid),
                &format!("ignore {action} error on optional resource"),
            );
            return ResourceOutcome {
                rid: r.rid.clone(),
                result: ResourceResult::Ignored,
                message: Some(message),
                invalid_request: false,
            };
        }
        ResourceOutcome {
            rid: r.rid.clone(),
            result: ResourceResult::Failed,
            message: Some(message),
            invalid_request: false,
        }
    }

    fn service_avail(&self) -> Option<Status> {
        self.last_avail.lock().ok().and_then(|g| *g)
    }
}

/// How many lanes of one service's status refresh run at a time (see
/// [`Run::status_lanes`]): drivers are few per service, so this is rarely reached.
const STATUS_LANES: usize = 8;

impl Run {
    /// The resources to refresh, in lanes that may run concurrently: one lane
    /// per driver, holding that driver's resources in the service's order, since
    /// one driver process serves them and a call that crashes it fails every call
    /// in flight there. A driver whose manifest says it is `reentrant` gets a
    /// lane per resource. Disabled and `nostatus` resources call no driver and
    /// ride in the first lane.
    fn status_lanes(&self) -> Vec<Vec<usize>> {
        let mut lanes: Vec<Vec<usize>> = Vec::new();
        let mut lane_of_type: HashMap<&str, usize> = HashMap::new();
        let mut local = Vec::new();
        for (i, r) in self.svc.resources.iter().enumerate() {
            if r.disabled || r.nostatus() {
                local.push(i);
                continue;
            }
            if self.registry.reentrant(&r.type_name) {
                lanes.push(vec![i]);
                continue;
            }
            match lane_of_type.get(r.type_name.as_str()) {
                Some(&l) => lanes[l].push(i),
                None => {
                    lane_of_type.insert(&r.type_name, lanes.len());
                    lanes.push(vec![i]);
                }
            }
        }
        if !local.is_empty() {
            match lanes.first_mut() {
                Some(first) => first.extend(local),
                None => lanes.push(local),
            }
        }
        lanes
    }

    /// Evaluates every resource (see [`Run::status_lanes`]: at most
    /// [`STATUS_LANES`] lanes at a time), returned in the service's resource
    /// order. Blocking.
    fn evaluate_all(&self) -> Vec<ResourceStatus> {
        let lanes = self.status_lanes();
        let workers = lanes.len().min(STATUS_LANES);
        if workers <= 1 {
            return self
                .svc
                .resources
                .iter()
                .map(|r| self.evaluate(&r.rid))
                .collect();
        }
        let per_lane = map_in_workers(&lanes, STATUS_LANES, |lane| {
            lane.iter()
                .map(|&i| {
                    // A panic leaves the resource without a status (reported
                    // undef below), never taking the other lanes down.
                    let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.evaluate(&self.svc.resources[i].rid)
                    }))
                    .ok();
                    (i, status)
                })
                .collect::<Vec<_>>()
        });
        let mut slots: Vec<Option<ResourceStatus>> =
            self.svc.resources.iter().map(|_| None).collect();
        for (i, status) in per_lane.into_iter().flatten() {
            slots[i] = status;
        }
        slots
            .into_iter()
            .zip(&self.svc.resources)
            .map(|(slot, r)| slot.unwrap_or_else(|| self.evaluation_panicked(r)))
            .collect()
    }

    /// What a resource whose evaluation panicked in doppel reports.
    fn evaluation_panicked(&self, r: &ResourceDef) -> ResourceStatus {
        let mut out = self.unevaluated(r);
        out.status = Status::Undef;
        out.messages.push(StatusMessage::new(
            MessageLevel::Error,
            "the status evaluation panicked",
        ));
        out
    }

    /// A resource's status before any evaluation: `n/a`, its flags from the
    /// service file, where it runs.
    fn unevaluated(&self, r: &ResourceDef) -> ResourceStatus {
        ResourceStatus {
            rid: r.rid.clone(),
            type_name: r.type_name.clone(),
            status: Status::NotApplicable,
            messages: Vec::new(),
            last_sync: None,
            optional: r.optional,
            disabled: r.disabled,
            standby: r.standby,
            monitor: r.monitor,
            subset: r.subset.clone(),
            tags: r.tags.iter().cloned().collect(),
            ssh: self.ssh_target(Some(&r.rid)).map(|t| t.destination),
        }
    }

    /// Evaluates every resource and writes the cache. Blocking.
    pub fn refresh_status(&self) -> ServiceStatus {
        let resources: Vec<ResourceStatus> = self.evaluate_all();
        let groups: Vec<String> = self.svc.resources.iter().map(|r| r.group.clone()).collect();
        let aggregate: Aggregate =
            agg::aggregate(
                resources
                    .iter()
                    .zip(&groups)
                    .map(|(s, g)| ResourceStatusInput {
                        group: g,
                        status: s.status,
                        optional: s.optional,
                        disabled: s.disabled,
                        has_warnings: s.messages.iter().any(|m| m.level != MessageLevel::Info),
                    }),
            );
        let status = ServiceStatus {
            service: self.svc.name.clone(),
            valid: true,
            problems: Vec::new(),
            reason: None,
            avail: aggregate.avail,
            overall: aggregate.overall,
            optional: aggregate.optional,
            frozen: is_frozen(&self.paths, &self.svc.name),
            updated: jiff::Timestamp::now().to_string(),
            resources,
        };
        if let Ok(mut g) = self.last_avail.lock() {
            *g = Some(status.avail);
        }
        let path = status_cache(&self.paths, &self.svc.name);
        if let Err(e) = state::write_json(&path, &status) {
            self.log.warn(
                None,
                &format!("cannot write status cache {}: {e}", path.display()),
            );
        }
        status
    }
}

/// Runs the action on one service, holding its lock for state-changing actions.
pub async fn run_service(run: Arc<Run>) -> ServiceOutcome {
    let action = run.spec.action.clone();
    let outcome = run_service_inner(&run).await;
    if action != "status" {
        // Who asked what, and how it ended: for the log's reader, not the console.
        let how = match (&outcome.error, &outcome.skipped) {
            (Some(e), _) => format!("failed: {e}"),
            (None, Some(why)) => format!("skipped: {why}"),
            (None, None) => "ok".to_owned(),
        };
        run.log
            .file_only(None, &format!("{} ended: {how}", action.replace('_', " ")));
    }
    outcome
}

/// Why a service's action ended before its resources ran: skipped (nothing
/// failed, a scheduled run found the service busy) or failed.
enum Halt {
    Skipped(String),
    Failed(String),
}

impl Halt {
    /// Logs the halt and records it in the outcome.
    fn record(self, run: &Run, outcome: &mut ServiceOutcome) {
        match self {
            Halt::Skipped(message) => {
                run.log.info(None, &format!("skip: {message}"));
                outcome.skipped = Some(message);
            }
            Halt::Failed(message) => {
                run.log.error(None, &message);
                outcome.ok = false;
                outcome.error = Some(message);
            }
        }
    }
}

/// The sub-actions planned, each with its steps (resources acting together).
type Planned = Vec<(String, Vec<plan::Step>)>;

async fn run_service_inner(run: &Arc<Run>) -> ServiceOutcome {
    let action = run.spec.action.clone();
    if action != "status" {
        log_request(run, &action);
    }
    let mut outcome = ServiceOutcome::new(&run.svc.name, &action);
    // The cached status: what drivers get as the service's availability, and a
    // corrupt file reported once (it is rewritten when the action ends).
    let cached = read_status_cache_or(&run.paths, &run.svc.name, |w| run.log.warn(None, &w));
    if let Ok(mut g) = run.last_avail.lock() {
        *g = cached.map(|s| s.avail);
    }
    if action == "status" {
        outcome.status = refreshed_status(run).await;
        return outcome;
    }
    if run.svc.disabled {
        run.log.info(
            None,
            &format!("service disabled: {action} has nothing to do"),
        );
        return outcome;
    }
    let sub_actions = match requested_sub_actions(run, &action) {
        Ok(sub_actions) => sub_actions,
        Err(usage) => {
            outcome.ok = false;
            outcome.usage_error = true;
            outcome.error = Some(usage);
            return outcome;
        }
    };
    let planned = plan_sub_actions(run, &sub_actions);

    // The lock (not for --dry-run: it changes nothing).
    let _guard = if changes_state(run, &action, &planned) && !run.spec.dry_run {
        match acquire_service_lock(run, &action).await {
            Ok(guard) => Some(guard),
            Err((message, timed_out)) => {
                outcome.ok = false;
                outcome.lock_timed_out = timed_out;
                outcome.error = Some(message);
                return outcome;
            }
        }
    } else {
        None
    };

    if let Err(halt) = settle_interrupted_tools(run, &planned).await {
        halt.record(run, &mut outcome);
        return outcome;
    }
    if let Err(halt) = refuse_destructive_while_running(run, &action, &planned).await {
        halt.record(run, &mut outcome);
        return outcome;
    }
    if let Err(message) = run.triggers(None, "pre", &action).await {
        run.log.error(None, &message);
        outcome.ok = false;
        outcome.error = Some(message);
    }
    if outcome.ok {
        run_planned_steps(run, &planned, &mut outcome).await;
    }
    finish(run, &action, &mut outcome).await;
    outcome
}

/// After the steps: the post trigger, the status refreshed, the intent of an
/// unscoped start or stop recorded, and how it ended logged.
async fn finish(run: &Arc<Run>, action: &str, outcome: &mut ServiceOutcome) {
    if outcome.ok {
        if let Err(message) = run.triggers(None, "post", action).await {
            run.log.error(None, &message);
            outcome.ok = false;
            outcome.error = Some(message);
        }
    }
    if !run.spec.dry_run || outcome.resources.is_empty() {
        outcome.status = refreshed_status(run).await;
    }
    // An unscoped start or stop that went through records the service's intent.
    if outcome.ok && !run.spec.dry_run && run.spec.selection.is_empty() && !run.spec.scheduled {
        record_service_intent(run, action);
    }
    // Interrupted (Ctrl-C, SIGTERM, the daemon's drain): never a success, even
    // when the resource that was cut short is optional.
    if outcome.ok && crate::runner::cancelled() {
        outcome.ok = false;
        outcome.error = Some("interrupted".into());
    }
    if let Some(e) = &outcome.error {
        run.log.error(
            None,
            &format!("'{action}' action stopped on execution error: {e}"),
        );
    }
}

/// The sub-actions to run, or the usage error of a request that selects
/// nothing: no resource matches the selection, or none implements the action.
fn requested_sub_actions(run: &Run, action: &str) -> Result<Vec<String>, String> {
    let selected: Vec<&ResourceDef> = run
        .svc
        .resources
        .iter()
        .filter(|r| run.spec.selection.matches(r))
        .collect();
    if selected.is_empty() {
        return Err("no resource matches the given --rid, --tags and --subsets".into());
    }
    let sub_actions = sub_actions_for_node(run, action);
    // Every service starts and stops (doppel has nothing to do when no resource
    // does); any other action the operator asks must mean something here.
    if !Action::parse(action).is_some_and(Action::applies_to_every_service)
        && !selected
            .iter()
            .any(|r| sub_actions.iter().any(|a| run.implements(r, a)))
    {
        return Err(run.nothing_implements(action, &selected));
    }
    Ok(sub_actions)
}

/// Who asked what, in the service log only: for the log's reader, not the console.
fn log_request(run: &Run, action: &str) {
    run.log.file_only(
        None,
        &format!(
            "{} requested by {}: {}",
            action.replace('_', " "),
            doppel_core::trust::invoking_user(),
            command_line()
        ),
    );
}

/// The service's status probed now (off the async threads: drivers block).
async fn refreshed_status(run: &Arc<Run>) -> Option<ServiceStatus> {
    let r = run.clone();
    tokio::task::spawn_blocking(move || r.refresh_status())
        .await
        .ok()
}

/// The actions to run: `sync all` is its sub-actions, less those a DRP node
/// does not run; any other action is itself.
fn sub_actions_for_node(run: &Run, action: &str) -> Vec<String> {
    let role = run.svc.node_role();
    match Action::parse(action) {
        Some(a) => a
            .sub_actions()
            .into_iter()
            .filter(|sub| {
                let refused = a != *sub && role == NodeRole::Drp && sub.runs_on_primary_only();
                if refused {
                    run.log.info(
                        None,
                        &format!("{}: not on a drpnode, skipped", sub.spelling()),
                    );
                }
                !refused
            })
            .map(|sub| sub.name().to_owned())
            .collect(),
        None => vec![action.to_owned()],
    }
}

/// Each sub-action's steps over the selected, enabled resources implementing it.
fn plan_sub_actions(run: &Run, sub_actions: &[String]) -> Planned {
    sub_actions
        .iter()
        .map(|a| {
            let steps = plan::steps(&run.svc, a, |r| {
                run.spec.selection.matches(r) && !r.disabled && run.implements(r, a)
            });
            (a.clone(), steps)
        })
        .collect()
}

/// Whether the action needs the service lock: every standard action does, a
/// driver action when a planned resource's manifest says it changes state.
fn changes_state(run: &Run, action: &str, planned: &Planned) -> bool {
    let driver_action = !is_standard_action(action);
    planned
        .iter()
        .flat_map(|(a, steps)| {
            steps
                .iter()
                .flat_map(move |s| s.rids.iter().map(move |rid| (a, rid)))
        })
        .any(|(a, rid)| run.state_changing(run.resource(rid), a))
        || !driver_action
}

/// The service lock for the action's domain, waited for up to --waitlock (or
/// the service's lock timeout). The error says why, and whether it timed out.
async fn acquire_service_lock(
    run: &Arc<Run>,
    action: &str,
) -> Result<lock::LockGuard, (String, bool)> {
    let dir = run.paths.service_state_dir(&run.svc.name);
    let timeout = run.spec.waitlock.unwrap_or(run.svc.lock_timeout);
    let domain = LockDomain::for_action(action);
    let log = run.log.clone();
    let intent = action.to_owned();
    let res = tokio::task::spawn_blocking(move || {
        lock::acquire(&dir, domain, &intent, timeout, |holder| {
            log.info(
                None,
                &format!(
                    "waiting up to {}s for the {domain} lock held by {holder}",
                    timeout.as_secs()
                ),
            );
        })
    })
    .await;
    match res {
        Ok(Ok(g)) => Ok(g),
        Ok(Err(e)) => Err((e.to_string(), matches!(e, lock::LockError::Timeout { .. }))),
        Err(e) => Err((e.to_string(), false)),
    }
}

/// Tool commands a killed doppel left running on the resources about to change
/// state: never raced. Those that ended are reconciled before anything acts on them.
async fn settle_interrupted_tools(run: &Arc<Run>, planned: &Planned) -> Result<(), Halt> {
    let mut acting: Vec<String> = planned
        .iter()
        .flat_map(|(a, steps)| {
            steps
                .iter()
                .flat_map(|s| &s.rids)
                .filter(|rid| run.state_changing(run.resource(rid), a))
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    acting.sort_by(|a, b| plan::natural_cmp(a, b));
    acting.dedup();
    if acting.is_empty() {
        return Ok(());
    }
    let r = run.clone();
    let settled = tokio::task::spawn_blocking(move || r.settle_interrupted(&acting))
        .await
        .unwrap_or_else(|e| Err((e.to_string(), false)));
    settled.map_err(|(message, skipped)| {
        if skipped {
            Halt::Skipped(message)
        } else {
            Halt::Failed(message)
        }
    })
}

/// Destructive actions (a driver's manifest says which) are refused while the
/// service runs, unless --force; a scheduled run skips instead. Drivers that
/// decide by the service's state (resync, restore) need it current.
async fn refuse_destructive_while_running(
    run: &Arc<Run>,
    action: &str,
    planned: &Planned,
) -> Result<(), Halt> {
    let destructive = planned.iter().any(|(a, steps)| {
        steps
            .iter()
            .flat_map(|s| &s.rids)
            .any(|rid| run.destructive(run.resource(rid), a))
    });
    if !destructive && !matches!(action, "sync_resync" | "sync_restore") {
        return Ok(());
    }
    let current = refreshed_status(run).await;
    let running = current.map(|s| run.running_users(&s)).unwrap_or_default();
    if !destructive || running.is_empty() {
        return Ok(());
    }
    let message = format!(
        "refusing {}: {} (stop the service first, or --force)",
        action.replace('_', " "),
        running.join(", ")
    );
    if run.spec.force {
        run.log.warn(
            None,
            &format!(
                "{} although {} (--force)",
                action.replace('_', " "),
                running.join(", ")
            ),
        );
        Ok(())
    } else if run.spec.scheduled {
        Err(Halt::Skipped(message))
    } else {
        Err(Halt::Failed(message))
    }
}

/// Runs the planned steps in order, stopping at the first failure or interruption.
async fn run_planned_steps(run: &Arc<Run>, planned: &Planned, outcome: &mut ServiceOutcome) {
    for (sub, steps) in planned {
        for step in steps {
            if crate::runner::cancelled() {
                outcome.ok = false;
                outcome.error = Some("interrupted".into());
                return;
            }
            let results = run_step(run, sub, step).await;
            record_failures(outcome, &results);
            outcome.resources.extend(results);
            if !outcome.ok {
                return;
            }
        }
    }
}

/// One step's resources acting: alone, or in parallel (results in rid order).
async fn run_step(run: &Arc<Run>, sub: &str, step: &plan::Step) -> Vec<ResourceOutcome> {
    if step.rids.len() <= 1 {
        return vec![run.act(step.rids[0].clone(), sub.to_owned()).await];
    }
    run.log.info(
        None,
        &format!("parallel {sub} resources {}", step.rids.join(",")),
    );
    let mut set = tokio::task::JoinSet::new();
    let mut rid_of = HashMap::new();
    for rid in &step.rids {
        let r = run.clone();
        let (id, sub) = (rid.clone(), sub.to_owned());
        let handle = set.spawn(async move { r.act(id, sub).await });
        rid_of.insert(handle.id(), rid.clone());
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next_with_id().await {
        match r {
            Ok((_, r)) => out.push(r),
            // A panicked resource task failed: it is never dropped.
            Err(e) => out.push(ResourceOutcome {
                rid: rid_of.remove(&e.id()).unwrap_or_default(),
                result: ResourceResult::Failed,
                message: Some(format!("the action panicked: {e}")),
                invalid_request: false,
            }),
        }
    }
    out.sort_by(|a, b| plan::natural_cmp(&a.rid, &b.rid));
    out
}

/// A step's failed resources fail the service, their messages joined.
fn record_failures(outcome: &mut ServiceOutcome, results: &[ResourceOutcome]) {
    let failed: Vec<&ResourceOutcome> = results
        .iter()
        .filter(|r| r.result == ResourceResult::Failed)
        .collect();
    if failed.is_empty() {
        return;
    }
    outcome.ok = false;
    outcome.invalid_request = failed.iter().all(|f| f.invalid_request);
    outcome.error = Some(
        failed
            .iter()
            .map(|f| {
                f.message
                    .clone()
                    .unwrap_or_else(|| format!("{} failed", f.rid))
            })
            .collect::<Vec<_>>()
            .join("; "),
    );
}

/// Records "started" or "stopped" as the service's intent (the daemon's
/// restart decision reads it); other actions record nothing.
fn record_service_intent(run: &Run, action: &str) {
    let intent = match action {
        "start" => "started\n",
        "stop" => "stopped\n",
        _ => return,
    };
    let path = intent_path(&run.paths, &run.svc.name);
    if let Err(e) = state::write_atomic(&path, intent.as_bytes()) {
        run.log.warn(
            None,
            &format!(
                "cannot record the service intent in {}: {e}",
                path.display()
            ),
        );
    }
}

/// This process's command line, quoted as a shell would need it.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    shlex::try_join(args.iter().map(String::as_str)).unwrap_or_else(|_| args.join(" "))
}

/// The console level from -q/-v.
pub fn console_level(quiet: bool, verbose: u8) -> Level {
    match (quiet, verbose) {
        (true, _) => Level::Error,
        (false, 0) => Level::Info,
        (false, 1) => Level::Debug,
        _ => Level::Trace,
    }
}
