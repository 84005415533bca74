//! The drd command lines (clone, sync, activate, status) and how they are run
//! and judged.

use std::path::PathBuf;

use doppel_plugin_api::{CommandRequest, Error, Level};

use crate::output::{Verdict, combined, messages, verdict};
use crate::status::DrdStatus;
use crate::{DEFAULT_BIN, DEFAULT_SYSROOT, Drd, QUERY_TIMEOUT, SYNC_DIR};

/// How a drd command is run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Run {
    /// Changes the system: logged at INFO, skipped by `--dry-run`.
    Change,
    /// A `-p` preview: runs under `--dry-run`; its output goes to the debug log.
    Preview,
    /// `drd status`: runs under `--dry-run`, with a time limit, quietly.
    Query,
}

impl Drd {
    pub(crate) fn tool(&self) -> String {
        self.config.tool_path("bin", DEFAULT_BIN, "drd")
    }

    /// Where DRD's `/var/opt/drd` lives: `<sysroot>/var/opt/drd`.
    pub(crate) fn sysroot(&self) -> PathBuf {
        PathBuf::from(
            self.config
                .option("sysroot")
                .filter(|r| !r.trim().is_empty())
                .unwrap_or(DEFAULT_SYSROOT),
        )
    }

    pub(crate) fn sync_list(&self, name: &str) -> PathBuf {
        self.sysroot()
            .join(SYNC_DIR.trim_start_matches('/'))
            .join(name)
    }

    /// Reads a sync list: its non-empty lines.
    pub(crate) fn read_list(&self, name: &str) -> Result<Vec<String>, String> {
        let path = self.sync_list(name);
        // Through the host: the list is on the DRD host, which is another one
        // when the resource sets `ssh`.
        match self.host.read_file(&path) {
            Ok(Some(t)) => Ok(t
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()),
            Ok(None) => Err(format!(
                "cannot read {}: No such file or directory",
                path.display()
            )),
            Err(e) => Err(e.message),
        }
    }

    pub(crate) fn verbosity_args(&self) -> Vec<String> {
        if self
            .config
            .get("verbosity")
            .is_some_and(|v| !v.trim().is_empty())
        {
            vec![
                "-x".into(),
                format!("verbosity={}", self.config.get_int("verbosity", 3)),
            ]
        } else {
            Vec::new()
        }
    }

    pub(crate) fn clone_args(&self, target: &str, overwrite: bool, preview: bool) -> Vec<String> {
        let mut args: Vec<String> = vec!["clone".into()];
        if preview {
            args.push("-p".into());
        }
        args.extend(["-t".into(), target.to_owned()]);
        if overwrite {
            args.extend(["-x".into(), "overwrite=true".into()]);
        }
        if let Some(m) = self
            .config
            .get("mirror_disk")
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            args.extend(["-x".into(), format!("mirror_disk={m}")]);
        }
        args.extend(self.verbosity_args());
        args
    }

    pub(crate) fn sync_args(&self, preview: bool) -> Vec<String> {
        let mut args: Vec<String> = vec!["sync".into()];
        if preview {
            args.push("-p".into());
        }
        if let Some(f) = self
            .config
            .get("exclude_list")
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            args.extend(["-x".into(), format!("exclude_list={f}")]);
        }
        args.extend(self.verbosity_args());
        args
    }

    pub(crate) fn simple_args(&self, mode: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![mode.into()];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.extend(self.verbosity_args());
        args
    }

    /// Runs `drd <args>` and judges it by its END banner. `Ok(None)` when skipped
    /// by `--dry-run`; `Ok(Some(output))` when drd reported success.
    pub(crate) fn drd(&self, args: Vec<String>, how: Run) -> Result<Option<String>, Error> {
        let mode = args.first().cloned().unwrap_or_default();
        let mut argv = vec![self.tool()];
        argv.extend(args);
        let mut request = CommandRequest::new(argv);
        match how {
            Run::Change => {
                // drd runs for minutes to hours and writes its phases on stderr:
                // doppel logs each line at INFO as it comes (not as "command
                // succesful but stderr" once it ends).
                request = request.streamed();
            }
            Run::Preview => request = request.read_only(),
            Run::Query => request = request.read_only().timeout(QUERY_TIMEOUT),
        }
        let out = self.host.run(&request)?;
        if out.dry_run {
            return Ok(None);
        }
        let text = combined(&out);
        // A preview's or a query's output is quiet (doppel logs it at debug level
        // only): relay it; a change's was streamed already.
        if how != Run::Change && !text.trim().is_empty() {
            let level = if how == Run::Change {
                Level::Info
            } else {
                Level::Debug
            };
            self.host.log(level, text.trim_end());
        }
        let what = if how == Run::Preview {
            format!("drd {mode} -p")
        } else {
            format!("drd {mode}")
        };
        // A preview's or a query's warnings are the caller's to summarise.
        let warn_level = if how == Run::Change {
            Level::Warn
        } else {
            Level::Debug
        };
        if out.timed_out {
            return Err(Error::failed(format!("{what} timed out")));
        }
        let code = match out.exit_code {
            Some(c) => format!("exit code {c}"),
            None => "killed".to_owned(),
        };
        let errors = messages(&text, "ERROR:");
        match verdict(&text) {
            Verdict::Succeeded => {
                for w in messages(&text, "WARNING:") {
                    self.host.log(warn_level, &format!("{what}: {w}"));
                }
                match out.exit_code {
                    Some(0) => {}
                    Some(2) => self.host.log(warn_level, &format!("{what} succeeded with warnings (exit code 2)")),
                    _ => self.host.log(warn_level, &format!(
                        "{what} reported success in its END banner but ended with {code}: drd's exit codes are unreliable, the banner is trusted"
                    )),
                }
                Ok(Some(text))
            }
            Verdict::Failed => {
                let why = if errors.is_empty() {
                    "see /var/opt/drd/drd.log".to_owned()
                } else {
                    errors.join("; ")
                };
                let code_note = if out.exit_code == Some(0) {
                    " (its END banner says failed, although it exited 0)"
                } else {
                    ""
                };
                Err(Error::failed(format!("{what} failed{code_note}: {why}")))
            }
            Verdict::Missing => {
                let detail = if errors.is_empty() {
                    text.lines()
                        .rev()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .map(|l| format!("; last line: {l}"))
                        .unwrap_or_default()
                } else {
                    format!(": {}", errors.join("; "))
                };
                Err(Error::failed(format!(
                    "{what} printed no END banner ({code}): its outcome is unknown, see /var/opt/drd/drd.log{detail}"
                )))
            }
        }
    }

    /// `drd status`, parsed.
    pub(crate) fn query(&self) -> Result<DrdStatus, Error> {
        let text = self
            .drd(vec!["status".into()], Run::Query)?
            .unwrap_or_default();
        Ok(DrdStatus::parse(&text))
    }

    pub(crate) fn target(&self) -> Option<String> {
        self.config
            .get("target")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    }
}
