//! The `doppel` command line definition, as a library for build tools: `cargo xtask
//! dist` generates the man pages and shell completions from it. The program itself
//! is `main.rs`; this library adds nothing to it.

pub mod cli;

/// The clap definition of the `doppel` command, with every subcommand.
pub fn command() -> clap::Command {
    <cli::Cli as clap::CommandFactory>::command()
}
