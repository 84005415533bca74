//! Unknown options are errors: action options (`--opt k=v`, `--phase`, `--clients`)
//! and the keys of the node config's driver tables are checked against what the
//! drivers declare in their manifests (`Manifest::options`, `Manifest::node_options`).
//!
//! A manifest from a driver built before these declarations existed has `None`
//! there: doppel cannot know what it reads, so it passes the option on with a
//! warning rather than refusing an action that worked before the upgrade.

use std::collections::BTreeSet;
use std::path::Path;

use doppel_core::service::{Service, closest};
use doppel_plugin_api::Manifest;

use crate::drivers::Registry;

/// How an option is written on the command line: `--phase`, `--clients`, `--opt k`.
fn flag(key: &str) -> String {
    match key {
        "phase" | "clients" => format!("--{key}"),
        _ => format!("--opt {key}"),
    }
}

/// The actions `action` runs on resources (`sync all` runs three).
fn sub_actions(action: &str) -> Vec<&str> {
    match action {
        "sync_all" => vec!["sync_nodes", "sync_drp", "sync_update"],
        other => vec![other],
    }
}

/// Checks `options` of `action` against the drivers of the resources it will act on
/// (those of `services` that `selected` keeps and whose driver implements the action).
///
/// Returns the warnings for drivers that declare no options.
///
/// # Errors
/// One line for the first option no such driver reads, with did-you-mean and what
/// the drivers do read.
pub fn check_action_options<'a>(
    registry: &Registry,
    services: impl Iterator<Item = &'a Service>,
    action: &str,
    selected: impl Fn(&doppel_core::service::ResourceDef) -> bool,
    options: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<String>, String> {
    if options.is_empty() {
        return Ok(Vec::new());
    }
    let actions = sub_actions(action);
    let mut manifests: Vec<&Manifest> = Vec::new();
    for svc in services {
        for r in svc.resources.iter().filter(|r| selected(r)) {
            let Some(d) = registry.get(&r.type_name) else {
                continue;
            };
            let m = d.manifest();
            if actions.iter().any(|a| m.find_action(a).is_some())
                && !manifests.iter().any(|x| x.type_name() == m.type_name())
            {
                manifests.push(m);
            }
        }
    }
    if manifests.is_empty() {
        // Nothing will run: the engine says so in its own words.
        return Ok(Vec::new());
    }
    let mut warnings = Vec::new();
    for m in manifests.iter().filter(|m| m.options.is_none()) {
        warnings.push(format!(
            "driver {} declares no options (built with an older doppel-plugin-api): {} passed unchecked",
            m.type_name(),
            options.keys().map(|k| flag(k)).collect::<Vec<_>>().join(", ")
        ));
    }
    if !warnings.is_empty() {
        return Ok(warnings);
    }
    for key in options.keys() {
        let accepted = manifests
            .iter()
            .any(|m| actions.iter().any(|a| m.accepts_option(key, a)));
        if accepted {
            continue;
        }
        let mut known = BTreeSet::new();
        for m in &manifests {
            for o in m.options.iter().flatten() {
                if actions.iter().any(|a| o.applies_to(a)) {
                    known.insert(o.name.as_str());
                }
            }
        }
        let hint = closest(key, known.iter().copied())
            .map(|c| format!(" (did you mean {}?)", flag(c)))
            .unwrap_or_default();
        let types: Vec<String> = manifests.iter().map(|m| m.type_name()).collect();
        let reads = if known.is_empty() {
            "they read no option".to_owned()
        } else {
            format!(
                "they read {}",
                known.iter().map(|k| flag(k)).collect::<Vec<_>>().join(", ")
            )
        };
        return Err(format!(
            "{}: unknown option for {}{hint}: no driver of the selected resources ({}) reads it; {reads}",
            flag(key),
            action.replace('_', " "),
            types.join(", "),
        ));
    }
    Ok(Vec::new())
}

/// A problem with a `[driver.<name>]` table of the node config.
pub struct NodeProblem {
    /// The node config file.
    pub file: String,
    /// 1-based line (0 when not found).
    pub line: usize,
    /// `driver.<name>`.
    pub table: String,
    /// The key at fault; `None` for the table as a whole.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// A warning (the table of a driver that is not installed), not an error.
    pub warning: bool,
}

impl std::fmt::Display for NodeProblem {
    /// `<file>:<line>: [driver.<name>] <key>: <message>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: [{}]", self.file, self.line, self.table)?;
        if let Some(k) = &self.key {
            write!(f, " {k}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Checks every key of every `[driver.<name>]` table of the node config at `path`
/// against the node options the drivers named `<name>` declare.
pub fn check_node_config(
    node: &doppel_core::node::NodeConfig,
    path: &Path,
    registry: &Registry,
) -> Vec<NodeProblem> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let file = path.display().to_string();
    let mut problems = Vec::new();
    for (name, table) in &node.driver {
        let manifests: Vec<&Manifest> = registry
            .drivers
            .values()
            .map(|d| d.manifest())
            .filter(|m| m.name == *name)
            .collect();
        let problem = |key: Option<&str>, message: String, warning: bool| {
            let line = match key {
                Some(k) => doppel_core::node::driver_key_line(&text, name, k),
                None => text
                    .lines()
                    .position(|l| {
                        l.trim()
                            .trim_start_matches('[')
                            .starts_with(&format!("driver.{name}"))
                    })
                    .map(|i| i + 1),
            };
            NodeProblem {
                file: file.clone(),
                line: line.unwrap_or(0),
                table: format!("driver.{name}"),
                key: key.map(str::to_owned),
                message,
                warning,
            }
        };
        if manifests.is_empty() {
            let installed: BTreeSet<&str> = registry
                .drivers
                .values()
                .map(|d| d.manifest().name.as_str())
                .collect();
            let hint = closest(name, installed.iter().copied())
                .map(|c| format!(" (did you mean [driver.{c}]?)"))
                .unwrap_or_default();
            let warning = hint.is_empty();
            problems.push(problem(
                None,
                format!("no driver named {name} is installed: the table is unused{hint}"),
                warning,
            ));
            continue;
        }
        if manifests.iter().any(|m| m.node_options.is_none()) {
            continue;
        }
        let known: BTreeSet<&str> = manifests
            .iter()
            .flat_map(|m| m.node_options.iter().flatten())
            .map(|o| o.name.as_str())
            .collect();
        for key in table.keys() {
            if known.contains(key.as_str()) {
                continue;
            }
            let hint = closest(key, known.iter().copied())
                .map(|c| format!(" (did you mean '{c}'?)"))
                .unwrap_or_default();
            let reads = if known.is_empty() {
                format!("driver {name} reads no key")
            } else {
                format!(
                    "driver {name} reads {}",
                    known.iter().copied().collect::<Vec<_>>().join(", ")
                )
            };
            problems.push(problem(
                Some(key),
                format!("unknown key{hint}; {reads}"),
                false,
            ));
        }
    }
    problems
}
