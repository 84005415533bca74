//! A service: its file read, checked and resolved for this node.
//!
//! [`load`] never stops at the first problem: it returns whatever it could build
//! plus every [`Diagnostic`], so `doppel validate` can list them all and actions can
//! refuse to run on a broken file with the full list.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use doppel_plugin_api::{KeywordSpec, KeywordType, Manifest, Problem, ResourceConfig, Status};
use serde::Serialize;

use crate::convert;
use crate::ini::{self, Entry, Ini, Location, Section, SectionKind};
use crate::keywords;

mod conditions;
mod load;
mod resolve;
mod select;

use conditions::*;
pub use conditions::{is_rid, parse_conditions};
pub use load::load;
use load::*;
use resolve::*;
pub use select::{FileFacts, closest, file_facts, list_services, select_services};

/// What the service model needs to know about drivers (implemented by the host
/// over the loaded libraries, and by tests over plain manifests).
pub trait DriverCatalog {
    /// The manifest of driver `group.name`.
    fn manifest(&self, type_name: &str) -> Option<&Manifest>;
    /// The installed driver types.
    fn types(&self) -> Vec<String>;
    /// Driver-level validation of a resource.
    fn validate(&self, type_name: &str, config: &ResourceConfig) -> Vec<Problem> {
        let _ = (type_name, config);
        Vec::new()
    }
    /// Driver-level validation of several resources (`(type, config)` each),
    /// their problems in the same order: a service's resources are checked in
    /// one go, so that a host running drivers in processes of their own can send
    /// each driver one message for them all.
    fn validate_all(&self, items: &[(&str, &ResourceConfig)]) -> Vec<Vec<Problem>> {
        items
            .iter()
            .map(|(type_name, config)| self.validate(type_name, config))
            .collect()
    }
}

/// One problem in a service file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// `file:line`, when the problem has a place.
    #[serde(serialize_with = "ser_location")]
    pub location: Option<Location>,
    /// The section (`sync#0`, `DEFAULT`, ...).
    pub section: Option<String>,
    /// The keyword, as written.
    pub keyword: Option<String>,
    /// What is wrong.
    pub message: String,
}

fn ser_location<S: serde::Serializer>(loc: &Option<Location>, s: S) -> Result<S::Ok, S::Error> {
    match loc {
        Some(l) => s.serialize_str(&l.to_string()),
        None => s.serialize_none(),
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        match (&self.section, &self.keyword) {
            (Some(s), Some(k)) => write!(f, "{s}.{k}: ")?,
            (Some(s), None) => write!(f, "{s}: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

/// Where a resolved value came from (`print config --eval`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Written in the section, possibly scoped (`kw@node1`).
    File {
        /// `file:line`.
        location: String,
        /// The key as written (`pairs@node1`).
        key: String,
    },
    /// Inherited from `[DEFAULT]`.
    Inherited {
        /// `file:line`.
        location: String,
        /// The key as written.
        key: String,
    },
    /// The keyword's default.
    Default,
    /// An environment variable (for `[env]` values: the upper-cased name wins).
    Environment {
        /// The variable.
        variable: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { location, key } => write!(f, "{location} ({key})"),
            Origin::Inherited { location, key } => write!(f, "{location} (DEFAULT {key})"),
            Origin::Default => f.write_str("default"),
            Origin::Environment { variable } => write!(f, "environment variable {variable}"),
        }
    }
}

/// A keyword's value for this node, references resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// The value text.
    pub value: String,
    /// Where it came from.
    pub origin: Origin,
}

/// `rid(state,...)` in an `<action>_depends` keyword.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// The resource whose state is checked.
    pub rid: String,
    /// Accepted states (default `up`, `stdby up`).
    pub states: Vec<Status>,
}

impl Condition {
    /// "fs#1 in (down, stdby down)".
    pub fn describe(&self) -> String {
        let states: Vec<&str> = self.states.iter().map(|s| s.as_str()).collect();
        format!("{} in ({})", self.rid, states.join(", "))
    }
}

/// A resource, resolved for this node.
#[derive(Clone, Debug, Serialize)]
pub struct ResourceDef {
    /// `sync#0`.
    pub rid: String,
    /// `sync`.
    pub group: String,
    /// `0`.
    pub index: String,
    /// `sync.symclone` (empty when the type is missing).
    pub type_name: String,
    /// Driver basename, `symclone`.
    pub driver: String,
    /// Where the section starts.
    #[serde(skip)]
    pub location: Option<Location>,
    /// Every keyword with a value (canonical names: `_requires` read as `_depends`).
    pub values: BTreeMap<String, Resolved>,
    /// The driver's own keywords, resolved, for its `ResourceConfig`.
    pub driver_keywords: BTreeMap<String, String>,
    /// `tags`.
    pub tags: BTreeSet<String>,
    /// `subset`.
    pub subset: Option<String>,
    /// `disable`.
    pub disabled: bool,
    /// `optional` (default false; true only for `noaction` resources, which never act).
    pub optional: bool,
    /// `monitor`.
    pub monitor: bool,
    /// `restart`.
    pub restart: u32,
    /// `always_on` covers this node.
    pub standby: bool,
    /// `<action>_depends`, by action.
    pub conditions: BTreeMap<String, Vec<Condition>>,
    /// Triggers by keyword (`pre_start`, `blocking_post_sync_update`, ...).
    pub triggers: BTreeMap<String, String>,
    /// `schedule`.
    pub schedule: Option<String>,
    /// `sync_max_delay` in seconds (sync resources, and resources whose driver
    /// declares the keyword).
    pub sync_max_delay: Option<u64>,
}

impl ResourceDef {
    /// The resource set id: `<group>` or `<group>:<subset>`.
    pub fn rset(&self) -> String {
        match &self.subset {
            Some(s) => format!("{}:{s}", self.group),
            None => self.group.clone(),
        }
    }

    /// Tagged `noaction`: no state-changing action.
    pub fn noaction(&self) -> bool {
        self.tags.contains("noaction")
    }

    /// Tagged `nostatus`: status forced to n/a.
    pub fn nostatus(&self) -> bool {
        self.tags.contains("nostatus")
    }

    /// The trigger command for `<kind>_<action>` if set and not empty.
    pub fn trigger(&self, kind: &str, action: &str) -> Option<&str> {
        self.triggers
            .get(&format!("{kind}_{action}"))
            .map(String::as_str)
            .filter(|s| !s.trim().is_empty())
    }
}

/// A service, resolved for this node.
#[derive(Clone, Debug, Serialize)]
pub struct Service {
    /// Its name (the file stem).
    pub name: String,
    /// Its file.
    pub file: PathBuf,
    /// This node.
    pub nodename: String,
    /// `DEFAULT.nodes` (this node when unset).
    pub nodes: Vec<String>,
    /// `DEFAULT.drpnodes`.
    pub drpnodes: Vec<String>,
    /// `DEFAULT.disable`.
    pub disabled: bool,
    /// `DEFAULT.lock_timeout`.
    pub lock_timeout: Duration,
    /// `DEFAULT.trigger_timeout`.
    pub trigger_timeout: Duration,
    /// `DEFAULT.status_schedule`.
    pub status_schedule: String,
    /// Service-level triggers (`DEFAULT.pre_start`, ...).
    pub triggers: BTreeMap<String, String>,
    /// Resources in file order.
    pub resources: Vec<ResourceDef>,
    /// `[subset#<rset>] parallel`.
    pub parallel_subsets: BTreeSet<String>,
    /// `[DEFAULT]` values resolved (for `print config --eval`).
    pub default_values: BTreeMap<String, Resolved>,
    /// `[env]` values resolved for this node (scopes, references, and the
    /// upper-cased environment variable that wins), in file order.
    pub env_values: Vec<(String, Resolved)>,
    /// The parsed file, as written.
    #[serde(skip)]
    pub ini: Ini,
}

impl Service {
    /// The resource `rid`.
    pub fn resource(&self, rid: &str) -> Option<&ResourceDef> {
        self.resources.iter().find(|r| r.rid == rid)
    }

    /// The resources of `group`.
    pub fn group(&self, group: &str) -> impl Iterator<Item = &ResourceDef> {
        self.resources.iter().filter(move |r| r.group == group)
    }

    /// What this node is to the service: one of its `nodes`, one of its
    /// `drpnodes`, or neither (the service belongs to other nodes).
    pub fn node_role(&self) -> NodeRole {
        if self.nodes.iter().any(|n| n == &self.nodename) {
            NodeRole::Primary
        } else if self.drpnodes.iter().any(|n| n == &self.nodename) {
            NodeRole::Drp
        } else {
            NodeRole::Foreign
        }
    }

    /// Why this node must not act on the service, when it is not one of its nodes:
    /// `this node (n1) is not in nodes (n2 n3) or drpnodes`.
    pub fn foreign_reason(&self) -> Option<String> {
        if self.node_role() != NodeRole::Foreign {
            return None;
        }
        let drp = if self.drpnodes.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.drpnodes.join(" "))
        };
        Some(format!(
            "this node ({}) is not in nodes ({}) or drpnodes{drp}",
            self.nodename,
            self.nodes.join(" ")
        ))
    }

    /// Why `action` is refused on this node, if it is: on a node that is not the
    /// service's, every action but `status`; on a DRP node, the syncs that push data
    /// from a primary node to its peers (`sync_nodes`, `sync_drp`).
    pub fn refuses_here(&self, action: &str) -> Option<String> {
        match self.node_role() {
            NodeRole::Primary => None,
            NodeRole::Drp if NodeRole::drp_refuses(action) => Some(format!(
                "{} runs on a primary node (nodes: {}); this node ({}) is a drpnode",
                action.replace('_', " "),
                self.nodes.join(" "),
                self.nodename
            )),
            NodeRole::Drp => None,
            NodeRole::Foreign => self.foreign_reason(),
        }
    }
}

/// This node's place in a service's `nodes` and `drpnodes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// In `nodes` (or `nodes` is unset): every action.
    Primary,
    /// In `drpnodes` only: every action but the syncs a primary node pushes to its
    /// peers, as OpenSVC allows on a disaster-recovery node (start the service
    /// there, refresh its local clones).
    Drp,
    /// In neither: the service is another node's; nothing is run here.
    Foreign,
}

impl NodeRole {
    /// The actions a DRP node refuses: they copy data from a primary node to the
    /// others, so they only make sense where the service normally runs.
    pub fn drp_refuses(action: &str) -> bool {
        crate::action::Action::parse(action).is_some_and(|a| a.runs_on_primary_only())
    }
}

/// A service file read and checked: the service (if the file could be read at all)
/// and every problem.
pub struct Loaded {
    /// The service, built as far as possible.
    pub service: Option<Service>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Inputs of [`load`].
pub struct LoadOptions<'a> {
    /// This node's name.
    pub nodename: &'a str,
    /// The drivers.
    pub catalog: &'a dyn DriverCatalog,
    /// The node config's `[driver.<name>]` tables.
    pub driver_options: &'a dyn Fn(&str) -> BTreeMap<String, serde_json::Value>,
    /// The state directory of a resource.
    pub state_dir: &'a dyn Fn(&str, &str) -> PathBuf,
    /// Ask drivers to validate their resources (costs a call per resource).
    pub driver_validation: bool,
}

/// The `ResourceConfig` a driver gets for `def`.
pub fn resource_config(
    def: &ResourceDef,
    svcname: &str,
    nodename: &str,
    opts: &LoadOptions<'_>,
) -> ResourceConfig {
    let mut config = ResourceConfig::new(svcname, &def.rid, nodename)
        .state_dir((opts.state_dir)(svcname, &def.rid));
    config.keywords = def.driver_keywords.clone();
    config.driver_options = (opts.driver_options)(&def.driver);
    config
}

#[cfg(test)]
mod tests;
