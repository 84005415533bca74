//! Service actions (`doppel -s <svc> <action>`) and `print status`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use doppel_core::plan::Selection;
use doppel_plugin_api::{MessageLevel, Status, StatusMessage};

use crate::cli::{ActionArgs, Format};
use crate::cmd_drivers::load_registry_warned;
use crate::engine::{self, ActionSpec, Run, ServiceOutcome, ServiceStatus};
use crate::logger::ServiceLog;
use crate::services::Prepared;
use crate::workers::map_in_workers;
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
///
/// A selection of several services acts on every one it can: a broken file, a
/// service of another node or one with nothing implementing the action is reported
/// (one line each) and the others still run. Exit 1 when an action failed, else 2
/// when something was refused for its configuration or the request, else 0.
pub fn run(ctx: &Context, action: &str, args: &ActionArgs) -> anyhow::Result<ExitCode> {
    let outcomes = execute(ctx, action, args)?;
    print_outcomes(ctx, action, &outcomes)?;
    report(ctx, action, &outcomes)
}

/// Prints the outcomes: JSON, or for `status` the status trees. `status` prints
/// what `print status` prints, in text and in JSON (one shape, documented in
/// docs/operator-guide.md).
pub fn print_outcomes(
    ctx: &Context,
    action: &str,
    outcomes: &[ServiceOutcome],
) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if action == "status" {
        let statuses: Vec<ServiceStatus> = outcomes
            .iter()
            .filter_map(|o| match (&o.status, o.valid) {
                (Some(s), _) => Some(s.clone()),
                (None, false) => Some(ServiceStatus::invalid(&o.service, o.problems.clone())),
                (None, true) => None,
            })
            .collect();
        return write_statuses(ctx, &statuses);
    }
    if ctx.format == Format::Json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(outcomes)?)?;
    }
    Ok(())
}

/// Status trees, or their JSON list.
fn write_statuses(ctx: &Context, statuses: &[ServiceStatus]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if ctx.format == Format::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(statuses)?)?;
    } else {
        let color = crate::color::enabled(ctx.color);
        for s in statuses {
            write!(out, "{}", render_tree(s, color))?;
        }
    }
    Ok(())
}

/// The run of `spec` on `svc`, its log opened now (when its turn comes, not up
/// front: a selection of thousands of services must not hold thousands of files).
fn new_run(
    ctx: &Context,
    registry: &Arc<crate::drivers::Registry>,
    svc: doppel_core::service::Service,
    spec: &ActionSpec,
) -> Arc<Run> {
    let level = engine::console_level(ctx.quiet, ctx.verbose);
    let log = ServiceLog::open(&ctx.paths.service_log(&svc.name), &svc.name, level);
    Run::new(
        svc,
        ctx.paths.clone(),
        registry.clone(),
        log,
        spec.clone(),
        &ctx.node,
    )
}

/// The most services `--parallel` runs at a time: each holds its log, its lock
/// and its driver calls while it runs.
pub const MAX_PARALLEL_SERVICES: usize = 64;

/// How many services `status` refreshes at a time without `--parallel`: it only
/// reads, so the tools of several services can run side by side (each driver's
/// resources still in turn, and `max_parallel_commands` bounds the tools).
pub const STATUS_PARALLEL_SERVICES: usize = 8;

/// How many services run at a time: 1 without `--parallel`, N with
/// `--parallel=N`, [`MAX_PARALLEL_SERVICES`] with a bare `--parallel`.
fn parallel_window(args: &ActionArgs) -> anyhow::Result<usize> {
    match args.parallel {
        None => Ok(1),
        Some(0) => Err(UsageError("--parallel=0: give at least 1 service at a time".into()).into()),
        Some(n) if n > MAX_PARALLEL_SERVICES => Err(UsageError(format!(
            "--parallel={n}: at most {MAX_PARALLEL_SERVICES} services run at a time (each holds its log, lock and driver calls while it runs)"
        ))
        .into()),
        Some(n) => Ok(n),
    }
}

/// Runs `action` on the selected services and returns how it went for each, in
/// selection order (nothing printed). A single selected service that cannot run
/// at all (broken file, unknown action) is an error instead.
pub fn execute(
    ctx: &Context,
    action: &str,
    args: &ActionArgs,
) -> anyhow::Result<Vec<ServiceOutcome>> {
    let spec = spec_from(action, args)?;
    let parallel = parallel_window(args)?;
    let selected = services::selected_explicit(ctx, ctx.selector.as_deref())?;
    let registry = Arc::new(load_registry_warned(ctx));
    let single = selected.len() == 1;
    let mut slots: Vec<Option<ServiceOutcome>> = vec![None; selected.len()];
    let mut runs = Vec::new();
    for (i, sel) in selected.iter().enumerate() {
        match ready_to_run(ctx, &registry, sel, action, single)? {
            Ok(svc) => runs.push((i, svc)),
            Err(outcome) => slots[i] = Some(outcome),
        }
    }
    let planned: Vec<&doppel_core::service::Service> = runs.iter().map(|(_, s)| &**s).collect();
    check_options(ctx, &registry, &planned, &spec)?;
    // A service's log is opened when its turn comes, not all of them up front: a
    // selection of thousands of services must not hold thousands of files open.
    let make_run = |svc: Box<doppel_core::service::Service>| new_run(ctx, &registry, *svc, &spec);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let done: Vec<(usize, ServiceOutcome)> = runtime.block_on(async {
        tokio::spawn(cancel_on_interrupt());
        if parallel > 1 && runs.len() > 1 {
            let tasks = runs.into_iter().map(|(i, svc)| {
                let name = svc.name.clone();
                (i, name, move || engine::run_service(make_run(svc)))
            });
            run_concurrently(tasks, parallel, action).await
        } else {
            let mut out = Vec::new();
            for (i, svc) in runs {
                out.push((i, engine::run_service(make_run(svc)).await));
            }
            out
        }
    });
    runtime.shutdown_background();
    for (i, o) in done {
        slots[i] = Some(o);
    }
    // In a pattern selection, a service where the request selects nothing (no
    // resource matches, none implements the action) is passed over.
    for (sel, slot) in selected.iter().zip(&mut slots) {
        if let Some(o) = slot {
            if !sel.explicit && o.valid && o.usage_error && !single {
                o.ok = true;
                o.usage_error = false;
                o.skipped = o.error.take();
            }
        }
    }
    Ok(slots.into_iter().flatten().collect())
}

/// The selected service, loaded and ready for `action`, or its outcome without
/// running (broken file, refused on this node, a foreign service's status, an
/// action no resource declares). For a `single` selected service, a broken
/// file or an unknown action is the command's error instead.
fn ready_to_run(
    ctx: &Context,
    registry: &crate::drivers::Registry,
    sel: &services::Selected,
    action: &str,
    single: bool,
) -> anyhow::Result<Result<Box<doppel_core::service::Service>, ServiceOutcome>> {
    let name = &sel.name;
    let svc = match services::prepare(ctx, registry, name, action) {
        Prepared::Ready(svc) => svc,
        Prepared::Invalid(problems) => {
            if single {
                return Err(services::invalid(name, &problems));
            }
            return Ok(Err(ServiceOutcome::invalid(name, action, problems)));
        }
        Prepared::Refused(_, reason) => {
            return Ok(Err(refused(name, action, reason, sel.explicit)));
        }
    };
    if action == "status" {
        if let Some(reason) = svc.foreign_reason() {
            let mut o = ServiceOutcome::new(name, action);
            o.status = Some(ServiceStatus::not_here(name, reason));
            return Ok(Err(o));
        }
    }
    if !engine::is_standard_action(action)
        && !svc
            .resources
            .iter()
            .any(|r| registry.implements(&r.type_name, action))
    {
        let message = format!(
            "unknown action '{action}' for service {name}: no resource's driver declares it (see `doppel drivers info <type>`)"
        );
        if single {
            return Err(UsageError(message).into());
        }
        let mut o = ServiceOutcome::new(name, action);
        o.ok = false;
        o.usage_error = true;
        o.error = Some(message);
        return Ok(Err(o));
    }
    Ok(Ok(svc))
}

/// Ctrl-C or SIGTERM: commands and driver processes are killed (with their
/// process groups) and the action fails, never leaving orphans.
async fn cancel_on_interrupt() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
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
}

/// What an explicit request refused on this node looks like (a usage error), and
/// what a pattern match passes over (an info line).
fn refused(name: &str, action: &str, reason: String, explicit: bool) -> ServiceOutcome {
    let mut o = ServiceOutcome::new(name, action);
    if explicit {
        o.ok = false;
        o.usage_error = true;
        o.error = Some(reason);
    } else {
        o.skipped = Some(reason);
    }
    o
}

/// Prints one line per service that did not go as asked, and the exit code: 1
/// when an action failed, 2 when only the configuration or the request was
/// wrong, 0 otherwise.
pub fn report(
    ctx: &Context,
    action: &str,
    outcomes: &[ServiceOutcome],
) -> anyhow::Result<ExitCode> {
    let mut stderr = std::io::stderr().lock();
    for o in outcomes {
        if let (Some(why), false) = (&o.skipped, ctx.quiet) {
            let _ = writeln!(
                stderr,
                "* {} - INFO - {} skipped: {why}",
                o.service.to_uppercase(),
                action.replace('_', " ")
            );
        }
    }
    let mut failed = false;
    let mut usage = false;
    for o in outcomes.iter().filter(|o| !o.ok) {
        let error = o.error.as_deref().unwrap_or("error");
        if !o.valid {
            let _ = writeln!(
                stderr,
                "doppel: {}",
                services::invalid_line(&o.service, &o.problems)
            );
        } else if o.usage_error {
            let _ = writeln!(stderr, "doppel: {}: {error}", o.service);
        } else {
            let _ = writeln!(
                stderr,
                "doppel: {}: {} failed: {error}",
                o.service,
                action.replace('_', " ")
            );
        }
        if o.usage_error || o.invalid_request {
            usage = true;
        } else {
            failed = true;
        }
    }
    if !outcomes.is_empty() && outcomes.iter().all(|o| o.skipped.is_some()) {
        let _ = writeln!(
            stderr,
            "doppel: {} ran on none of the selected services",
            action.replace('_', " ")
        );
        usage = true;
    }
    Ok(match (failed, usage) {
        (true, _) => ExitCode::from(1),
        (false, true) => ExitCode::from(2),
        (false, false) => status_exit_code(action, outcomes),
    })
}

/// Unknown options are usage errors: the action's options against what the
/// drivers of the selected resources read, and the node config's driver tables
/// against what the drivers declare (crate::options).
fn check_options(
    ctx: &Context,
    registry: &crate::drivers::Registry,
    services: &[&doppel_core::service::Service],
    spec: &ActionSpec,
) -> anyhow::Result<()> {
    check_node_config(ctx, registry)?;
    let warnings = crate::options::check_action_options(
        registry,
        services.iter().copied(),
        &spec.action,
        |r| spec.selection.matches(r) && !r.disabled,
        &spec.options,
    )
    .map_err(UsageError)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// The node config's driver tables hold only keys the drivers read: an error line
/// per unknown key, then a usage error (exit 2). Warnings are printed and pass.
pub fn check_node_config(ctx: &Context, registry: &crate::drivers::Registry) -> anyhow::Result<()> {
    let problems = crate::options::check_node_config(&ctx.node, &ctx.paths.node_config(), registry);
    let mut errors = 0;
    for p in &problems {
        if p.warning {
            eprintln!("warning: {p}");
        } else {
            errors += 1;
            eprintln!("doppel: {p}");
        }
    }
    if errors > 0 {
        return Err(UsageError(format!(
            "{errors} error(s) in the node configuration {}",
            ctx.paths.node_config().display()
        ))
        .into());
    }
    Ok(())
}

/// Runs one future per service concurrently; the outcomes come back in the order
/// given. A task that panicked (or was cancelled) is a failed service, never a
/// dropped one: the run must not exit 0 without it.
async fn run_concurrently<M, F>(
    tasks: impl IntoIterator<Item = (usize, String, M)>,
    window: usize,
    action: &str,
) -> Vec<(usize, ServiceOutcome)>
where
    M: FnOnce() -> F,
    F: std::future::Future<Output = ServiceOutcome> + Send + 'static,
{
    // A task is made (its run built, its log opened) only when a place in the
    // window frees up: thousands of selected services never hold thousands of
    // files open.
    let mut pending = tasks.into_iter();
    let mut set = tokio::task::JoinSet::new();
    let mut by_task = std::collections::HashMap::new();
    let mut out = Vec::new();
    loop {
        while set.len() < window.max(1) {
            let Some((i, service, make)) = pending.next() else {
                break;
            };
            let task = make();
            let handle = set.spawn(async move { (i, task.await) });
            by_task.insert(handle.id(), (i, service));
        }
        let Some(joined) = set.join_next_with_id().await else {
            break;
        };
        match joined {
            Ok((id, r)) => {
                by_task.remove(&id);
                out.push(r);
            }
            Err(e) => {
                let (i, service) = by_task.remove(&e.id()).unwrap_or_default();
                out.push((i, ServiceOutcome::crashed(&service, action, &e)));
            }
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out
}

/// The exit code of a successful action: for `status`, as OpenSVC's, 0 when every
/// selected service is available (`up`, or `n/a` when it has nothing to be up), 1
/// otherwise, so that a probe can test `doppel -s svc status`.
fn status_exit_code(action: &str, outcomes: &[ServiceOutcome]) -> ExitCode {
    let available = |o: &ServiceOutcome| {
        o.status
            .as_ref()
            .is_some_and(|s| matches!(s.avail, Status::Up | Status::NotApplicable))
    };
    if action == "status" && !outcomes.iter().all(available) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The statuses of `names`: from the caches, evaluated when missing or with
/// `refresh`. A broken service file is `undef` with its problems (and a line in
/// the second list), a service of another node `n/a` with the reason.
pub fn collect_statuses(
    ctx: &Context,
    names: &[String],
    args: &ActionArgs,
    refresh: bool,
) -> anyhow::Result<(Vec<ServiceStatus>, Vec<String>)> {
    let nodename = ctx.node.nodename();
    // In selection order: a slot per name, filled from the cache or the drivers.
    let mut statuses: Vec<Option<ServiceStatus>> = vec![None; names.len()];
    let mut missing = Vec::new();
    let mut broken = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let file = ctx.paths.service_file(name);
        let facts = doppel_core::service::file_facts(name, &file, &nodename);
        if let Some(reason) = facts.as_ref().and_then(|f| f.foreign_reason.clone()) {
            statuses[i] = Some(ServiceStatus::not_here(name, reason));
            continue;
        }
        match (refresh, engine::read_status_cache(&ctx.paths, name)) {
            (false, Some(mut s)) => {
                s.frozen = engine::is_frozen(&ctx.paths, name);
                // The cache may predate an edit: say which resources are gone.
                if let Some(facts) = &facts {
                    for r in &mut s.resources {
                        if !facts.rids.contains(&r.rid) {
                            r.messages.push(StatusMessage::new(MessageLevel::Warn, "no longer in the service file (the cache predates an edit: --refresh)"
                                    .to_owned()));
                        }
                    }
                }
                statuses[i] = Some(s);
            }
            _ => missing.push(i),
        }
    }
    if !missing.is_empty() {
        let registry = Arc::new(load_registry_warned(ctx));
        check_node_config(ctx, &registry)?;
        let spec = spec_from("status", args)?;
        // Read-only, as `status`: several services at a time, each service's run
        // (and log) made when a worker takes it.
        let refreshed =
            map_in_workers(
                &missing,
                STATUS_PARALLEL_SERVICES,
                |&i| match services::prepare(ctx, &registry, &names[i], "status") {
                    Prepared::Ready(svc) | Prepared::Refused(svc, _) => {
                        Ok(new_run(ctx, &registry, *svc, &spec).refresh_status())
                    }
                    Prepared::Invalid(problems) => Err(problems),
                },
            );
        for (&i, got) in missing.iter().zip(refreshed) {
            let name = &names[i];
            statuses[i] = Some(match got {
                Ok(status) => status,
                Err(problems) => {
                    if names.len() == 1 {
                        return Err(services::invalid(name, &problems));
                    }
                    broken.push(services::invalid_line(name, &problems));
                    ServiceStatus::invalid(name, problems)
                }
            });
        }
    }
    let statuses: Vec<ServiceStatus> = statuses.into_iter().flatten().collect();
    Ok((statuses, broken))
}

/// `print status`: from the cache, evaluated when missing or with `--refresh`.
/// A broken service file is shown `undef` with its problems, a service of
/// another node `n/a` with the reason; the others are shown whatever happens.
pub fn print_status(ctx: &Context, args: &ActionArgs, refresh: bool) -> anyhow::Result<ExitCode> {
    let names = services::selected(ctx, ctx.selector.as_deref())?;
    let (mut statuses, broken) = collect_statuses(ctx, &names, args, refresh)?;
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
    write_statuses(ctx, &statuses)?;
    report_broken(&broken)
}

/// One line per broken service on stderr; exit 2 if there was any.
pub fn report_broken(broken: &[String]) -> anyhow::Result<ExitCode> {
    if broken.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut stderr = std::io::stderr().lock();
    for line in broken {
        let _ = writeln!(stderr, "doppel: {line}");
    }
    Ok(ExitCode::from(2))
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
/// The status words are coloured when `color`.
pub fn render_tree(s: &ServiceStatus, color: bool) -> String {
    let paint = |text: &str, status: Status| crate::color::status(text, status, color);
    let mut out = String::new();
    let overall = if s.overall != s.avail && s.overall == Status::Warn {
        format!(" (overall {})", paint("warn", Status::Warn))
    } else {
        String::new()
    };
    let frozen = if s.frozen { " (frozen)" } else { "" };
    let age = cache_age(&s.updated)
        .map(|a| format!(" (status of {a} ago)"))
        .unwrap_or_default();
    out.push_str(&format!(
        "{:<32}{}{overall}{frozen}{age}\n",
        s.service,
        paint(s.avail.as_str(), s.avail)
    ));
    if let Some(reason) = &s.reason {
        out.push_str(&format!("`- info: {reason}\n"));
        return out;
    }
    if !s.valid {
        for p in &s.problems {
            out.push_str(&format!("|- error: {p}\n"));
        }
        out.push_str(&format!(
            "`- error: invalid service file: run `doppel -s {} validate`\n",
            s.service
        ));
        return out;
    }
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
        let mut label = match &r.last_sync {
            Some(t) => format!("{}  last sync {}", r.type_name, short_time(t)),
            None => r.type_name.clone(),
        };
        if let Some(dest) = &r.ssh {
            label.push_str(&format!("  on {dest}"));
        }
        out.push_str(&format!(
            "   {branch} {:<rid_w$}  {}  {} {label}\n",
            r.rid,
            flags(r),
            paint(&format!("{:<10}", r.status.as_str()), r.status)
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

/// How old a status is (`5m`, `2h`), when older than a minute: a cached status
/// that old may no longer be the truth.
fn cache_age(updated: &str) -> Option<String> {
    let ts = updated.parse::<jiff::Timestamp>().ok()?;
    let secs = (jiff::Timestamp::now() - ts).get_seconds();
    if secs < 60 {
        return None;
    }
    Some(match secs {
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(service: &str) -> ServiceOutcome {
        ServiceOutcome::new(service, "start")
    }

    #[test]
    fn a_panicked_service_task_is_a_failed_service() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        type Task = std::pin::Pin<Box<dyn Future<Output = ServiceOutcome> + Send>>;
        type Make = Box<dyn FnOnce() -> Task>;
        let tasks: Vec<(usize, String, Make)> = vec![
            (0, "a".to_owned(), Box::new(|| Box::pin(async { ok("a") }))),
            (
                1,
                "b".to_owned(),
                Box::new(|| Box::pin(async { panic!("engine bug") })),
            ),
            (2, "c".to_owned(), Box::new(|| Box::pin(async { ok("c") }))),
        ];
        let out: Vec<ServiceOutcome> = runtime
            .block_on(run_concurrently(tasks, 2, "start"))
            .into_iter()
            .map(|(_, o)| o)
            .collect();
        let summary: Vec<(&str, bool)> = out.iter().map(|o| (o.service.as_str(), o.ok)).collect();
        assert_eq!(summary, [("a", true), ("b", false), ("c", true)]);
        let error = out[1].error.as_deref().unwrap_or_default();
        assert!(error.starts_with("the action panicked"), "{error}");
    }
}
