//! Loading services for commands: the driver catalog over the loaded libraries,
//! service selection, and "refuse to act on a broken file".

use std::collections::BTreeMap;
use std::path::PathBuf;

use doppel_core::service::{self, DriverCatalog, LoadOptions, Service};
use doppel_plugin_api::{Manifest, Problem, ResourceConfig};

use crate::drivers::Registry;
use crate::{Context, UsageError};

impl DriverCatalog for Registry {
    fn manifest(&self, type_name: &str) -> Option<&Manifest> {
        self.get(type_name).map(|d| d.manifest())
    }

    fn types(&self) -> Vec<String> {
        self.drivers.keys().cloned().collect()
    }

    fn validate(&self, type_name: &str, config: &ResourceConfig) -> Vec<Problem> {
        match self.get(type_name) {
            Some(d) => d.validate(config).unwrap_or_else(|e| {
                vec![Problem::resource(format!("driver validation failed: {e}"))]
            }),
            None => Vec::new(),
        }
    }

    /// One batch per driver, all sent before any answer is awaited: the
    /// drivers' processes check their resources at the same time.
    fn validate_all(&self, items: &[(&str, &ResourceConfig)]) -> Vec<Vec<Problem>> {
        // type -> the positions of its items
        let mut by_type: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, (type_name, _)) in items.iter().enumerate() {
            by_type.entry(type_name).or_default().push(i);
        }
        let failed = |e: &doppel_plugin_api::Error| {
            vec![Problem::resource(format!("driver validation failed: {e}"))]
        };
        let mut problems: Vec<Vec<Problem>> = vec![Vec::new(); items.len()];
        let mut sent = Vec::new();
        for (type_name, positions) in by_type {
            let Some(driver) = self.get(type_name) else {
                continue;
            };
            let configs: Vec<&ResourceConfig> = positions.iter().map(|&i| items[i].1).collect();
            match driver.validate_all(&configs) {
                Ok(pending) => sent.push((positions, pending)),
                Err(e) => {
                    for i in positions {
                        problems[i] = failed(&e);
                    }
                }
            }
        }
        for (positions, pending) in sent {
            for (i, result) in positions.into_iter().zip(pending.finish()) {
                problems[i] = result.unwrap_or_else(|e| failed(&e));
            }
        }
        problems
    }
}

/// The names of the services matching the `-s` selector.
pub fn selected(ctx: &Context, selector: Option<&str>) -> anyhow::Result<Vec<String>> {
    let Some(selector) = selector else {
        return Err(UsageError(
            "this command acts on services: give them with -s <name|a,b|glob>".into(),
        )
        .into());
    };
    let dir = ctx.paths.services_dir();
    let names = service::list_services(&dir)?;
    if names.is_empty() {
        return Err(UsageError(format!(
            "no service files in {} (files are named <service>.conf)",
            dir.display()
        ))
        .into());
    }
    service::select_services(selector, &names).map_err(|e| UsageError(e).into())
}

/// Loads service `name` with every diagnostic.
pub fn load(
    ctx: &Context,
    registry: &Registry,
    name: &str,
    driver_validation: bool,
) -> service::Loaded {
    load_file(
        ctx,
        registry,
        name,
        &ctx.paths.service_file(name),
        driver_validation,
    )
}

/// Loads `file` as service `name` (a candidate edit of its file, say).
pub fn load_file(
    ctx: &Context,
    registry: &Registry,
    name: &str,
    file: &std::path::Path,
    driver_validation: bool,
) -> service::Loaded {
    let nodename = ctx.node.nodename();
    let driver_options = |driver: &str| ctx.node.driver_options(driver);
    let state_dir = |svc: &str, rid: &str| -> PathBuf { ctx.paths.resource_state_dir(svc, rid) };
    let opts = LoadOptions {
        nodename: &nodename,
        catalog: registry,
        driver_options: &driver_options,
        state_dir: &state_dir,
        driver_validation,
    };
    service::load(name, file, &opts)
}

/// A configuration error listing every problem of a service file (exit 2).
pub fn invalid(name: &str, problems: &[String]) -> anyhow::Error {
    let mut text = format!(
        "service {name} has {} configuration error(s); nothing was done:",
        problems.len()
    );
    for p in problems {
        text.push_str("\n  ");
        text.push_str(p);
    }
    text.push_str(&format!(
        "\n  (run `doppel -s {name} validate` after fixing)"
    ));
    UsageError(text).into()
}

/// Loads a service for a command that needs it whole (`print schedule`): any
/// problem refuses it.
pub fn load_valid(ctx: &Context, registry: &Registry, name: &str) -> anyhow::Result<Service> {
    match prepare(ctx, registry, name, "status") {
        Prepared::Ready(svc) | Prepared::Refused(svc, _) => Ok(*svc),
        Prepared::Invalid(problems) => Err(invalid(name, &problems)),
    }
}

/// A service the selector named, and whether by its own name (`-s db`, `-s db,web`)
/// or only through a pattern (`-s '*'`, `-s 'db*'`). What doppel refuses for a
/// named service it passes over with an info line for a matched one.
#[derive(Clone, Debug)]
pub struct Selected {
    pub name: String,
    pub explicit: bool,
}

/// [`selected`], telling named services from matched ones.
pub fn selected_explicit(ctx: &Context, selector: Option<&str>) -> anyhow::Result<Vec<Selected>> {
    let names = selected(ctx, selector)?;
    let literal: Vec<&str> = selector
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.contains(['*', '?', '[']))
        .collect();
    Ok(names
        .into_iter()
        .map(|name| Selected {
            explicit: literal.contains(&name.as_str()),
            name,
        })
        .collect())
}

/// A selected service, ready for an action or the reason it is not.
pub enum Prepared {
    Ready(Box<Service>),
    /// Its file (or a file doppel writes for it) is wrong: every problem, one a line.
    Invalid(Vec<String>),
    /// It is valid but this node must not run the action: the service belongs to
    /// other nodes, or a DRP node does not run it (`Service::refuses_here`).
    Refused(Box<Service>, String),
}

/// Loads `name` for `action` (`status` is never refused: a foreign service's
/// status is `n/a` with the reason).
pub fn prepare(ctx: &Context, registry: &Registry, name: &str, action: &str) -> Prepared {
    let loaded = load(ctx, registry, name, true);
    let mut problems: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    if let Some(refusal) =
        doppel_core::state::symlink_refusal(&ctx.paths.service_log(name), "log file")
    {
        problems.push(refusal);
    }
    let service = match (loaded.service, problems.is_empty()) {
        (Some(svc), true) => svc,
        (_, _) => {
            if problems.is_empty() {
                problems.push(format!("service {name} could not be loaded"));
            }
            return Prepared::Invalid(problems);
        }
    };
    if action != "status" {
        if let Some(reason) = service.refuses_here(action) {
            return Prepared::Refused(Box::new(service), reason);
        }
    }
    Prepared::Ready(Box::new(service))
}

/// One line for a broken service among several: `db: 2 configuration error(s),
/// first: <problem> (run doppel -s db validate)`.
pub fn invalid_line(name: &str, problems: &[String]) -> String {
    format!(
        "{name}: {} configuration error(s), first: {} (run `doppel -s {name} validate`)",
        problems.len(),
        problems.first().map(String::as_str).unwrap_or("unknown")
    )
}
