//! The resource's keywords, read and checked once.

use std::collections::BTreeMap;
use std::time::Duration;

use doppel_plugin_api::{Problem, ResourceConfig};

/// Default of `max_parallel`.
pub const DEFAULT_MAX_PARALLEL: i64 = 4;
/// Default of `client_timeout`: a migration "normally takes 2-3 hours".
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// Default of `progress_interval`.
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(300);

/// A configured nimadm resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub clients: Vec<String>,
    /// Target disks of each client (from `client_disks`, else `disks`).
    pub disks: BTreeMap<String, Vec<String>>,
    pub lpp_source: String,
    pub spot: String,
    pub cache_vg: Option<String>,
    pub pre_migration: Option<String>,
    pub post_migration: Option<String>,
    pub bundle: Option<String>,
    pub exclude_files: Option<String>,
    pub image_data: Option<String>,
    pub bosinst_data: Option<String>,
    pub nfs_mount_options: Option<String>,
    pub accept_licenses: bool,
    pub set_bootlist: bool,
    pub reboot: bool,
    pub max_parallel: usize,
    pub cleanup_on_failure: bool,
    pub client_timeout: Duration,
    pub progress_interval: Duration,
}

/// NIM object names: letters, digits, `_`, `-`, `.` (also what a state key allows).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Settings {
    /// Reads the keywords; every problem found, with its keyword.
    pub fn from_config(config: &ResourceConfig) -> Result<Settings, Vec<Problem>> {
        let mut problems = Vec::new();
        let clients = read_clients(config, &mut problems);
        let disks = read_disks(config, &clients, &mut problems);
        let lpp_source = config.get_text("lpp_source").unwrap_or_default();
        if lpp_source.is_empty() {
            problems.push(Problem::keyword(
                "lpp_source",
                "required: the NIM lpp_source of the level to migrate to",
            ));
        }
        let spot = config.get_text("spot").unwrap_or_default();
        if spot.is_empty() {
            problems.push(Problem::keyword(
                "spot",
                "required: the NIM SPOT of the level to migrate to",
            ));
        }
        let max_parallel = config.get_int("max_parallel", DEFAULT_MAX_PARALLEL);
        if max_parallel < 1 {
            problems.push(Problem::keyword(
                "max_parallel",
                format!("must be at least 1, got {max_parallel}"),
            ));
        }
        let set_bootlist = config.get_bool("set_bootlist", false);
        let reboot = config.get_bool("reboot", false);
        if reboot && !set_bootlist {
            problems.push(Problem::keyword(
                "reboot",
                "reboot = true needs set_bootlist = true: nimadm takes -B (keep the bootlist) or -r (reboot), not both",
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Settings {
            clients,
            disks,
            lpp_source,
            spot,
            cache_vg: config.get_text("cache_vg"),
            pre_migration: config.get_text("pre_migration"),
            post_migration: config.get_text("post_migration"),
            bundle: config.get_text("bundle"),
            exclude_files: config.get_text("exclude_files"),
            image_data: config.get_text("image_data"),
            bosinst_data: config.get_text("bosinst_data"),
            nfs_mount_options: config.get_text("nfs_mount_options"),
            accept_licenses: config.get_bool("accept_licenses", false),
            set_bootlist,
            reboot,
            max_parallel: usize::try_from(max_parallel).unwrap_or(1).max(1),
            cleanup_on_failure: config.get_bool("cleanup_on_failure", true),
            client_timeout: config.get_duration("client_timeout", DEFAULT_CLIENT_TIMEOUT),
            progress_interval: config.get_duration("progress_interval", DEFAULT_PROGRESS_INTERVAL),
        })
    }

    /// The target disks of `client`, as one `-d` argument.
    pub fn disk_arg(&self, client: &str) -> String {
        self.disks
            .get(client)
            .map(|d| d.join(" "))
            .unwrap_or_default()
    }
}

/// `clients`: at least one, each a NIM name; one listed twice is a problem
/// (and kept once).
fn read_clients(config: &ResourceConfig, problems: &mut Vec<Problem>) -> Vec<String> {
    let clients = config.get_list("clients");
    if clients.is_empty() {
        problems.push(Problem::keyword(
            "clients",
            "no client: list the NIM clients to migrate, e.g. clients = lpar1 lpar2",
        ));
    }
    for (i, c) in clients.iter().enumerate() {
        if !valid_name(c) {
            problems.push(Problem::keyword(
                "clients",
                format!("'{c}' is not a NIM client name (letters, digits, _ - .)"),
            ));
        } else if clients[..i].contains(c) {
            problems.push(Problem::keyword(
                "clients",
                format!("client '{c}' is listed twice"),
            ));
        }
    }
    let mut unique: Vec<String> = Vec::new();
    for c in &clients {
        if !unique.contains(c) {
            unique.push(c.clone());
        }
    }
    unique
}

/// Each client's target disks: its `client_disks` entry, else `disks`; a
/// client left with none is a problem.
fn read_disks(
    config: &ResourceConfig,
    clients: &[String],
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Vec<String>> {
    let default_disks = config.get_list("disks");
    let overrides = read_client_disks(config, clients, problems);
    let mut disks = BTreeMap::new();
    for c in clients {
        let d = overrides
            .get(c)
            .cloned()
            .unwrap_or_else(|| default_disks.clone());
        if d.is_empty() {
            problems.push(Problem::keyword(
                "disks",
                format!("client {c} has no target disk: set disks (for every client) or client_disks = {c}:hdisk1"),
            ));
        }
        disks.insert(c.clone(), d);
    }
    disks
}

/// `client_disks = <client>:<disk>[,<disk>...] ...`: per-client disks, each
/// naming a listed client once.
fn read_client_disks(
    config: &ResourceConfig,
    clients: &[String],
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Vec<String>> {
    let mut overrides: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in config.get_list("client_disks") {
        let parsed = item.split_once(':').map(|(c, d)| {
            (
                c.to_owned(),
                d.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            )
        });
        match parsed {
            Some((c, d)) if valid_name(&c) && !d.is_empty() => {
                if !clients.contains(&c) {
                    problems.push(Problem::keyword(
                        "client_disks",
                        format!("'{item}' names {c}, which is not in clients ({})", clients.join(" ")),
                    ));
                } else if let std::collections::btree_map::Entry::Vacant(slot) = overrides.entry(c.clone()) {
                    slot.insert(d);
                } else {
                    problems.push(Problem::keyword("client_disks", format!("client {c} appears twice")));
                }
            }
            _ => problems.push(Problem::keyword(
                "client_disks",
                format!("'{item}' is malformed: expected <client>:<disk>[,<disk>...], e.g. lpar1:hdisk1,hdisk2"),
            )),
        }
    }
    overrides
}
