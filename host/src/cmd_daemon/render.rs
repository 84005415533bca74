//! `doppel -s <svc> print schedule`: the rows and their rendering.

use super::*;

// ---------------------------------------------------------------------------
// print schedule
// ---------------------------------------------------------------------------

#[derive(Serialize)]
pub(super) struct RestartInfo {
    pub(super) max: u32,
    pub(super) count: u32,
}

#[derive(Serialize)]
pub(super) struct Row {
    pub(super) service: String,
    pub(super) action: String,
    pub(super) rid: Option<String>,
    pub(super) schedule: Option<String>,
    pub(super) source: String,
    pub(super) last_run: Option<String>,
    pub(super) last_success: Option<String>,
    pub(super) next_run: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) restart: Option<RestartInfo>,
}

pub(super) fn rows_of(
    paths: &Paths,
    svc: &Service,
    registry: &Registry,
    selection: &Selection,
    now: &Zoned,
) -> Vec<Row> {
    let (tasks, restarts) = tasks_of(svc, registry);
    let dir = scheduler_dir(paths, &svc.name);
    let selected = |rid: Option<&str>| match rid {
        None => selection.is_empty(),
        Some(rid) => svc.resource(rid).is_some_and(|r| selection.matches(r)),
    };
    let mut rows = Vec::new();
    for t in tasks.iter().filter(|t| selected(t.rid.as_deref())) {
        let last = read_stamp(&dir.join(t.stamp_name()));
        let success = read_stamp(&dir.join(format!("{}.success", t.stamp_name())));
        let (next, error) = match &t.schedule {
            Ok(s) => (
                s.next(now.clone(), last.map(|l| in_zone(l, now)))
                    .map(|z| utc(z.timestamp())),
                None,
            ),
            Err(e) => (None, Some(e.clone())),
        };
        rows.push(Row {
            service: svc.name.clone(),
            action: t.action.clone(),
            rid: t.rid.clone(),
            schedule: Some(t.raw.clone()),
            source: t.source.clone(),
            last_run: last.map(utc),
            last_success: success.map(utc),
            next_run: next,
            error,
            restart: None,
        });
    }
    for r in restarts.iter().filter(|r| selected(Some(&r.rid))) {
        let stamp = format!("last_restart_{}", r.rid);
        rows.push(Row {
            service: svc.name.clone(),
            action: "restart".into(),
            rid: Some(r.rid.clone()),
            schedule: None,
            source: r.source.clone(),
            last_run: read_stamp(&dir.join(&stamp)).map(utc),
            last_success: read_stamp(&dir.join(format!("{stamp}.success"))).map(utc),
            next_run: None,
            error: None,
            restart: Some(RestartInfo {
                max: r.max,
                count: read_count(&restart_count_path(paths, &svc.name, &r.rid)),
            }),
        });
    }
    rows
}

pub(super) fn render_rows(rows: &[Row]) -> String {
    let header = [
        "SERVICE",
        "ACTION",
        "RID",
        "SCHEDULE",
        "SOURCE",
        "LAST RUN",
        "LAST SUCCESS",
        "NEXT RUN",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let schedule = match (&r.schedule, &r.restart) {
                (Some(s), _) => s.clone(),
                (None, Some(i)) => format!("monitor ({}/{} restarts)", i.count, i.max),
                (None, None) => "-".into(),
            };
            let next = match (&r.next_run, &r.error, &r.restart) {
                (Some(n), _, _) => n.clone(),
                (None, Some(_), _) => "invalid".into(),
                (None, None, Some(_)) => "-".into(),
                (None, None, None) => "never".into(),
            };
            [
                r.service.clone(),
                r.action.clone(),
                r.rid.clone().unwrap_or_else(|| "-".into()),
                schedule,
                r.source.clone(),
                r.last_run.clone().unwrap_or_else(|| "never".into()),
                r.last_success.clone().unwrap_or_else(|| "never".into()),
                next,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[&str]| -> String {
        let mut out = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(&header);
    for row in &cells {
        out.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    for r in rows {
        if let Some(e) = &r.error {
            out.push_str(&format!(
                "error: {} {}: {e}\n",
                r.service,
                r.rid.as_deref().unwrap_or(&r.action)
            ));
        }
    }
    out
}

/// `doppel -s <svc> print schedule`.
pub fn print_schedule(ctx: &Context, args: &ActionArgs) -> anyhow::Result<ExitCode> {
    let names = services::selected(ctx, ctx.selector.as_deref())?;
    let registry = crate::cmd_drivers::load_registry_warned(ctx);
    let selection = crate::cmd_actions::selection(args);
    let now = Zoned::now();
    let mut rows = Vec::new();
    for name in &names {
        let svc = services::load_valid(ctx, &registry, name)?;
        rows.extend(rows_of(&ctx.paths, &svc, &registry, &selection, &now));
    }
    let mut out = std::io::stdout().lock();
    if ctx.format == Format::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
    } else {
        write!(out, "{}", render_rows(&rows))?;
    }
    Ok(ExitCode::SUCCESS)
}
