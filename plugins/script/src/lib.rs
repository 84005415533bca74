//! `app.script`: start, stop and check an application with commands, so a service
//! can start what uses its clones (the seed's "start a service using clones").
//!
//! Commands are split like a shell line and run through doppel (so they are logged,
//! honour `--dry-run` and time out); strings containing `|`, `&&` or `;` run via
//! `/bin/sh -c`, as triggers do. Status: `check` exits 0 → up, 1 → down, any other
//! code → warn (the code shown); no `check` → n/a.
//!
//! Start and stop are idempotent, as OpenSVC's app resources are: `start` of an
//! application `check` says is up logs "already started" and runs nothing, `stop`
//! of one it says is down runs nothing.
//!
//! Time limits, spelled as OpenSVC spells them: `start_timeout`, `stop_timeout`,
//! `check_timeout` for one command, `timeout` for all three. Unset, `start` and
//! `stop` wait for the command to return however long it takes (as OpenSVC does:
//! an application may need an hour to stop cleanly, and killing it halfway is
//! worse than waiting); `check` is still killed after [`DEFAULT_CHECK_TIMEOUT`],
//! because a status must come back (`print status`, the daemon's status runs).

use std::time::Duration;

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandRequest, Driver, Error, Host, KeywordSpec,
    KeywordType, Manifest, Problem, ResourceConfig, Status, StatusReport,
};

/// The limit of `check` when neither `check_timeout` nor `timeout` is set.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Script {
    config: ResourceConfig,
    host: Host,
}

/// Splits a command like doppel's triggers do: via the shell when it uses `|`,
/// `&&` or `;`, else shell-like word splitting.
fn command_argv(text: &str) -> Result<Vec<String>, Error> {
    CommandRequest::line_argv(text)
        .ok_or_else(|| Error::invalid(format!("cannot split command {text:?}")))
}

impl Script {
    /// The time limit of the `keyword` command: `<keyword>_timeout`, else
    /// `timeout`, else none for start and stop and [`DEFAULT_CHECK_TIMEOUT`] for
    /// check.
    fn timeout(&self, keyword: &str) -> Option<Duration> {
        let set = |kw: &str| {
            self.config
                .get(kw)
                .and_then(doppel_plugin_api::parse_duration)
        };
        set(&format!("{keyword}_timeout"))
            .or_else(|| set("timeout"))
            .or_else(|| (keyword == "check").then_some(DEFAULT_CHECK_TIMEOUT))
    }

    fn command(&self, keyword: &str) -> Result<Option<CommandRequest>, Error> {
        let Some(text) = self.config.get(keyword).filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let mut request = CommandRequest::new(command_argv(text)?);
        request.timeout_secs = self.timeout(keyword).map(|t| t.as_secs_f64());
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
                    .desc("Command whose exit code is the status: 0 is up, 1 is down, any other code warn. Start is skipped when it says up, stop when it says down. Without it the status is n/a.")
                    .example("/etc/init.d/app status"),
            )
            .keyword(
                KeywordSpec::new("timeout", KeywordType::Duration)
                    .example("1h")
                    .desc("Kill a start, stop or check command still running after this long; start_timeout, stop_timeout and check_timeout take precedence. When neither this nor the action's own timeout is set, start and stop wait for the command to return however long it takes (as OpenSVC), and check is killed after 300 seconds.")
            )
            .keyword(
                KeywordSpec::new("start_timeout", KeywordType::Duration)
                    .example("10m")
                    .desc("Kill the start command still running after this long. Takes precedence over timeout. If neither is set, doppel waits for start to return."),
            )
            .keyword(
                KeywordSpec::new("stop_timeout", KeywordType::Duration)
                    .example("10m")
                    .desc("Kill the stop command still running after this long. Takes precedence over timeout. If neither is set, doppel waits for stop to return."),
            )
            .keyword(
                KeywordSpec::new("check_timeout", KeywordType::Duration)
                    .example("30s")
                    .desc("Kill the check command still running after this long (the status is then undef). Takes precedence over timeout. If neither is set, check is killed after 300 seconds: a status must come back."),
            )
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
            Some(1) => StatusReport::new(Status::Down),
            Some(code) => {
                StatusReport::new(Status::Warn).warn(format!("check exited with code {code}"))
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
        // Already where the action leads: nothing to run.
        let (already, state) = if keyword == "start" {
            ("already started", Status::Up)
        } else {
            ("already stopped", Status::Down)
        };
        if self.command("check")?.is_some() && self.status()?.state == state {
            return Ok(ActionOutcome::new().message(already.to_owned()).noop());
        }
        match self.command(keyword)? {
            Some(cmd) => {
                self.host.run_checked(&cmd)?;
                Ok(ActionOutcome::default())
            }
            None => Ok(ActionOutcome::new()
                .message(format!("no {keyword} command"))
                .noop()),
        }
    }
}

doppel_plugin_api::export_driver!(Script);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use doppel_plugin_api::testing::FakeHost;
    use doppel_plugin_api::{
        ActionRequest, CommandOutput, Driver, ErrorKind, ResourceConfig, Status,
    };

    use super::Script;

    fn config(pairs: &[(&str, &str)]) -> ResourceConfig {
        let mut c = ResourceConfig::new("", "app#0", "");
        for (k, v) in pairs {
            c.keywords.insert((*k).into(), (*v).into());
        }
        c
    }

    /// A host where `check` exits `check_code` and everything else succeeds.
    fn host(check_code: i32) -> Arc<FakeHost> {
        FakeHost::new(move |r| {
            Ok(CommandOutput::exited(
                if r.argv.contains(&"status".to_owned()) {
                    check_code
                } else {
                    0
                },
                "",
                "",
            ))
        })
    }

    fn act(
        d: &Script,
        action: &str,
    ) -> Result<doppel_plugin_api::ActionOutcome, doppel_plugin_api::Error> {
        d.action(&ActionRequest::new(action))
    }

    #[test]
    fn start_and_stop_run_their_commands_with_environment_cwd_and_timeout() {
        let fake = host(0);
        let c = config(&[
            ("start", "/srv/app start --fast"),
            ("stop", "pkill -f app && rm -f /run/app.pid"),
            ("timeout", "30"),
            ("cwd", "/srv"),
            ("environment", "A=1 B=two"),
        ]);
        let d = Script::open(c, fake.host()).unwrap();
        act(&d, "start").unwrap();
        act(&d, "stop").unwrap();
        let cmds = fake.commands();
        assert_eq!(cmds[0].argv, ["/srv/app", "start", "--fast"]);
        assert_eq!(
            cmds[1].argv,
            ["/bin/sh", "-c", "pkill -f app && rm -f /run/app.pid"],
            "shell syntax runs via sh"
        );
        assert_eq!(cmds[0].timeout_secs, Some(30.0));
        assert_eq!(cmds[0].cwd.as_deref(), Some(std::path::Path::new("/srv")));
        assert_eq!(cmds[0].env["B"], "two");
        assert!(
            !cmds[0].read_only,
            "start changes state: skipped under --dry-run"
        );
    }

    #[test]
    fn start_and_stop_wait_unless_a_timeout_is_set_and_check_keeps_a_limit() {
        let cmds = |pairs: &[(&str, &str)], check_code: i32| {
            let fake = host(check_code);
            let mut all = vec![
                ("start", "/srv/app start"),
                ("stop", "/srv/app stop"),
                ("check", "/srv/app status"),
            ];
            all.extend_from_slice(pairs);
            // start where check says down, stop where it says up: both run.
            let d = Script::open(config(&all), fake.host()).unwrap();
            act(&d, "start").unwrap();
            let fake_up = host(0);
            let d = Script::open(config(&all), fake_up.host()).unwrap();
            act(&d, "stop").unwrap();
            fake.commands()
                .iter()
                .chain(fake_up.commands().iter())
                .map(|c| (c.argv.join(" "), c.timeout_secs))
                .collect::<Vec<(String, Option<f64>)>>()
        };
        // Nothing set: start and stop wait (no limit), check is killed after 300s.
        assert_eq!(
            cmds(&[], 1),
            [
                ("/srv/app status".to_owned(), Some(300.0)),
                ("/srv/app start".to_owned(), None),
                ("/srv/app status".to_owned(), Some(300.0)),
                ("/srv/app stop".to_owned(), None),
            ]
        );
        // timeout applies to all three.
        assert_eq!(
            cmds(&[("timeout", "1h")], 1),
            [
                ("/srv/app status".to_owned(), Some(3600.0)),
                ("/srv/app start".to_owned(), Some(3600.0)),
                ("/srv/app status".to_owned(), Some(3600.0)),
                ("/srv/app stop".to_owned(), Some(3600.0)),
            ]
        );
        // The action's own timeout wins over timeout.
        assert_eq!(
            cmds(
                &[
                    ("timeout", "1h"),
                    ("start_timeout", "10m"),
                    ("stop_timeout", "90"),
                    ("check_timeout", "30s"),
                ],
                1
            ),
            [
                ("/srv/app status".to_owned(), Some(30.0)),
                ("/srv/app start".to_owned(), Some(600.0)),
                ("/srv/app status".to_owned(), Some(30.0)),
                ("/srv/app stop".to_owned(), Some(90.0)),
            ]
        );
        // Only start_timeout: stop still waits, check keeps 300s.
        assert_eq!(
            cmds(&[("start_timeout", "5")], 1),
            [
                ("/srv/app status".to_owned(), Some(300.0)),
                ("/srv/app start".to_owned(), Some(5.0)),
                ("/srv/app status".to_owned(), Some(300.0)),
                ("/srv/app stop".to_owned(), None),
            ]
        );
        let m = Script::manifest();
        for kw in ["timeout", "start_timeout", "stop_timeout", "check_timeout"] {
            let spec = m.find_keyword(kw).unwrap();
            assert_eq!(spec.default, None, "{kw}: no default value");
        }
    }

    #[test]
    fn status_comes_from_check() {
        let up = Script::open(config(&[("check", "/srv/app status")]), host(0).host()).unwrap();
        assert_eq!(up.status().unwrap().state, Status::Up);
        let down = Script::open(config(&[("check", "/srv/app status")]), host(1).host()).unwrap();
        let report = down.status().unwrap();
        assert_eq!(report.state, Status::Down);
        assert!(report.messages.is_empty());
        let warn = Script::open(config(&[("check", "/srv/app status")]), host(3).host()).unwrap();
        let report = warn.status().unwrap();
        assert_eq!(report.state, Status::Warn);
        assert_eq!(report.messages[0].text, "check exited with code 3");
        let none = Script::open(config(&[]), host(0).host()).unwrap();
        assert_eq!(none.status().unwrap().state, Status::NotApplicable);
    }

    #[test]
    fn a_failing_start_is_an_error_and_a_missing_command_a_noop() {
        let fake = FakeHost::new(|_| Ok(CommandOutput::exited(2, "", "address already in use\n")));
        let d = Script::open(config(&[("start", "/srv/app start")]), fake.host()).unwrap();
        let err = act(&d, "start").unwrap_err();
        assert_eq!(
            err.message,
            "app exited with code 2: address already in use"
        );
        assert!(act(&d, "stop").unwrap().noop);
        assert_eq!(
            act(&d, "provision").unwrap_err().kind,
            ErrorKind::Unsupported
        );
    }

    #[test]
    fn start_and_stop_run_nothing_when_check_says_it_is_done() {
        let c = || {
            config(&[
                ("start", "/srv/app start"),
                ("stop", "/srv/app stop"),
                ("check", "/srv/app status"),
            ])
        };
        // Up: start runs only the check; stop runs.
        let fake = host(0);
        let d = Script::open(c(), fake.host()).unwrap();
        let out = act(&d, "start").unwrap();
        assert_eq!(out.messages, ["already started"]);
        assert!(out.noop);
        act(&d, "stop").unwrap();
        let argvs: Vec<String> = fake.commands().iter().map(|c| c.argv.join(" ")).collect();
        assert_eq!(
            argvs,
            ["/srv/app status", "/srv/app status", "/srv/app stop"]
        );

        // Down: stop runs only the check; start runs.
        let fake = host(1);
        let d = Script::open(c(), fake.host()).unwrap();
        assert_eq!(act(&d, "stop").unwrap().messages, ["already stopped"]);
        act(&d, "start").unwrap();
        let argvs: Vec<String> = fake.commands().iter().map(|c| c.argv.join(" ")).collect();
        assert_eq!(
            argvs,
            ["/srv/app status", "/srv/app status", "/srv/app start"]
        );

        // Warn (exit 3): neither up nor down, so both run.
        let fake = host(3);
        let d = Script::open(c(), fake.host()).unwrap();
        act(&d, "start").unwrap();
        act(&d, "stop").unwrap();
        assert_eq!(fake.commands().len(), 4);
    }

    #[test]
    fn validation_names_the_keyword() {
        let problems = Script::validate(&config(&[
            ("start", "echo 'unterminated"),
            ("environment", "A=1 oops"),
        ]));
        let keywords: Vec<_> = problems
            .iter()
            .map(|p| p.keyword.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(keywords, ["start", "environment"]);
    }
}
