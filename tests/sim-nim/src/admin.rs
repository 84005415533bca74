//! `nimsim`: set up the simulated NIM master and inject faults (not an AIX command).

use clap::{Args, Parser, Subcommand};
use doppel_sim::common::{SimError, SimResult, out, to_json};
use serde::Serialize;

use crate::model::{
    Client, DEFAULT_CLIENT_LEVEL, DEFAULT_PHASE_SECONDS, DEFAULT_TARGET_LEVEL, Fault,
    RESOURCE_TYPES, Resource, RunRecord, client_busy, log_path, read_db, with_db,
};

#[derive(Parser, Debug)]
#[command(
    name = "nimsim",
    about = "Set up and steer the doppel nimadm simulator (state under $DOPPEL_SIM_ROOT/nim)",
    version
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Define clients, a SPOT and an lpp_source in one go.
    Setup(SetupArgs),
    /// NIM standalone clients.
    #[command(subcommand)]
    Client(ClientCmd),
    /// NIM resources (spot, lpp_source, script, installp_bundle, ...).
    #[command(subcommand)]
    Resource(ResourceCmd),
    /// Set a simulator setting: phase-seconds.
    Set {
        key: String,
        value: f64,
        /// Only for this client.
        #[arg(long)]
        client: Option<String>,
    },
    /// Show a simulator setting: phase-seconds.
    Get {
        key: String,
        #[arg(long)]
        client: Option<String>,
    },
    /// Arm a fault: `phase <N>`, `cleanup`, `wake` or `sleep`.
    Fail(FailArgs),
    /// The armed faults (JSON).
    Faults,
    /// Disarm faults (all, or one kind).
    Clear { kind: Option<String> },
    /// The nimadm runs, oldest first (JSON): client, kind, start, end, result, phase.
    Runs {
        #[arg(long)]
        client: Option<String>,
    },
    /// The path of a client's simulated /var/adm/ras/alt_mig log.
    Log { client: String },
    /// Forget everything the nimadm simulator knows.
    Reset,
}

#[derive(Args, Debug)]
struct SetupArgs {
    /// Client names, comma separated.
    #[arg(long, required = true)]
    clients: String,
    #[command(flatten)]
    client: ClientOpts,
    /// SPOT resource to define.
    #[arg(long, default_value = "spot_7200")]
    spot: String,
    /// lpp_source resource to define.
    #[arg(long, default_value = "lpp_7200")]
    lpp_source: String,
    /// Level of the SPOT and lpp_source.
    #[arg(long, default_value = DEFAULT_TARGET_LEVEL)]
    target_level: String,
}

#[derive(Args, Debug)]
struct ClientOpts {
    /// The client's disks, comma separated.
    #[arg(long, default_value = "hdisk0,hdisk1,hdisk2")]
    disks: String,
    /// The disks of its running rootvg.
    #[arg(long, default_value = "hdisk0")]
    rootvg: String,
    /// Its running level (oslevel -s).
    #[arg(long, default_value = DEFAULT_CLIENT_LEVEL)]
    level: String,
}

#[derive(Subcommand, Debug)]
enum ClientCmd {
    /// Define clients.
    Add {
        #[arg(required = true)]
        names: Vec<String>,
        #[command(flatten)]
        opts: ClientOpts,
    },
    /// Remove clients.
    Remove {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// List clients with their alternate disk state.
    List,
    /// One client (JSON, with `busy_pid` when a nimadm works on it).
    Show { name: String },
}

#[derive(Subcommand, Debug)]
enum ResourceCmd {
    /// Define a resource: TYPE is spot, lpp_source, script, installp_bundle,
    /// exclude_files, image_data or bosinst_data.
    Add {
        #[arg(value_name = "TYPE")]
        rtype: String,
        name: String,
        /// Level (spot and lpp_source; default the target level).
        #[arg(long)]
        level: Option<String>,
    },
    /// Remove a resource.
    Remove { name: String },
    /// List resources (JSON).
    List,
}

#[derive(Args, Debug)]
struct FailArgs {
    /// `phase`, `cleanup`, `wake` or `sleep`.
    kind: String,
    /// For `phase`: the phase that fails (1-12).
    phase: Option<u8>,
    /// Only this client (default: any).
    #[arg(long)]
    client: Option<String>,
    /// Fire this many times (default 1).
    #[arg(long, default_value_t = 1, conflicts_with = "always")]
    count: u32,
    /// Fire until cleared.
    #[arg(long)]
    always: bool,
    /// Exit code (default 1).
    #[arg(long)]
    rc: Option<i32>,
    /// Message printed on stderr instead of the default.
    #[arg(long)]
    message: Option<String>,
    /// For `phase`: nimadm does not clean up after the failure (as when its own
    /// cleanup fails); the client keeps its failed migration until `nimadm -C`.
    #[arg(long)]
    no_cleanup: bool,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn valid_name(name: &str) -> SimResult<()> {
    if !name.is_empty()
        && name.len() <= 39
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        Ok(())
    } else {
        Err(SimError::new(
            1,
            format!(
                "nimsim: invalid NIM object name {name:?} (letters, digits, _ - ., at most 39)"
            ),
        ))
    }
}

fn add_clients(names: &[String], opts: &ClientOpts) -> SimResult<()> {
    let disks = list(&opts.disks);
    let rootvg = list(&opts.rootvg);
    if let Some(d) = rootvg.iter().find(|d| !disks.contains(d)) {
        return Err(SimError::new(
            1,
            format!(
                "nimsim: rootvg disk {d} is not among --disks {}",
                opts.disks
            ),
        ));
    }
    for n in names {
        valid_name(n)?;
    }
    with_db(|db| {
        for n in names {
            db.clients.insert(
                n.clone(),
                Client::new(n, &opts.level, disks.clone(), rootvg.clone()),
            );
        }
        Ok(())
    })
}

fn add_resource(rtype: &str, name: &str, level: Option<String>) -> SimResult<()> {
    if !RESOURCE_TYPES.contains(&rtype) {
        return Err(SimError::new(
            1,
            format!(
                "nimsim: unknown resource type {rtype:?} (one of: {})",
                RESOURCE_TYPES.join(", ")
            ),
        ));
    }
    valid_name(name)?;
    let level = match rtype {
        "spot" | "lpp_source" => Some(level.unwrap_or_else(|| DEFAULT_TARGET_LEVEL.to_owned())),
        _ => level,
    };
    with_db(|db| {
        db.resources.insert(
            name.to_owned(),
            Resource {
                rtype: rtype.to_owned(),
                level,
            },
        );
        Ok(())
    })
}

#[derive(Serialize)]
struct RunRow<'a> {
    client: &'a str,
    #[serde(flatten)]
    run: &'a RunRecord,
}

fn run(cli: Cli) -> SimResult<()> {
    match cli.cmd {
        Cmd::Setup(a) => {
            let names = list(&a.clients);
            add_clients(&names, &a.client)?;
            add_resource("spot", &a.spot, Some(a.target_level.clone()))?;
            add_resource("lpp_source", &a.lpp_source, Some(a.target_level.clone()))?;
            out(&format!(
                "NIM master ready: clients {} ({}), spot {}, lpp_source {} ({})\n",
                names.join(" "),
                a.client.level,
                a.spot,
                a.lpp_source,
                a.target_level
            ));
        }
        Cmd::Client(ClientCmd::Add { names, opts }) => add_clients(&names, &opts)?,
        Cmd::Client(ClientCmd::Remove { names }) => with_db(|db| {
            for n in &names {
                db.clients
                    .remove(n)
                    .ok_or_else(|| SimError::new(1, format!("nimsim: no client {n}")))?;
            }
            Ok(())
        })?,
        Cmd::Client(ClientCmd::List) => {
            let db = read_db()?;
            let mut text = String::new();
            for c in db.clients.values() {
                let alt = match &c.alt {
                    Some(a) => format!(
                        "altinst_rootvg {} on {} (phase {}/12)",
                        a.state.as_str(),
                        a.disks.join(","),
                        a.phase_done
                    ),
                    None => "no altinst_rootvg".to_owned(),
                };
                let busy = client_busy(&c.name)
                    .map(|p| format!(", nimadm pid {p} running"))
                    .unwrap_or_default();
                text.push_str(&format!(
                    "{:<16} {:<18} rootvg {:<8} {alt}{busy}\n",
                    c.name,
                    c.level,
                    c.rootvg.join(",")
                ));
            }
            out(&text);
        }
        Cmd::Client(ClientCmd::Show { name }) => {
            let db = read_db()?;
            let c = db.client(&name)?;
            let mut v = serde_json::to_value(c).map_err(|e| SimError::new(70, e.to_string()))?;
            v["busy_pid"] = serde_json::json!(client_busy(&name));
            out(&to_json(&v));
        }
        Cmd::Resource(ResourceCmd::Add { rtype, name, level }) => {
            add_resource(&rtype, &name, level)?
        }
        Cmd::Resource(ResourceCmd::Remove { name }) => with_db(|db| {
            db.resources
                .remove(&name)
                .ok_or_else(|| SimError::new(1, format!("nimsim: no resource {name}")))?;
            Ok(())
        })?,
        Cmd::Resource(ResourceCmd::List) => out(&to_json(&read_db()?.resources)),
        Cmd::Set { key, value, client } => {
            check_key(&key)?;
            if !(value.is_finite() && value >= 0.0) {
                return Err(SimError::new(
                    1,
                    "nimsim: phase-seconds must be a number >= 0",
                ));
            }
            with_db(|db| {
                match &client {
                    Some(c) => db.client_mut(c)?.phase_seconds = Some(value),
                    None => db.settings.phase_seconds = Some(value),
                }
                Ok(())
            })?;
        }
        Cmd::Get { key, client } => {
            check_key(&key)?;
            let db = read_db()?;
            let v = match &client {
                Some(c) => {
                    db.client(c)?;
                    db.phase_seconds(c)
                }
                None => db.settings.phase_seconds.unwrap_or(DEFAULT_PHASE_SECONDS),
            };
            out(&format!("{v}\n"));
        }
        Cmd::Fail(a) => {
            match a.kind.as_str() {
                "phase" => match a.phase {
                    Some(p) if (1..=12).contains(&p) => {}
                    _ => {
                        return Err(SimError::new(
                            1,
                            "nimsim: fail phase needs the phase number (1-12), e.g. `nimsim fail phase 6 --client lpar3`",
                        ));
                    }
                },
                "cleanup" | "wake" | "sleep" => {
                    if a.phase.is_some() {
                        return Err(SimError::new(
                            1,
                            format!("nimsim: fail {} takes no phase", a.kind),
                        ));
                    }
                }
                other => {
                    return Err(SimError::new(
                        1,
                        format!(
                            "nimsim: unknown fault kind {other:?} (phase, cleanup, wake, sleep)"
                        ),
                    ));
                }
            }
            let fault = Fault {
                kind: a.kind.clone(),
                client: a.client.clone(),
                phase: a.phase,
                remaining: if a.always { None } else { Some(a.count.max(1)) },
                rc: a.rc,
                message: a.message.clone(),
                no_cleanup: a.no_cleanup,
            };
            with_db(|db| {
                if let Some(c) = &fault.client {
                    db.client(c)?;
                }
                db.faults.push(fault);
                Ok(())
            })?;
        }
        Cmd::Faults => out(&to_json(&read_db()?.faults)),
        Cmd::Clear { kind } => with_db(|db| {
            db.faults
                .retain(|f| kind.as_deref().is_some_and(|k| f.kind != k));
            Ok(())
        })?,
        Cmd::Runs { client } => {
            let db = read_db()?;
            let mut rows: Vec<RunRow> = db
                .clients
                .values()
                .filter(|c| client.as_deref().is_none_or(|n| n == c.name))
                .flat_map(|c| {
                    c.runs.iter().map(move |r| RunRow {
                        client: &c.name,
                        run: r,
                    })
                })
                .collect();
            rows.sort_by(|a, b| a.run.start.total_cmp(&b.run.start));
            out(&to_json(&rows));
        }
        Cmd::Log { client } => out(&format!("{}\n", log_path(&client)?.display())),
        Cmd::Reset => {
            let dir = doppel_sim::common::sim_root()?.join(crate::model::FAMILY);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| {
                    SimError::new(1, format!("cannot remove {}: {e}", dir.display()))
                })?;
            }
        }
    }
    Ok(())
}

fn check_key(key: &str) -> SimResult<()> {
    if key == "phase-seconds" {
        Ok(())
    } else {
        Err(SimError::new(
            1,
            format!("nimsim: unknown setting {key:?} (phase-seconds)"),
        ))
    }
}

/// Entry point of the `nimsim` binary.
pub fn main(args: Vec<String>) -> i32 {
    let argv = std::iter::once("nimsim".to_owned()).chain(args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            doppel_sim::common::err(&format!("{}\n", e.message));
            e.code
        }
    }
}
