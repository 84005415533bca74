//! Schedule expressions: when a scheduled task (`sync_all`, `status`, ...) may run.
//!
//! doppel reads the schedule keywords of OpenSVC (`schedule`, `sync_schedule`,
//! `status_schedule`, ...) with the G2/G3 semantics, so existing service files keep
//! their meaning. This module parses a keyword value once into a [`Schedule`] and then
//! answers the two questions the daemon and `doppel schedule check` ask:
//! [`Schedule::allowed`] (may the task run now, and if not why) and
//! [`Schedule::next`] (when is the next instant it may run).
//!
//! # Syntax
//!
//! A value is one expression, or a JSON list of expressions when it starts with `[`.
//! `""` and `@0` mean never.
//!
//! ```text
//! [!] <timeranges> [<days> [<weeks> [<months>]]]
//!
//! 04:00-06:00@121                 every day between 04:00 and 06:00, at most every 121 minutes
//! @10                             all day, every 10 minutes (a bare interval is minutes)
//! *@30s                           all day, every 30 seconds (units s, m, h, d, w: @1h30m)
//! ~00:00-06:00                    once a night, at a per-task random point of the window
//! 23:00-01:00                     a range crossing midnight
//! 09:00                           the instant 09:00:00 (end = begin + 1 second)
//! 10:00-11:00,14:00-15:00@30 mon-fri
//! * fri-mon                       day ranges wrap: fri, sat, sun, mon (ISO 1-7 also accepted)
//! * sat:last                      the last day of the month, only if it is a Saturday
//! * :last  /  * :-2  /  * :1st    last day, day before last, first day of the month
//! * * 1-10                        ISO weeks 1 to 10
//! * * * nov-feb                   November to February (month ranges wrap)
//! * * * %2+1                      odd months ((month + 1) % 2 == 0)
//! ["06:00-07:00@1h *:1,-1", "! * * * feb"]
//!                                 06:00-07:00 on the first and last day of each month,
//!                                 except in February
//! ```
//!
//! ```
//! use doppel_core::schedule::Schedule;
//! use jiff::{civil::date, tz::TimeZone};
//!
//! let s = Schedule::parse("04:00-06:00@121 mon-fri").unwrap();
//! let now = date(2024, 5, 3).at(4, 30, 0, 0).to_zoned(TimeZone::UTC).unwrap(); // a Friday
//! assert!(s.allowed(now.clone(), None).is_ok());
//! // After a run at 04:30, 06:31 is past the window: the next run is Monday 04:00.
//! let next = s.next(now.clone(), Some(now)).unwrap();
//! assert_eq!(next.datetime(), date(2024, 5, 6).at(4, 0, 0, 0));
//! assert_eq!(Schedule::parse("* mox").unwrap_err().to_string(),
//!            r#"schedule "* mox": at 3: unknown day "mox""#);
//! ```
//!
//! # Semantics (OpenSVC G2/G3, with the choices doppel made explicit)
//!
//! * An instant is allowed by an include expression when its month, ISO week and day
//!   (weekday and, if given, day of month) match, its local time of day lies in one
//!   of the time ranges (bounds inclusive, to the second), and `now >= last + interval`
//!   of that range. Days, weeks and months are matched on the calendar date of the
//!   instant itself, also for ranges crossing midnight (as G2/G3 do): `23:00-01:00 mon`
//!   allows Monday 00:00-01:00 and Monday 23:00-24:00.
//! * Several include expressions: any one suffices. **Exclusions always win**, whatever
//!   their place in the list: that is what the OpenSVC daemon does (`get_next`), so
//!   `allowed` and `next` agree with each other and with it. An exclusion ends at its
//!   end (om3's `next`): after `! 00:00-11:00` the first allowed instant is 11:00:00,
//!   and `! 09:00` excludes the second 09:00:00 only.
//! * `<dom>` is a day of month (G2/G3), negative values count from the end; the weekday
//!   must match as well. An expression that can never match is a parse error, as in
//!   om3: a day of month 0 (`* :0`), or days, weeks and months that no date has
//!   together (`* :31 * feb`, `* * 10 jan`). A bare signed number in
//!   the day list (`*:1,-1`) is a day of month, so the documented example works.
//! * A month item may carry its own modulo (G2): `jan-mar%2,dec` = feb, dec.
//! * Week ranges wrap like day and month ranges (`52-2`).
//! * Intervals are measured in absolute time from `last`; the time of day and the date
//!   are local (the time zone of `now`). In a DST gap the missing local times simply do
//!   not exist; in a fold the repeated local times are allowed twice (subject to the
//!   interval).
//! * `~` (spread): instead of G2's random delay, each window occurrence gets a fixed
//!   pseudo-random start derived from the schedule's seed ([`Schedule::with_seed`]),
//!   the window's start date and the range. Before that instant `allowed` answers
//!   [`NotAllowed::Spread`]; `next` returns it. The spread applies only when the range
//!   runs once per window (interval ≥ window length) and the window is longer than 2s.
//!   A window crossing midnight is spread over its whole length.

mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use jiff::Zoned;

pub use parse::{ScheduleError, ScheduleErrorKind};

/// Seconds in a day.
pub(crate) const DAY: u32 = 86_400;

/// How many years ahead [`Schedule::next`] looks before answering `None`.
///
/// Eight years cover every calendar pattern an expression can ask for: February 29
/// and ISO week 53 both recur within eight years.
pub const SEARCH_HORIZON_YEARS: i16 = 8;

/// A parsed schedule value: one expression or a list of them.
///
/// Parsing is done once (when the configuration is loaded); evaluation is cheap. The
/// `~` spread is deterministic given the seed, see [`Schedule::with_seed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    raw: String,
    exprs: Vec<Expr>,
    seed: u64,
}

/// One expression of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Expr {
    pub(crate) raw: String,
    pub(crate) exclude: bool,
    pub(crate) ranges: Vec<TimeRange>,
    pub(crate) days: Vec<DaySpec>,
    /// Bit n set when ISO week n is allowed.
    pub(crate) weeks: u64,
    /// Bit n set when month n is allowed.
    pub(crate) months: u16,
}

/// A time range, in seconds since local midnight. `begin > end` crosses midnight.
/// `end` is inclusive and may be 86400 (instant 23:59:59).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeRange {
    pub(crate) begin: u32,
    pub(crate) end: u32,
    /// Minimum seconds between two runs, > 0.
    pub(crate) interval: u64,
    pub(crate) spread: bool,
}

/// A `<dow>[:<dom>]` item. Bit n of `weekdays` = ISO weekday n (1 = Monday).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DaySpec {
    pub(crate) weekdays: u8,
    /// `None`: any day of month. Negative: from the end (-1 = last). 0: never.
    pub(crate) monthday: Option<i32>,
}

/// Why [`Schedule::allowed`] refused a run.
///
/// When several expressions refuse for different reasons, the one that came closest to
/// allowing the run is reported (too soon / spread, then time range, days, weeks,
/// months).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotAllowed {
    /// The schedule is empty, `@0`, or has only exclusions or `@0` ranges.
    Never,
    /// No include expression allows this month.
    NotInMonths,
    /// No include expression allows this ISO week.
    NotInWeeks,
    /// No include expression allows this day (weekday / day of month).
    NotInDays,
    /// The time of day is outside every time range.
    NotInTimeRange,
    /// In a time range, but the last run is younger than the range's interval.
    TooSoon {
        /// The interval of the range.
        interval: Duration,
        /// `last + interval`: the interval condition holds from then on (the time
        /// range may have closed by then; see [`Schedule::next`]).
        until: Zoned,
    },
    /// In a `~` range, before this window's spread start.
    Spread {
        /// The spread start of the window.
        until: Zoned,
    },
    /// Allowed by an include expression but inside an exclusion (`!`).
    Excluded {
        /// The exclusion expression.
        member: String,
    },
}

impl NotAllowed {
    /// A stable machine-readable code (`too_soon`, `not_in_time_range`, ...), for JSON
    /// output and tests.
    pub fn code(&self) -> &'static str {
        match self {
            NotAllowed::Never => "never",
            NotAllowed::NotInMonths => "not_in_months",
            NotAllowed::NotInWeeks => "not_in_weeks",
            NotAllowed::NotInDays => "not_in_days",
            NotAllowed::NotInTimeRange => "not_in_time_range",
            NotAllowed::TooSoon { .. } => "too_soon",
            NotAllowed::Spread { .. } => "spread",
            NotAllowed::Excluded { .. } => "excluded",
        }
    }

    fn rank(&self) -> u8 {
        match self {
            NotAllowed::Never => 0,
            NotAllowed::NotInMonths => 1,
            NotAllowed::NotInWeeks => 2,
            NotAllowed::NotInDays => 3,
            NotAllowed::NotInTimeRange => 4,
            NotAllowed::TooSoon { .. } | NotAllowed::Spread { .. } => 5,
            NotAllowed::Excluded { .. } => 6,
        }
    }

    fn until(&self) -> Option<&Zoned> {
        match self {
            NotAllowed::TooSoon { until, .. } | NotAllowed::Spread { until } => Some(until),
            _ => None,
        }
    }

    /// Keep the more informative of two reasons.
    fn better(self, other: NotAllowed) -> NotAllowed {
        match other.rank().cmp(&self.rank()) {
            std::cmp::Ordering::Greater => other,
            std::cmp::Ordering::Less => self,
            std::cmp::Ordering::Equal => match (self.until(), other.until()) {
                (Some(a), Some(b)) if b < a => other,
                _ => self,
            },
        }
    }
}

impl fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotAllowed::Never => f.write_str("no schedule: never runs"),
            NotAllowed::NotInMonths => f.write_str("not in allowed months"),
            NotAllowed::NotInWeeks => f.write_str("not in allowed weeks"),
            NotAllowed::NotInDays => f.write_str("not in allowed days"),
            NotAllowed::NotInTimeRange => f.write_str("not in allowed time range"),
            NotAllowed::TooSoon { interval, .. } => {
                write!(
                    f,
                    "last run too recent (interval {})",
                    format_interval(interval.as_secs())
                )
            }
            NotAllowed::Spread { until } => {
                write!(
                    f,
                    "spread over the window: not before {}",
                    until.strftime("%Y-%m-%d %H:%M:%S")
                )
            }
            NotAllowed::Excluded { member } => write!(f, "excluded by schedule member {member:?}"),
        }
    }
}

impl std::error::Error for NotAllowed {}

/// Format an interval as written in schedules: `61m`, `2h`, `1d`, `30s`, `6h1s`.
pub fn format_interval(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    if secs % 60 == 0 {
        return if secs % 86_400 == 0 {
            format!("{}d", secs / 86_400)
        } else if secs % 3600 == 0 {
            format!("{}h", secs / 3600)
        } else {
            format!("{}m", secs / 60)
        };
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= n {
            out.push_str(&format!("{}{unit}", rest / n));
            rest %= n;
        }
    }
    out
}

/// A stable 64-bit seed from a string key, for [`Schedule::with_seed`].
///
/// Unlike `std`'s `DefaultHasher`, the result never changes between Rust or doppel
/// versions, so a task keeps its spread point across upgrades. The daemon uses
/// `stable_seed(&format!("{svcname}/{rid}/{nodename}"))`-like keys so that tasks and
/// nodes sharing a schedule do not all start at the same second.
pub fn stable_seed(key: &str) -> u64 {
    // FNV-1a, then a splitmix64 finaliser to spread short keys.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    eval::mix(h)
}

impl Schedule {
    /// Parse a schedule keyword value: one expression, or a JSON list of expressions
    /// when the value starts with `[`. `""` and `@0` give the never-schedule.
    ///
    /// # Errors
    /// A [`ScheduleError`] naming the expression, the character column and the reason,
    /// e.g. `schedule "* mox": at 3: unknown day "mox"`.
    pub fn parse(value: &str) -> Result<Schedule, ScheduleError> {
        let exprs = parse::split_value(value)?;
        let mut s = Schedule::parse_many(exprs)?;
        s.raw = value.trim().to_string();
        Ok(s)
    }

    /// Build one schedule from several expressions (the union of the includes, minus
    /// every exclusion), as if they were the members of a JSON list. A member is one
    /// expression (it is not itself split as JSON); blank members are ignored.
    ///
    /// # Errors
    /// The first member that does not parse.
    pub fn parse_many<I, S>(exprs: I) -> Result<Schedule, ScheduleError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut parsed = Vec::new();
        let mut raws = Vec::new();
        for e in exprs {
            let e = e.as_ref();
            raws.push(e.to_string());
            if let Some(x) = parse::parse_expr(e)? {
                parsed.push(x);
            }
        }
        let raw = match raws.as_slice() {
            [] => String::new(),
            [one] => one.trim().to_string(),
            many => serde_json::to_string(many).unwrap_or_default(),
        };
        Ok(Schedule {
            raw,
            exprs: parsed,
            seed: 0,
        })
    }

    /// The schedule that never allows a run (`@0`).
    pub fn never() -> Schedule {
        Schedule {
            raw: "@0".into(),
            exprs: Vec::new(),
            seed: 0,
        }
    }

    /// Set the seed of the `~` spread. The default seed is 0, so every task with the
    /// same `~` schedule would start at the same instant: the daemon seeds each task
    /// with [`stable_seed`] of its service, resource and node, which spreads tasks and
    /// nodes while keeping every answer reproducible (and testable).
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Schedule {
        self.seed = seed;
        self
    }

    /// The seed of the `~` spread.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The value as written (JSON for several expressions).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// True when no include expression has a time range (`""`, `@0`, `*@0`, only
    /// exclusions): the task is never scheduled. Expressions impossible by their
    /// dates (`* :0`, `* :31 * feb`) do not parse; one excluded by another
    /// (`["*", "! *"]`) is not detected here: [`Schedule::next`] returns `None`.
    pub fn is_never(&self) -> bool {
        !self
            .exprs
            .iter()
            .any(|e| !e.exclude && !e.ranges.is_empty())
    }

    /// May the task run at `now`, given the start time of its last run?
    ///
    /// `last = None` means never run. All calendar checks use the local time of `now`
    /// (its time zone); `last` only matters as an instant.
    ///
    /// # Errors
    /// [`NotAllowed`] says why not (the most informative reason over the expressions).
    pub fn allowed(&self, now: Zoned, last: Option<Zoned>) -> Result<(), NotAllowed> {
        if self.is_never() {
            return Err(NotAllowed::Never);
        }
        eval::allowed(self, &now, last.as_ref())
    }

    /// The earliest instant `t >= now` at which [`allowed`](Schedule::allowed)`(t, last)`
    /// holds, assuming no run happens in between; `None` if there is none within
    /// [`SEARCH_HORIZON_YEARS`] (or the schedule is never).
    ///
    /// Returns `now` itself when a run is allowed now. After a run started at `t`, call
    /// `next(t, Some(t))` to get the following one. The result is in the time zone of
    /// `now`. The search walks day by day and computes each day's windows directly
    /// (it never steps minute by minute).
    pub fn next(&self, now: Zoned, last: Option<Zoned>) -> Option<Zoned> {
        if self.is_never() {
            return None;
        }
        eval::next(self, &now, last.as_ref())
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(s)
    }
}
