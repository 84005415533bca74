//! # doppel-plugin-api
//!
//! The one crate a doppel driver depends on. A driver is a shared library
//! (`crate-type = ["cdylib"]`) that doppel loads at run time; this crate gives it a
//! plain Rust API and keeps the binary interface stable underneath.
//!
//! A driver implements [`Driver`] and exports it with [`export_driver!`]:
//!
//! ```standalone_crate
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
//! // Once, in the driver's lib.rs (the library must be named libdoppel_driver_<name>.so):
//! doppel_plugin_api::export_driver!(Mirror);
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

pub mod files;
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

pub use files::FileChunk;
pub use protocol::*;

#[cfg(feature = "abi")]
pub use host_side::{LoadError, LoadedDriver, OpenResource, load_driver};

/// A driver error: a kind and a one-line message for the operator.
///
/// Any `std::error::Error` converts into it with `?` (kind [`ErrorKind::Failed`]).
/// doppel logs the message as the resource's error; [`ErrorKind::Invalid`] marks
/// a configuration the action cannot use, [`ErrorKind::Cancelled`] an
/// interrupted wait.
///
/// ```
/// use doppel_plugin_api::{Error, ErrorKind};
///
/// fn read_marker(path: &str) -> Result<String, Error> {
///     Ok(std::fs::read_to_string(path)?) // io::Error -> Error (kind Failed)
/// }
/// let err = read_marker("/nonexistent/marker").unwrap_err();
/// assert_eq!(err.kind, ErrorKind::Failed);
/// assert_eq!(Error::invalid("sync#0: bad pairs").kind, ErrorKind::Invalid);
/// ```
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
    ///
    /// ```
    /// # use doppel_plugin_api::Error;
    /// assert_eq!(Error::failed("symclone exited with code 2").to_string(), "symclone exited with code 2");
    /// ```
    pub fn failed(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Failed,
            message: message.into(),
        }
    }

    /// An unusable configuration: doppel reports it like a configuration
    /// problem (the action is refused, exit 2 when nothing ran).
    ///
    /// ```
    /// # use doppel_plugin_api::{Error, ErrorKind};
    /// assert_eq!(Error::invalid("sync#0: no pairs").kind, ErrorKind::Invalid);
    /// ```
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

    /// The operator cancelled (what [`Host::sleep`] and
    /// [`Host::check_cancelled`] return after Ctrl-C).
    ///
    /// ```
    /// # use doppel_plugin_api::{Error, ErrorKind};
    /// assert_eq!(Error::cancelled().kind, ErrorKind::Cancelled);
    /// ```
    pub fn cancelled() -> Error {
        Error {
            kind: ErrorKind::Cancelled,
            message: "cancelled".into(),
        }
    }

    /// The driver does not implement `what` (an action, a [`Driver::call`] method).
    ///
    /// ```
    /// # use doppel_plugin_api::Error;
    /// assert_eq!(Error::unsupported("sync_drp").message, "'sync_drp' is not supported by this driver");
    /// ```
    pub fn unsupported(what: &str) -> Error {
        Error {
            kind: ErrorKind::Unsupported,
            message: format!("'{what}' is not supported by this driver"),
        }
    }

    /// Decodes an error sent across the ABI (JSON, or plain text from a peer that
    /// sent text).
    ///
    /// ```
    /// # use doppel_plugin_api::{Error, ErrorKind};
    /// let err = Error::invalid("bad");
    /// assert_eq!(Error::from_wire(&err.to_wire()), err);
    /// assert_eq!(Error::from_wire("plain text").kind, ErrorKind::Failed);
    /// ```
    pub fn from_wire(text: &str) -> Error {
        serde_json::from_str(text).unwrap_or_else(|_| Error::failed(text))
    }

    /// Encodes the error for the ABI (JSON; see [`Error::from_wire`]).
    ///
    /// ```
    /// # use doppel_plugin_api::Error;
    /// assert_eq!(Error::failed("x").to_wire(), r#"{"kind":"failed","message":"x"}"#);
    /// ```
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
///
/// The crate-level example shows a whole driver; a driver's unit tests call these
/// methods directly with a [`testing::FakeHost`]:
///
/// ```
/// use doppel_plugin_api::testing::FakeHost;
/// use doppel_plugin_api::*;
///
/// struct Marker { config: ResourceConfig, host: Host }
///
/// impl Driver for Marker {
///     fn manifest() -> Manifest {
///         Manifest::new("task", "marker", "1.0.0")
///             .keyword(KeywordSpec::new("path", KeywordType::String).required())
///             .action(ActionSpec::standard("run"))
///     }
///     fn validate(config: &ResourceConfig) -> Vec<Problem> {
///         match config.get("path") {
///             Some(p) if !p.starts_with('/') => vec![Problem::keyword("path", "must be absolute")],
///             _ => Vec::new(),
///         }
///     }
///     fn open(config: ResourceConfig, host: Host) -> Result<Self, Error> {
///         Ok(Marker { config, host })
///     }
///     fn status(&self) -> Result<StatusReport, Error> {
///         Ok(StatusReport::new(Status::NotApplicable))
///     }
///     fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
///         let path = self.config.require("path")?;
///         self.host.run_checked(&CommandRequest::new(["/usr/bin/touch", path]))?;
///         Ok(ActionOutcome::new().message(format!("touched {path}")))
///     }
/// }
///
/// let config = ResourceConfig::new("demo", "task#0", "n1").keyword("path", "relative");
/// assert_eq!(Marker::validate(&config)[0].to_string(), "path: must be absolute");
///
/// let fake = FakeHost::new(|_| Ok(CommandOutput::exited(0, "", "")));
/// let config = ResourceConfig::new("demo", "task#0", "n1").keyword("path", "/tmp/m");
/// let marker = Marker::open(config, fake.host()).unwrap();
/// let done = marker.action(&ActionRequest::new("run")).unwrap();
/// assert_eq!(done.messages, ["touched /tmp/m"]);
/// assert_eq!(fake.command_lines(), ["/usr/bin/touch /tmp/m"]);
/// ```
pub trait Driver: Sized + Send + Sync + 'static {
    /// Identity, keywords and actions. Called when doppel loads the driver,
    /// before any resource exists; it must not do I/O. doppel remembers the
    /// result until the library file changes, so return the same manifest every
    /// time (nothing read from the environment).
    fn manifest() -> Manifest;

    /// Checks a resource's configuration beyond keyword types (e.g. malformed
    /// values, incompatible combinations). Problems are shown by
    /// `doppel -s <svc> validate` with the keyword's file and line.
    ///
    /// **When it is called:** every time doppel loads the service file: before
    /// every action (a problem refuses the action, exit 2, nothing run), for
    /// `print status`, `print config`, `validate`, `edit` (on the edited copy)
    /// and each daemon reload. It runs after doppel has checked every keyword
    /// against its declared [`KeywordType`], with the same resolved
    /// [`ResourceConfig`] `open` would get, before any `open`. No [`Host`]: it
    /// must not run commands or touch the system (60 s limit by default, see
    /// [`Manifest::call_timeout`]); check what the configuration says, and leave
    /// what the system says to `status` and the actions.
    fn validate(config: &ResourceConfig) -> Vec<Problem> {
        let _ = config;
        Vec::new()
    }

    /// Builds the resource. Cheap: it must not run commands. Called for every
    /// `status` and action run, after [`Driver::validate`] found no problem.
    fn open(config: ResourceConfig, host: Host) -> Result<Self, Error>;

    /// Reports the resource's status.
    fn status(&self) -> Result<StatusReport, Error>;

    /// Runs an action the manifest lists. Under `--dry-run`
    /// ([`ActionRequest::dry_run`]) state-changing commands are skipped by
    /// [`Host::run`] and [`Host::state_put`] is dropped, so a driver usually runs
    /// its normal code path; return [`ActionOutcome::nothing_to_do`] when the
    /// resource is already as asked.
    fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error>;

    /// Answers a method doppel may add in a later protocol version. The default
    /// says "unsupported", which doppel treats as "use the old behaviour".
    fn call(&self, method: &str, request: serde_json::Value) -> Result<serde_json::Value, Error> {
        let _ = request;
        Err(Error::unsupported(method))
    }
}

/// The services doppel offers a driver. Implemented by doppel across the ABI, and by
/// test doubles in a driver's own unit tests (see [`Host::new`]). A driver calls
/// them through [`Host`], whose typed methods (`now`, `dry_run`, `progress`,
/// `features`) go through [`HostServices::call`].
///
/// ```
/// use std::sync::Arc;
/// use doppel_plugin_api::*;
///
/// /// A host whose commands all succeed silently, and that offers no named service.
/// struct Quiet;
/// impl HostServices for Quiet {
///     fn log(&self, _level: Level, _message: &str) {}
///     fn run_command(&self, _request: &CommandRequest) -> Result<CommandOutput, Error> {
///         Ok(CommandOutput::exited(0, "", ""))
///     }
///     fn state_get(&self, _key: &str) -> Option<String> { None }
///     fn state_put(&self, _key: &str, _value: &str) -> Result<(), Error> { Ok(()) }
///     fn cancelled(&self) -> bool { false }
///     fn call(&self, method: &str, _request: &serde_json::Value) -> Result<serde_json::Value, Error> {
///         Err(Error::unsupported(method))
///     }
/// }
/// let host = Host::new(Arc::new(Quiet));
/// assert!(host.run_checked(&CommandRequest::new(["/bin/true"])).is_ok());
/// assert_eq!(host.features(), HostFeatures::protocol1()); // "unsupported": an old host
/// ```
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
///
/// ```
/// use std::time::Duration;
/// use doppel_plugin_api::testing::FakeHost;
/// use doppel_plugin_api::{CommandOutput, CommandRequest, Level};
///
/// let fake = FakeHost::new(|_| Ok(CommandOutput::exited(0, "3 pending\n", "")));
/// let host = fake.host();
/// let out = host.run(&CommandRequest::new(["/opt/mirror/bin/mirror", "--pending"]).read_only())?;
/// host.info(&format!("mirror: {}", out.stdout.trim()));
/// host.progress("copying 3/10 files");
/// host.state_put("last_sync", &host.now().unwrap_or_default())?;
/// host.sleep(Duration::from_millis(1))?;
/// assert_eq!(fake.logs(), [(Level::Info, "mirror: 3 pending".to_owned())]);
/// assert_eq!(fake.progress_lines(), ["copying 3/10 files"]);
/// assert_eq!(host.state_get("last_sync").as_deref(), Some("2026-01-01T00:00:00Z"));
/// # Ok::<(), doppel_plugin_api::Error>(())
/// ```
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
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// use doppel_plugin_api::Level;
    /// let fake = FakeHost::new(|_| Ok(Default::default()));
    /// fake.host().log(Level::Debug, "pairs: 00B60:00B61");
    /// fake.host().warn("1/2 devices active");
    /// assert_eq!(fake.logs()[1], (Level::Warn, "1/2 devices active".to_owned()));
    /// ```
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
    ///
    /// Under `--dry-run` a command not marked [`read_only`](CommandRequest::read_only)
    /// is logged (`dry-run: <command>`) and not run: it answers
    /// [`CommandOutput::skipped`], whose [`success`](CommandOutput::success) is true.
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// use doppel_plugin_api::{CommandOutput, CommandRequest};
    /// let fake = FakeHost::dry_run(|_| Ok(CommandOutput::exited(0, "clean", "")));
    /// let host = fake.host();
    /// assert_eq!(host.run(&CommandRequest::new(["/sbin/fsck", "-n"]).read_only())?.stdout, "clean");
    /// assert!(host.run(&CommandRequest::new(["/sbin/mkfs", "/dev/sdb"]))?.dry_run);
    /// # Ok::<(), doppel_plugin_api::Error>(())
    /// ```
    pub fn run(&self, request: &CommandRequest) -> Result<CommandOutput, Error> {
        self.services.run_command(request)
    }

    /// Runs a command and fails unless it exits 0 (or was skipped by `--dry-run`).
    /// The error quotes the command's last stderr line.
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// use doppel_plugin_api::{CommandOutput, CommandRequest};
    /// let fake = FakeHost::new(|_| Ok(CommandOutput::exited(2, "", "symclone: no such device\n")));
    /// let err = fake.host().run_checked(&CommandRequest::new(["/usr/symcli/bin/symclone", "activate"])).unwrap_err();
    /// assert_eq!(err.message, "symclone exited with code 2: symclone: no such device");
    /// ```
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
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// let fake = FakeHost::new(|_| Ok(Default::default()));
    /// for done in [1, 2] {
    ///     fake.host().progress(&format!("clone: {done}/2 devices copied"));
    /// }
    /// assert_eq!(fake.progress_lines(), ["clone: 1/2 devices copied", "clone: 2/2 devices copied"]);
    /// ```
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

    /// Reads a value stored by [`Host::state_put`] in an earlier run (of any
    /// action) of this resource; `None` when never stored.
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// let fake = FakeHost::new(|_| Ok(Default::default()));
    /// fake.set_state("last_sync", "2026-12-03T15:08:51Z"); // as if stored earlier
    /// assert_eq!(fake.host().state_get("last_sync").as_deref(), Some("2026-12-03T15:08:51Z"));
    /// assert_eq!(fake.host().state_get("other"), None);
    /// ```
    pub fn state_get(&self, key: &str) -> Option<String> {
        self.services.state_get(key)
    }

    /// Stores a value (atomically, in the resource's state directory) for later
    /// runs.
    ///
    /// **Under `--dry-run` doppel drops it** and answers `Ok`, so a dry run leaves
    /// no trace: a later [`Host::state_get`], even in the same dry run, still
    /// reads the old value. Do not use the state store to pass data between
    /// steps of one action; keep that in local variables. ([`testing::FakeHost`]
    /// keeps what a dry run stores, so a unit test can assert a driver stores
    /// nothing when `request.dry_run` is set.)
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// let fake = FakeHost::new(|_| Ok(Default::default()));
    /// fake.host().state_put("last_sync", "2026-12-03T15:08:51Z")?;
    /// assert_eq!(fake.host().state_get("last_sync").as_deref(), Some("2026-12-03T15:08:51Z"));
    /// # Ok::<(), doppel_plugin_api::Error>(())
    /// ```
    pub fn state_put(&self, key: &str, value: &str) -> Result<(), Error> {
        self.services.state_put(key, value)
    }

    /// True once the operator asked to stop (Ctrl-C, SIGTERM) or the action ran
    /// past its time limit. doppel kills the running command itself; a driver
    /// checks this between steps and stops.
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// let fake = FakeHost::new(|_| Ok(Default::default()));
    /// assert!(!fake.host().cancelled());
    /// fake.cancel();
    /// assert!(fake.host().cancelled());
    /// ```
    pub fn cancelled(&self) -> bool {
        self.services.cancelled()
    }

    /// `Err(`[`Error::cancelled`]`)` once the operator asked to stop, for `?`
    /// between the steps of a long action.
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// use doppel_plugin_api::{Error, ErrorKind, Host};
    ///
    /// fn copy_all(host: &Host, files: &[&str]) -> Result<usize, Error> {
    ///     let mut done = 0;
    ///     for _file in files {
    ///         host.check_cancelled()?;
    ///         done += 1; // ... copy one file ...
    ///     }
    ///     Ok(done)
    /// }
    /// let fake = FakeHost::new(|_| Ok(Default::default()));
    /// assert_eq!(copy_all(&fake.host(), &["a", "b"])?, 2);
    /// fake.cancel();
    /// assert_eq!(copy_all(&fake.host(), &["a", "b"]).unwrap_err().kind, ErrorKind::Cancelled);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn check_cancelled(&self) -> Result<(), Error> {
        if self.cancelled() {
            Err(Error::cancelled())
        } else {
            Ok(())
        }
    }

    /// Sleeps up to `duration`, waking early with [`ErrorKind::Cancelled`] when the
    /// operator cancels. Use it in every wait loop.
    ///
    /// ```
    /// use std::time::Duration;
    /// use doppel_plugin_api::testing::FakeHost;
    /// let fake = FakeHost::new(|_| Ok(Default::default()));
    /// assert!(fake.host().sleep(Duration::from_millis(1)).is_ok());
    /// fake.cancel();
    /// assert!(fake.host().sleep(Duration::from_secs(3600)).is_err()); // returns at once
    /// ```
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

    /// A generic request to doppel (for services added after protocol 1). Prefer
    /// the typed methods; a service the host does not offer answers
    /// [`ErrorKind::Unsupported`] (check [`Host::features`] first).
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// use doppel_plugin_api::ErrorKind;
    /// let host = FakeHost::new(|_| Ok(Default::default())).host();
    /// assert_eq!(host.call("dry_run", &serde_json::Value::Null)?, serde_json::json!(false));
    /// assert_eq!(host.call("teleport", &serde_json::Value::Null).unwrap_err().kind, ErrorKind::Unsupported);
    /// # Ok::<(), doppel_plugin_api::Error>(())
    /// ```
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
