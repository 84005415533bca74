//! `sync.dircopy`: keeps a copy of a directory, refreshed by `sync update`.
//!
//! A small but complete vendor driver: keywords with validation, a status with a
//! last-sync time (doppel applies `sync_max_delay` to it), commands run through the
//! host (so `--dry-run` and logging work), and state kept across runs.

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandRequest, Driver, Error, Host, KeywordSpec,
    KeywordType, Manifest, Problem, ResourceConfig, Status, StatusReport,
};

pub struct DirCopy {
    config: ResourceConfig,
    host: Host,
}

impl DirCopy {
    fn paths(&self) -> Result<(String, String), Error> {
        Ok((
            self.config.require("src")?.to_owned(),
            self.config.require("dst")?.to_owned(),
        ))
    }
}

impl Driver for DirCopy {
    fn manifest() -> Manifest {
        Manifest::new("sync", "dircopy", env!("CARGO_PKG_VERSION"))
            .description("Keep a copy of a directory (example vendor driver)")
            .keyword(
                KeywordSpec::new("src", KeywordType::String)
                    .required()
                    .desc("The directory to copy.")
                    .example("/srv/data"),
            )
            .keyword(
                KeywordSpec::new("dst", KeywordType::String)
                    .required()
                    .desc("Where the copy lives.")
                    .example("/srv/copy"),
            )
            .action(ActionSpec::standard("sync_update"))
            .action(ActionSpec::new(
                "forget",
                "Forget the last copy time (status turns down).",
            ))
    }

    fn validate(config: &ResourceConfig) -> Vec<Problem> {
        let mut problems = Vec::new();
        for kw in ["src", "dst"] {
            if let Some(p) = config.get(kw) {
                if !p.starts_with('/') {
                    problems.push(Problem::keyword(
                        kw,
                        format!("must be an absolute path, got {p:?}"),
                    ));
                }
            }
        }
        if config.get("src").is_some() && config.get("src") == config.get("dst") {
            problems.push(Problem::keyword("dst", "must differ from src"));
        }
        problems
    }

    fn open(config: ResourceConfig, host: Host) -> Result<Self, Error> {
        Ok(DirCopy { config, host })
    }

    fn status(&self) -> Result<StatusReport, Error> {
        let (_, dst) = self.paths()?;
        if !std::path::Path::new(&dst).is_dir() {
            return Ok(StatusReport::new(Status::Down).warn(format!("{dst} does not exist")));
        }
        // `forget` stores an empty time: that is "never copied" too.
        let last_sync = self.host.state_get("last_sync").filter(|t| !t.is_empty());
        Ok(match last_sync {
            Some(when) => StatusReport::new(Status::Up).last_sync(when),
            None => StatusReport::new(Status::Down).info("never copied"),
        })
    }

    fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        match request.action.as_str() {
            "sync_update" => {
                let (src, dst) = self.paths()?;
                self.host
                    .run_checked(&CommandRequest::new(["mkdir", "-p", dst.as_str()]))?;
                self.host.run_checked(&CommandRequest::new([
                    "cp",
                    "-a",
                    &format!("{src}/."),
                    dst.as_str(),
                ]))?;
                if !request.dry_run {
                    let now = self.host.call("now", &serde_json::Value::Null).ok();
                    let stamp = now
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    self.host.state_put("last_sync", &stamp)?;
                }
                Ok(ActionOutcome::new().message(format!("copied {src} to {dst}")))
            }
            "forget" => {
                self.host.state_put("last_sync", "")?;
                Ok(ActionOutcome::default())
            }
            other => Err(Error::unsupported(other)),
        }
    }
}

doppel_plugin_api::export_driver!(DirCopy);
