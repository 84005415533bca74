//! `doppel drivers [list | info <group.type>]`.

use std::io::Write;
use std::process::ExitCode;

use doppel_plugin_api::Manifest;
use serde_json::json;

use crate::cli::{DriversCommand, Format};
use crate::driver_cache::ManifestCache;
use crate::drivers::{Registry, discover, search_dirs};
use crate::{Context, UsageError};

/// The installed drivers, their manifests read through the node's manifest
/// cache (`var/cache/doppel/drivers.json`, see `driver_cache`).
pub fn load_registry(ctx: &Context) -> Registry {
    let mut cache = ManifestCache::open(ctx.paths.driver_cache());
    let registry = discover(
        search_dirs(&ctx.node.driver_dirs),
        &ctx.node.driver_files,
        &mut cache,
    );
    cache.save();
    registry
}

/// [`load_registry`], then [`warn_skipped`].
pub fn load_registry_warned(ctx: &Context) -> Registry {
    let registry = load_registry(ctx);
    warn_skipped(ctx, &registry);
    registry
}

/// Prints one warning line per skipped driver file (stderr), unless quiet.
pub fn warn_skipped(ctx: &Context, registry: &Registry) {
    if ctx.quiet {
        return;
    }
    for s in &registry.skipped {
        eprintln!("warning: skipped driver {}: {}", s.path.display(), s.reason);
    }
}

fn manifest_json(m: &Manifest, path: &std::path::Path, full: bool) -> serde_json::Value {
    let mut v = json!({
        "type": m.type_name(),
        "group": m.group,
        "name": m.name,
        "version": m.version,
        "api_version": m.api_version,
        "protocol": m.protocol,
        "description": m.description,
        "path": path,
    });
    if full {
        if !m.call_timeouts.is_empty() {
            v["call_timeouts"] = serde_json::to_value(&m.call_timeouts).unwrap_or_default();
        }
        if m.reentrant {
            v["reentrant"] = true.into();
        }
        v["keywords"] = serde_json::to_value(&m.keywords).unwrap_or_default();
        v["actions"] = serde_json::to_value(&m.actions).unwrap_or_default();
        v["options"] = serde_json::to_value(&m.options).unwrap_or_default();
        v["node_options"] = serde_json::to_value(&m.node_options).unwrap_or_default();
    } else {
        v["keywords"] = m.keywords.iter().map(|k| k.name.clone()).collect();
        v["actions"] = m.actions.iter().map(|a| a.name.clone()).collect();
    }
    v
}

pub fn run(ctx: &Context, command: Option<DriversCommand>) -> anyhow::Result<ExitCode> {
    let registry = load_registry(ctx);
    let mut out = std::io::stdout().lock();
    match command.unwrap_or(DriversCommand::List) {
        DriversCommand::List => list_drivers(ctx, &registry, &mut out)?,
        DriversCommand::Info { type_name } => driver_info(ctx, &registry, &type_name, &mut out)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `doppel drivers list`: a table of the loaded drivers, then the broken files
/// (or, with none loaded, where they were looked for).
fn list_drivers(ctx: &Context, registry: &Registry, out: &mut impl Write) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        let doc = json!({
            "drivers": registry.drivers.values().map(|d| manifest_json(d.manifest(), d.path(), false)).collect::<Vec<_>>(),
            "skipped": registry.skipped,
            "search_path": registry.searched,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }
    warn_skipped(ctx, registry);
    if registry.drivers.is_empty() {
        writeln!(out, "no drivers found; searched:")?;
        for d in &registry.searched {
            writeln!(out, "  {} ({})", d.path.display(), d.origin)?;
        }
        return Ok(());
    }
    let rows: Vec<[String; 5]> = registry
        .drivers
        .values()
        .map(|d| {
            let m = d.manifest();
            [
                m.type_name(),
                m.version.clone(),
                m.api_version.clone(),
                m.protocol.to_string(),
                d.path().display().to_string(),
            ]
        })
        .collect();
    let header = ["TYPE", "VERSION", "API", "PROTOCOL", "PATH"].map(String::from);
    write_table(out, &header, &rows)?;
    if !registry.skipped.is_empty() {
        writeln!(out, "broken (not loaded):")?;
        for s in &registry.skipped {
            writeln!(out, "  {}: {}", s.path.display(), s.reason)?;
        }
    }
    Ok(())
}

/// Rows in columns as wide as their widest cell, two spaces apart.
fn write_table<const N: usize>(
    out: &mut impl Write,
    header: &[String; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let mut widths = header.clone().map(|h| h.len());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}

/// `doppel drivers info <group.type>`: a driver's manifest, for operators.
fn driver_info(
    ctx: &Context,
    registry: &Registry,
    type_name: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let Some(driver) = registry.get(type_name) else {
        warn_skipped(ctx, registry);
        return Err(UsageError(registry.not_installed(type_name, "")).into());
    };
    let m = driver.manifest();
    if ctx.format == Format::Json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&manifest_json(m, driver.path(), true))?
        )?;
        return Ok(());
    }
    writeln!(out, "{}  {}", m.type_name(), m.description)?;
    writeln!(out, "  version:      {}", m.version)?;
    writeln!(out, "  api version:  {}", m.api_version)?;
    writeln!(out, "  protocol:     {}", m.protocol)?;
    writeln!(out, "  path:         {}", driver.path().display())?;
    if !m.call_timeouts.is_empty() {
        let limits: Vec<String> = m
            .call_timeouts
            .iter()
            .map(|(entry, secs)| format!("{entry} {secs}s"))
            .collect();
        writeln!(out, "  time limits:  {}", limits.join(", "))?;
    }
    if m.reentrant {
        writeln!(
            out,
            "  reentrant:    yes (a service's resources of this type are asked their status concurrently)"
        )?;
    }
    write_keywords(out, m)?;
    write_actions(out, m)?;
    let options = option_lines(&m.options, true);
    if !options.is_empty() {
        writeln!(out, "options:")?;
        for line in options {
            writeln!(out, "{line}")?;
        }
    }
    let node = option_lines(&m.node_options, false);
    if !node.is_empty() {
        writeln!(out, "node config [driver.{}]:", m.name)?;
        for line in node {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// The keywords with their type and properties (required, default, candidates).
fn write_keywords(out: &mut impl Write, m: &Manifest) -> std::io::Result<()> {
    writeln!(out, "keywords:")?;
    for k in &m.keywords {
        let mut flags = vec![k.kind.to_string()];
        if k.required {
            flags.push("required".into());
        }
        if k.provisioning {
            flags.push("provisioning".into());
        }
        if let Some(d) = &k.default {
            flags.push(format!("default {d}"));
        }
        if let Some(c) = &k.candidates {
            flags.push(format!("one of {}", c.join("|")));
        }
        writeln!(out, "  {:<20} {} ({})", k.name, k.desc, flags.join(", "))?;
    }
    Ok(())
}

/// The actions, destructive ones said so.
fn write_actions(out: &mut impl Write, m: &Manifest) -> std::io::Result<()> {
    writeln!(out, "actions:")?;
    for a in &m.actions {
        let mut desc = if a.desc.is_empty() {
            "standard action".to_owned()
        } else {
            a.desc.clone()
        };
        if a.destructive {
            desc.push_str(" (destructive: refused while the service is up)");
        }
        writeln!(out, "  {:<20} {}", a.name, desc)?;
    }
    Ok(())
}

/// One line per declared option; `flags` spells action options as the command
/// line takes them (`--phase`, `--opt since=`), node options by their name.
fn option_lines(options: &Option<Vec<doppel_plugin_api::OptionSpec>>, flags: bool) -> Vec<String> {
    let Some(options) = options else {
        return vec!["  (not declared: the driver predates option declarations)".to_owned()];
    };
    options
        .iter()
        .map(|o| {
            let name = match (flags, o.name.as_str()) {
                (true, "phase" | "clients") => format!("--{}", o.name),
                (true, _) => format!("--opt {}=", o.name),
                (false, _) => o.name.clone(),
            };
            let only = if o.actions.is_empty() {
                String::new()
            } else {
                format!(" ({})", o.actions.join(", "))
            };
            format!("  {name:<20} {}{only}", o.desc)
        })
        .collect()
}
