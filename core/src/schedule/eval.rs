//! Evaluation of parsed schedules: `allowed` and `next`.
//!
//! Everything is computed per local calendar day. A time range gives one or two
//! *segments* of a day (two when it crosses midnight), and a segment is turned into
//! exact absolute windows using the zone's offset transitions, so DST gaps and folds
//! need no special case and `next` never steps through time.

use std::time::Duration;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};

use super::{DAY, DaySpec, Expr, NotAllowed, SEARCH_HORIZON_YEARS, Schedule, TimeRange};

/// splitmix64 finaliser: a cheap, good 64-bit mixer.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Local time of day in whole seconds (sub-second part dropped, as OpenSVC does).
fn tod(z: &Zoned) -> u32 {
    let t = z.time();
    t.hour() as u32 * 3600 + t.minute() as u32 * 60 + t.second() as u32
}

fn add_secs(ts: Timestamp, secs: u64) -> Timestamp {
    let d = SignedDuration::from_secs(i64::try_from(secs).unwrap_or(i64::MAX));
    ts.checked_add(d).unwrap_or(Timestamp::MAX)
}

fn civil(date: Date, secs: u32) -> Option<DateTime> {
    date.to_datetime(Time::midnight())
        .checked_add(SignedDuration::from_secs(i64::from(secs)))
        .ok()
}

impl DaySpec {
    fn matches(&self, d: Date) -> bool {
        let wd = d.weekday().to_monday_one_offset();
        if self.weekdays & (1 << wd) == 0 {
            return false;
        }
        match self.monthday {
            None => true,
            Some(md) => {
                let dim = i32::from(d.days_in_month());
                let day = i32::from(d.day());
                if md > 0 {
                    day == md
                } else if md < 0 {
                    -md <= dim && day == dim + md + 1
                } else {
                    false
                }
            }
        }
    }
}

impl Expr {
    fn month_ok(&self, d: Date) -> bool {
        self.months & (1 << d.month()) != 0
    }

    /// True when some date has the expression's days, weeks and months together.
    ///
    /// 2001 to 2028 is one full 28-year cycle of the Gregorian calendar without a
    /// skipped leap year: every combination of weekday, day of month, month and ISO
    /// week that ever occurs occurs in it (February 29 on each weekday included).
    pub(crate) fn ever_matches(&self) -> bool {
        let (Ok(mut d), Ok(end)) = (Date::new(2001, 1, 1), Date::new(2028, 12, 31)) else {
            return true;
        };
        while d <= end {
            if !self.month_ok(d) {
                match d.last_of_month().tomorrow() {
                    Ok(next) => d = next,
                    Err(_) => return false,
                }
                continue;
            }
            if self.check_date(d).is_ok() {
                return true;
            }
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => return false,
            }
        }
        false
    }

    fn check_date(&self, d: Date) -> Result<(), NotAllowed> {
        if !self.month_ok(d) {
            return Err(NotAllowed::NotInMonths);
        }
        if self.weeks & (1u64 << d.iso_week_date().week()) == 0 {
            return Err(NotAllowed::NotInWeeks);
        }
        if !self.days.iter().any(|s| s.matches(d)) {
            return Err(NotAllowed::NotInDays);
        }
        Ok(())
    }
}

/// The part of a range on one calendar day: `[start, end)` in seconds since midnight.
/// `prev` = the window this segment belongs to started the day before.
struct Seg {
    start: u32,
    end: u32,
    prev: bool,
}

impl TimeRange {
    fn wraps(&self) -> bool {
        self.begin > self.end
    }

    fn contains(&self, secs: u32) -> bool {
        if self.wraps() {
            secs >= self.begin || secs <= self.end
        } else {
            secs >= self.begin && secs <= self.end
        }
    }

    fn segments(&self) -> Vec<Seg> {
        if self.wraps() {
            vec![
                Seg {
                    start: 0,
                    end: self.end + 1,
                    prev: true,
                },
                Seg {
                    start: self.begin,
                    end: DAY,
                    prev: false,
                },
            ]
        } else {
            vec![Seg {
                start: self.begin,
                end: (self.end + 1).min(DAY),
                prev: false,
            }]
        }
    }

    /// The spread start of the window that begins on `window_date`: a pseudo-random
    /// instant in `[begin, end - 1s)` fixed by (seed, date, range key).
    fn spread_target(
        &self,
        seed: u64,
        tz: &TimeZone,
        window_date: Date,
        key: u64,
    ) -> Option<Timestamp> {
        if !self.spread {
            return None;
        }
        let len = u64::from(if self.wraps() {
            DAY - self.begin + self.end
        } else {
            self.end - self.begin
        });
        if len < 2 {
            return None;
        }
        let day_key = (window_date.year() as u64) << 16
            | (window_date.month() as u64) << 8
            | window_date.day() as u64;
        let h = mix(seed ^ mix(day_key ^ mix(key)));
        let off = h % (len - 1);
        let start = tz
            .to_ambiguous_timestamp(civil(window_date, self.begin)?)
            .compatible()
            .ok()?;
        Some(add_secs(start, off))
    }
}

fn range_key(expr: usize, range: usize) -> u64 {
    (expr as u64) << 32 | range as u64
}

/// The absolute instants whose local date is `date` and local time of day is in
/// `[start, end)` seconds: one window, none in a DST gap, two in a fold.
fn abs_windows(tz: &TimeZone, date: Date, start: u32, end: u32) -> Vec<(Timestamp, Timestamp)> {
    let mut out: Vec<(Timestamp, Timestamp)> = Vec::new();
    let (Some(cs), Some(ce)) = (civil(date, start), civil(date, end)) else {
        return out;
    };
    let (Ok(a), Ok(b)) = (Offset::UTC.to_timestamp(cs), Offset::UTC.to_timestamp(ce)) else {
        return out;
    };
    // Offsets never exceed ±26h: pieces outside [a - 26h, b + 26h) cannot matter.
    let lo = a.checked_sub(SignedDuration::from_hours(26)).unwrap_or(a);
    let hi = b.checked_add(SignedDuration::from_hours(26)).unwrap_or(b);
    let mut emit = |p0: Timestamp, p1: Timestamp, off: Offset| {
        let (Ok(ws), Ok(we)) = (off.to_timestamp(cs), off.to_timestamp(ce)) else {
            return;
        };
        let (s, e) = (ws.max(p0), we.min(p1));
        if s < e {
            match out.last_mut() {
                Some(prev) if prev.1 == s => prev.1 = e,
                _ => out.push((s, e)),
            }
        }
    };
    let mut p0 = lo;
    let mut off = tz.to_offset(lo);
    for tr in tz.following(lo) {
        let ts = tr.timestamp();
        if ts >= hi {
            break;
        }
        emit(p0, ts, off);
        p0 = ts;
        off = tr.offset();
    }
    emit(p0, hi, off);
    out
}

fn excluded_at(s: &Schedule, date: Date, secs: u32) -> Option<&Expr> {
    s.exprs
        .iter()
        .filter(|e| e.exclude)
        .find(|e| e.check_date(date).is_ok() && e.ranges.iter().any(|r| r.contains(secs)))
}

pub(crate) fn allowed(s: &Schedule, now: &Zoned, last: Option<&Zoned>) -> Result<(), NotAllowed> {
    let tz = now.time_zone();
    let date = now.date();
    let secs = tod(now);
    let ts = now.timestamp();
    let mut best: Option<NotAllowed> = None;
    let mut keep = |r: NotAllowed| {
        best = Some(match best.take() {
            None => r,
            Some(b) => b.better(r),
        });
    };
    for (i, e) in s.exprs.iter().enumerate().filter(|(_, e)| !e.exclude) {
        if let Err(r) = e.check_date(date) {
            keep(r);
            continue;
        }
        let mut in_range = false;
        for (j, r) in e.ranges.iter().enumerate() {
            if !r.contains(secs) {
                continue;
            }
            in_range = true;
            if let Some(last) = last {
                let until = add_secs(last.timestamp(), r.interval);
                if ts < until {
                    keep(NotAllowed::TooSoon {
                        interval: Duration::from_secs(r.interval),
                        until: until.to_zoned(tz.clone()),
                    });
                    continue;
                }
            }
            let window_date = if r.wraps() && secs < r.begin {
                date.yesterday().ok()
            } else {
                Some(date)
            };
            if let Some(t) =
                window_date.and_then(|wd| r.spread_target(s.seed, tz, wd, range_key(i, j)))
            {
                if ts < t {
                    keep(NotAllowed::Spread {
                        until: t.to_zoned(tz.clone()),
                    });
                    continue;
                }
            }
            return match excluded_at(s, date, secs) {
                Some(x) => Err(NotAllowed::Excluded {
                    member: x.raw.clone(),
                }),
                None => Ok(()),
            };
        }
        if !in_range {
            keep(NotAllowed::NotInTimeRange);
        }
    }
    Err(best.unwrap_or(NotAllowed::Never))
}

pub(crate) fn next(s: &Schedule, now: &Zoned, last: Option<&Zoned>) -> Option<Zoned> {
    let tz = now.time_zone().clone();
    let now_ts = now.timestamp();
    let last_ts = last.map(Zoned::timestamp);
    let includes: Vec<(usize, &Expr)> = s
        .exprs
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.exclude && !e.ranges.is_empty())
        .collect();
    let excludes: Vec<&Expr> = s.exprs.iter().filter(|e| e.exclude).collect();
    // Lower bound of a run in range r: now, and last + interval.
    let lo_of = |r: &TimeRange| match last_ts {
        Some(l) => now_ts.max(add_secs(l, r.interval)),
        None => now_ts,
    };
    let min_lo = includes
        .iter()
        .flat_map(|(_, e)| e.ranges.iter())
        .map(lo_of)
        .min()?;

    let end = now.date().checked_add(SEARCH_HORIZON_YEARS.years()).ok()?;
    let mut date = now.date();
    // Nothing can run before min_lo: start the day scan there (a day early, for zones
    // whose clocks go back over midnight).
    let lo_date = min_lo.to_zoned(tz.clone()).date().yesterday().ok()?;
    if lo_date > date {
        date = lo_date;
    }
    while date <= end {
        if !includes.iter().any(|(_, e)| e.month_ok(date)) {
            date = date.last_of_month().tomorrow().ok()?;
            continue;
        }
        let mut excl_windows: Option<Vec<(Timestamp, Timestamp)>> = None;
        let mut best: Option<Timestamp> = None;
        for &(i, e) in &includes {
            if e.check_date(date).is_err() {
                continue;
            }
            for (j, r) in e.ranges.iter().enumerate() {
                let lo_base = lo_of(r);
                for seg in r.segments() {
                    let mut lo = lo_base;
                    let window_date = if seg.prev {
                        date.yesterday().ok()
                    } else {
                        Some(date)
                    };
                    if let Some(t) =
                        window_date.and_then(|wd| r.spread_target(s.seed, &tz, wd, range_key(i, j)))
                    {
                        lo = lo.max(t);
                    }
                    for (ws, we) in abs_windows(&tz, date, seg.start, seg.end) {
                        let t = lo.max(ws);
                        if t >= we || best.is_some_and(|b| b <= t) {
                            continue;
                        }
                        let xw = excl_windows
                            .get_or_insert_with(|| exclusion_windows(&excludes, &tz, date));
                        if let Some(t) = skip_excluded(t, we, xw) {
                            best = Some(best.map_or(t, |b| b.min(t)));
                        }
                    }
                }
            }
        }
        if let Some(b) = best {
            return Some(b.to_zoned(tz));
        }
        date = date.tomorrow().ok()?;
    }
    None
}

fn exclusion_windows(excludes: &[&Expr], tz: &TimeZone, date: Date) -> Vec<(Timestamp, Timestamp)> {
    let mut out = Vec::new();
    for e in excludes.iter().filter(|e| e.check_date(date).is_ok()) {
        for r in &e.ranges {
            for seg in r.segments() {
                out.extend(abs_windows(tz, date, seg.start, seg.end));
            }
        }
    }
    out
}

/// The first instant >= t and < end outside every exclusion window.
fn skip_excluded(
    mut t: Timestamp,
    end: Timestamp,
    windows: &[(Timestamp, Timestamp)],
) -> Option<Timestamp> {
    loop {
        let mut moved = false;
        for &(xs, xe) in windows {
            if xs <= t && t < xe {
                t = xe;
                moved = true;
            }
        }
        if t >= end {
            return None;
        }
        if !moved {
            return Some(t);
        }
    }
}
