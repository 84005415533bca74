//! `validate`, `print config` and `template`.
//!
//! * `validate` prints every diagnostic of the selected services on stdout, one per
//!   line (`<file>:<line>: <section>.<keyword>: <message>`, sorted by file and line),
//!   or `<svc>: ok`; a summary goes to stderr and the exit code is 2 when anything is
//!   wrong. JSON: a list of `{service, file, line, section, keyword, message}`.
//! * `print config` prints the files as written; `--eval` prints every keyword
//!   (`[DEFAULT]`, `[env]`, `[subset#...]`, resources)
//!   resolved for this node with where its value came from. Both work on broken
//!   files: `--eval` prints what resolved and the diagnostics as warnings on stderr.
//!   JSON: a list with one object per service.
//! * `template <group.type>` prints a driver's keyword template (seed layout).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use doppel_core::ini::{Entry, SectionKind};
use doppel_core::keywords;
use doppel_core::service::{Diagnostic, Origin, Resolved, Service};
use doppel_plugin_api::KeywordSpec;
use serde::Serialize;

use crate::cli::Format;
use crate::cmd_drivers::{load_registry, load_registry_warned, warn_skipped};
use crate::drivers::Registry;
use crate::{Context, UsageError, services};

/// One diagnostic in `validate --format json`.
#[derive(Serialize)]
struct DiagnosticJson<'a> {
    /// `None` for a problem of the node config.
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
    file: Option<String>,
    line: Option<usize>,
    section: Option<&'a str>,
    keyword: Option<&'a str>,
    message: &'a str,
}

/// The file a diagnostic is about (its location's, else the service file) and its
/// line (0 when it has none), for sorting.
fn sort_key(d: &Diagnostic, service_file: &Path) -> (PathBuf, usize) {
    match &d.location {
        Some(l) => (l.file.to_path_buf(), l.line),
        None => (service_file.to_owned(), 0),
    }
}

pub fn validate(ctx: &Context) -> anyhow::Result<ExitCode> {
    let names = services::selected(ctx, ctx.selector.as_deref())?;
    let registry = load_registry_warned(ctx);

    // (service, diagnostic) over every selected service, sorted by file and line.
    let mut all: Vec<(String, PathBuf, Diagnostic)> = Vec::new();
    // OpenSVC keywords accepted and ignored, shown with -v.
    let mut notes: Vec<Diagnostic> = Vec::new();
    for name in &names {
        let loaded = services::load(ctx, &registry, name, true);
        let file = ctx.paths.service_file(name);
        if ctx.verbose > 0 {
            if let Some(svc) = &loaded.service {
                notes.extend(doppel_core::opensvc::ignored_notes(&svc.ini));
            }
        }
        all.extend(
            loaded
                .diagnostics
                .into_iter()
                .map(|d| (name.clone(), file.clone(), d)),
        );
    }
    all.sort_by_cached_key(|(_, file, d)| sort_key(d, file));
    // The node config's driver tables: keys no driver reads are errors too.
    let node_problems =
        crate::options::check_node_config(&ctx.node, &ctx.paths.node_config(), &registry);
    let (node_warnings, node_errors): (Vec<_>, Vec<_>) =
        node_problems.iter().partition(|p| p.warning);
    for w in &node_warnings {
        eprintln!("warning: {w}");
    }

    let mut out = std::io::stdout().lock();
    if ctx.format == Format::Json {
        let node_json = node_errors.iter().map(|p| DiagnosticJson {
            service: None,
            file: Some(p.file.clone()),
            line: Some(p.line),
            section: Some(p.table.as_str()),
            keyword: p.key.as_deref(),
            message: &p.message,
        });
        let list: Vec<DiagnosticJson<'_>> = node_json
            .chain(all.iter().map(|(svc, _, d)| DiagnosticJson {
                service: Some(svc),
                file: d.location.as_ref().map(|l| l.file.display().to_string()),
                line: d.location.as_ref().map(|l| l.line),
                section: d.section.as_deref(),
                keyword: d.keyword.as_deref(),
                message: &d.message,
            }))
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
    } else {
        for n in &notes {
            writeln!(out, "info: {n}")?;
        }
        for p in &node_errors {
            writeln!(out, "{p}")?;
        }
        for (_, _, d) in &all {
            writeln!(out, "{d}")?;
        }
        for name in names
            .iter()
            .filter(|n| !all.iter().any(|(svc, _, _)| svc == *n))
        {
            writeln!(out, "{name}: ok")?;
        }
    }
    out.flush()?;
    if all.is_empty() && node_errors.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !node_errors.is_empty() {
        eprintln!(
            "doppel: {} error(s) in the node configuration {}",
            node_errors.len(),
            ctx.paths.node_config().display()
        );
    }
    if all.is_empty() {
        return Ok(ExitCode::from(2));
    }
    let mut broken: Vec<&str> = all.iter().map(|(svc, _, _)| svc.as_str()).collect();
    broken.sort_unstable();
    broken.dedup();
    eprintln!(
        "doppel: {} configuration error(s) in {}",
        all.len(),
        broken.join(", ")
    );
    Ok(ExitCode::from(2))
}

/// `print config` in JSON, without `--eval`.
#[derive(Serialize)]
struct FileJson {
    service: String,
    file: String,
    text: String,
}

/// One keyword as `print config --eval` shows it (also its JSON form).
#[derive(Serialize)]
struct Shown {
    keyword: String,
    value: String,
    origin: Origin,
}

impl Shown {
    fn resolved(keyword: &str, r: &Resolved) -> Shown {
        Shown {
            keyword: keyword.to_owned(),
            value: r.value.clone(),
            origin: r.origin.clone(),
        }
    }

    /// A value as written at `entry`.
    fn written(keyword: &str, entry: &Entry) -> Shown {
        Shown::resolved(keyword, &as_written(entry))
    }
}

/// The value of `entry` as written, from the file.
fn as_written(entry: &Entry) -> Resolved {
    Resolved {
        value: entry.value.clone(),
        origin: Origin::File {
            location: entry.location.to_string(),
            key: entry.key.clone(),
        },
    }
}

/// One section of `print config --eval --format json`.
#[derive(Serialize)]
struct SectionJson<'a> {
    section: &'a str,
    #[serde(rename = "type")]
    type_name: Option<&'a str>,
    keywords: Vec<&'a Shown>,
}

/// One service of `print config --eval --format json`.
#[derive(Serialize)]
struct ServiceJson<'a> {
    service: &'a str,
    file: String,
    sections: Vec<SectionJson<'a>>,
}

/// A section resolved: its name, driver type, and keywords in registry order.
struct EvalSection {
    name: String,
    type_name: Option<String>,
    keywords: Vec<Shown>,
}

/// Orders `values` as `specs` list them (registry order), then any other in name
/// order. Keywords at their empty default (unset `_depends`) are left out.
fn ordered(values: &BTreeMap<String, Resolved>, specs: &[KeywordSpec]) -> Vec<Shown> {
    let shown = |r: &&Resolved| !(r.origin == Origin::Default && r.value.is_empty());
    let listed = |k: &str| specs.iter().any(|s| s.name == k);
    let mut out: Vec<Shown> = specs
        .iter()
        .filter_map(|s| {
            values
                .get(&s.name)
                .filter(shown)
                .map(|r| Shown::resolved(&s.name, r))
        })
        .collect();
    out.extend(
        values
            .iter()
            .filter(|(k, r)| !listed(k) && shown(r))
            .map(|(k, r)| Shown::resolved(k, r)),
    );
    out
}

/// `values` completed with the defaults of `specs` it does not set.
fn with_defaults(
    mut values: BTreeMap<String, Resolved>,
    specs: &[KeywordSpec],
) -> BTreeMap<String, Resolved> {
    for spec in specs {
        if let Some(d) = &spec.default {
            values.entry(spec.name.clone()).or_insert_with(|| Resolved {
                value: d.clone(),
                origin: Origin::Default,
            });
        }
    }
    values
}

/// `[env]` for this node, as core resolved it (scopes, references, and the
/// environment variable that wins), in file order.
fn env_keywords(service: &Service) -> Vec<Shown> {
    service
        .env_values
        .iter()
        .map(|(name, r)| Shown::resolved(name, r))
        .collect()
}

/// `[DEFAULT]`, `[env]`, the `[subset#...]` sections, then the resources in file
/// order, every keyword resolved.
fn eval_sections(service: &Service, registry: &Registry) -> Vec<EvalSection> {
    let default_specs = keywords::default_section_keywords();
    let mut default_values = service.default_values.clone();
    // What the service uses when [DEFAULT] does not say (core resolves only a
    // section that exists).
    default_values
        .entry("nodes".to_owned())
        .or_insert_with(|| Resolved {
            value: service.nodes.join(" "),
            origin: Origin::Default,
        });
    let default_values = with_defaults(default_values, &default_specs);
    let mut sections = vec![EvalSection {
        name: "DEFAULT".to_owned(),
        type_name: None,
        keywords: ordered(&default_values, &default_specs),
    }];
    let subset_specs = keywords::subset_keywords();
    for section in service.ini.sections() {
        let keywords = match section.kind() {
            SectionKind::Env => env_keywords(service),
            SectionKind::Subset { .. } => {
                // As the service reads it: `parallel`, unscoped.
                let written = section
                    .entries()
                    .iter()
                    .filter(|e| subset_specs.iter().any(|s| s.name == e.key))
                    .map(|e| (e.key.clone(), as_written(e)))
                    .collect();
                ordered(&with_defaults(written, &subset_specs), &subset_specs)
            }
            _ => continue,
        };
        sections.push(EvalSection {
            name: section.name().to_owned(),
            type_name: None,
            keywords,
        });
    }
    for r in &service.resources {
        let specs = match registry.get(&r.type_name) {
            Some(d) => keywords::resource_keywords(d.manifest()),
            None => keywords::generic_resource_keywords(&r.group),
        };
        let mut kws = Vec::new();
        if let Some(e) = service.ini.get(&r.rid, "type") {
            kws.push(Shown::written("type", e));
        }
        let mut values = r.values.clone();
        // `optional` defaults to true for sync and task resources and `noaction`
        // ones: show what the service uses, not the registry's generic default.
        if let Some(o) = values
            .get_mut("optional")
            .filter(|o| o.origin == Origin::Default)
        {
            o.value = if r.optional { "True" } else { "False" }.to_owned();
        }
        kws.extend(ordered(&values, &specs));
        sections.push(EvalSection {
            name: r.rid.clone(),
            type_name: (!r.type_name.is_empty()).then(|| r.type_name.clone()),
            keywords: kws,
        });
    }
    sections
}

/// A value on one line: continuation lines shown as `\n`.
fn one_line(value: &str) -> String {
    value.replace('\n', "\\n")
}

pub fn print_config(ctx: &Context, eval: bool) -> anyhow::Result<ExitCode> {
    let names = services::selected(ctx, ctx.selector.as_deref())?;
    let mut out = std::io::stdout().lock();
    if eval {
        print_evaluated(ctx, &names, &mut out)?;
    } else {
        print_files(ctx, &names, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `print config`: the service files as written, one after the other under a
/// `# <service>: <file>` line when there are several.
fn print_files(ctx: &Context, names: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    let several = names.len() > 1;
    let mut files = Vec::new();
    for name in names {
        let path = ctx.paths.service_file(name);
        let bytes = std::fs::read(&path)
            .map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))?;
        files.push(FileJson {
            service: name.clone(),
            file: path.display().to_string(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        });
    }
    if ctx.format == Format::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&files)?)?;
        return Ok(());
    }
    for (i, f) in files.iter().enumerate() {
        if several {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "# {}: {}", f.service, f.file)?;
        }
        out.write_all(f.text.as_bytes())?;
        if !f.text.is_empty() && !f.text.ends_with('\n') {
            writeln!(out)?;
        }
    }
    Ok(())
}

/// `print config --eval`: every keyword's value in effect and where it comes from.
fn print_evaluated(ctx: &Context, names: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    let registry = load_registry_warned(ctx);
    let mut docs = Vec::new();
    for name in names {
        let loaded = services::load(ctx, &registry, name, true);
        if !ctx.quiet {
            for d in &loaded.diagnostics {
                eprintln!("warning: {d}");
            }
        }
        let Some(service) = loaded.service else {
            // Unreadable file: the diagnostic says why.
            return Err(UsageError(format!("service {name} could not be read")).into());
        };
        let sections = eval_sections(&service, &registry);
        docs.push((service, sections));
    }
    if ctx.format == Format::Json {
        let list: Vec<ServiceJson<'_>> = docs
            .iter()
            .map(|(svc, sections)| evaluated_json(svc, sections))
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(());
    }
    let several = names.len() > 1;
    for (i, (svc, sections)) in docs.iter().enumerate() {
        if several {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "# {}: {}", svc.name, svc.file.display())?;
        }
        write_evaluated(out, sections)?;
    }
    Ok(())
}

/// One service of `print config --eval --format json`.
fn evaluated_json<'a>(svc: &'a Service, sections: &'a [EvalSection]) -> ServiceJson<'a> {
    ServiceJson {
        service: &svc.name,
        file: svc.file.display().to_string(),
        sections: sections
            .iter()
            .map(|s| SectionJson {
                section: &s.name,
                type_name: s.type_name.as_deref(),
                // A resource's `type` is the section's `type`.
                keywords: s
                    .keywords
                    .iter()
                    .filter(|k| {
                        k.keyword != "type"
                            || !matches!(SectionKind::of(&s.name), SectionKind::Resource { .. })
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// `section.keyword = value` lines, their origins aligned in a comment column.
fn write_evaluated(out: &mut impl Write, sections: &[EvalSection]) -> std::io::Result<()> {
    let lines: Vec<(String, String)> = sections
        .iter()
        .flat_map(|s| {
            s.keywords.iter().map(move |k| {
                (
                    format!("{}.{} = {}", s.name, k.keyword, one_line(&k.value)),
                    k.origin.to_string(),
                )
            })
        })
        .collect();
    let width = lines
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    for (line, origin) in &lines {
        writeln!(out, "{line:<width$}    # {origin}")?;
    }
    Ok(())
}

#[derive(Serialize)]
struct TemplateJson<'a> {
    #[serde(rename = "type")]
    type_name: &'a str,
    template: &'a str,
}

pub fn template(ctx: &Context, type_name: &str, markdown: bool) -> anyhow::Result<ExitCode> {
    let registry = load_registry(ctx);
    let Some(driver) = registry.get(type_name) else {
        warn_skipped(ctx, &registry);
        let hint = if type_name.contains('.') {
            ""
        } else {
            " (give it as <group>.<type>, e.g. sync.symclone)"
        };
        return Err(UsageError(registry.not_installed(type_name, hint)).into());
    };
    let text = if markdown {
        doppel_core::template::render_markdown(driver.manifest())
    } else {
        doppel_core::template::render(driver.manifest())
    };
    let mut out = std::io::stdout().lock();
    if ctx.format == Format::Json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&TemplateJson {
                type_name,
                template: &text
            })?
        )?;
    } else {
        out.write_all(text.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
