//! The command line (DESIGN §5).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// doppel: a service manager for storage clones and system replicas
///
/// doppel drives storage clones and system replicas (Symmetrix clones, HP-UX DRD,
/// AIX alt_disk_copy and nimadm, MultiSite replica packets) as services of
/// resources, with dependency conditions, triggers, status, locks, logs and
/// schedules. Each capability is a driver loaded at run time.
#[derive(Debug, Parser)]
#[command(name = "doppel", version, about, max_term_width = 100)]
#[command(after_help = "\
Examples:
  doppel drivers list
  doppel template sync.symclone
  doppel -s demo validate
  doppel -s demo start
  doppel -s demo sync update --rid sync#0 --dry-run
  doppel -s 'db*' print status --format json
  doppel -s demo <ACTION> --rid sync#0        (an action a driver declares)

Any action a driver declares (see `doppel drivers info <GROUP.TYPE>`) runs like start,
with the same options. Files, all under --root: etc/doppel/doppel.toml (node config),
etc/doppel/services/<name>.conf (services), var/lib/doppel/<name>/ (state),
var/log/doppel/<name>.log (logs). Exit codes: 0 success, 1 an action failed, 2 a usage
or configuration error. `doppel <command> --help` tells more; man doppel-<command>.")]
pub struct Cli {
    /// Prefix every path doppel uses (config, services, state, logs) with DIR
    #[arg(
        long,
        global = true,
        env = "DOPPEL_ROOT",
        value_name = "DIR",
        default_value = "/",
        help_heading = "Global options"
    )]
    pub root: PathBuf,

    /// More output on the console (-v: debug, -vv: trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,

    /// Only errors on the console (the service logs keep everything)
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Global options"
    )]
    pub quiet: bool,

    /// Output format: text for people, json for scripts
    #[arg(long, global = true, value_enum, default_value_t = Format::Text, help_heading = "Global options")]
    pub format: Format,

    /// Services to act on: a name, a comma list or a glob ('*'), from etc/doppel/services
    #[arg(
        short = 's',
        long = "service",
        global = true,
        value_name = "SELECTOR",
        help_heading = "Global options"
    )]
    pub selector: Option<String>,

    /// Colour status words: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, help_heading = "Global options")]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the installed drivers (versions, ABI, paths, skipped files) or describe one
    #[command(after_help = "\
Examples:
  doppel drivers
  doppel drivers info sync.symclone
  doppel drivers list --format json
  DOPPEL_DRIVER_PATH=/opt/vendor/doppel/drivers doppel drivers list

Drivers are searched in $DOPPEL_DRIVER_PATH (colon list), the node config's driver_dirs,
<prefix>/lib/doppel/drivers next to the executable, then the executable's directory. Only
files named libdoppel_driver_*.so are opened, never one writable by group or others or
owned by another user. Their manifests are kept in var/cache/doppel/drivers.json and read
again whenever a file changes (DOPPEL_DRIVER_CACHE=off: read every library every time).")]
    Drivers {
        #[command(subcommand)]
        command: Option<DriversCommand>,
    },
    /// Print a driver's keyword template, to start a service file from
    #[command(after_help = "\
Examples:
  doppel template sync.symclone
  doppel template app.script >> /etc/doppel/services/demo.conf
  doppel template sync.symclone --markdown")]
    Template {
        /// The driver type, e.g. sync.symclone
        #[arg(value_name = "GROUP.TYPE")]
        type_name: String,
        /// Print the driver's keyword reference in Markdown instead (as in docs/keywords/)
        #[arg(long)]
        markdown: bool,
    },
    /// Check schedule expressions (the schedule keywords of service files)
    Schedule {
        #[command(subcommand)]
        command: ScheduleCommand,
    },
    /// Run the scheduler: scheduled syncs, status refreshes, restarts
    #[command(after_help = "\
Examples:
  doppel daemon                                         (in the foreground, as doppel.service does)
  doppel daemon --once
  doppel daemon --once --now 2026-01-05T00:30:00+01:00

Runs in the foreground until SIGTERM or SIGINT; SIGHUP reloads every service file.
`doppel -s '*' print schedule` shows what is due when.")]
    Daemon {
        /// Run the tasks that are due now, wait for them, then exit (for tests and cron)
        #[arg(long)]
        once: bool,
        /// Evaluate the schedules as if it were TIME (RFC 3339); needs --once
        #[arg(long, value_name = "TIME", requires = "once")]
        now: Option<String>,
    },
    /// Start the selected services (activate clones, start applications)
    #[command(after_help = "\
Examples:
  doppel -s demo start
  doppel -s demo start --rid app#0 --dry-run
  doppel -s 'db*' start --parallel --waitlock 2m")]
    Start(ActionArgs),
    /// Stop the selected services (stop applications, release what start took)
    Stop(ActionArgs),
    /// Provision the selected services' resources (create clones, disks, ...)
    Provision(ActionArgs),
    /// Unprovision the selected services' resources (delete what provision created)
    Unprovision(ActionArgs),
    /// Run the selected services' task resources (e.g. nimadm migrations)
    #[command(after_help = "\
Examples:
  doppel -s migr run --rid task#0 --dry-run
  doppel -s migr run --rid task#0 --phase 2 --clients lpar1,lpar2")]
    Run(ActionArgs),
    /// Ask the drivers for the selected services' status, cache and print it (exit 1 unless up or n/a)
    #[command(after_help = "\
Examples:
  doppel -s demo status
  doppel -s '*' status --parallel=16")]
    Status(StatusArgs),
    /// Stop then start the selected services (the start runs only if the stop succeeded)
    #[command(after_help = "\
Examples:
  doppel -s demo restart
  doppel -s demo restart --rid app#0")]
    Restart(ActionArgs),
    /// List this node's services, one line each: name, avail, overall, frozen
    #[command(after_help = "\
Examples:
  doppel ls
  doppel ls --format json
  doppel -s 'db*' ls

Statuses come from the status caches (refreshed by actions and the daemon); a service
without a cache is evaluated. Services of other nodes are not listed.")]
    Ls {
        /// Ask the drivers instead of reading the caches
        #[arg(long)]
        refresh: bool,
    },
    /// Freeze the selected services: the daemon runs no scheduled action and no restart
    #[command(after_help = "\
Examples:
  doppel -s demo freeze
  doppel -s demo thaw

Commands still act on a frozen service; `print status` shows it frozen.")]
    Freeze,
    /// Thaw the selected services: the daemon schedules them again
    Thaw,
    /// Print the selected services' logs (var/log/doppel/<service>.log)
    #[command(after_help = "\
Examples:
  doppel -s demo logs
  doppel -s demo logs --since 1h
  doppel -s demo logs --since 2026-01-05T08:00:00 --follow
  doppel -s '*' logs --follow")]
    Logs {
        /// Keep printing lines as they are written, until interrupted
        #[arg(long, short = 'f')]
        follow: bool,
        /// Only lines since then: a duration back from now (10m, 2h, 1d) or a time
        /// (RFC 3339 or `YYYY-MM-DD HH:MM:SS`, local time)
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
    },
    /// Print one keyword's value: as written, or in force on this node with --eval
    #[command(after_help = "\
Examples:
  doppel -s demo get --kw sync#0.schedule
  doppel -s demo get --kw DEFAULT.nodes --eval")]
    Get {
        /// The keyword, as <section>.<keyword> (DEFAULT.nodes, sync#0.pairs@n1)
        #[arg(long, value_name = "SECTION.KEYWORD")]
        kw: String,
        /// The value in force here (scopes, references, defaults resolved)
        #[arg(long)]
        eval: bool,
    },
    /// Set keywords, keeping the file's comments and layout; validated before writing
    #[command(after_help = "\
Examples:
  doppel -s demo set --kw sync#0.schedule='02:00-03:00@61 tue-sun'
  doppel -s demo set --kw DEFAULT.nodes='n1 n2' --kw app#0.timeout=10m

The result is validated first: a change that would make the file invalid writes
nothing (exit 2). The file is replaced atomically, keeping its mode and owner.")]
    Set {
        /// <section>.<keyword>=<value> (repeatable)
        #[arg(long = "kw", value_name = "SECTION.KEYWORD=VALUE", required = true)]
        kw: Vec<String>,
    },
    /// Remove keywords, keeping the rest of the file as written; validated before writing
    Unset {
        /// <section>.<keyword> (repeatable)
        #[arg(long = "kw", value_name = "SECTION.KEYWORD", required = true)]
        kw: Vec<String>,
    },
    /// Edit the service file in $VISUAL or $EDITOR; validated before it replaces the file
    Edit {
        #[command(subcommand)]
        what: EditCommand,
    },
    /// Remove resource sections (refused when the rest of the file depends on them)
    #[command(after_help = "\
Examples:
  doppel -s demo delete --rid app#1
  doppel -s demo delete --rid sync#1 --force       (even if a condition names it)")]
    Delete {
        /// Resources to remove, comma separated
        #[arg(long, value_name = "RIDS", required = true)]
        rid: String,
        /// Delete even when another keyword depends on them (the file is then invalid)
        #[arg(long)]
        force: bool,
    },
    /// Enable resources (or the service): remove their `disable` keyword
    Enable {
        /// Resources, comma separated; without it, the whole service (DEFAULT.disable)
        #[arg(long, value_name = "RIDS")]
        rid: Option<String>,
    },
    /// Disable resources (or the service): `disable = true`; every action passes them over
    Disable {
        /// Resources, comma separated; without it, the whole service (DEFAULT.disable)
        #[arg(long, value_name = "RIDS")]
        rid: Option<String>,
    },
    /// Create a service file from a file (a template's output, say) and keyword values
    #[command(after_help = "\
Examples:
  doppel -s web create --kw app#0.type=script --kw app#0.start='/srv/web start'
  doppel template sync.symclone > /tmp/clone.conf
  doppel -s clone create --config /tmp/clone.conf --kw sync#0.type=symclone \\
      --kw sync#0.symid=000197900123 --kw sync#0.pairs=00B60:00B61")]
    Create {
        /// Start from this file
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// <section>.<keyword>=<value> to set (repeatable)
        #[arg(long = "kw", value_name = "SECTION.KEYWORD=VALUE")]
        kw: Vec<String>,
    },
    /// Check the selected service files: every problem, one per line (exit 2 if any)
    #[command(after_help = "\
Examples:
  doppel -s demo validate
  doppel -s '*' validate")]
    Validate,
    /// Print the selected services' status, configuration or schedules
    #[command(after_help = "\
Examples:
  doppel -s demo print status
  doppel -s '*' print status --format json
  doppel -s demo print config --eval
  doppel -s demo print schedule")]
    Print {
        #[command(subcommand)]
        what: PrintCommand,
    },
    /// Run a sync action on the selected services: break, resync, update, restore, ...
    #[command(after_help = "\
Examples:
  doppel -s demo sync update
  doppel -s demo sync update --rid sync#0 --dry-run
  doppel -s demo sync resync --rid sync#1 --force

The one-word forms (syncupdate, syncbreak, ...) of OpenSVC are accepted too.")]
    Sync {
        #[command(subcommand)]
        what: SyncCommand,
    },
    /// Same as `sync break` (OpenSVC's spelling)
    #[command(name = "syncbreak", hide = true)]
    SyncBreak(ActionArgs),
    /// Same as `sync resync` (OpenSVC's spelling)
    #[command(name = "syncresync", hide = true)]
    SyncResync(ActionArgs),
    /// Same as `sync update` (OpenSVC's spelling)
    #[command(name = "syncupdate", hide = true)]
    SyncUpdate(ActionArgs),
    /// Same as `sync restore` (OpenSVC's spelling)
    #[command(name = "syncrestore", hide = true)]
    SyncRestore(ActionArgs),
    /// Same as `sync all` (OpenSVC's spelling)
    #[command(name = "syncall", hide = true)]
    SyncAll(ActionArgs),
    /// Same as `sync nodes` (OpenSVC's spelling)
    #[command(name = "syncnodes", hide = true)]
    SyncNodes(ActionArgs),
    /// Same as `sync drp` (OpenSVC's spelling)
    #[command(name = "syncdrp", hide = true)]
    SyncDrp(ActionArgs),
    /// An action a driver declares (e.g. activate, wake, ship): see `doppel drivers info`
    #[command(external_subcommand)]
    DriverAction(Vec<String>),
}

#[derive(Debug, Subcommand)]
pub enum EditCommand {
    /// The service file: a copy opens in the editor, and replaces the file only if
    /// it validates (else reopen, or discard)
    Config,
}

#[derive(Debug, Subcommand)]
pub enum DriversCommand {
    /// List the loaded drivers and the files that were skipped (the default)
    List,
    /// Describe a driver: its keywords and actions
    Info {
        /// The driver type, e.g. sync.symclone
        #[arg(value_name = "GROUP.TYPE")]
        type_name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Tell whether a run is allowed now, and when the next one is
    #[command(after_help = "\
Examples:
  doppel schedule check '04:00-06:00@121'
  doppel schedule check '10:00-11:00,14:00-15:00@30 mon-fri' --now 2026-01-05T10:15:00
  doppel schedule check '@1h' --last 2026-01-05T09:30:00Z --now 2026-01-05T10:00:00Z
  doppel schedule check '[\"06:00-07:00@1h *:1,-1\", \"! * * * feb\"]'")]
    Check {
        /// The expression, e.g. '00:00-01:00@61 mon', or a JSON list of expressions
        expr: String,
        /// Evaluate at TIME (RFC 3339; without an offset, local time) instead of now
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// The last run was at TIME (RFC 3339); default: never
        #[arg(long, value_name = "TIME")]
        last: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PrintCommand {
    /// The status tree of each service (from the cache unless --refresh)
    Status {
        #[command(flatten)]
        select: SelectArgs,
        /// Ask the drivers instead of reading the cache (8 services at a time)
        #[arg(long)]
        refresh: bool,
    },
    /// The service file as written, or every keyword resolved with --eval
    Config {
        /// Resolve every keyword for this node and say where each value came from
        #[arg(long)]
        eval: bool,
    },
    /// Scheduled tasks: action, expression, last run, last success, next run
    Schedule(SelectArgs),
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

/// Resource selection, for commands that only read.
#[derive(Clone, Debug, Default, Args)]
pub struct SelectArgs {
    /// Resources to show: rids (`sync#0`), groups (`sync`) or globs, comma separated
    #[arg(long, value_name = "RIDS")]
    pub rid: Option<String>,
    /// Resources with these tags: `a,b` any of them, `a+b` all of them
    #[arg(long, value_name = "TAGS")]
    pub tags: Option<String>,
    /// Resources in these subsets, comma separated
    #[arg(long, value_name = "SUBSETS")]
    pub subsets: Option<String>,
}

impl SelectArgs {
    /// The same selection as action options (nothing else set).
    pub fn into_action_args(self) -> ActionArgs {
        ActionArgs {
            rid: self.rid,
            tags: self.tags,
            subsets: self.subsets,
            ..ActionArgs::default()
        }
    }
}

/// `status`: which resources, and how many services at a time.
#[derive(Clone, Debug, Default, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Refresh N services at a time (default 8; bare --parallel: 64, the most; --parallel=1: one after the other)
    #[arg(
        long,
        value_name = "N",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "64"
    )]
    pub parallel: Option<usize>,
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
    /// Print the commands a state-changing action would run, and run none
    #[arg(long)]
    pub dry_run: bool,
    /// Wait this long for another action's lock (e.g. 30s, 2m; default: the service's lock_timeout)
    #[arg(long, value_name = "DURATION")]
    pub waitlock: Option<String>,
    /// Act on several services concurrently: N at a time (bare --parallel: 64, the most)
    #[arg(
        long,
        value_name = "N",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "64"
    )]
    pub parallel: Option<usize>,
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

/// The global options as written after a driver action (`-s x mount --format json`):
/// clap's `global = true` does not reach into an external subcommand's words, so the
/// driver action parser reads them here and `main` merges them into [`Cli`].
#[derive(Clone, Debug, Default, Args)]
pub struct LateGlobalArgs {
    /// Prefix every path doppel uses with DIR
    #[arg(long, value_name = "DIR", help_heading = "Global options")]
    pub root: Option<PathBuf>,
    /// More output on the console (-v: debug, -vv: trace)
    #[arg(short, long, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,
    /// Only errors on the console
    #[arg(
        short,
        long,
        conflicts_with = "verbose",
        help_heading = "Global options"
    )]
    pub quiet: bool,
    /// Output format: text for people, json for scripts
    #[arg(long, value_enum, help_heading = "Global options")]
    pub format: Option<Format>,
    /// Services to act on
    #[arg(
        short = 's',
        long = "service",
        value_name = "SELECTOR",
        help_heading = "Global options"
    )]
    pub selector: Option<String>,
}
