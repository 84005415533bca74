//! Service commands an OpenSVC operator reaches for: `ls`, `restart`, `freeze` /
//! `thaw` and `logs`.

use std::io::{BufRead as _, Seek as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::cli::{ActionArgs, Format};
use crate::cmd_actions;
use crate::services::{self, Prepared};
use crate::{Context, UsageError, engine};

/// `doppel [-s <sel>] ls`: this node's services, one line each.
pub fn ls(ctx: &Context, refresh: bool) -> anyhow::Result<ExitCode> {
    let dir = ctx.paths.services_dir();
    let names = match ctx.selector.as_deref() {
        Some(sel) => services::selected(ctx, Some(sel))?,
        None => doppel_core::service::list_services(&dir)?,
    };
    let (statuses, broken) =
        cmd_actions::collect_statuses(ctx, &names, &ActionArgs::default(), refresh)?;
    #[derive(Serialize)]
    struct Line<'a> {
        service: &'a str,
        avail: String,
        overall: String,
        frozen: bool,
        valid: bool,
    }
    let lines: Vec<Line<'_>> = statuses
        .iter()
        .filter(|s| s.reason.is_none())
        .map(|s| Line {
            service: &s.service,
            avail: s.avail.to_string(),
            overall: s.overall.to_string(),
            frozen: s.frozen,
            valid: s.valid,
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if ctx.format == Format::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&lines)?)?;
    } else {
        let width = lines
            .iter()
            .map(|l| l.service.len())
            .max()
            .unwrap_or(0)
            .max(7);
        writeln!(
            out,
            "{:<width$}  {:<10} {:<10} frozen",
            "service", "avail", "overall"
        )?;
        let color = crate::color::enabled(ctx.color);
        let paint =
            |text: &str, status| crate::color::status(&format!("{text:<10}"), status, color);
        let shown = statuses.iter().filter(|s| s.reason.is_none());
        for (l, s) in lines.iter().zip(shown) {
            let frozen = if l.frozen { "frozen" } else { "-" };
            let avail = if l.valid {
                paint(&l.avail, s.avail)
            } else {
                format!("{:<10}", "invalid")
            };
            let overall = paint(&l.overall, s.overall);
            writeln!(out, "{:<width$}  {avail} {overall} {frozen}", l.service)?;
        }
    }
    drop(out);
    cmd_actions::report_broken(&broken)
}

/// `doppel -s <sel> restart`: stop, then start the services whose stop went
/// through (a failed stop leaves the service as the stop left it).
pub fn restart(ctx: &Context, args: &ActionArgs) -> anyhow::Result<ExitCode> {
    let stopped = cmd_actions::execute(ctx, "stop", args)?;
    let code = cmd_actions::report(ctx, "stop", &stopped)?;
    let ok: Vec<&str> = stopped
        .iter()
        .filter(|o| o.ok && o.skipped.is_none())
        .map(|o| o.service.as_str())
        .collect();
    let mut all = stopped.clone();
    let mut code = code;
    if !ok.is_empty() {
        let start_ctx = Context {
            paths: ctx.paths.clone(),
            node: ctx.node.clone(),
            format: ctx.format,
            color: ctx.color,
            verbose: ctx.verbose,
            quiet: ctx.quiet,
            selector: Some(ok.join(",")),
        };
        let started = cmd_actions::execute(&start_ctx, "start", args)?;
        let start_code = cmd_actions::report(ctx, "start", &started)?;
        if code == ExitCode::SUCCESS {
            code = start_code;
        }
        all.extend(started);
    }
    if ctx.format == Format::Json {
        cmd_actions::print_outcomes(ctx, "restart", &all)?;
    }
    Ok(code)
}

/// `doppel -s <sel> freeze` / `thaw`.
pub fn freeze(ctx: &Context, on: bool) -> anyhow::Result<ExitCode> {
    let selected = services::selected_explicit(ctx, ctx.selector.as_deref())?;
    let registry = crate::cmd_drivers::load_registry_warned(ctx);
    let action = if on { "freeze" } else { "thaw" };
    let mut code = ExitCode::SUCCESS;
    for sel in &selected {
        let name = &sel.name;
        match services::prepare(ctx, &registry, name, action) {
            Prepared::Ready(_) => {}
            Prepared::Refused(_, reason) if !sel.explicit => {
                eprintln!(
                    "* {} - INFO - {action} skipped: {reason}",
                    name.to_uppercase()
                );
                continue;
            }
            Prepared::Refused(_, reason) => {
                eprintln!("doppel: {name}: {reason}");
                code = ExitCode::from(2);
                continue;
            }
            // A broken file can still be frozen: the daemon ignores it anyway.
            Prepared::Invalid(_) => {}
        }
        let path = engine::frozen_path(&ctx.paths, name);
        let log = crate::logger::ServiceLog::open(
            &ctx.paths.service_log(name),
            name,
            engine::console_level(ctx.quiet, ctx.verbose),
        );
        let who = doppel_core::trust::invoking_user();
        if on {
            if engine::is_frozen(&ctx.paths, name) {
                log.info(None, "already frozen");
                continue;
            }
            let text = format!("frozen {} by {who}\n", jiff::Timestamp::now());
            doppel_core::state::write_atomic(&path, text.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            log.info(
                None,
                &format!("frozen by {who}: the daemon leaves it alone"),
            );
        } else {
            match std::fs::remove_file(&path) {
                Ok(()) => log.info(None, &format!("thawed by {who}")),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    log.info(None, "not frozen");
                }
                Err(e) => return Err(anyhow::anyhow!("cannot remove {}: {e}", path.display())),
            }
        }
    }
    Ok(code)
}

/// The moment `--since` names: a duration back from now, or a time.
fn since_time(text: &str) -> anyhow::Result<jiff::civil::DateTime> {
    let tz = jiff::tz::TimeZone::system();
    if let Ok(secs) = doppel_core::convert::to_duration_secs(text) {
        let then = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(secs as i64);
        return Ok(then.to_zoned(tz).datetime());
    }
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts.to_zoned(tz).datetime());
    }
    text.replace(' ', "T")
        .parse::<jiff::civil::DateTime>()
        .map_err(|_| {
            UsageError(format!(
                "--since {text}: expected a duration (10m, 2h, 1d) or a time (2026-01-05T08:00:00)"
            ))
            .into()
        })
}

/// The time a log line starts with (`2026-01-05 08:00:00.123 * ...`), if it does.
fn line_time(line: &str) -> Option<jiff::civil::DateTime> {
    let stamp = line.get(..23)?;
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S%.f", stamp).ok()
}

/// `doppel -s <sel> logs [--since WHEN] [--follow]`.
pub fn logs(ctx: &Context, follow: bool, since: Option<&str>) -> anyhow::Result<ExitCode> {
    let names = services::selected(ctx, ctx.selector.as_deref())?;
    let since = since.map(since_time).transpose()?;
    let prefix = names.len() > 1;
    let mut out = std::io::stdout().lock();
    // Per service: the open log and whether the last line printed was in range
    // (continuation lines of a multi-line message follow their first line).
    let mut files = Vec::new();
    for name in &names {
        let path = ctx.paths.service_log(name);
        let file = match std::fs::File::open(&path) {
            Ok(f) => Some(std::io::BufReader::new(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        };
        files.push((name.clone(), path, file, since.is_none()));
    }
    loop {
        for (name, path, file, shown) in &mut files {
            if file.is_none() && follow {
                *file = std::fs::File::open(&*path)
                    .ok()
                    .map(std::io::BufReader::new);
            }
            let Some(reader) = file else { continue };
            let mut line = String::new();
            loop {
                line.clear();
                let pos = reader.stream_position()?;
                if reader.read_line(&mut line)? == 0 {
                    break;
                }
                if !line.ends_with('\n') {
                    // A line still being written: read it whole next time.
                    reader.seek(std::io::SeekFrom::Start(pos))?;
                    break;
                }
                if let (Some(since), Some(t)) = (since, line_time(&line)) {
                    *shown = t >= since;
                }
                if *shown {
                    if prefix {
                        write!(out, "{name}: ")?;
                    }
                    out.write_all(line.as_bytes())?;
                }
            }
        }
        out.flush()?;
        if !follow || crate::runner::cancelled() {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
