//! Test support for drivers: a [`FakeHost`] that records what a driver asks of
//! doppel and answers commands from a closure, so a driver's unit tests run
//! without loading anything or running a vendor tool.
//!
//! ```
//! use doppel_plugin_api::testing::FakeHost;
//! use doppel_plugin_api::{CommandOutput, CommandRequest};
//!
//! // Every `symdev` query answers with canned XML; anything else succeeds silently.
//! let fake = FakeHost::new(|request: &CommandRequest| {
//!     if request.argv[0].ends_with("/symdev") {
//!         Ok(CommandOutput::exited(0, "<SymCLI_ML/>", ""))
//!     } else {
//!         Ok(CommandOutput::exited(0, "", ""))
//!     }
//! });
//! let host = fake.host();
//! host.run(&CommandRequest::new(["/usr/symcli/bin/symdev", "list"]).read_only()).unwrap();
//! host.state_put("last", "yesterday").unwrap();
//! assert_eq!(fake.command_lines(), ["/usr/symcli/bin/symdev list"]);
//! assert_eq!(host.state_get("last").as_deref(), Some("yesterday"));
//! ```
//!
//! With [`FakeHost::dry_run`], state-changing commands are recorded but not passed
//! to the closure, and come back as skipped, as doppel does under `--dry-run`.
//! Unlike doppel, which drops [`Host::state_put`] under `--dry-run`, the fake keeps
//! what was stored, so a test can check that a driver stores nothing in a dry run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::{CommandOutput, CommandRequest, Error, Host, HostServices, Level};

type Responder = dyn Fn(&CommandRequest) -> Result<CommandOutput, Error> + Send + Sync;

/// A [`HostServices`] for unit tests. See the [module docs](self).
pub struct FakeHost {
    responder: Box<Responder>,
    dry_run: bool,
    commands: Mutex<Vec<CommandRequest>>,
    logs: Mutex<Vec<(Level, String)>>,
    progress: Mutex<Vec<String>>,
    state: Mutex<BTreeMap<String, String>>,
    cancelled: AtomicBool,
    now: Mutex<String>,
    features: Mutex<crate::HostFeatures>,
}

impl FakeHost {
    /// A fake host answering every command with `responder`.
    pub fn new(
        responder: impl Fn(&CommandRequest) -> Result<CommandOutput, Error> + Send + Sync + 'static,
    ) -> Arc<FakeHost> {
        Arc::new(FakeHost::build(Box::new(responder), false))
    }

    /// The same under `--dry-run`: state-changing commands are recorded and
    /// skipped; read-only ones still reach `responder`.
    pub fn dry_run(
        responder: impl Fn(&CommandRequest) -> Result<CommandOutput, Error> + Send + Sync + 'static,
    ) -> Arc<FakeHost> {
        Arc::new(FakeHost::build(Box::new(responder), true))
    }

    fn build(responder: Box<Responder>, dry_run: bool) -> FakeHost {
        FakeHost {
            responder,
            dry_run,
            commands: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
            progress: Mutex::new(Vec::new()),
            state: Mutex::new(BTreeMap::new()),
            cancelled: AtomicBool::new(false),
            now: Mutex::new("2026-01-01T00:00:00Z".to_owned()),
            features: Mutex::new(crate::HostFeatures::current()),
        }
    }

    /// The [`Host`] to give the driver's `open`.
    pub fn host(self: &Arc<Self>) -> Host {
        Host::new(self.clone())
    }

    /// Every command the driver ran, in order (dry-run ones included).
    pub fn commands(&self) -> Vec<CommandRequest> {
        self.commands.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Every command line, as doppel would log it.
    pub fn command_lines(&self) -> Vec<String> {
        self.commands()
            .iter()
            .map(CommandRequest::display)
            .collect()
    }

    /// Every log line, with its level (tracing events are not captured here).
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Every progress line ([`Host::progress`]).
    pub fn progress_lines(&self) -> Vec<String> {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Sets a stored value, as if an earlier run had stored it.
    pub fn set_state(&self, key: &str, value: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.insert(key.to_owned(), value.to_owned());
        }
    }

    /// Sets what [`Host::now`] answers (default `2026-01-01T00:00:00Z`).
    pub fn set_now(&self, rfc3339: &str) {
        if let Ok(mut n) = self.now.lock() {
            *n = rfc3339.to_owned();
        }
    }

    /// Plays a host offering only `features` (default: this crate's own,
    /// [`HostFeatures::current`](crate::HostFeatures::current)): `call("features")`
    /// answers it, and every named service it does not list answers
    /// "unsupported", as an older doppel does. Use it to test a driver's
    /// fallbacks.
    ///
    /// ```
    /// use doppel_plugin_api::HostFeatures;
    /// use doppel_plugin_api::testing::FakeHost;
    /// let fake = FakeHost::new(|_| Ok(Default::default()));
    /// // A protocol-1 host built before `features`, `now` and `dry_run` existed.
    /// fake.set_features(HostFeatures::protocol1());
    /// let host = fake.host();
    /// assert_eq!(host.features(), HostFeatures::protocol1());
    /// assert_eq!(host.now(), None);
    /// ```
    pub fn set_features(&self, features: crate::HostFeatures) {
        if let Ok(mut f) = self.features.lock() {
            *f = features;
        }
    }

    /// Makes [`Host::cancelled`] true, as Ctrl-C would.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

impl HostServices for FakeHost {
    fn log(&self, level: Level, message: &str) {
        if let Ok(mut l) = self.logs.lock() {
            l.push((level, message.to_owned()));
        }
    }

    fn run_command(&self, request: &CommandRequest) -> Result<CommandOutput, Error> {
        if let Ok(mut c) = self.commands.lock() {
            c.push(request.clone());
        }
        if self.dry_run && !request.read_only {
            return Ok(CommandOutput::skipped());
        }
        (self.responder)(request)
    }

    fn state_get(&self, key: &str) -> Option<String> {
        self.state.lock().ok()?.get(key).cloned()
    }

    fn state_put(&self, key: &str, value: &str) -> Result<(), Error> {
        self.set_state(key, value);
        Ok(())
    }

    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    fn call(&self, method: &str, request: &serde_json::Value) -> Result<serde_json::Value, Error> {
        let features = self
            .features
            .lock()
            .map(|f| f.clone())
            .unwrap_or_else(|_| crate::HostFeatures::current());
        if !features.has(method) {
            return Err(Error::unsupported(method));
        }
        match method {
            "progress" => {
                if let Ok(mut p) = self.progress.lock() {
                    p.push(request["text"].as_str().unwrap_or_default().to_owned());
                }
                Ok(serde_json::Value::Null)
            }
            "dry_run" => Ok(serde_json::Value::Bool(self.dry_run)),
            "now" => Ok(serde_json::Value::String(
                self.now.lock().map(|n| n.clone()).unwrap_or_default(),
            )),
            "features" => Ok(serde_json::to_value(features).unwrap_or(serde_json::Value::Null)),
            other => Err(Error::unsupported(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_skips_state_changing_commands_only() {
        let fake = FakeHost::dry_run(|_| Ok(CommandOutput::exited(0, "answer", "")));
        let host = fake.host();
        let query = host.run(&CommandRequest::new(["q"]).read_only()).unwrap();
        let change = host.run(&CommandRequest::new(["c", "x y"])).unwrap();
        assert_eq!(query.stdout, "answer");
        assert!(change.dry_run && change.success());
        assert_eq!(fake.command_lines(), ["q", "c 'x y'"]);
    }

    #[test]
    fn a_fake_older_host_answers_only_what_it_lists() {
        let fake = FakeHost::new(|_| Ok(CommandOutput::default()));
        fake.set_features(
            crate::HostFeatures::new(1, 1)
                .feature("features")
                .feature("progress"),
        );
        let host = fake.host();
        assert_eq!(host.features().features, ["features", "progress"]);
        assert_eq!(host.now(), None);
        assert!(!host.dry_run());
        host.progress("3/10");
        assert_eq!(fake.progress_lines(), ["3/10"]);
    }

    #[test]
    fn cancel_ends_waits() {
        let fake = FakeHost::new(|_| Ok(CommandOutput::default()));
        fake.cancel();
        let err = fake
            .host()
            .sleep(std::time::Duration::from_secs(60))
            .unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Cancelled);
    }
}
