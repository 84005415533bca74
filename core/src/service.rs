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

/// Lists service names under `dir` (`<name>.conf`), sorted.
pub fn list_services(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "conf") {
                    if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                        names.push(stem.to_owned());
                    }
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    names.sort();
    Ok(names)
}

/// Expands a selector (`name`, `a,b`, `db*`) against the service names.
pub fn select_services(selector: &str, names: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in selector.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let pattern =
            glob::Pattern::new(part).map_err(|e| format!("bad service selector {part:?}: {e}"))?;
        let matched: Vec<&String> = names.iter().filter(|n| pattern.matches(n)).collect();
        if matched.is_empty() {
            let hint = closest(part, names.iter().map(String::as_str))
                .map(|c| format!(" (did you mean {c}?)"))
                .unwrap_or_default();
            return Err(format!("no service matches {part:?}{hint}"));
        }
        for m in matched {
            if !out.contains(m) {
                out.push(m.clone());
            }
        }
    }
    if out.is_empty() {
        return Err("empty service selector".to_owned());
    }
    Ok(out)
}

/// The closest of `candidates` to `word`, if close enough to suggest.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // Edit distance with transpositions: typos in short names (`wbe`, `tagz`) are
    // the common case. The first of equally close candidates wins.
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = strsim::osa_distance(word, c);
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// What commands that only read caches need to know of a service file, read
/// cheaply (no driver, no checks).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// Why this node does not run the service ([`Service::foreign_reason`]).
    pub foreign_reason: Option<String>,
    /// The resource sections' rids, in file order.
    pub rids: Vec<String>,
}

/// [`FileFacts`] of the service in `file` for node `nodename`; `None` when the file
/// cannot be read (whoever loads it reports that).
pub fn file_facts(name: &str, file: &Path, nodename: &str) -> Option<FileFacts> {
    let bytes = std::fs::read(file).ok()?;
    let parsed = ini::parse(file, &bytes);
    let rids = parsed
        .ini
        .sections()
        .iter()
        .filter(|s| matches!(s.kind(), SectionKind::Resource { .. }))
        .map(|s| s.name().to_owned())
        .collect();
    Some(FileFacts {
        foreign_reason: foreign_reason_in(name, file, nodename, parsed.ini),
        rids,
    })
}

/// Why this node does not run the service whose parsed file is `ini`, from its
/// `DEFAULT.nodes` and `DEFAULT.drpnodes` alone.
fn foreign_reason_in(name: &str, file: &Path, nodename: &str, ini: Ini) -> Option<String> {
    let parsed = ini::ParsedIni {
        ini,
        errors: Vec::new(),
    };
    let list = |k: &str| {
        parsed
            .ini
            .value("DEFAULT", k)
            .map(convert::to_list)
            .unwrap_or_default()
    };
    let nodes = list("nodes");
    let drpnodes = list("drpnodes");
    let svc = Service {
        name: name.to_owned(),
        file: file.to_owned(),
        nodename: nodename.to_owned(),
        nodes: if nodes.is_empty() {
            vec![nodename.to_owned()]
        } else {
            nodes
        },
        drpnodes,
        disabled: false,
        lock_timeout: Duration::ZERO,
        trigger_timeout: Duration::ZERO,
        status_schedule: String::new(),
        triggers: BTreeMap::new(),
        resources: Vec::new(),
        parallel_subsets: BTreeSet::new(),
        default_values: BTreeMap::new(),
        env_values: Vec::new(),
        ini: parsed.ini,
    };
    svc.foreign_reason()
}

/// Reads, checks and resolves the service `name` from `file`.
pub fn load(name: &str, file: &Path, opts: &LoadOptions<'_>) -> Loaded {
    // A service file says what root runs: refuse one that others can change, or
    // that sits where others can replace it.
    let dir = file.parent().unwrap_or(Path::new("/"));
    let unloadable = |message: String| Loaded {
        service: None,
        diagnostics: vec![Diagnostic {
            location: None,
            section: None,
            keyword: None,
            message,
        }],
    };
    if let Err(e) = crate::trust::check(dir, "services directory")
        .and_then(|()| crate::trust::check(file, "service file"))
    {
        return unloadable(e.to_string());
    }
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return unloadable(format!("cannot read {}: {e}", file.display())),
    };
    let parsed = ini::parse(file, &bytes);
    let mut diags: Vec<Diagnostic> = parsed
        .errors
        .iter()
        .map(|e| Diagnostic {
            location: Some(e.location.clone()),
            section: e.kind.section().map(str::to_owned),
            keyword: e.kind.key().map(str::to_owned),
            message: e.kind.detail(),
        })
        .collect();
    let mut builder = Builder {
        ini: &parsed.ini,
        opts,
        name,
        diags: &mut diags,
    };
    let service = builder.build(file);
    sort_diagnostics(&mut diags);
    Loaded {
        service: Some(service),
        diagnostics: diags,
    }
}

fn sort_diagnostics(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| d.location.as_ref().map(|l| l.line).unwrap_or(0));
}

struct Builder<'a, 'b> {
    ini: &'a Ini,
    opts: &'a LoadOptions<'b>,
    name: &'a str,
    diags: &'a mut Vec<Diagnostic>,
}

/// Splits `kw@scope`.
fn split_scope(key: &str) -> (&str, Option<&str>) {
    match key.split_once('@') {
        Some((k, s)) => (k, Some(s)),
        None => (key, None),
    }
}

/// Keywords a resource inherits from `[DEFAULT]` when it does not set them.
const INHERITED: &[&str] = &["sync_max_delay"];

impl Builder<'_, '_> {
    fn diag(
        &mut self,
        location: Option<&Location>,
        section: &str,
        keyword: Option<&str>,
        message: String,
    ) {
        self.diags.push(Diagnostic {
            location: location.cloned(),
            section: Some(section.to_owned()),
            keyword: keyword.map(str::to_owned),
            message,
        });
    }

    fn build(&mut self, file: &Path) -> Service {
        let nodename = self.opts.nodename.to_owned();
        let default = self.ini.section("DEFAULT");
        let raw_default = |k: &str| default.and_then(|s| s.value(k)).map(str::to_owned);
        let nodes = raw_default("nodes")
            .map(|v| convert::to_list(&v))
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| vec![nodename.clone()]);
        let drpnodes = raw_default("drpnodes")
            .map(|v| convert::to_list(&v))
            .unwrap_or_default();

        // Check every section and keyword; classify sections.
        let mut resource_sections = Vec::new();
        for section in self.ini.sections() {
            match section.kind() {
                SectionKind::Default => self.check_section(section, &keywords::default_section_keywords(), None),
                SectionKind::Env => {}
                SectionKind::Subset { .. } => self.check_section(section, &keywords::subset_keywords(), None),
                SectionKind::Resource { group, index } => resource_sections.push((section, group, index)),
                SectionKind::Other => self.diag(
                    Some(section.location()),
                    section.name(),
                    None,
                    "unknown section: expected [DEFAULT], [env], [subset#<group>[:<name>]] or [<group>#<index>]".to_owned(),
                ),
            }
        }

        let resolver = Resolver {
            ini: self.ini,
            svcname: self.name,
            nodename: &nodename,
            nodes: &nodes,
            drpnodes: &drpnodes,
        };

        // DEFAULT values.
        let env_values = resolver.env_values();
        let mut default_values = BTreeMap::new();
        if let Some(section) = default {
            for spec in keywords::default_section_keywords() {
                if let Some((v, _)) = self.resolve_keyword(&resolver, section, &spec, false) {
                    default_values.insert(spec.name.clone(), v);
                }
            }
        }
        let dv = |k: &str| default_values.get(k).map(|r: &Resolved| r.value.clone());
        let duration = |k: &str, d: u64| {
            dv(k)
                .and_then(|v| convert::to_duration_secs(&v).ok())
                .unwrap_or(d)
        };

        let mut resources = Vec::new();
        let mut depends_locations = Vec::new();
        for (section, group, index) in resource_sections {
            let (r, locations) = self.build_resource(&resolver, section, &group, &index);
            resources.push(r);
            depends_locations.push(locations);
        }
        self.check_conditions(&resources, &depends_locations);

        let mut parallel_subsets = BTreeSet::new();
        for section in self.ini.sections() {
            if let SectionKind::Subset { group, name } = section.kind() {
                let parallel = section
                    .value("parallel")
                    .map(|v| convert::to_bool(v).unwrap_or(false))
                    .unwrap_or(false);
                if parallel {
                    parallel_subsets.insert(match name {
                        Some(n) => format!("{group}:{n}"),
                        None => group,
                    });
                }
            }
        }
        let triggers = default_values
            .iter()
            .filter(|(k, _)| {
                k.starts_with("pre_") || k.starts_with("post_") || k.starts_with("blocking_")
            })
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        Service {
            name: self.name.to_owned(),
            file: file.to_owned(),
            nodename: nodename.clone(),
            nodes: nodes.clone(),
            drpnodes: drpnodes.clone(),
            disabled: dv("disable")
                .and_then(|v| convert::to_bool(&v).ok())
                .unwrap_or(false),
            lock_timeout: Duration::from_secs(duration("lock_timeout", 60)),
            trigger_timeout: Duration::from_secs(duration("trigger_timeout", 300)),
            status_schedule: dv("status_schedule").unwrap_or_else(|| "@10".to_owned()),
            triggers,
            resources,
            parallel_subsets,
            default_values,
            env_values,
            ini: self.ini.clone(),
        }
    }

    /// Reports unknown keywords, bad scoping, bad types and bad candidates of a
    /// section against `specs` (+ `type` for resources).
    fn check_section(&mut self, section: &Section, specs: &[KeywordSpec], allow_type: Option<()>) {
        for e in section.entries() {
            let (key, scope) = split_scope(&e.key);
            let canonical = keywords::canonical_name(key);
            if allow_type.is_some() && key == "type" {
                continue;
            }
            let Some(spec) = specs.iter().find(|s| s.name == canonical) else {
                // OpenSVC 2 keywords doppel does not implement: ignored, or one line
                // saying what doppel does instead (crate::opensvc).
                let legacy = match section.kind() {
                    SectionKind::Default => crate::opensvc::keyword(key, false),
                    SectionKind::Resource { .. } => crate::opensvc::keyword(key, true),
                    _ => None,
                };
                match legacy {
                    Some(crate::opensvc::Legacy::Ignored(_)) => continue,
                    Some(crate::opensvc::Legacy::Instead(how)) => {
                        self.diag(
                            Some(&e.location),
                            section.name(),
                            Some(&e.key),
                            format!(
                                "OpenSVC keyword not supported by doppel: {how} (see {})",
                                crate::opensvc::GUIDE
                            ),
                        );
                        continue;
                    }
                    None => {}
                }
                let hint = closest(key, specs.iter().map(|s| s.name.as_str()))
                    .map(|c| format!(" (did you mean '{c}'?)"))
                    .unwrap_or_default();
                self.diag(
                    Some(&e.location),
                    section.name(),
                    Some(&e.key),
                    format!("unknown keyword{hint}"),
                );
                continue;
            };
            if let Some(scope) = scope {
                if !spec.scopable {
                    self.diag(
                        Some(&e.location),
                        section.name(),
                        Some(&e.key),
                        format!("keyword '{key}' does not support scoping (@{scope})"),
                    );
                }
                if scope.is_empty() {
                    self.diag(
                        Some(&e.location),
                        section.name(),
                        Some(&e.key),
                        "empty scope after '@'".to_owned(),
                    );
                }
            }
            // Types and candidates are checked on the raw value unless it uses
            // references (checked after resolution instead).
            if !has_reference(&e.value) {
                self.check_value(&e.location, section.name(), &e.key, spec, &e.value);
            }
        }
    }

    fn check_value(
        &mut self,
        location: &Location,
        section: &str,
        key: &str,
        spec: &KeywordSpec,
        value: &str,
    ) {
        if let Err(err) = convert::check(spec.kind, value) {
            self.diag(Some(location), section, Some(key), err.to_string());
            return;
        }
        // The daemon parses schedules when it plans; a value it would refuse (or
        // one that can never match) must not validate.
        if keywords::holds_schedule(&spec.name) {
            if let Err(err) = crate::schedule::Schedule::parse(value) {
                self.diag(Some(location), section, Some(key), err.to_string());
                return;
            }
        }
        // always_on also accepts node names: its candidates are suggestions.
        if let (Some(c), true) = (
            &spec.candidates,
            spec.strict_candidates && spec.name != "always_on",
        ) {
            let ok = if spec.kind == KeywordType::Boolean {
                true
            } else {
                c.iter().any(|x| x == value)
            };
            if !ok {
                self.diag(
                    Some(location),
                    section,
                    Some(key),
                    format!("invalid value {value:?}: expected one of {}", c.join(", ")),
                );
            }
        }
    }

    /// Resolves one keyword of `section` (scopes, DEFAULT inheritance, default,
    /// references), with the line it was read from (`None` for a default).
    /// Reports unresolved references.
    fn resolve_keyword(
        &mut self,
        r: &Resolver<'_>,
        section: &Section,
        spec: &KeywordSpec,
        inherit: bool,
    ) -> Option<(Resolved, Option<Location>)> {
        let found = r
            .lookup(section, &spec.name, spec.scopable)
            .map(|e| (e, false))
            .or_else(|| {
                if inherit && INHERITED.contains(&spec.name.as_str()) {
                    let d = r.ini.section("DEFAULT")?;
                    r.lookup(d, &spec.name, spec.scopable).map(|e| (e, true))
                } else {
                    None
                }
            });
        let (raw, origin, location) = match found {
            Some((e, inherited)) => {
                let loc = e.location.to_string();
                let origin = if inherited {
                    Origin::Inherited {
                        location: loc,
                        key: e.key.clone(),
                    }
                } else {
                    Origin::File {
                        location: loc,
                        key: e.key.clone(),
                    }
                };
                (e.value.clone(), origin, Some(e.location.clone()))
            }
            None => (spec.default.clone()?, Origin::Default, None),
        };
        let key_written = match &origin {
            Origin::File { key, .. } | Origin::Inherited { key, .. } => key.clone(),
            Origin::Default | Origin::Environment { .. } => spec.name.clone(),
        };
        let value = match r.expand(&raw, section.name(), &mut Walk::default()) {
            Ok(v) => v,
            Err(msg) => {
                self.diag(location.as_ref(), section.name(), Some(&key_written), msg);
                raw.clone()
            }
        };
        if has_reference(&raw) {
            if let Some(loc) = &location {
                self.check_value(loc, section.name(), &key_written, spec, &value);
            }
        }
        Some((Resolved { value, origin }, location))
    }

    /// Builds the resource of `section`; also returns the lines its
    /// `<action>_depends` keywords were read from, by action.
    fn build_resource(
        &mut self,
        r: &Resolver<'_>,
        section: &Section,
        group: &str,
        index: &str,
    ) -> (ResourceDef, BTreeMap<String, Location>) {
        let rid = section.name().to_owned();
        let location = section.location().clone();
        let type_entry = section.get("type");
        let basename = type_entry
            .map(|e| e.value.trim().to_owned())
            .unwrap_or_default();
        let type_name = if basename.contains('.') {
            basename.clone()
        } else {
            format!("{group}.{basename}")
        };
        let manifest = if basename.is_empty() {
            let installed: Vec<String> = self
                .opts
                .catalog
                .types()
                .into_iter()
                .filter(|t| t.starts_with(&format!("{group}.")))
                .collect();
            self.diag(
                Some(&location),
                &rid,
                Some("type"),
                format!(
                    "missing keyword 'type' (installed {group} drivers: {})",
                    if installed.is_empty() {
                        "none".to_owned()
                    } else {
                        installed.join(", ")
                    }
                ),
            );
            None
        } else {
            let m = self.opts.catalog.manifest(&type_name);
            if m.is_none() {
                let types = self.opts.catalog.types();
                let hint = closest(&type_name, types.iter().map(String::as_str))
                    .map(|c| format!(" (did you mean {c}?)"))
                    .unwrap_or_else(|| " (see `doppel drivers list`)".to_owned());
                let loc = type_entry
                    .map(|e| e.location.clone())
                    .unwrap_or(location.clone());
                let message = match crate::opensvc::driver_type(group, &basename) {
                    Some(how) => format!(
                        "unknown driver type {type_name}: {how} (see {})",
                        crate::opensvc::GUIDE
                    ),
                    None => format!("unknown driver type {type_name}{hint}"),
                };
                self.diag(Some(&loc), &rid, Some("type"), message);
            }
            m
        };
        let specs: Vec<KeywordSpec> = match manifest {
            Some(m) => keywords::resource_keywords(m),
            None => keywords::generic_resource_keywords(group),
        };
        if manifest.is_some() {
            self.check_section(section, &specs, Some(()));
        }

        let mut values = BTreeMap::new();
        let mut locations = BTreeMap::new();
        for spec in &specs {
            if let Some((v, loc)) = self.resolve_keyword(r, section, spec, true) {
                values.insert(spec.name.clone(), v);
                if let Some(loc) = loc {
                    locations.insert(spec.name.clone(), loc);
                }
            } else if spec.required && !spec.provisioning && manifest.is_some() {
                self.diag(
                    Some(&location),
                    &rid,
                    Some(&spec.name),
                    "missing required keyword".to_owned(),
                );
            }
        }
        let get = |k: &str| values.get(k).map(|v: &Resolved| v.value.as_str());
        let boolean = |k: &str| get(k).and_then(|v| convert::to_bool(v).ok());
        let tags: BTreeSet<String> = get("tags")
            .map(convert::to_list)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let noaction = tags.contains("noaction");
        let optional = boolean("optional")
            .filter(|_| {
                values
                    .get("optional")
                    .is_some_and(|v| v.origin != Origin::Default)
            })
            // False for every group, as the template says (and OpenSVC om3); a
            // `noaction` resource never acts, so it cannot fail.
            .unwrap_or(noaction);
        let always_on = get("always_on").map(convert::to_list).unwrap_or_default();
        let standby = always_on.iter().any(|a| match a.as_str() {
            "nodes" => r.nodes.iter().any(|n| n == r.nodename),
            "drpnodes" => r.drpnodes.iter().any(|n| n == r.nodename),
            node => node == r.nodename,
        });

        let mut conditions = BTreeMap::new();
        let mut depends_locations = BTreeMap::new();
        for action in keywords::depends_actions(group) {
            let key = format!("{action}_depends");
            let Some(v) = values.get(&key) else { continue };
            let loc = locations.get(&key);
            match parse_conditions(&v.value) {
                Ok(list) if !list.is_empty() => {
                    conditions.insert(action.to_owned(), list);
                    if let Some(loc) = loc {
                        depends_locations.insert(action.to_owned(), loc.clone());
                    }
                }
                Ok(_) => {}
                Err(msg) => self.diag(loc, &rid, Some(&key), msg),
            }
        }
        let triggers = values
            .iter()
            .filter(|(k, _)| {
                k.starts_with("pre_") || k.starts_with("post_") || k.starts_with("blocking_")
            })
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        let driver_keywords: BTreeMap<String, String> = manifest
            .map(|m| {
                m.keywords
                    .iter()
                    .filter_map(|k| {
                        values
                            .get(&k.name)
                            .map(|v| (k.name.clone(), v.value.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let def = ResourceDef {
            rid: rid.clone(),
            group: group.to_owned(),
            index: index.to_owned(),
            type_name: if basename.is_empty() {
                String::new()
            } else {
                type_name.clone()
            },
            driver: basename.rsplit('.').next().unwrap_or(&basename).to_owned(),
            location: Some(location.clone()),
            tags,
            subset: get("subset").map(str::to_owned).filter(|s| !s.is_empty()),
            disabled: boolean("disable").unwrap_or(false),
            optional,
            monitor: boolean("monitor").unwrap_or(false),
            restart: get("restart")
                .and_then(|v| convert::to_integer(v).ok())
                .unwrap_or(0)
                .max(0) as u32,
            standby,
            conditions,
            triggers,
            schedule: get("schedule")
                .map(str::to_owned)
                .filter(|s| !s.trim().is_empty()),
            // Sync resources have it (a generic keyword); a driver of another group
            // that declares it (disk.alt_disk: the clone's age) gets the same rule,
            // applied once by doppel rather than by each driver.
            sync_max_delay: get("sync_max_delay")
                .and_then(|v| convert::to_duration_minute_secs(v).ok()),
            driver_keywords,
            values,
        };
        if let (Some(m), true) = (manifest, self.opts.driver_validation) {
            let config = resource_config(&def, self.name, r.nodename, self.opts);
            for p in self.opts.catalog.validate(&m.type_name(), &config) {
                let loc = p
                    .keyword
                    .as_deref()
                    .and_then(|k| locations.get(k))
                    .unwrap_or(&location);
                self.diag(Some(loc), &rid, p.keyword.as_deref(), p.message);
            }
        }
        (def, depends_locations)
    }

    /// Unknown rids, self-dependencies and cycles in `<action>_depends`.
    /// `locations[i]` holds the lines of `resources[i]`'s conditions, by action.
    fn check_conditions(
        &mut self,
        resources: &[ResourceDef],
        locations: &[BTreeMap<String, Location>],
    ) {
        let rids: BTreeSet<&str> = resources.iter().map(|r| r.rid.as_str()).collect();
        let mut found = Vec::new();
        let mut actions = BTreeSet::new();
        for (r, locations) in resources.iter().zip(locations) {
            for (action, conds) in &r.conditions {
                actions.insert(action.clone());
                for c in conds {
                    let loc = locations.get(action).cloned();
                    if c.rid == r.rid {
                        found.push((
                            loc,
                            r.rid.clone(),
                            action.clone(),
                            "a resource cannot depend on itself".to_owned(),
                        ));
                    } else if !rids.contains(c.rid.as_str()) {
                        let hint = closest(&c.rid, rids.iter().copied().filter(|x| *x != r.rid))
                            .map(|x| format!(" (did you mean {x}?)"))
                            .unwrap_or_default();
                        found.push((
                            loc,
                            r.rid.clone(),
                            action.clone(),
                            format!("unknown resource {}{hint}", c.rid),
                        ));
                    }
                }
            }
        }
        for action in actions {
            let edges: HashMap<&str, Vec<&str>> = resources
                .iter()
                .map(|r| {
                    let deps = r
                        .conditions
                        .get(&action)
                        .map(|c| {
                            c.iter()
                                .map(|c| c.rid.as_str())
                                .filter(|d| *d != r.rid)
                                .collect()
                        })
                        .unwrap_or_default();
                    (r.rid.as_str(), deps)
                })
                .collect();
            if let Some(cycle) = find_cycle(&edges) {
                let first = resources
                    .iter()
                    .position(|r| r.rid == cycle[0])
                    .expect("rid in cycle exists");
                found.push((
                    locations[first].get(&action).cloned(),
                    cycle[0].clone(),
                    action.clone(),
                    format!("dependency cycle: {}", cycle.join(" -> ")),
                ));
            }
        }
        for (loc, rid, action, msg) in found {
            self.diag(loc.as_ref(), &rid, Some(&format!("{action}_depends")), msg);
        }
    }
}

fn find_cycle<'a>(edges: &HashMap<&'a str, Vec<&'a str>>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        edges: &HashMap<&'a str, Vec<&'a str>>,
        state: &mut HashMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(node, 1);
        stack.push(node);
        for &next in edges.get(node).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|n| *n == next).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(next.to_owned());
                    return Some(cycle);
                }
                0 if edges.contains_key(next) => {
                    if let Some(c) = visit(next, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node, 2);
        None
    }
    let mut nodes: Vec<&&str> = edges.keys().collect();
    nodes.sort();
    let mut state = HashMap::new();
    for n in nodes {
        if state.get(*n).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, edges, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Parses `rid(state,...) rid2 ...`. Spaces are allowed inside parentheses
/// (`fs#1(down, stdby down)`), `stdby_up` is read as `stdby up`, and a rid without
/// states means `up, stdby up`.
pub fn parse_conditions(text: &str) -> Result<Vec<Condition>, String> {
    let mut out = Vec::new();
    let mut elements = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth -= 1;
                current.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !current.is_empty() {
                    elements.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
        if depth < 0 {
            return Err(format!("malformed condition {text:?}: unbalanced ')'"));
        }
    }
    if depth != 0 {
        return Err(format!("malformed condition {text:?}: unbalanced '('"));
    }
    if !current.is_empty() {
        elements.push(current);
    }
    for element in elements {
        let (rid, states) = match element.split_once('(') {
            Some((rid, rest)) => {
                let inner = rest
                    .strip_suffix(')')
                    .ok_or_else(|| format!("malformed condition {element:?}: text after ')'"))?;
                let mut states = Vec::new();
                for s in inner.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let status = Status::parse(s).ok_or_else(|| {
                        format!("malformed condition {element:?}: unknown state {s:?} (expected up, down, warn, n/a, undef, stdby up, stdby down)")
                    })?;
                    states.push(status);
                }
                if states.is_empty() {
                    states = vec![Status::Up, Status::StdbyUp];
                }
                (rid.to_owned(), states)
            }
            None => (element.clone(), vec![Status::Up, Status::StdbyUp]),
        };
        if !is_rid(&rid) {
            return Err(format!(
                "malformed condition {element:?}: {rid:?} is not a resource id like fs#1"
            ));
        }
        out.push(Condition { rid, states });
    }
    Ok(out)
}

/// `<group>#<index>`, both parts non-empty word characters.
pub fn is_rid(text: &str) -> bool {
    match text.split_once('#') {
        Some((g, i)) => {
            !g.is_empty()
                && !i.is_empty()
                && g.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && i.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
        }
        None => false,
    }
}

fn has_reference(text: &str) -> bool {
    references(text).next().is_some()
}

/// The `{name}` references in `text` (byte range and name). `${...}` is shell
/// syntax, not a reference.
fn references(text: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            if bytes[i] == b'{' && (i == 0 || bytes[i - 1] != b'$') {
                let start = i;
                let mut j = i + 1;
                while j < bytes.len()
                    && (bytes[j].is_ascii_alphanumeric() || b"_#.".contains(&bytes[j]))
                {
                    j += 1;
                }
                if j < bytes.len() && bytes[j] == b'}' && j > start + 1 {
                    i = j + 1;
                    return Some((start, j + 1, &text[start + 1..j]));
                }
            }
            i += 1;
        }
        None
    })
}

/// The most keyword references one value may expand: values that each reference
/// the next twice double at every level, and 40 levels would never finish.
const MAX_REFERENCES: usize = 10_000;

/// The state of one value's expansion.
#[derive(Default)]
struct Walk {
    /// The references being expanded, outermost first (to detect cycles).
    stack: Vec<String>,
    /// How many keyword references were expanded so far.
    expanded: usize,
}

struct Resolver<'a> {
    ini: &'a Ini,
    svcname: &'a str,
    nodename: &'a str,
    nodes: &'a [String],
    drpnodes: &'a [String],
}

impl Resolver<'_> {
    /// Looks `name` up in `section` with the node's scopes: `kw@<node>` >
    /// `kw@nodes` > `kw@drpnodes` > `kw`. `_requires` spellings count as
    /// `_depends`.
    fn lookup<'s>(&self, section: &'s Section, name: &str, scopable: bool) -> Option<&'s Entry> {
        let mut best: Option<(u8, &Entry)> = None;
        for e in section.entries() {
            let (key, scope) = split_scope(&e.key);
            if keywords::canonical_name(key) != name {
                continue;
            }
            let rank = match scope {
                Some(_) if !scopable => continue,
                Some(s) if s == self.nodename => 0,
                Some("nodes") if self.nodes.iter().any(|n| n == self.nodename) => 1,
                Some("drpnodes") if self.drpnodes.iter().any(|n| n == self.nodename) => 2,
                Some(_) => continue,
                None => 3,
            };
            if best.is_none_or(|(r, _)| rank < r) {
                best = Some((rank, e));
            }
        }
        best.map(|(_, e)| e)
    }

    /// Every `[env]` variable as a reference `{env.x}` reads it. A value whose
    /// references cannot be resolved is kept as written (validation reports it
    /// where it is used).
    fn env_values(&self) -> Vec<(String, Resolved)> {
        let Some(section) = self.ini.section("env") else {
            return Vec::new();
        };
        let mut names: Vec<&str> = Vec::new();
        for e in section.entries() {
            let (name, _) = split_scope(&e.key);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let mut values = Vec::new();
        for name in names {
            let variable = name.to_uppercase();
            let resolved = match std::env::var(&variable) {
                Ok(value) => Resolved {
                    value,
                    origin: Origin::Environment { variable },
                },
                Err(_) => {
                    let Some(e) = self.lookup(section, name, true) else {
                        continue;
                    };
                    let value = self
                        .expand(&e.value, "env", &mut Walk::default())
                        .unwrap_or_else(|_| e.value.clone());
                    Resolved {
                        value,
                        origin: Origin::File {
                            location: e.location.to_string(),
                            key: e.key.clone(),
                        },
                    }
                }
            };
            values.push((name.to_owned(), resolved));
        }
        values
    }

    /// Replaces references in `text` (of section `section`).
    fn expand(&self, text: &str, section: &str, walk: &mut Walk) -> Result<String, String> {
        let mut out = String::new();
        let mut last = 0;
        for (start, end, name) in references(text) {
            out.push_str(&text[last..start]);
            out.push_str(&self.reference(name, section, walk)?);
            last = end;
        }
        out.push_str(&text[last..]);
        Ok(out)
    }

    fn reference(&self, name: &str, section: &str, walk: &mut Walk) -> Result<String, String> {
        match name {
            "svcname" | "name" => return Ok(self.svcname.to_owned()),
            "nodename" => return Ok(self.nodename.to_owned()),
            "short_nodename" => {
                return Ok(self.nodename.split('.').next().unwrap_or("").to_owned());
            }
            "rid" => return Ok(section.to_owned()),
            "rindex" => {
                return Ok(section
                    .split_once('#')
                    .map(|(_, i)| i)
                    .unwrap_or("")
                    .to_owned());
            }
            _ => {}
        }
        let (sec, key) = match name.rsplit_once('.') {
            Some((s, k)) => (s.to_owned(), k.to_owned()),
            None => (section.to_owned(), name.to_owned()),
        };
        if sec == "env" {
            if let Ok(v) = std::env::var(key.to_uppercase()) {
                return Ok(v);
            }
        }
        let id = format!("{sec}.{key}");
        if walk.stack.contains(&id) {
            walk.stack.push(id);
            return Err(format!("reference cycle: {}", walk.stack.join(" -> ")));
        }
        walk.expanded += 1;
        if walk.expanded > MAX_REFERENCES {
            return Err(format!(
                "more than {MAX_REFERENCES} references to expand (values referencing each other several times?)"
            ));
        }
        let lookup = |s: &str| {
            self.ini
                .section(s)
                .and_then(|sec| self.lookup(sec, &key, true))
        };
        let entry = lookup(&sec).or_else(|| {
            if name.contains('.') {
                None
            } else {
                lookup("DEFAULT")
            }
        });
        let Some(entry) = entry else {
            return Err(format!("unresolved reference {{{name}}}"));
        };
        walk.stack.push(id);
        let v = self.expand(&entry.value, &sec, walk);
        walk.stack.pop();
        v
    }
}

/// The `ResourceConfig` a driver gets for `def`.
pub fn resource_config(
    def: &ResourceDef,
    svcname: &str,
    nodename: &str,
    opts: &LoadOptions<'_>,
) -> ResourceConfig {
    ResourceConfig {
        svcname: svcname.to_owned(),
        rid: def.rid.clone(),
        nodename: nodename.to_owned(),
        keywords: def.driver_keywords.clone(),
        driver_options: (opts.driver_options)(&def.driver),
        state_dir: (opts.state_dir)(svcname, &def.rid),
    }
}

#[cfg(test)]
mod tests;
