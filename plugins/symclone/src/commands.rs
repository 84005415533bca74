//! The SYMCLI command lines (symclone create, activate, recreate, restore,
//! query), the device file they read, and the patient status query.

use std::path::{Path, PathBuf};
use std::time::Duration;

use doppel_plugin_api::{CommandRequest, Error};

use crate::cloneset::CloneSet;
use crate::pairs::{Pair, pairs_file_content, parse_pairs};
use crate::xml::{Node, parse_xml};
use crate::{DEFAULT_BIN, LOCK_ATTEMPTS, QUERY_TIMEOUT, Symclone};

/// A failed status query.
#[derive(Debug)]
pub(crate) struct QueryError {
    pub(crate) message: String,
    /// Lock contention (exit 2): worth retrying.
    pub(crate) transient: bool,
}

impl QueryError {
    pub(crate) fn fatal(message: String) -> QueryError {
        QueryError {
            message,
            transient: false,
        }
    }
}

impl Symclone {
    pub(crate) fn tool(&self, name: &str) -> String {
        self.config.tool_path("bin", DEFAULT_BIN, name)
    }

    pub(crate) fn symid(&self) -> Result<String, Error> {
        Ok(self.config.require("symid")?.trim().to_owned())
    }

    pub(crate) fn pairs(&self) -> Result<Vec<Pair>, Error> {
        let items = self.config.get_list("pairs");
        if items.is_empty() {
            return Err(Error::invalid(format!(
                "{}: keyword 'pairs' is required",
                self.config.rid
            )));
        }
        parse_pairs(&items)
            .map_err(|errors| Error::invalid(format!("{}: {}", self.config.rid, errors.join("; "))))
    }

    pub(crate) fn recreate_timeout(&self) -> Duration {
        self.config
            .get_duration("recreate_timeout", Duration::from_secs(300))
    }

    pub(crate) fn restore_timeout(&self) -> Duration {
        self.config
            .get_duration("restore_timeout", Duration::from_secs(300))
    }

    pub(crate) fn pairs_file(&self) -> PathBuf {
        self.config.state_dir.join("pairs")
    }

    /// Rewrites the pairs file (atomically) and returns its path.
    pub(crate) fn write_pairs(&self, pairs: &[Pair]) -> Result<PathBuf, Error> {
        let path = self.pairs_file();
        let content = pairs_file_content(pairs);
        if self.host.dry_run() {
            // A dry run still shows the commands that would read it: a local
            // copy, since the host drops file writes under --dry-run.
            doppel_plugin_api::files::write_local(&path, content.as_bytes(), true)
                .map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))?;
        } else {
            // Through the host: SYMCLI reads it on the resource's host (`ssh`).
            self.host.write_file(&path, &content)?;
        }
        tracing::debug!("wrote content '{}' in file '{}'", content, path.display());
        Ok(path)
    }

    /// `<bin>/symclone -sid <symid> -f <file> <args...>`.
    pub(crate) fn symclone_argv(&self, file: &Path, args: &[&str]) -> Result<Vec<String>, Error> {
        let mut argv = vec![
            self.tool("symclone"),
            "-sid".into(),
            self.symid()?,
            "-f".into(),
            file.display().to_string(),
        ];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        Ok(argv)
    }

    pub(crate) fn activate_argv(&self, file: &Path) -> Result<Vec<String>, Error> {
        let mut args = vec!["-noprompt", "activate", "-i", "20", "-c", "30"];
        if self.config.get_bool("consistent", true) {
            args.push("-consistent");
        }
        self.symclone_argv(file, &args)
    }

    pub(crate) fn recreate_argv(&self, file: &Path) -> Result<Vec<String>, Error> {
        let mut args = vec!["-noprompt", "recreate", "-i", "20", "-c", "30"];
        if self.config.get_bool("precopy", true) {
            args.push("-precopy");
        }
        self.symclone_argv(file, &args)
    }

    /// `<bin>/symdev -sid <symid> list -v -devs <dst,...> -output xml_e`.
    pub(crate) fn query_argv(&self, pairs: &[Pair]) -> Result<Vec<String>, Error> {
        let devs = pairs
            .iter()
            .map(|p| p.dst.as_str())
            .collect::<Vec<_>>()
            .join(",");
        Ok(vec![
            self.tool("symdev"),
            "-sid".into(),
            self.symid()?,
            "list".into(),
            "-v".into(),
            "-devs".into(),
            devs,
            "-output".into(),
            "xml_e".into(),
        ])
    }

    /// Reads the clone state of the pairs' targets.
    pub(crate) fn query(&self, pairs: &[Pair]) -> Result<CloneSet, QueryError> {
        Ok(CloneSet::from_xml(&self.query_doc(pairs)?, pairs))
    }

    /// The symdev XML of the pairs' targets.
    pub(crate) fn query_doc(&self, pairs: &[Pair]) -> Result<Node, QueryError> {
        let argv = self
            .query_argv(pairs)
            .map_err(|e| QueryError::fatal(e.message))?;
        let program = argv[0].clone();
        let request = CommandRequest::new(argv).read_only().timeout(QUERY_TIMEOUT);
        let out = self
            .host
            .run(&request)
            .map_err(|e| QueryError::fatal(format!("cannot run {program}: {e}")))?;
        if out.timed_out {
            return Err(QueryError::fatal(format!("{program} timed out")));
        }
        match out.exit_code {
            Some(127) => {
                let detail = out.last_line();
                return Err(QueryError::fatal(if detail.is_empty() {
                    format!("{program} not found (exit code 127)")
                } else {
                    format!("{program} not found (exit code 127): {detail}")
                }));
            }
            Some(0) => {}
            Some(code) => {
                return Err(QueryError {
                    message: format!("{program} exited with code {code}: {}", out.last_line()),
                    transient: code == 2,
                });
            }
            None => return Err(QueryError::fatal(format!("{program} was killed"))),
        }
        parse_xml(&out.stdout).map_err(|e| {
            QueryError::fatal(format!("cannot parse the XML output of {program}: {e}"))
        })
    }

    /// [`Self::query`] for actions: lock contention (exit 2) is retried a few times.
    pub(crate) fn query_patient(&self, pairs: &[Pair]) -> Result<CloneSet, Error> {
        self.patient(|| self.query(pairs))
    }

    /// Runs a query, retrying lock contention (exit 2) a few times.
    pub(crate) fn patient<T>(&self, query: impl Fn() -> Result<T, QueryError>) -> Result<T, Error> {
        let mut attempt = 1;
        loop {
            match query() {
                Ok(set) => return Ok(set),
                Err(e) if e.transient && attempt < LOCK_ATTEMPTS => {
                    self.host.warn(&format!(
                        "{} (attempt {attempt} of {LOCK_ATTEMPTS}, retrying)",
                        e.message
                    ));
                    self.host.sleep(self.poll)?;
                    attempt += 1;
                }
                Err(e) => return Err(Error::failed(e.message)),
            }
        }
    }
}
