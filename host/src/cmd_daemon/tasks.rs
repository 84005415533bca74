//! The scheduled tasks of a service: what runs when (schedules, restart monitors).

use super::*;

// ---------------------------------------------------------------------------
// Tasks of a service
// ---------------------------------------------------------------------------

/// A scheduled task: the service status, or a resource's `sync_update` / `run`.
#[derive(Clone, Debug)]
pub(super) struct Task {
    pub(super) action: String,
    /// `None` for service tasks.
    pub(super) rid: Option<String>,
    /// The expression as written.
    pub(super) raw: String,
    /// Where it came from: `demo.conf:7`, `default`.
    pub(super) source: String,
    /// Parsed and seeded, or the parse error.
    pub(super) schedule: Result<Schedule, String>,
}

impl Task {
    /// The rid log lines carry.
    pub(super) fn log_rid(&self) -> &str {
        self.rid.as_deref().unwrap_or(SCHEDULER)
    }

    /// `last_status`, `last_sync_update_sync#0`.
    pub(super) fn stamp_name(&self) -> String {
        match &self.rid {
            Some(rid) => format!("last_{}_{rid}", self.action),
            None => format!("last_{}", self.action),
        }
    }

    pub(super) fn key(&self, svc: &str) -> String {
        format!(
            "{svc}/{}/{}",
            self.action,
            self.rid.as_deref().unwrap_or("")
        )
    }
}

/// A resource watched for restarts.
#[derive(Clone, Debug)]
pub(super) struct RestartTask {
    pub(super) rid: String,
    pub(super) max: u32,
    pub(super) source: String,
}

impl RestartTask {
    pub(super) fn key(&self, svc: &str) -> String {
        format!("{svc}/restart/{}", self.rid)
    }
}

/// The scheduled action of a resource group, if it has one.
pub(super) fn scheduled_action(group: &str) -> Option<&'static str> {
    match group {
        "sync" => Some("sync_update"),
        "task" => Some("run"),
        _ => None,
    }
}

/// `demo.conf:7`, `demo.conf:7 (schedule@n1)`, `default`.
pub(super) fn source_of(resolved: Option<&Resolved>, name: &str) -> String {
    let short = |location: &str| -> String {
        match location.rsplit_once(':') {
            Some((file, line)) => {
                let file = Path::new(file)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| file.to_owned());
                format!("{file}:{line}")
            }
            None => location.to_owned(),
        }
    };
    match resolved.map(|r| &r.origin) {
        Some(Origin::File { location, key }) if key == name => short(location),
        Some(Origin::File { location, key }) => format!("{} ({key})", short(location)),
        Some(Origin::Inherited { location, key }) => format!("{} (DEFAULT {key})", short(location)),
        Some(Origin::Environment { variable }) => format!("${variable}"),
        Some(Origin::Default) | None => "default".to_owned(),
    }
}

pub(super) fn parse_seeded(raw: &str, seed_key: &str) -> Result<Schedule, String> {
    Schedule::parse(raw)
        .map(|s| s.with_seed(stable_seed(seed_key)))
        .map_err(|e| e.to_string())
}

/// The tasks of a service, in the order they run: status, then each resource's task
/// (natural rid order); and the restart monitors.
pub(super) fn tasks_of(svc: &Service, registry: &Registry) -> (Vec<Task>, Vec<RestartTask>) {
    let mut tasks = Vec::new();
    let status_resolved = svc.default_values.get("status_schedule");
    tasks.push(Task {
        action: "status".into(),
        rid: None,
        raw: svc.status_schedule.clone(),
        source: source_of(
            status_resolved.filter(|r| r.value == svc.status_schedule),
            "status_schedule",
        ),
        schedule: parse_seeded(
            &svc.status_schedule,
            &format!("{}/status/{}", svc.name, svc.nodename),
        ),
    });
    let mut resources: Vec<&ResourceDef> = svc.resources.iter().filter(|r| !r.disabled).collect();
    resources.sort_by(|a, b| plan::natural_cmp(&a.rid, &b.rid));
    let mut restarts = Vec::new();
    let cluster_managed = svc
        .default_values
        .get("orchestrate")
        .is_some_and(|o| o.value == "ha");
    for r in resources {
        if let (Some(raw), Some(action)) = (&r.schedule, scheduled_action(&r.group)) {
            if registry.implements(&r.type_name, action) {
                tasks.push(Task {
                    action: action.to_owned(),
                    rid: Some(r.rid.clone()),
                    raw: raw.clone(),
                    source: source_of(r.values.get("schedule"), "schedule"),
                    schedule: parse_seeded(
                        raw,
                        &format!("{}/{}/{}", svc.name, r.rid, svc.nodename),
                    ),
                });
            }
        }
        if r.restart > 0 && !cluster_managed {
            restarts.push(RestartTask {
                rid: r.rid.clone(),
                max: r.restart,
                source: source_of(r.values.get("restart"), "restart"),
            });
        }
    }
    (tasks, restarts)
}
