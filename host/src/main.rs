//! The `doppel` command.

/// `eprintln!` that never panics: std's panics ("failed printing to stderr") when
/// stderr is a closed pipe (`doppel ... 2>&1 | head -1`) or a full disk, which
/// would turn any warning into exit 101. Defined before the modules so that it
/// shadows std's macro in every one of them; a line that cannot be written is lost,
/// as the console is the only place it was going.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod cmd_actions;
mod cmd_config;
mod cmd_daemon;
mod cmd_drivers;
mod cmd_edit;
mod cmd_schedule;
mod cmd_service;
mod color;
mod driver_cache;
mod driver_process;
mod drivers;
mod engine;
mod inflight;
mod logger;
mod options;
mod runner;
mod services;
mod ssh;
mod workers;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use doppel_core::node::NodeConfig;
use doppel_core::paths::Paths;

use crate::cli::{Cli, Command, Format, PrintCommand, SyncCommand};

/// An error that is the operator's input (arguments or configuration): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What every command gets: paths, node config, output format.
pub struct Context {
    pub paths: Paths,
    pub node: NodeConfig,
    pub format: Format,
    pub color: cli::ColorChoice,
    pub verbose: u8,
    pub quiet: bool,
    pub selector: Option<String>,
}

fn main() -> ExitCode {
    // A driver process (see driver_process.rs): before clap, which knows no such
    // command.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == driver_process::HOST_MODE) {
        return driver_process::host_main(&args[2..]);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("doppel: {err:#}");
            let usage = err.chain().any(|e| {
                e.is::<UsageError>()
                    || e.is::<doppel_core::node::NodeConfigError>()
                    || e.is::<clap::Error>()
            });
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(mut cli: Cli) -> anyhow::Result<ExitCode> {
    // A driver action's words are parsed here, before the context is built, so that
    // the global options written after it (`-s x mount --format json -v`) count as
    // they do after a built-in action.
    let driver_action = match std::mem::replace(&mut cli.command, Command::Validate) {
        Command::DriverAction(words) => Some(parse_driver_action(&mut cli, words)?),
        other => {
            cli.command = other;
            None
        }
    };
    let paths = Paths::new(&cli.root);
    let node =
        NodeConfig::load(&paths.node_config()).context("cannot read the node configuration")?;
    runner::set_max_parallel_commands(node.max_parallel_commands());
    let ctx = Context {
        paths,
        node,
        format: cli.format,
        color: cli.color,
        verbose: cli.verbose,
        quiet: cli.quiet,
        selector: cli.selector,
    };
    if let Some((action, args)) = driver_action {
        return cmd_actions::run(&ctx, &action, &args);
    }
    match cli.command {
        Command::Drivers { command } => cmd_drivers::run(&ctx, command),
        Command::Template {
            type_name,
            markdown,
        } => cmd_config::template(&ctx, &type_name, markdown),
        Command::Schedule { command } => cmd_schedule::run(&ctx, command),
        Command::Validate => cmd_config::validate(&ctx),
        Command::Restart(a) => cmd_service::restart(&ctx, &a),
        Command::Get { kw, eval } => cmd_edit::get(&ctx, &kw, eval),
        Command::Set { kw } => cmd_edit::set(&ctx, &kw),
        Command::Unset { kw } => cmd_edit::unset(&ctx, &kw),
        Command::Edit {
            what: cli::EditCommand::Config,
        } => cmd_edit::edit_config(&ctx),
        Command::Delete { rid, force } => cmd_edit::delete(&ctx, &rid, force),
        Command::Enable { rid } => cmd_edit::enable(&ctx, rid.as_deref(), true),
        Command::Disable { rid } => cmd_edit::enable(&ctx, rid.as_deref(), false),
        Command::Create { config, kw } => cmd_edit::create(&ctx, config.as_deref(), &kw),
        Command::Ls { refresh } => cmd_service::ls(&ctx, refresh),
        Command::Freeze => cmd_service::freeze(&ctx, true),
        Command::Thaw => cmd_service::freeze(&ctx, false),
        Command::Logs { follow, since } => cmd_service::logs(&ctx, follow, since.as_deref()),
        Command::Print {
            what: PrintCommand::Config { eval },
        } => cmd_config::print_config(&ctx, eval),
        Command::Print {
            what: PrintCommand::Status { select, refresh },
        } => cmd_actions::print_status(&ctx, &select.into_action_args(), refresh),
        Command::Print {
            what: PrintCommand::Schedule(select),
        } => cmd_daemon::print_schedule(&ctx, &select.into_action_args()),
        Command::Daemon { once, now } => cmd_daemon::run(&ctx, once, now.as_deref()),
        Command::Start(a) => cmd_actions::run(&ctx, "start", &a),
        Command::Stop(a) => cmd_actions::run(&ctx, "stop", &a),
        Command::Provision(a) => cmd_actions::run(&ctx, "provision", &a),
        Command::Unprovision(a) => cmd_actions::run(&ctx, "unprovision", &a),
        Command::Run(a) => cmd_actions::run(&ctx, "run", &a),
        Command::Status(a) => {
            // A status only reads: several services at a time unless told.
            let args = cli::ActionArgs {
                parallel: Some(a.parallel.unwrap_or(cmd_actions::STATUS_PARALLEL_SERVICES)),
                ..a.select.into_action_args()
            };
            cmd_actions::run(&ctx, "status", &args)
        }
        Command::Sync { what } => {
            let (name, a) = match what {
                SyncCommand::Break(a) => ("sync_break", a),
                SyncCommand::Resync(a) => ("sync_resync", a),
                SyncCommand::Update(a) => ("sync_update", a),
                SyncCommand::Restore(a) => ("sync_restore", a),
                SyncCommand::All(a) => ("sync_all", a),
                SyncCommand::Nodes(a) => ("sync_nodes", a),
                SyncCommand::Drp(a) => ("sync_drp", a),
            };
            cmd_actions::run(&ctx, name, &a)
        }
        Command::SyncBreak(a) => cmd_actions::run(&ctx, "sync_break", &a),
        Command::SyncResync(a) => cmd_actions::run(&ctx, "sync_resync", &a),
        Command::SyncUpdate(a) => cmd_actions::run(&ctx, "sync_update", &a),
        Command::SyncRestore(a) => cmd_actions::run(&ctx, "sync_restore", &a),
        Command::SyncAll(a) => cmd_actions::run(&ctx, "sync_all", &a),
        Command::SyncNodes(a) => cmd_actions::run(&ctx, "sync_nodes", &a),
        Command::SyncDrp(a) => cmd_actions::run(&ctx, "sync_drp", &a),
        Command::DriverAction(_) => unreachable!("driver actions are parsed above"),
    }
}

/// `doppel -s <svc> <driver action> [options]`: parse the options like any action,
/// global options included (they override the ones given before the action).
fn parse_driver_action(
    cli: &mut Cli,
    words: Vec<String>,
) -> anyhow::Result<(String, cli::ActionArgs)> {
    #[derive(clap::Parser)]
    #[command(name = "doppel <action>", no_binary_name = true)]
    struct DriverActionCli {
        #[command(flatten)]
        args: cli::ActionArgs,
        #[command(flatten)]
        global: cli::LateGlobalArgs,
    }
    let Some((action, rest)) = words.split_first() else {
        return Err(UsageError("missing action".into()).into());
    };
    let parsed = <DriverActionCli as clap::Parser>::try_parse_from(rest)
        .map_err(|e| UsageError(e.to_string().trim().to_owned()))?;
    let g = parsed.global;
    if let Some(root) = g.root {
        cli.root = root;
    }
    cli.verbose = cli.verbose.saturating_add(g.verbose);
    cli.quiet |= g.quiet;
    if cli.quiet && cli.verbose > 0 {
        return Err(
            UsageError("the argument '--quiet' cannot be used with '--verbose'".into()).into(),
        );
    }
    if let Some(format) = g.format {
        cli.format = format;
    }
    if let Some(selector) = g.selector {
        cli.selector = Some(selector);
    }
    Ok((engine::action_name(&[action.as_str()]), parsed.args))
}
