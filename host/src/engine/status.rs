//! What `status` and `print status` show, and the files that keep it: the status
//! cache, the service intent, the frozen flag.

use super::*;

/// A resource's status, as cached and printed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResourceStatus {
    pub rid: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub status: Status,
    #[serde(default)]
    pub messages: Vec<StatusMessage>,
    #[serde(default)]
    pub last_sync: Option<String>,
    pub optional: bool,
    pub disabled: bool,
    pub standby: bool,
    pub monitor: bool,
    #[serde(default)]
    pub subset: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `ssh = <destination>`: the host the resource's commands run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
}

/// A service's status, as cached in `var/lib/doppel/<svc>/status.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub service: String,
    /// False when the service file is broken: `problems` says why, and the
    /// statuses are `undef`.
    #[serde(default = "valid")]
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Why doppel does not evaluate the service on this node (it is another
    /// node's): the statuses are then `n/a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub avail: Status,
    pub overall: Status,
    pub optional: Status,
    /// `doppel freeze`: the daemon leaves the service alone.
    #[serde(default)]
    pub frozen: bool,
    pub updated: String,
    pub resources: Vec<ResourceStatus>,
}

pub(super) fn valid() -> bool {
    true
}

impl ServiceStatus {
    /// The status of a service whose file is broken: `undef`, with its problems.
    pub fn invalid(service: &str, problems: Vec<String>) -> ServiceStatus {
        ServiceStatus {
            service: service.to_owned(),
            valid: false,
            problems,
            reason: None,
            avail: Status::Undef,
            overall: Status::Undef,
            optional: Status::Undef,
            frozen: false,
            updated: jiff::Timestamp::now().to_string(),
            resources: Vec::new(),
        }
    }

    /// The status of a service this node does not run: `n/a`, with the reason.
    pub fn not_here(service: &str, reason: String) -> ServiceStatus {
        ServiceStatus {
            reason: Some(reason),
            avail: Status::NotApplicable,
            overall: Status::NotApplicable,
            optional: Status::NotApplicable,
            valid: true,
            problems: Vec::new(),
            ..ServiceStatus::invalid(service, Vec::new())
        }
    }
}

/// `var/lib/doppel/<svc>/intent`: `started` or `stopped`, what the operator last
/// asked of the whole service (OpenSVC's `local_expect`). The daemon restarts
/// resources only of a service meant to be started.
pub fn intent_path(paths: &Paths, svc: &str) -> PathBuf {
    paths.service_state_dir(svc).join("intent")
}

/// The recorded intent of `svc`, if any.
pub fn read_intent(paths: &Paths, svc: &str) -> Option<String> {
    std::fs::read_to_string(intent_path(paths, svc))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// `var/lib/doppel/<svc>/frozen`: present while the service is frozen (`doppel
/// freeze`); it holds when and by whom. The daemon runs no scheduled action and no
/// restart of a frozen service; commands still act on it.
pub fn frozen_path(paths: &Paths, svc: &str) -> PathBuf {
    paths.service_state_dir(svc).join("frozen")
}

/// Is `svc` frozen?
pub fn is_frozen(paths: &Paths, svc: &str) -> bool {
    std::fs::symlink_metadata(frozen_path(paths, svc)).is_ok()
}

/// `var/lib/doppel/<svc>/status.json`.
pub fn status_cache(paths: &Paths, svc: &str) -> PathBuf {
    paths.service_state_dir(svc).join("status.json")
}

/// Reads the cached status; `None` when missing or corrupt (with a warning).
pub fn read_status_cache(paths: &Paths, svc: &str) -> Option<ServiceStatus> {
    read_status_cache_or(paths, svc, |w| eprintln!("warning: {w}"))
}

/// Reads the cached status; `None` when missing, or when corrupt after passing
/// `warn` what is wrong.
pub(super) fn read_status_cache_or(
    paths: &Paths,
    svc: &str,
    warn: impl FnOnce(String),
) -> Option<ServiceStatus> {
    let path = status_cache(paths, svc);
    match state::read_json::<ServiceStatus>(&path) {
        ReadOutcome::Ok(s) => Some(s),
        ReadOutcome::Missing => None,
        ReadOutcome::Corrupt { error } => {
            warn(format!(
                "status cache {} is corrupt ({error}): rebuilding it",
                path.display()
            ));
            None
        }
    }
}
