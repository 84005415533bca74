//! Dates and sizes as MultiSite writes and reads them.

use doppel_sim::common::clock;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

/// The date part of a packet name: `dd-Mon-yy.HH.MM.SS` (local time), e.g.
/// `30-Oct-02.14.35.49` in `sync_bangalore_30-Oct-02.14.35.49_2468_1`.
pub fn packet_stamp(ts: f64) -> String {
    clock::format_local(ts, "%d-%b-%y.%H.%M.%S")
}

/// A ClearCase date-time for messages: `15-Jun-24.10:00:00`.
pub fn cc_datetime(ts: f64) -> String {
    clock::format_local(ts, "%d-%b-%y.%H:%M:%S")
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn month(text: &str) -> Option<i8> {
    let t = text.to_ascii_lowercase();
    if t.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| t.starts_with(m))
        .map(|i| i as i8 + 1)
}

fn time_of_day(text: &str) -> Option<Time> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let num = |s: &str| s.trim().parse::<i8>().ok();
    let h = num(parts[0])?;
    let m = if parts.len() > 1 { num(parts[1])? } else { 0 };
    let s = if parts.len() > 2 { num(parts[2])? } else { 0 };
    Time::new(h, m, s, 0).ok()
}

fn to_ts(dt: DateTime) -> Option<f64> {
    dt.to_zoned(TimeZone::system())
        .ok()
        .map(|z| z.timestamp().as_second() as f64)
}

fn local_date(ts: f64) -> Option<Date> {
    let t = jiff::Timestamp::from_second(ts.floor() as i64).ok()?;
    Some(t.to_zoned(TimeZone::system()).date())
}

/// Parses a ClearCase date-time (`now`, `today[.hh:mm[:ss]]`, `yesterday[...]`,
/// `dd-Mon[-[yy]yy][.hh:mm[:ss]]`) or an ISO 8601 / RFC 3339 one, in local time
/// unless an offset is given. `now` is the simulated clock.
pub fn parse_datetime(text: &str, now: f64) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts.as_second() as f64);
    }
    if let Ok(dt) = text.parse::<DateTime>() {
        return to_ts(dt);
    }
    if let Ok(d) = text.parse::<Date>() {
        return to_ts(d.to_datetime(Time::midnight()));
    }
    let (date_part, time_part) = match text.split_once('.') {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let time = match time_part {
        Some(t) => time_of_day(t)?,
        None => Time::midnight(),
    };
    let lower = date_part.to_ascii_lowercase();
    let date = match lower.as_str() {
        "now" => return if time_part.is_none() { Some(now) } else { None },
        "today" => local_date(now)?,
        "yesterday" => local_date(now)?.yesterday().ok()?,
        _ => {
            let fields: Vec<&str> = date_part.split('-').collect();
            if fields.len() < 2 || fields.len() > 3 {
                return None;
            }
            let day: i8 = fields[0].parse().ok()?;
            let mon = month(fields[1])?;
            let year: i16 = if fields.len() == 3 {
                let y: i16 = fields[2].parse().ok()?;
                if fields[2].len() <= 2 {
                    if y < 70 { 2000 + y } else { 1900 + y }
                } else {
                    y
                }
            } else {
                local_date(now)?.year()
            };
            Date::new(year, mon, day).ok()?
        }
    };
    to_ts(date.to_datetime(time))
}

/// Parses a packet size: bytes, or a number with `k`, `m` or `g` (optionally
/// followed by `b`), e.g. `50m`, `500k`, `2048`.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix('b')
        .filter(|s| !s.is_empty() && !s.ends_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(&t);
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1024u64),
        'm' => (&t[..t.len() - 1], 1024 * 1024),
        'g' => (&t[..t.len() - 1], 1024 * 1024 * 1024),
        c if c.is_ascii_digit() => (t, 1),
        _ => return None,
    };
    let n: u64 = num.trim().parse().ok()?;
    n.checked_mul(mult).filter(|v| *v > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("50m"), Some(50 * 1024 * 1024));
        assert_eq!(parse_size("1M"), Some(1024 * 1024));
        assert_eq!(parse_size("500k"), Some(512_000));
        assert_eq!(parse_size("2kb"), Some(2048));
        assert_eq!(parse_size("300"), Some(300));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("1t"), None);
    }

    #[test]
    fn datetimes() {
        let now = 1_718_445_600.0; // 2024-06-15T10:00:00Z
        assert_eq!(parse_datetime("now", now), Some(now));
        assert_eq!(
            parse_datetime("2024-06-15T09:00:00Z", now),
            Some(now - 3600.0)
        );
        let a = parse_datetime("15-Jun-24.10:00:00", now).unwrap();
        let b = parse_datetime("15-Jun-2024.10:00", now).unwrap();
        assert_eq!(a, b);
        let y = parse_datetime("yesterday", now).unwrap();
        let t = parse_datetime("today", now).unwrap();
        assert_eq!(t - y, 86400.0);
        assert!(parse_datetime("31-Foo-24", now).is_none());
        assert!(parse_datetime("", now).is_none());
        // round trip of the message format
        let s = cc_datetime(now);
        assert_eq!(parse_datetime(&s, now), Some(now));
    }
}
