//! The driver doppel's own tests use. Everything it does is set from its keywords,
//! so each rule of the engine can be tested end to end through the real binary:
//!
//! * `status` forces a status; otherwise the state is what the last start/stop (or
//!   provision/unprovision) left, starting from `initial` (default `down`).
//! * `fail` lists actions that fail; `panic` lists methods that panic (`open`,
//!   `status`, an action name); `DOPPEL_TEST_DRIVER_PANIC=describe` makes the
//!   manifest panic.
//! * `duration` makes every action take that long (cancellable).
//! * `record` names a file where each call appends `<svc> <rid> <action> <start> <end>`
//!   with times in milliseconds since the epoch.
//! * `command` is run through the host (state-changing) by every action, and
//!   `query` (read-only) by every status.
//! * `last_sync_ago` reports a last sync that long ago (e.g. `2h`).
//! * `DOPPEL_TEST_DRIVER_REENTRANT=<group>,...` declares those groups' drivers
//!   `reentrant` (status calls of several resources at once).

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandRequest, Error, Host, KeywordSpec,
    KeywordType, Manifest, OptionSpec, Problem, ResourceConfig, Status, StatusReport,
};

/// Exports the test driver for `group` as `<group>.test`.
#[macro_export]
macro_rules! test_driver {
    ($group:literal) => {
        pub struct GroupTestDriver($crate::TestDriver);

        impl doppel_plugin_api::Driver for GroupTestDriver {
            fn manifest() -> doppel_plugin_api::Manifest {
                $crate::manifest($group)
            }
            fn validate(
                config: &doppel_plugin_api::ResourceConfig,
            ) -> Vec<doppel_plugin_api::Problem> {
                $crate::validate(config)
            }
            fn open(
                config: doppel_plugin_api::ResourceConfig,
                host: doppel_plugin_api::Host,
            ) -> Result<Self, doppel_plugin_api::Error> {
                $crate::TestDriver::open(config, host).map(GroupTestDriver)
            }
            fn status(&self) -> Result<doppel_plugin_api::StatusReport, doppel_plugin_api::Error> {
                self.0.status()
            }
            fn action(
                &self,
                request: &doppel_plugin_api::ActionRequest,
            ) -> Result<doppel_plugin_api::ActionOutcome, doppel_plugin_api::Error> {
                self.0.action(request)
            }
        }

        doppel_plugin_api::export_driver!(GroupTestDriver);
    };
}

const ACTIONS: &[&str] = &[
    "start",
    "stop",
    "provision",
    "unprovision",
    "run",
    "sync_break",
    "sync_resync",
    "sync_update",
    "sync_restore",
    "sync_nodes",
    "sync_drp",
];

/// The manifest of `<group>.test`.
pub fn manifest(group: &str) -> Manifest {
    if std::env::var("DOPPEL_TEST_DRIVER_PANIC").is_ok_and(|v| v == "describe") {
        panic!("describe was told to panic");
    }
    let mut m = Manifest::new(group, "test", env!("CARGO_PKG_VERSION"))
        .description("Test driver: behaviour set from keywords (for doppel's own tests)")
        .keyword(
            KeywordSpec::new("status", KeywordType::String)
                .candidates(&["up", "down", "warn", "n/a", "undef"])
                .desc("Force the reported status."),
        )
        .keyword(
            KeywordSpec::new("initial", KeywordType::String)
                .default_value("down")
                .candidates(&["up", "down"])
                .desc("The state before any start or stop."),
        )
        .keyword(KeywordSpec::new("fail", KeywordType::List).desc("Actions that fail."))
        .keyword(
            KeywordSpec::new("panic", KeywordType::List)
                .desc("Methods that panic: open, status, or an action."),
        )
        .keyword(
            KeywordSpec::new("duration", KeywordType::Duration)
                .desc("How long every action takes."),
        )
        .keyword(
            KeywordSpec::new("record", KeywordType::String)
                .desc("File where every call is appended."),
        )
        .keyword(
            KeywordSpec::new("command", KeywordType::Shlex)
                .desc("Command every action runs through doppel."),
        )
        .keyword(
            KeywordSpec::new("query", KeywordType::Shlex)
                .desc("Read-only command every status runs."),
        )
        .keyword(
            KeywordSpec::new("last_sync_ago", KeywordType::Duration)
                .desc("Report a last sync that long ago."),
        )
        .keyword(
            KeywordSpec::new("size", KeywordType::Integer)
                .provisioning()
                .default_value("1")
                .desc("A provisioning keyword."),
        )
        .keyword(
            KeywordSpec::new("bad", KeywordType::String)
                .desc("Set to anything to fail driver validation."),
        );
    if std::env::var("DOPPEL_TEST_DRIVER_REENTRANT").is_ok_and(|v| v.split(',').any(|g| g == group))
    {
        m = m.reentrant();
    }
    for action in ACTIONS {
        m = m.action(ActionSpec::standard(action));
    }
    m.action(ActionSpec::new("poke", "A driver-specific action."))
        .action(ActionSpec::new("wipe", "A destructive driver-specific action.").destructive())
        .option(
            OptionSpec::new("depth", "How hard to poke (recorded, not used).").actions(&["poke"]),
        )
}

/// Driver-level validation: `bad` is refused.
pub fn validate(config: &ResourceConfig) -> Vec<Problem> {
    match config.get("bad") {
        Some(v) => vec![Problem::keyword(
            "bad",
            format!("the test driver refuses bad = {v}"),
        )],
        None => Vec::new(),
    }
}

/// One test resource.
pub struct TestDriver {
    config: ResourceConfig,
    host: Host,
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

impl TestDriver {
    /// Opens a resource (panics if `panic` lists `open`).
    pub fn open(config: ResourceConfig, host: Host) -> Result<TestDriver, Error> {
        if config.get_list("panic").iter().any(|p| p == "open") {
            panic!("open was told to panic");
        }
        Ok(TestDriver { config, host })
    }

    fn maybe_panic(&self, what: &str) {
        if self.config.get_list("panic").iter().any(|p| p == what) {
            panic!("{what} was told to panic");
        }
    }

    fn record(&self, action: &str, start: u128) {
        let Some(path) = self.config.get("record") else {
            return;
        };
        let line = format!(
            "{} {} {} {} {}\n",
            self.config.svcname,
            self.config.rid,
            action,
            start,
            now_ms()
        );
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }

    /// Reports the status.
    pub fn status(&self) -> Result<StatusReport, Error> {
        self.maybe_panic("status");
        if let Some(query) = self.config.get("query") {
            let argv = shell_split(query)?;
            self.host.run(&CommandRequest::new(argv).read_only())?;
        }
        let state = match self.config.get("status") {
            Some(forced) => Status::parse(forced)
                .ok_or_else(|| Error::invalid(format!("bad status {forced}")))?,
            None => {
                let stored = self.host.state_get("state");
                let current = stored
                    .as_deref()
                    .or(self.config.get("initial"))
                    .unwrap_or("down");
                Status::parse(current).unwrap_or(Status::Down)
            }
        };
        let mut report = StatusReport::new(state);
        if let Some(ago) = self.config.get("last_sync_ago") {
            let ago = doppel_plugin_api::parse_duration(ago).unwrap_or_default();
            let when =
                jiff::Timestamp::now() - jiff::SignedDuration::try_from(ago).unwrap_or_default();
            report = report.last_sync(when.to_string());
        }
        Ok(report)
    }

    /// Runs an action.
    pub fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let start = now_ms();
        self.maybe_panic(&request.action);
        tracing::info!(action = %request.action, "test driver action");
        if let Some(command) = self.config.get("command") {
            let argv = shell_split(command)?;
            self.host.run_checked(&CommandRequest::new(argv))?;
        }
        if let Some(d) = self.config.get("duration") {
            let d = doppel_plugin_api::parse_duration(d).unwrap_or(Duration::ZERO);
            self.host.sleep(d)?;
        }
        self.record(&request.action, start);
        if self
            .config
            .get_list("fail")
            .iter()
            .any(|a| a == &request.action)
        {
            return Err(Error::failed(format!(
                "{} was told to fail",
                request.action
            )));
        }
        if !request.dry_run {
            let new_state = match request.action.as_str() {
                "start" | "provision" => Some("up"),
                "stop" | "unprovision" => Some("down"),
                _ => None,
            };
            if let Some(s) = new_state {
                self.host.state_put("state", s)?;
            }
        }
        let mut outcome = ActionOutcome::new().message(format!("{} done", request.action));
        // What the host answers to the typed services, as the driver sees them
        // across the ABI (tests/it/drivers.rs checks them against the real host).
        if std::env::var("DOPPEL_TEST_DRIVER_HOST_INFO").is_ok_and(|v| v == "1") {
            let features = serde_json::to_string(&self.host.features()).unwrap_or_default();
            outcome = outcome
                .message(format!("host features: {features}"))
                .message(format!("host dry_run: {}", self.host.dry_run()))
                .message(format!("host now: {}", self.host.now().unwrap_or_default()));
        }
        Ok(outcome)
    }
}

fn shell_split(text: &str) -> Result<Vec<String>, Error> {
    // The host has already checked the shlex syntax; keep this dependency-free.
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err(Error::invalid("unbalanced quotes"));
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}
