//! # doppel-plugin-api
//!
//! The one crate a doppel driver depends on. A driver is a shared library
//! (`crate-type = ["cdylib"]`) that doppel loads at run time; this crate gives it a
//! plain Rust API and keeps the binary interface stable underneath.
//!
//! A driver implements [`Driver`] and exports it with [`export_driver!`]:
//!
//! ```
//! use doppel_plugin_api::{
//!     ActionOutcome, ActionRequest, ActionSpec, CommandRequest, Driver, Error, Host,
//!     KeywordSpec, KeywordType, Manifest, ResourceConfig, Status, StatusReport,
//! };
//!
//! pub struct Mirror {
//!     config: ResourceConfig,
//!     host: Host,
//! }
//!
//! impl Driver for Mirror {
//!     fn manifest() -> Manifest {
//!         Manifest::new("sync", "mirror", env!("CARGO_PKG_VERSION"))
//!             .description("Mirror a directory with the site's mirror tool")
//!             .keyword(KeywordSpec::new("source", KeywordType::String).required().desc("Directory to mirror."))
//!             .action(ActionSpec::standard("sync_update"))
//!     }
//!
//!     fn open(config: ResourceConfig, host: Host) -> Result<Self, Error> {
//!         Ok(Mirror { config, host })
//!     }
//!
//!     fn status(&self) -> Result<StatusReport, Error> {
//!         let bin = self.config.option("bin").unwrap_or("/usr/bin");
//!         let out = self.host.run(&CommandRequest::new([format!("{bin}/mirror"), "--check".into()]).read_only())?;
//!         Ok(StatusReport::new(if out.success() { Status::Up } else { Status::Down }))
//!     }
//!
//!     fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
//!         match request.action.as_str() {
//!             "sync_update" => {
//!                 let source = self.config.require("source")?;
//!                 self.host.run_checked(&CommandRequest::new(["/usr/bin/mirror", source]))?;
//!                 Ok(ActionOutcome::default())
//!             }
//!             other => Err(Error::unsupported(other)),
//!         }
//!     }
//! }
//!
//! // In the driver's lib.rs (the library must be named libdoppel_driver_<name>.so):
//! // doppel_plugin_api::export_driver!(Mirror);
//! # fn main() {}
//! ```
//!
//! ## What doppel does for a driver
//!
//! doppel reads and checks the service file, resolves every keyword for the node,
//! evaluates `<action>_depends` conditions, runs triggers, takes locks, orders
//! resources, applies `sync_max_delay` to the status and writes the logs. A driver
//! only turns a configured resource into commands and a status. It runs commands
//! through [`Host::run`], so `--dry-run`, timeouts and logging are the same for all
//! drivers. Drivers are called from worker threads and must not use tokio or spawn
//! processes themselves.
//!
//! ## Compatibility
//!
//! The binary interface is frozen at 1.0: a driver built against any 1.x release of
//! this crate loads in any doppel built against any 1.y release. New capabilities
//! arrive as new fields of the JSON messages (see [`PROTOCOL_VERSION`]), never as
//! changes to the ABI. See README.md for the full promise.

#![warn(missing_docs)]

mod protocol;
pub mod testing;
pub mod units;

#[cfg(feature = "abi")]
mod abi;
#[cfg(feature = "abi")]
mod export;
#[cfg(feature = "abi")]
mod host_side;
#[cfg(feature = "abi")]
mod log_bridge;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use protocol::*;

#[cfg(feature = "abi")]
pub use host_side::{LoadError, LoadedDriver, OpenResource, load_driver};

/// A driver error: a kind and a one-line message for the operator.
///
/// Any `std::error::Error` converts into it with `?` (kind [`ErrorKind::Failed`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Error {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The message, without a trailing period.
    pub message: String,
}

impl Error {
    /// An error of `kind` (for kinds without a constructor of their own, and for
    /// hosts relaying an error).
    ///
    /// ```
    /// use doppel_plugin_api::{Error, ErrorKind};
    /// let err = Error::new(ErrorKind::Panicked, "driver x panicked");
    /// assert_eq!((err.kind, err.to_string().as_str()), (ErrorKind::Panicked, "driver x panicked"));
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A failed action or query.
    pub fn failed(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Failed,
            message: message.into(),
        }
    }

    /// An unusable configuration.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Invalid,
            message: message.into(),
        }
    }

    /// An unusable configuration, listing the `problems` of resource `rid` (what
    /// [`Driver::validate`] found), for an action that cannot go on.
    ///
    /// ```
    /// use doppel_plugin_api::{Error, Problem};
    /// let err = Error::problems("sync#0", &[Problem::keyword("vob", "is required"), Problem::resource("no target")]);
    /// assert_eq!(err.message, "sync#0: vob: is required; no target");
    /// ```
    pub fn problems(rid: &str, problems: &[Problem]) -> Error {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        Error::invalid(format!("{rid}: {}", text.join("; ")))
    }

    /// The operator cancelled.
    pub fn cancelled() -> Error {
        Error {
            kind: ErrorKind::Cancelled,
            message: "cancelled".into(),
        }
    }

    /// The driver does not implement `what`.
    pub fn unsupported(what: &str) -> Error {
        Error {
            kind: ErrorKind::Unsupported,
            message: format!("'{what}' is not supported by this driver"),
        }
    }

    /// Decodes an error sent across the ABI (JSON, or plain text from a peer that
    /// sent text).
    pub fn from_wire(text: &str) -> Error {
        serde_json::from_str(text).unwrap_or_else(|_| Error::failed(text))
    }

    /// Encodes the error for the ABI.
    pub fn to_wire(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| self.message.clone())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(err: E) -> Error {
        Error::failed(err.to_string())
    }
}

/// A driver: one type per `group.name`, one value per configured resource.
///
/// doppel calls every method from a worker thread; a resource may be asked for its
/// status while another thread runs an action on another resource of the same
/// driver, so keep per-resource state inside `Self` (use interior mutability if an
/// action must remember something, or [`Host::state_put`] to keep it across runs).
///
/// A panic in any method is caught and reported as `driver <name> panicked: ...`;
/// doppel carries on with the other resources.
pub trait Driver: Sized + Send + Sync + 'static {
    /// Identity, keywords and actions. Called once when doppel loads the driver,
    /// before any resource exists; it must not do I/O.
    fn manifest() -> Manifest;

    /// Checks a resource's configuration beyond keyword types (e.g. malformed
    /// values, incompatible combinations). Problems are shown by
    /// `doppel -s <svc> validate` with the keyword's file and line.
    fn validate(config: &ResourceConfig) -> Vec<Problem> {
        let _ = config;
        Vec::new()
    }

    /// Builds the resource. Cheap: it must not run commands.
    fn open(config: ResourceConfig, host: Host) -> Result<Self, Error>;

    /// Reports the resource's status.
    fn status(&self) -> Result<StatusReport, Error>;

    /// Runs an action the manifest lists.
    fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error>;

    /// Answers a method doppel may add in a later protocol version. The default
    /// says "unsupported", which doppel treats as "use the old behaviour".
    fn call(&self, method: &str, request: serde_json::Value) -> Result<serde_json::Value, Error> {
        let _ = request;
        Err(Error::unsupported(method))
    }
}

/// The services doppel offers a driver. Implemented by doppel across the ABI, and by
/// test doubles in a driver's own unit tests (see [`Host::new`]).
pub trait HostServices: Send + Sync {
    /// Logs a line under the resource's name.
    fn log(&self, level: Level, message: &str);
    /// Runs a command (see [`CommandRequest`]).
    fn run_command(&self, request: &CommandRequest) -> Result<CommandOutput, Error>;
    /// Reads a value the resource stored earlier.
    fn state_get(&self, key: &str) -> Option<String>;
    /// Stores a value for later runs (written atomically).
    fn state_put(&self, key: &str, value: &str) -> Result<(), Error>;
    /// True once the operator asked to stop (Ctrl-C) or the action timed out.
    fn cancelled(&self) -> bool;
    /// A generic request for services added after protocol 1.
    fn call(&self, method: &str, request: &serde_json::Value) -> Result<serde_json::Value, Error>;
}

/// A driver's handle on doppel. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct Host {
    services: Arc<dyn HostServices>,
}

impl Host {
    /// Wraps a [`HostServices`] implementation (doppel does this; driver unit tests
    /// can pass a fake).
    pub fn new(services: Arc<dyn HostServices>) -> Host {
        Host { services }
    }

    /// Logs `message` at `level`, prefixed by doppel with the service and rid.
    pub fn log(&self, level: Level, message: &str) {
        self.services.log(level, message);
    }

    /// Logs at INFO.
    pub fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }

    /// Logs at WARNING.
    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message);
    }

    /// Runs a command through doppel. Returns its output whatever its exit code; an
    /// `Err` means it could not be started (missing binary, ...).
    pub fn run(&self, request: &CommandRequest) -> Result<CommandOutput, Error> {
        self.services.run_command(request)
    }

    /// Runs a command and fails unless it exits 0 (or was skipped by `--dry-run`).
    /// The error quotes the command's last stderr line.
    pub fn run_checked(&self, request: &CommandRequest) -> Result<CommandOutput, Error> {
        let out = self.run(request)?;
        if out.success() {
            return Ok(out);
        }
        let program = request
            .argv
            .first()
            .map(String::as_str)
            .unwrap_or("command");
        let why = if out.timed_out {
            "timed out".to_owned()
        } else {
            match out.exit_code {
                Some(code) => format!("exited with code {code}"),
                None => "was killed".to_owned(),
            }
        };
        let detail = out
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(str::trim)
            .unwrap_or("");
        let program = program.rsplit('/').next().unwrap_or(program);
        Err(if detail.is_empty() {
            Error::failed(format!("{program} {why}"))
        } else {
            Error::failed(format!("{program} {why}: {detail}"))
        })
    }

    /// Shows a progress line for a long wait: redrawn in place on an operator's
    /// terminal, kept out of piped output (it goes to the log file at debug level).
    /// Call it on every poll of a wait loop.
    ///
    /// Added in plugin-api 1.0 through [`Host::call`] (method `progress`), so a host
    /// that does not know it simply ignores it.
    pub fn progress(&self, text: &str) {
        let _ = self
            .services
            .call("progress", &serde_json::json!({ "text": text }));
    }

    /// The host's clock, as RFC 3339 text in UTC (`2026-12-03T15:08:51Z`): what
    /// [`StatusReport::last_sync`] expects. Through [`Host::call`] (method `now`);
    /// `None` from a host that does not offer it.
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// let fake = FakeHost::new(|_| Ok(Default::default()));
    /// fake.set_now("2026-12-03T15:08:51Z");
    /// assert_eq!(fake.host().now().as_deref(), Some("2026-12-03T15:08:51Z"));
    /// ```
    pub fn now(&self) -> Option<String> {
        match self.services.call("now", &serde_json::Value::Null) {
            Ok(serde_json::Value::String(text)) => Some(text),
            _ => None,
        }
    }

    /// True when the operator passed `--dry-run`: state-changing commands are then
    /// logged, not run, and [`Host::state_put`] is dropped. Read-only commands
    /// still run. Through [`Host::call`] (method `dry_run`); false from a host
    /// that does not offer it.
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// assert!(FakeHost::dry_run(|_| Ok(Default::default())).host().dry_run());
    /// assert!(!FakeHost::new(|_| Ok(Default::default())).host().dry_run());
    /// ```
    pub fn dry_run(&self) -> bool {
        matches!(
            self.services.call("dry_run", &serde_json::Value::Null),
            Ok(serde_json::Value::Bool(true))
        )
    }

    /// The protocol range and services the host offers (method `features`). A host
    /// that does not answer it speaks protocol 1 only ([`HostFeatures::protocol1`]).
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// let features = FakeHost::new(|_| Ok(Default::default())).host().features();
    /// assert_eq!(features.negotiated(), Some(1));
    /// assert!(features.has("now") && features.has("progress"));
    /// ```
    pub fn features(&self) -> HostFeatures {
        self.services
            .call("features", &serde_json::Value::Null)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_else(HostFeatures::protocol1)
    }

    /// Reads a stored value.
    pub fn state_get(&self, key: &str) -> Option<String> {
        self.services.state_get(key)
    }

    /// Stores a value (atomically) for later runs. Under `--dry-run` doppel drops
    /// it (and answers `Ok`), so a dry run leaves no trace.
    pub fn state_put(&self, key: &str, value: &str) -> Result<(), Error> {
        self.services.state_put(key, value)
    }

    /// True once the operator asked to stop.
    pub fn cancelled(&self) -> bool {
        self.services.cancelled()
    }

    /// Sleeps up to `duration`, waking early with [`ErrorKind::Cancelled`] when the
    /// operator cancels. Use it in every wait loop.
    pub fn sleep(&self, duration: Duration) -> Result<(), Error> {
        let deadline = std::time::Instant::now() + duration;
        loop {
            if self.cancelled() {
                return Err(Error::cancelled());
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Ok(());
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
        }
    }

    /// A generic request to doppel (for services added after protocol 1).
    pub fn call(
        &self,
        method: &str,
        request: &serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        self.services.call(method, request)
    }
}

#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "abi")]
    pub use crate::export::*;
}
