//! Support for doppel's end-to-end tests: a temporary root, the built binaries,
//! snapshot filters, and fixture drivers built on demand.
//!
//! The tests run the real `doppel` binary and the driver libraries built next to it,
//! so build the workspace first: the README's test command does
//! (`cargo build --workspace && cargo test --workspace`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/`, where cargo put doppel, the drivers and the simulators.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/it-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned()
}

/// The built `doppel` binary, checked (once per run) to be newer than the sources
/// it is built from: `cargo test -p doppel-e2e` alone does not rebuild it, and a
/// stale binary would test yesterday's code.
pub fn doppel_bin() -> PathBuf {
    let bin = target_dir().join("doppel");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace` before `cargo test` (the README's test command does)",
        bin.display()
    );
    static FRESH: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let fresh = FRESH.get_or_init(|| {
        let built = std::fs::metadata(&bin).and_then(|m| m.modified()).map_err(|e| e.to_string())?;
        let root = workspace_root();
        for dir in ["host/src", "core/src", "plugin-api/src"] {
            if let Some((path, _)) = newest(&root.join(dir)).filter(|(_, t)| *t > built) {
                return Err(format!(
                    "{} is older than {}: run `cargo build --workspace` first (./scripts/test does)",
                    bin.display(),
                    path.display()
                ));
            }
        }
        Ok(())
    });
    if let Err(e) = fresh {
        panic!("{e}");
    }
    bin
}

/// The most recently modified file under `dir`.
fn newest(dir: &Path) -> Option<(PathBuf, std::time::SystemTime)> {
    let mut best: Option<(PathBuf, std::time::SystemTime)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let candidate = if path.is_dir() {
            newest(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .map(|t| (path, t))
        };
        if let Some(c) = candidate.filter(|c| best.as_ref().is_none_or(|b| c.1 > b.1)) {
            best = Some(c);
        }
    }
    best
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_owned()
}

/// A temporary root (`--root`) with its own config, state and logs.
pub struct TestContext {
    pub root: tempfile::TempDir,
    pub envs: Vec<(String, String)>,
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl TestContext {
    pub fn new() -> TestContext {
        let root = tempfile::Builder::new()
            .prefix("doppel-it-")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(root.path().join("etc/doppel/services")).expect("mkdir");
        TestContext {
            root,
            envs: Vec::new(),
        }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Writes a file under the root (parents created).
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path
    }

    /// Writes `etc/doppel/services/<name>.conf`.
    pub fn service(&self, name: &str, text: &str) -> PathBuf {
        self.write(&format!("etc/doppel/services/{name}.conf"), text)
    }

    /// Sets an environment variable for every command.
    pub fn env(&mut self, key: &str, value: impl Into<String>) {
        self.envs.push((key.to_owned(), value.into()));
    }

    /// `doppel --root <root> <args>`, with a clean environment.
    pub fn doppel<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(doppel_bin());
        clean_env(&mut cmd);
        cmd.env("NO_COLOR", "1");
        cmd.arg("--root").arg(self.root());
        cmd.args(args);
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    /// Snapshot filters: the root, the target dir, the version, times.
    pub fn filters(&self) -> Vec<(String, String)> {
        let mut f = vec![
            (
                regex::escape(&self.root().display().to_string()),
                "[ROOT]".to_owned(),
            ),
            (
                regex::escape(&target_dir().display().to_string()),
                "[TARGET]".to_owned(),
            ),
            (
                regex::escape(&workspace_root().display().to_string()),
                "[WORKSPACE]".to_owned(),
            ),
            (
                r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?".to_owned(),
                "[TIME]".to_owned(),
            ),
            (r"\b\d+(\.\d+)?(ms|s)\b".to_owned(), "[DURATION]".to_owned()),
            (r"pid \d+".to_owned(), "pid [PID]".to_owned()),
        ];
        if let Ok(cwd) = std::env::current_dir() {
            f.push((
                regex::escape(&cwd.display().to_string()),
                "[CWD]".to_owned(),
            ));
        }
        f
    }
}

/// Clears `cmd`'s environment but for PATH, HOME, LANG and TZ: what doppel and
/// the simulators see in every test, whatever the developer's shell exports.
fn clean_env(cmd: &mut Command) {
    cmd.env_clear();
    for key in ["PATH", "HOME", "LANG", "TZ"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
}

impl TestContext {
    /// Runs a tool built next to doppel (a simulator: `symsim`, `drdsim`,
    /// `nimsim`, `aixsim`, `mtsim`, or one of the tools they stand in for) in the
    /// root, with the clean environment and this context's variables:
    /// (exit code, stdout, stderr).
    pub fn tool(&self, name: &str, args: &[&str]) -> (i32, String, String) {
        let mut cmd = Command::new(target_dir().join(name));
        self.tool_env(&mut cmd);
        cmd.current_dir(self.root()).args(args);
        run(&mut cmd)
    }

    /// Gives `cmd` the environment of [`TestContext::tool`]: the clean one and
    /// this context's variables.
    pub fn tool_env(&self, cmd: &mut Command) {
        clean_env(cmd);
        cmd.envs(self.envs.iter().map(|(k, v)| (k, v)));
    }

    /// [`TestContext::tool`], asserting it exits 0; its stdout.
    #[track_caller]
    pub fn tool_ok(&self, name: &str, args: &[&str]) -> String {
        let (code, stdout, stderr) = self.tool(name, args);
        assert_eq!(
            code, 0,
            "{name} {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stdout
    }

    /// Resource `rid` of `svc` as `print status --refresh --format json` shows
    /// it (its JSON object).
    #[track_caller]
    pub fn refreshed_resource(&self, svc: &str, rid: &str) -> serde_json::Value {
        let (code, stdout, stderr) = run(&mut self.doppel([
            "-s",
            svc,
            "print",
            "status",
            "--refresh",
            "--format",
            "json",
        ]));
        assert_eq!(code, 0, "{stderr}");
        let doc: serde_json::Value = serde_json::from_str(&stdout).expect("status JSON");
        doc[0]["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .find(|r| r["rid"] == rid)
            .unwrap_or_else(|| panic!("no {rid} in {stdout}"))
            .clone()
    }

    /// [`TestContext::refreshed_resource`]'s status word and its messages as
    /// `<level>: <text>`.
    #[track_caller]
    pub fn refreshed_status(&self, svc: &str, rid: &str) -> (String, Vec<String>) {
        let r = self.refreshed_resource(svc, rid);
        let status = r["status"].as_str().unwrap_or_default().to_owned();
        (status, status_messages(&r))
    }

    /// Runs `doppel <args>` and asserts its exit code is `want` (showing both
    /// streams when it is not); returns stderr, where the action log goes.
    #[track_caller]
    pub fn expect(&self, args: &[&str], want: i32) -> String {
        let (code, stdout, stderr) = run(&mut self.doppel(args));
        assert_eq!(
            code, want,
            "doppel {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stderr
    }

    /// [`TestContext::expect`] exit 0.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.expect(args, 0)
    }
}

/// The messages of a resource's status (JSON) as `<level>: <text>`.
pub fn status_messages(resource: &serde_json::Value) -> Vec<String> {
    resource["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|m| {
            format!(
                "{}: {}",
                m["level"].as_str().unwrap_or_default(),
                m["text"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// `line` is one of the lines of `log`, whole.
pub fn has_line(log: &str, line: &str) -> bool {
    log.lines().any(|l| l == line)
}

/// Asserts that `line` is a whole line of `log`.
#[track_caller]
pub fn assert_line(log: &str, line: &str) {
    assert!(has_line(log, line), "missing line {line:?} in:\n{log}");
}

/// Asserts that `lines` appear in `log` as whole lines, in this order.
#[track_caller]
pub fn assert_lines_in_order(log: &str, lines: &[&str]) {
    let all: Vec<&str> = log.lines().collect();
    let mut pos = 0;
    for want in lines {
        match all[pos..].iter().position(|l| l == want) {
            Some(i) => pos += i + 1,
            None => panic!("line {want:?} missing or out of order in:\n{log}"),
        }
    }
}

/// Runs `cmd` and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run command");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Snapshot a command's whole output with the context's filters.
#[macro_export]
macro_rules! doppel_snapshot {
    ($ctx:expr, $cmd:expr) => {{
        let filters = $ctx.filters();
        let filters: Vec<(&str, &str)> = filters.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        insta::with_settings!({filters => filters, prepend_module_to_snapshot => false}, {
            insta_cmd::assert_cmd_snapshot!($cmd);
        });
    }};
    ($ctx:expr, $name:expr, $cmd:expr) => {{
        let filters = $ctx.filters();
        let filters: Vec<(&str, &str)> = filters.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        insta::with_settings!({filters => filters, prepend_module_to_snapshot => false}, {
            insta_cmd::assert_cmd_snapshot!($name, $cmd);
        });
    }};
}

pub mod fixtures;
