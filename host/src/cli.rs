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
    /// Print a driver's keyword template, to start a service file from
    Template {
        /// The driver type, e.g. sync.symclone
        #[arg(value_name = "GROUP.TYPE")]
        type_name: String,
        /// Print the keyword reference in Markdown instead (docs/keywords/ is made of these)
        #[arg(long)]
        markdown: bool,
    },
    /// Check schedule expressions
    Schedule {
        #[command(subcommand)]
        command: ScheduleCommand,
    },
    /// Run the scheduler: scheduled syncs, status refreshes, restarts
    Daemon {
        /// Run what is due now, then exit (for tests and cron)
        #[arg(long)]
        once: bool,
        /// Evaluate schedules as if it were this time (RFC 3339), with --once
        #[arg(long, value_name = "TIME", requires = "once")]
        now: Option<String>,
    },
    /// Start the selected services (activate clones, start applications)
    Start(ActionArgs),
    /// Stop the selected services
    Stop(ActionArgs),
    /// Provision the resources (create clones, disks...)
    Provision(ActionArgs),
    /// Unprovision the resources
    Unprovision(ActionArgs),
    /// Run the task resources (e.g. nimadm migrations)
    Run(ActionArgs),
    /// Refresh and print the services' status (exit 0)
    Status(ActionArgs),
    /// Check the service files: every problem, one per line (exit 2 if any)
    Validate(ActionArgs),
    /// Print status, configuration or schedules
    Print {
        #[command(subcommand)]
        what: PrintCommand,
    },
    /// Sync actions: break, resync, update, restore, all, nodes, drp
    Sync {
        #[command(subcommand)]
        what: SyncCommand,
    },
    #[command(name = "syncbreak", hide = true)]
    SyncBreak(ActionArgs),
    #[command(name = "syncresync", hide = true)]
    SyncResync(ActionArgs),
    #[command(name = "syncupdate", hide = true)]
    SyncUpdate(ActionArgs),
    #[command(name = "syncrestore", hide = true)]
    SyncRestore(ActionArgs),
    #[command(name = "syncall", hide = true)]
    SyncAll(ActionArgs),
    #[command(name = "syncnodes", hide = true)]
    SyncNodes(ActionArgs),
    #[command(name = "syncdrp", hide = true)]
    SyncDrp(ActionArgs),
    /// An action a driver declares (e.g. activate, wake, ship): see `doppel drivers info`
    #[command(external_subcommand)]
    DriverAction(Vec<String>),
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

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Is a run allowed now, and when is the next one?
    Check {
        /// The expression, e.g. '00:00-01:00@61 mon' or a JSON list
        expr: String,
        /// The time to evaluate (RFC 3339; without offset: local time). Default: now
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// The last run (RFC 3339)
        #[arg(long, value_name = "TIME")]
        last: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PrintCommand {
    /// The status tree of each service (from the cache unless --refresh)
    Status {
        #[command(flatten)]
        args: ActionArgs,
        /// Ask the drivers instead of reading the cache
        #[arg(long)]
        refresh: bool,
    },
    /// The service file as written, or every keyword resolved with --eval
    Config {
        #[command(flatten)]
        args: ActionArgs,
        /// Resolve every keyword for this node and say where each value came from
        #[arg(long)]
        eval: bool,
    },
    /// Scheduled tasks: action, expression, last run, last success, next run
    Schedule(ActionArgs),
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Split the clones: activate them (the data becomes usable)
    Break(ActionArgs),
    /// Re-establish the clones (refused while the service is up, unless --force)
    Resync(ActionArgs),
    /// Refresh the clones: resync then break
    Update(ActionArgs),
    /// Copy the clones back to their sources
    Restore(ActionArgs),
    /// Every sync action the resources support
    All(ActionArgs),
    /// Sync to the other nodes
    Nodes(ActionArgs),
    /// Sync to the disaster recovery nodes
    Drp(ActionArgs),
}

/// Options common to service actions.
#[derive(Clone, Debug, Default, Args)]
pub struct ActionArgs {
    /// Resources to act on: rids (`sync#0`), groups (`sync`) or globs, comma separated
    #[arg(long, value_name = "RIDS")]
    pub rid: Option<String>,
    /// Resources with these tags: `a,b` any of them, `a+b` all of them
    #[arg(long, value_name = "TAGS")]
    pub tags: Option<String>,
    /// Resources in these subsets, comma separated
    #[arg(long, value_name = "SUBSETS")]
    pub subsets: Option<String>,
    /// Print every command a state-changing action would run, and run none
    #[arg(long)]
    pub dry_run: bool,
    /// Wait this long for another action's lock (e.g. 30s, 2m)
    #[arg(long, value_name = "DURATION")]
    pub waitlock: Option<String>,
    /// Act on several services concurrently
    #[arg(long)]
    pub parallel: bool,
    /// Override safety refusals (stop standby resources, resync a running service, ...)
    #[arg(long)]
    pub force: bool,
    /// Driver option: only this phase (nimadm, alt_disk_copy)
    #[arg(long, value_name = "N")]
    pub phase: Option<String>,
    /// Driver option: only these clients, comma separated (nimadm)
    #[arg(long, value_name = "CLIENTS")]
    pub clients: Option<String>,
    /// Driver option KEY=VALUE, for driver actions (repeatable)
    #[arg(long = "opt", value_name = "KEY=VALUE")]
    pub opts: Vec<String>,
}
