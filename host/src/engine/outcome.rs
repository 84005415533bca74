//! How an action ended, per resource and per service.

use super::*;

/// How one resource's part of an action ended.
#[derive(Clone, Debug, Serialize)]
pub struct ResourceOutcome {
    pub rid: String,
    pub result: ResourceResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The driver refused the request as invalid (a bad option such as an unknown
    /// `--clients` entry, or an unusable configuration): a usage error, exit 2.
    #[serde(skip)]
    pub invalid_request: bool,
}

/// How a resource's part of an action ended (`"ok"`, ... in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceResult {
    Ok,
    /// Not run: a `noaction` tag, a standby resource on stop, an unmet condition
    /// under the scheduler.
    Skipped,
    Failed,
    /// Failed, but optional: logged and passed over.
    Ignored,
}

/// How an action on one service ended.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceOutcome {
    pub service: String,
    pub action: String,
    pub ok: bool,
    /// False when the service file is broken (`problems` says why): nothing ran.
    pub valid: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Why nothing ran although nothing failed (a service of another node, or no
    /// resource implementing the action, in a `-s '*'` selection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub resources: Vec<ResourceOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ServiceStatus>,
    /// Nothing ran because another action held the lock past the wait: the
    /// scheduler retries such a task later instead of counting a failure.
    #[serde(skip)]
    pub lock_timed_out: bool,
    /// The operator's request selects nothing to act on (no resource matches the
    /// selection, or none implements the action): a usage error, exit 2.
    #[serde(skip)]
    pub usage_error: bool,
    /// Every failure was a driver refusing the request as invalid (exit 2).
    #[serde(skip)]
    pub invalid_request: bool,
}

impl ServiceOutcome {
    /// An action that has not run (yet) on `service`.
    pub fn new(service: &str, action: &str) -> ServiceOutcome {
        ServiceOutcome {
            service: service.to_owned(),
            action: action.to_owned(),
            ok: true,
            valid: true,
            problems: Vec::new(),
            skipped: None,
            error: None,
            resources: Vec::new(),
            status: None,
            lock_timed_out: false,
            usage_error: false,
            invalid_request: false,
        }
    }

    /// The outcome of a service whose task panicked or was cancelled: a failure.
    pub fn crashed(service: &str, action: &str, error: &tokio::task::JoinError) -> ServiceOutcome {
        let why = if error.is_panic() {
            "panicked"
        } else {
            "was cancelled"
        };
        ServiceOutcome {
            ok: false,
            error: Some(format!("the action {why}: {error}")),
            ..ServiceOutcome::new(service, action)
        }
    }

    /// A broken service file: nothing ran.
    pub fn invalid(service: &str, action: &str, problems: Vec<String>) -> ServiceOutcome {
        ServiceOutcome {
            ok: false,
            valid: false,
            error: Some(format!(
                "{} configuration error(s), first: {}",
                problems.len(),
                problems.first().map(String::as_str).unwrap_or("unknown")
            )),
            problems,
            usage_error: true,
            ..ServiceOutcome::new(service, action)
        }
    }
}
