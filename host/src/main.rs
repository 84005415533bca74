//! The `doppel` command.

mod cli;
mod cmd_actions;
mod cmd_config;
mod cmd_daemon;
mod cmd_drivers;
mod cmd_schedule;
mod driver_process;
mod drivers;
mod engine;
mod logger;
mod runner;
mod services;

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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let paths = Paths::new(&cli.root);
    let node =
        NodeConfig::load(&paths.node_config()).context("cannot read the node configuration")?;
    let ctx = Context {
        paths,
        node,
        format: cli.format,
        verbose: cli.verbose,
        quiet: cli.quiet,
        selector: cli.selector,
    };
    match cli.command {
        Command::Drivers { command } => cmd_drivers::run(&ctx, command),
        Command::Template {
            type_name,
            markdown,
        } => cmd_config::template(&ctx, &type_name, markdown),
        Command::Schedule { command } => cmd_schedule::run(&ctx, command),
        Command::Validate => cmd_config::validate(&ctx),
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
        Command::Status(select) => cmd_actions::run(&ctx, "status", &select.into_action_args()),
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
        Command::DriverAction(words) => driver_action(&ctx, words),
    }
}

/// `doppel -s <svc> <driver action> [options]`: parse the options like any action.
fn driver_action(ctx: &Context, words: Vec<String>) -> anyhow::Result<ExitCode> {
    #[derive(clap::Parser)]
    #[command(name = "doppel <action>", no_binary_name = true)]
    struct DriverActionCli {
        #[command(flatten)]
        args: cli::ActionArgs,
    }
    let Some((action, rest)) = words.split_first() else {
        return Err(UsageError("missing action".into()).into());
    };
    let parsed = <DriverActionCli as clap::Parser>::try_parse_from(rest)
        .map_err(|e| UsageError(e.to_string().trim().to_owned()))?;
    cmd_actions::run(ctx, &engine::action_name(&[action.as_str()]), &parsed.args)
}
