//! `app.script`: start, stop and check an application with commands, so a service
//! can start what uses its clones (the seed's "start a service using clones").
//!
//! Commands are split like a shell line and run through doppel (so they are logged,
//! honour `--dry-run` and time out); strings containing `|`, `&&` or `;` run via
//! `/bin/sh -c`, as triggers do. Status: `check` exits 0 → up, otherwise down; no
//! `check` → n/a.

use std::time::Duration;

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandRequest, Driver, Error, Host, KeywordSpec,
    KeywordType, Manifest, Problem, ResourceConfig, Status, StatusReport,
};

pub struct Script {
    config: ResourceConfig,
    host: Host,
}

/// Splits a command like doppel's triggers do: via the shell when it uses `|`,
/// `&&` or `;`, else shell-like word splitting.
fn command_argv(text: &str) -> Result<Vec<String>, Error> {
    if text.contains('|') || text.contains("&&") || text.contains(';') {
        return Ok(vec!["/bin/sh".into(), "-c".into(), text.into()]);
    }
    shlex::split(text)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::invalid(format!("cannot split command {text:?}")))
}

impl Script {
    fn command(&self, keyword: &str) -> Result<Option<CommandRequest>, Error> {
        let Some(text) = self.config.get(keyword).filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let mut request = CommandRequest::new(command_argv(text)?);
        request.timeout_secs = Some(
            self.config
                .get_duration("timeout", Duration::from_secs(300))
                .as_secs_f64(),
        );
        request.cwd = self.config.get("cwd").map(Into::into);
        for pair in self.config.get_list("environment") {
            if let Some((k, v)) = pair.split_once('=') {
                request.env.insert(k.to_owned(), v.to_owned());
            }
        }
        Ok(Some(request))
    }
}

impl Driver for Script {
    fn manifest() -> Manifest {
        Manifest::new("app", "script", env!("CARGO_PKG_VERSION"))
            .description("Start, stop and check an application with commands")
            .keyword(KeywordSpec::new("start", KeywordType::String).desc("Command that starts the application.").example("/etc/init.d/app start"))
            .keyword(KeywordSpec::new("stop", KeywordType::String).desc("Command that stops the application.").example("/etc/init.d/app stop"))
            .keyword(
                KeywordSpec::new("check", KeywordType::String)
                    .desc("Command whose exit code is the status: 0 is up, anything else down. Without it the status is n/a.")
                    .example("/etc/init.d/app status"),
            )
            .keyword(KeywordSpec::new("timeout", KeywordType::Duration).default_value("300").desc("Kill a command still running after this long."))
            .keyword(KeywordSpec::new("cwd", KeywordType::String).desc("Working directory of the commands."))
            .keyword(KeywordSpec::new("environment", KeywordType::List).desc("KEY=VALUE pairs added to the commands' environment.").example("APP_HOME=/srv/app"))
            .action(ActionSpec::standard("start"))
            .action(ActionSpec::standard("stop"))
    }

    fn validate(config: &ResourceConfig) -> Vec<Problem> {
        let mut problems = Vec::new();
        for kw in ["start", "stop", "check"] {
            if let Some(Err(e)) = config.get(kw).map(command_argv) {
                problems.push(Problem::keyword(kw, e.message));
            }
        }
        for pair in config.get_list("environment") {
            if !pair.contains('=') {
                problems.push(Problem::keyword(
                    "environment",
                    format!("expected KEY=VALUE, got {pair:?}"),
                ));
            }
        }
        problems
    }

    fn open(config: ResourceConfig, host: Host) -> Result<Self, Error> {
        Ok(Script { config, host })
    }

    fn status(&self) -> Result<StatusReport, Error> {
        let Some(mut check) = self.command("check")? else {
            return Ok(StatusReport::new(Status::NotApplicable));
        };
        check.read_only = true;
        check.quiet = true;
        let out = self.host.run(&check)?;
        Ok(match out.exit_code {
            Some(0) => StatusReport::new(Status::Up),
            Some(code) => {
                StatusReport::new(Status::Down).info(format!("check exited with code {code}"))
            }
            None if out.timed_out => StatusReport::new(Status::Undef).warn("check timed out"),
            None => StatusReport::new(Status::Undef).warn("check was killed"),
        })
    }

    fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let keyword = match request.action.as_str() {
            "start" | "stop" => request.action.as_str(),
            other => return Err(Error::unsupported(other)),
        };
        match self.command(keyword)? {
            Some(cmd) => {
                self.host.run_checked(&cmd)?;
                Ok(ActionOutcome::default())
            }
            None => Ok(ActionOutcome {
                messages: vec![format!("no {keyword} command")],
                noop: true,
            }),
        }
    }
}

doppel_plugin_api::export_driver!(Script);
