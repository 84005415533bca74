//! The `doppel` command.

mod cli;
mod cmd_config;
mod cmd_drivers;
mod cmd_schedule;
mod drivers;
mod services;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use doppel_core::node::NodeConfig;
use doppel_core::paths::Paths;

use crate::cli::{Cli, Command, Format, PrintCommand};

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
                e.is::<UsageError>() || e.is::<doppel_core::node::NodeConfigError>() || e.is::<clap::Error>()
            });
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let paths = Paths::new(&cli.root);
    let node = NodeConfig::load(&paths.node_config()).context("cannot read the node configuration")?;
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
        Command::Template { type_name } => cmd_config::template(&ctx, &type_name),
        Command::Schedule { command } => cmd_schedule::run(&ctx, command),
        Command::Validate(args) => cmd_config::validate(&ctx, &args),
        Command::Print { what: PrintCommand::Config { args, eval } } => cmd_config::print_config(&ctx, &args, eval),
        other => anyhow::bail!("{other:?}: not available yet"),
    }
}
