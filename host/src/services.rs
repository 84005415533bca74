//! Loading services for commands: the driver catalog over the loaded libraries,
//! service selection, and "refuse to act on a broken file".

use std::path::PathBuf;

use doppel_core::service::{self, Diagnostic, DriverCatalog, LoadOptions, Service};
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
    service::load(name, &ctx.paths.service_file(name), &opts)
}

/// A configuration error listing every problem of a service file (exit 2).
pub fn invalid(name: &str, diagnostics: &[Diagnostic]) -> anyhow::Error {
    let mut text = format!(
        "service {name} has {} configuration error(s); nothing was done:",
        diagnostics.len()
    );
    for d in diagnostics {
        text.push_str("\n  ");
        text.push_str(&d.to_string());
    }
    text.push_str(&format!(
        "\n  (run `doppel -s {name} validate` after fixing)"
    ));
    UsageError(text).into()
}

/// Loads a service for an action: any diagnostic refuses it.
pub fn load_valid(ctx: &Context, registry: &Registry, name: &str) -> anyhow::Result<Service> {
    let loaded = load(ctx, registry, name, true);
    if !loaded.diagnostics.is_empty() {
        return Err(invalid(name, &loaded.diagnostics));
    }
    loaded
        .service
        .ok_or_else(|| anyhow::anyhow!("service {name} could not be loaded"))
}
