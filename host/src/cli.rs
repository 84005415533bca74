//! The command line (DESIGN §5).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// doppel drives storage clones and system replicas (Symmetrix clones, HP-UX DRD,
/// AIX alt_disk_copy and nimadm, MultiSite replica packets) as services of
/// resources, with dependency conditions, triggers, status, locks, logs and
/// schedules. Each capability is a driver loaded at run time.
#[derive(Debug, Parser)]
#[command(name = "doppel", version, about, long_about = None, max_term_width = 100)]
#[command(after_help = "Examples:\n  doppel drivers list\n  doppel -s demo start\n  doppel -s demo sync update --rid sync#0 --dry-run\n  doppel -s 'db*' print status --format json\n  doppel template sync.symclone")]
pub struct Cli {
    /// Prefix every path doppel uses (config, state, logs) with DIR
    #[arg(long, global = true, env = "DOPPEL_ROOT", value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// More output (-v: debug, -vv: trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on the console
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Services to act on: a name, a comma list or a glob ('*')
    #[arg(short = 's', long = "service", global = true, value_name = "SELECTOR")]
    pub selector: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Installed drivers: versions, ABI, paths and any skipped files
    Drivers {
        #[command(subcommand)]
        command: Option<DriversCommand>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DriversCommand {
    /// List the loaded drivers and the files that were skipped (the default)
    List,
    /// Everything a driver declares: keywords and actions
    Info {
        /// The driver type, e.g. sync.symclone
        #[arg(value_name = "GROUP.TYPE")]
        type_name: String,
    },
}

#[allow(dead_code)]
#[derive(Debug, Args)]
pub struct Placeholder {}
