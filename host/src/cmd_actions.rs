//! Service actions (`doppel -s <svc> <action>`) and `print status`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use doppel_core::plan::Selection;
use doppel_plugin_api::{MessageLevel, Status};

use crate::cli::{ActionArgs, Format};
use crate::cmd_drivers::load_registry_warned;
use crate::engine::{self, ActionSpec, Run, ServiceOutcome, ServiceStatus};
use crate::logger::ServiceLog;
use crate::{Context, UsageError, services};

fn spec_from(action: &str, args: &ActionArgs) -> anyhow::Result<ActionSpec> {
    let waitlock = match &args.waitlock {
        Some(text) => Some(
            doppel_core::convert::to_duration_secs(text)
                .map(std::time::Duration::from_secs)
                .map_err(|e| UsageError(format!("--waitlock: {e}")))?,
        ),
        None => None,
    };
    let mut options = BTreeMap::new();
    if let Some(p) = &args.phase {
        options.insert("phase".to_owned(), p.clone());
    }
    if let Some(c) = &args.clients {
        options.insert("clients".to_owned(), c.clone());
    }
    for kv in &args.opts {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--opt {kv}: expected KEY=VALUE")))?;
        options.insert(k.to_owned(), v.to_owned());
    }
    Ok(ActionSpec {
        action: action.to_owned(),
        selection: selection(args),
        dry_run: args.dry_run,
        force: args.force,
        waitlock,
        options,
        scheduled: false,
    })
}

/// The resources `--rid`, `--tags` and `--subsets` select.
pub fn selection(args: &ActionArgs) -> Selection {
    Selection {
        rid: args.rid.clone(),
        tags: args.tags.clone(),
        subsets: args.subsets.clone(),
    }
}

/// Runs `action` on the selected services.
pub fn run(ctx: &Context, action: &str, args: &ActionArgs) -> anyhow::Result<ExitCode> {
    let spec = spec_from(action, args)?;
    let names = services::selected(ctx, ctx.selector.as_deref())?;
    let registry = Arc::new(load_registry_warned(ctx));
    let level = engine::console_level(ctx.quiet, ctx.verbose);
    let mut runs = Vec::new();
    for name in &names {
        let svc = services::load_valid(ctx, &registry, name)?;
        if !engine::is_standard_action(action)
            && !svc
                .resources
                .iter()
                .any(|r| registry.implements(&r.type_name, action))
        {
            return Err(UsageError(format!(
                "unknown action '{action}' for service {name}: no resource's driver declares it (see `doppel drivers info <type>`)"
            ))
            .into());
        }
        let log = ServiceLog::open(&ctx.paths.service_log(name), name, level);
        runs.push(Run::new(
            svc,
            ctx.paths.clone(),
            registry.clone(),
            log,
            spec.clone(),
            &ctx.node,
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcomes: Vec<ServiceOutcome> = runtime.block_on(async {
        tokio::spawn(async {
            // Ctrl-C or SIGTERM: commands and driver processes are killed (with
            // their process groups) and the action fails, never leaving orphans.
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let terminated = async {
                match term.as_mut() {
                    Some(t) => t.recv().await,
                    None => std::future::pending().await,
                }
            };
            let interrupted = tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                _ = terminated => true,
            };
            if interrupted {
                crate::runner::CANCELLED.store(true, std::sync::atomic::Ordering::Relaxed);
                eprintln!("doppel: interrupted: stopping (waits end, running commands are killed)");
            }
        });
        if args.parallel && runs.len() > 1 {
            let mut set = tokio::task::JoinSet::new();
            for (i, r) in runs.into_iter().enumerate() {
                set.spawn(async move { (i, engine::run_service(r).await) });
            }
            let mut out = Vec::new();
            while let Some(Ok(r)) = set.join_next().await {
                out.push(r);
            }
            out.sort_by_key(|(i, _)| *i);
            out.into_iter().map(|(_, o)| o).collect()
        } else {
            let mut out = Vec::new();
            for r in runs {
                out.push(engine::run_service(r).await);
            }
            out
        }
    });
    runtime.shutdown_background();
    let mut stdout = std::io::stdout().lock();
    if ctx.format == Format::Json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&outcomes)?)?;
    } else if action == "status" {
        for o in &outcomes {
            if let Some(s) = &o.status {
                write!(stdout, "{}", render_tree(s))?;
            }
        }
    }
    let failed: Vec<&ServiceOutcome> = outcomes.iter().filter(|o| !o.ok).collect();
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for f in &failed {
        eprintln!(
            "doppel: {}: {} failed: {}",
            f.service,
            action.replace('_', " "),
            f.error.as_deref().unwrap_or("error")
        );
    }
    let selection_error = failed.iter().all(|f| {
        f.error.as_deref().is_some_and(|e| {
            e.starts_with("no resource matches") || e.starts_with("no selected resource implements")
        })
    });
    Ok(ExitCode::from(if selection_error { 2 } else { 1 }))
}

/// `print status`: from the cache, evaluated when missing or with `--refresh`.
pub fn print_status(ctx: &Context, args: &ActionArgs, refresh: bool) -> anyhow::Result<ExitCode> {
    let names = services::selected(ctx, ctx.selector.as_deref())?;
    let mut statuses: Vec<ServiceStatus> = Vec::new();
    let mut missing = Vec::new();
    for name in &names {
        match (refresh, engine::read_status_cache(&ctx.paths, name)) {
            (false, Some(s)) => statuses.push(s),
            _ => missing.push(name.clone()),
        }
    }
    if !missing.is_empty() {
        let registry = Arc::new(load_registry_warned(ctx));
        let level = engine::console_level(ctx.quiet, ctx.verbose);
        let spec = spec_from("status", args)?;
        for name in &missing {
            let svc = services::load_valid(ctx, &registry, name)?;
            let log = ServiceLog::open(&ctx.paths.service_log(name), name, level);
            let run = Run::new(
                svc,
                ctx.paths.clone(),
                registry.clone(),
                log,
                spec.clone(),
                &ctx.node,
            );
            statuses.push(run.refresh_status());
        }
        statuses.sort_by_key(|s| names.iter().position(|n| *n == s.service));
    }
    // --rid, --tags and --subsets narrow the resources shown (the aggregates stay
    // the service's).
    let selection = selection(args);
    if !selection.is_empty() {
        for s in &mut statuses {
            s.resources.retain(|r| {
                selection.matches_parts(
                    &r.rid,
                    |t| r.tags.iter().any(|x| x == t),
                    r.subset.as_deref(),
                )
            });
        }
        if statuses.iter().all(|s| s.resources.is_empty()) {
            return Err(UsageError(
                "no resource matches the given --rid, --tags and --subsets".into(),
            )
            .into());
        }
    }
    let mut out = std::io::stdout().lock();
    if ctx.format == Format::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&statuses)?)?;
    } else {
        for s in &statuses {
            write!(out, "{}", render_tree(s))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The flags column: M monitored, D disabled, O optional, S standby, N noaction.
fn flags(r: &engine::ResourceStatus) -> String {
    let f = |on: bool, c: char| if on { c } else { '.' };
    [
        f(r.monitor, 'M'),
        f(r.disabled, 'D'),
        f(r.optional, 'O'),
        f(r.standby, 'S'),
        f(r.tags.iter().any(|t| t == "noaction"), 'N'),
    ]
    .iter()
    .collect()
}

/// A status tree like `om svc print status`.
pub fn render_tree(s: &ServiceStatus) -> String {
    let mut out = String::new();
    let overall = if s.overall != s.avail && s.overall == Status::Warn {
        " (overall warn)"
    } else {
        ""
    };
    out.push_str(&format!("{:<32}{}{overall}\n", s.service, s.avail));
    out.push_str("`- resources\n");
    let n = s.resources.len();
    let rid_w = s
        .resources
        .iter()
        .map(|r| r.rid.len())
        .max()
        .unwrap_or(6)
        .max(6);
    for (i, r) in s.resources.iter().enumerate() {
        let last = i + 1 == n;
        let (branch, cont) = if last { ("`-", "   ") } else { ("|-", "|  ") };
        let label = match &r.last_sync {
            Some(t) => format!("{}  last sync {}", r.type_name, short_time(t)),
            None => r.type_name.clone(),
        };
        out.push_str(&format!(
            "   {branch} {:<rid_w$}  {}  {:<10} {label}\n",
            r.rid,
            flags(r),
            r.status.as_str()
        ));
        for m in &r.messages {
            let level = match m.level {
                MessageLevel::Info => "info",
                MessageLevel::Warn => "warn",
                MessageLevel::Error => "error",
            };
            for (j, line) in m.text.lines().enumerate() {
                let head = if j == 0 {
                    format!("{level}: ")
                } else {
                    "      ".to_owned()
                };
                out.push_str(&format!("   {cont}   {head}{line}\n"));
            }
        }
    }
    out
}

fn short_time(rfc3339: &str) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(ts) => ts
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}
