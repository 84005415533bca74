//! `doppel schedule check '<expr>' [--now T] [--last T]`: is `now` allowed (and
//! why not), and the next run after `now` given `last`.
//!
//! Text: `allowed: yes` or `allowed: no (<reason>)`, then `next: <RFC 3339 UTC>` or
//! `next: never`. JSON: `{"valid": true, "allowed": bool, "reason": string|null,
//! "next": string|null}`; an invalid expression exits 2 with the error on stderr
//! (and `{"valid": false, "error": string}` on stdout in JSON mode).

use std::io::Write as _;
use std::process::ExitCode;

use doppel_core::schedule::Schedule;
use jiff::fmt::temporal::Pieces;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned, civil};
use serde::Serialize;

use crate::cli::{Format, ScheduleCommand};
use crate::{Context, UsageError};

#[derive(Serialize)]
struct CheckJson {
    valid: bool,
    allowed: bool,
    reason: Option<String>,
    next: Option<String>,
}

#[derive(Serialize)]
struct InvalidJson {
    valid: bool,
    error: String,
}

/// Reads a time: with a `[zone]` annotation in that zone; with `Z` or an offset as
/// given (the offset is the calendar's); without, as local time.
pub fn parse_time(text: &str) -> Result<Zoned, String> {
    let text = text.trim();
    if let Ok(z) = text.parse::<Zoned>() {
        return Ok(z);
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        let tz = Pieces::parse(text)
            .ok()
            .and_then(|p| p.to_numeric_offset())
            .map(TimeZone::fixed)
            .unwrap_or(TimeZone::UTC);
        return Ok(ts.to_zoned(tz));
    }
    match text.parse::<civil::DateTime>() {
        Ok(dt) => {
            let tz = TimeZone::try_system()
                .map_err(|e| format!("no local time zone to read it in: {e}"))?;
            dt.to_zoned(tz).map_err(|e| e.to_string())
        }
        Err(e) => Err(format!(
            "{e} (expected RFC 3339, e.g. 2024-05-03T04:30:00Z, or a local 2024-05-03T04:30:00)"
        )),
    }
}

fn time_arg(name: &str, value: Option<&str>) -> anyhow::Result<Option<Zoned>> {
    match value {
        None => Ok(None),
        Some(v) => parse_time(v)
            .map(Some)
            .map_err(|e| UsageError(format!("invalid {name} value {v:?}: {e}")).into()),
    }
}

/// RFC 3339 in UTC, to the second.
fn utc(z: &Zoned) -> String {
    z.timestamp()
        .round(jiff::Unit::Second)
        .unwrap_or(z.timestamp())
        .to_string()
}

pub fn run(ctx: &Context, command: ScheduleCommand) -> anyhow::Result<ExitCode> {
    let ScheduleCommand::Check { expr, now, last } = command;
    let mut out = std::io::stdout().lock();
    let schedule = match Schedule::parse(&expr) {
        Ok(s) => s,
        Err(e) => {
            if ctx.format == Format::Json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&InvalidJson {
                        valid: false,
                        error: e.to_string()
                    })?
                )?;
            }
            return Err(UsageError(e.to_string()).into());
        }
    };
    let now = time_arg("--now", now.as_deref())?.unwrap_or_else(|| {
        Zoned::now()
            .round(jiff::Unit::Second)
            .unwrap_or_else(|_| Zoned::now())
    });
    let last = time_arg("--last", last.as_deref())?;

    let verdict = schedule.allowed(now.clone(), last.clone());
    let next = schedule.next(now, last);
    let reason = verdict.err().map(|r| r.to_string());
    if ctx.format == Format::Json {
        let doc = CheckJson {
            valid: true,
            allowed: reason.is_none(),
            reason,
            next: next.as_ref().map(utc),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        match &reason {
            None => writeln!(out, "allowed: yes")?,
            Some(r) => writeln!(out, "allowed: no ({r})")?,
        }
        match &next {
            Some(n) => writeln!(out, "next: {}", utc(n))?,
            None => writeln!(out, "next: never")?,
        }
    }
    Ok(ExitCode::SUCCESS)
}
