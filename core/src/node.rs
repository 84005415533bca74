//! The node configuration, `etc/doppel/doppel.toml`.
//!
//! ```toml
//! nodename = "node1"                 # default: the host name
//! driver_dirs = ["/opt/vendor/doppel/drivers"]
//! log_level = "info"                 # error, warn, info, debug, trace
//! lock_timeout = "60s"               # default --waitlock
//! max_parallel_commands = 64         # tool commands running at once (default 64)
//!
//! [driver.symclone]                  # one table per driver basename
//! bin = "/usr/symcli/bin"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A problem with the node configuration, with file and line.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.render())]
pub struct NodeConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when the file could not be read).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl NodeConfigError {
    fn render(&self) -> String {
        match self.line {
            0 => format!("{}: {}", self.file.display(), self.message),
            n => format!("{}:{n}: {}", self.file.display(), self.message),
        }
    }
}

/// The parsed node configuration. Every field is optional in the file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's name (default: the host name).
    #[serde(default)]
    pub nodename: Option<String>,
    /// Extra directories searched for drivers, after `$DOPPEL_DRIVER_PATH`.
    /// Relative paths are relative to the directory of this file.
    #[serde(default)]
    pub driver_dirs: Vec<PathBuf>,
    /// Console and log file level.
    #[serde(default)]
    pub log_level: Option<LogLevel>,
    /// How long an action waits for a service lock by default (`--waitlock`).
    #[serde(default)]
    pub lock_timeout: Option<String>,
    /// Per-driver tables, keyed by driver basename: tool locations and options.
    #[serde(default)]
    pub driver: BTreeMap<String, toml::Table>,
    /// The file providing a driver type several files claim, by type
    /// (`"sync.symclone" = "/usr/lib/doppel/drivers/libdoppel_driver_symclone.so"`).
    /// Without a pin, doppel refuses every file of a type claimed twice. Relative
    /// paths are relative to the directory of this file.
    #[serde(default)]
    pub driver_files: BTreeMap<String, PathBuf>,
    /// How resources with `ssh = <destination>` reach their host.
    #[serde(default)]
    pub ssh: SshConfig,
    /// The most tool commands (drivers' and triggers') one doppel process runs
    /// at once; more wait for a place. Default [`DEFAULT_MAX_PARALLEL_COMMANDS`].
    #[serde(default, deserialize_with = "at_least_one")]
    pub max_parallel_commands: Option<usize>,
}

/// `max_parallel_commands` when the node config does not set it.
pub const DEFAULT_MAX_PARALLEL_COMMANDS: usize = 64;

fn at_least_one<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(serde::de::Error::custom(
            "max_parallel_commands must be at least 1",
        )),
        n => Ok(Some(n)),
    }
}

/// The `[ssh]` table: options of every `ssh` doppel runs for remote resources.
/// `BatchMode=yes` and `StrictHostKeyChecking=yes` always come first.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshConfig {
    /// Extra `-o` settings (`"Port=2222"`, `"User=root"`).
    #[serde(default)]
    pub options: Vec<String>,
    /// The private key (`-i`).
    #[serde(default)]
    pub identity: Option<PathBuf>,
    /// The known_hosts file (`UserKnownHostsFile`).
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    /// `ConnectTimeout`, a duration (`"10s"`).
    #[serde(default)]
    pub connect_timeout: Option<String>,
}

/// Log levels accepted in the node config.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl NodeConfig {
    /// Reads `path`; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<NodeConfig, NodeConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(NodeConfig::default()),
            Err(e) => {
                return Err(NodeConfigError {
                    file: path.to_owned(),
                    line: 0,
                    message: e.to_string(),
                });
            }
        };
        // It names the tool directories doppel runs as root and the directories
        // drivers are loaded from: root's to write only.
        let refuse = |e: Box<crate::trust::Untrusted>| NodeConfigError {
            file: path.to_owned(),
            line: 0,
            message: e.to_string(),
        };
        crate::trust::check(path, "node config").map_err(refuse)?;
        let mut config = NodeConfig::parse(path, &text)?;
        for (driver, table) in &config.driver {
            if let Some(bin) = table.get("bin").and_then(|v| v.as_str()) {
                crate::trust::check(Path::new(bin), &format!("[driver.{driver}] bin directory"))
                    .map_err(refuse)?;
            }
            // A key naming one tool by its full path (`lspv = "/usr/sbin/lspv"`):
            // the program and the directory it sits in.
            for (key, value) in table {
                let Some(path) = value.as_str().map(Path::new) else {
                    continue;
                };
                if key == "bin" || !path.is_absolute() || !path.is_file() {
                    continue;
                }
                crate::trust::check(path, &format!("[driver.{driver}] {key} program"))
                    .map_err(refuse)?;
                if let Some(dir) = path.parent() {
                    crate::trust::check(dir, &format!("[driver.{driver}] {key} directory"))
                        .map_err(refuse)?;
                }
            }
        }
        // The known hosts decide which machine root's commands go to.
        if let Some(k) = &config.ssh.known_hosts {
            crate::trust::check(k, "[ssh] known_hosts").map_err(refuse)?;
        }
        let base = path.parent().unwrap_or(Path::new("/"));
        for dir in config
            .driver_dirs
            .iter_mut()
            .chain(config.driver_files.values_mut())
        {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
        Ok(config)
    }

    /// Parses the text of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<NodeConfig, NodeConfigError> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0);
            NodeConfigError {
                file: path.to_owned(),
                line,
                message: e.message().trim().to_owned(),
            }
        })
    }

    /// The most tool commands running at once (`max_parallel_commands`).
    pub fn max_parallel_commands(&self) -> usize {
        self.max_parallel_commands
            .unwrap_or(DEFAULT_MAX_PARALLEL_COMMANDS)
    }

    /// The node name: configured, else the host name.
    pub fn nodename(&self) -> String {
        self.nodename.clone().unwrap_or_else(hostname)
    }

    /// The table of driver `name` as JSON values (for the driver's `ResourceConfig`).
    pub fn driver_options(&self, name: &str) -> BTreeMap<String, serde_json::Value> {
        self.driver
            .get(name)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The 1-based line of `key` in the table `[driver.<driver>]` of the node config
/// `text` (a sub-table `[driver.<driver>.<key>]` counts as the key), for messages
/// that point at it; `None` when it cannot be found (e.g. an inline table).
///
/// ```
/// let text = "nodename = \"n1\"\n\n[driver.symclone]\nbinn = \"/x\"\n\n[driver.replica.env]\nA = \"1\"\n";
/// assert_eq!(doppel_core::node::driver_key_line(text, "symclone", "binn"), Some(4));
/// assert_eq!(doppel_core::node::driver_key_line(text, "replica", "env"), Some(6));
/// assert_eq!(doppel_core::node::driver_key_line(text, "drd", "bin"), None);
/// ```
pub fn driver_key_line(text: &str, driver: &str, key: &str) -> Option<usize> {
    let unquote = |s: &str| s.trim().trim_matches('"').trim_matches('\'').to_owned();
    let mut in_table = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(header) = t.strip_prefix('[').and_then(|h| h.split(']').next()) {
            let parts: Vec<String> = header
                .trim_start_matches('[')
                .split('.')
                .map(unquote)
                .collect();
            in_table = parts.len() == 2 && parts[0] == "driver" && parts[1] == driver;
            if parts.len() >= 3 && parts[0] == "driver" && parts[1] == driver && parts[2] == key {
                return Some(i + 1);
            }
            continue;
        }
        if in_table {
            if let Some((k, _)) = t.split_once('=') {
                if unquote(k.split('.').next().unwrap_or(k)) == key {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

/// The host name, from uname(2).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_file_and_line() {
        let text = "nodename = \"n1\"\n\nlog_levle = \"info\"\n";
        let err = NodeConfig::parse(Path::new("/etc/doppel/doppel.toml"), text).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(
            err.to_string()
                .starts_with("/etc/doppel/doppel.toml:3: unknown field `log_levle`"),
            "{err}"
        );
    }

    #[test]
    fn driver_tables_are_free_form() {
        let text = "[driver.symclone]\nbin = \"/sim/bin\"\n";
        let config = NodeConfig::parse(Path::new("x.toml"), text).unwrap();
        assert_eq!(config.driver_options("symclone")["bin"], "/sim/bin");
        assert!(config.driver_options("drd").is_empty());
    }
}
