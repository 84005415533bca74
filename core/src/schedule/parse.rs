//! The schedule expression parser.
//!
//! Grammar (one expression; see the module docs of [`super`]):
//!
//! ```text
//! expr      = [ "!" ] timeranges [ days [ weeks [ months ] ] ]     (fields split on whitespace)
//! timeranges= timerange { "," timerange }
//! timerange = [ "~" ] ( "*" | time [ "-" time ] | "" ) [ "@" interval ]
//! time      = HH ":" MM [ ":" SS ]
//! interval  = digits (minutes) | { digits ( "s" | "m" | "h" | "d" | "w" ) }
//! days      = "*" | day { "," day }
//! day       = [ dow [ "-" dow ] | "*" ] [ ":" monthday ] | ( "+" | "-" ) digits
//! monthday  = first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last|[+|-]digits
//! weeks     = "*" | week [ "-" week ] { "," ... }                  (ISO weeks 1-53)
//! months    = month-item { "," month-item }
//! month-item= ( "*" | "" | month [ "-" month ] ) [ "%" modulo [ "+" shift ] ]
//! ```
//!
//! Errors carry the 1-based character column of the offending token.

use super::{DAY, DaySpec, Expr, TimeRange};

/// Why a schedule expression was refused by [`Schedule::parse`](super::Schedule::parse).
///
/// `pos` is the 1-based character column inside `expr` of the token at fault, so an
/// operator can find it in a long keyword value. For a JSON list, `expr` is the list
/// member at fault (positions are counted inside that member), except for JSON syntax
/// errors where `expr` is the whole value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule {expr:?}: at {pos}: {reason}")]
pub struct ScheduleError {
    /// The expression (or JSON list member) that failed to parse.
    pub expr: String,
    /// 1-based character column of the offending token in `expr`.
    pub pos: usize,
    /// What is wrong.
    pub reason: ScheduleErrorKind,
}

/// The reason part of a [`ScheduleError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleErrorKind {
    /// The value starts with `[` but is not a JSON list of strings.
    #[error("invalid JSON list of expressions: {0}")]
    InvalidJson(String),
    /// `!` with nothing after it.
    #[error("nothing after '!': an exclusion needs at least a time range")]
    EmptyExclusion,
    /// More than the four whitespace-separated fields.
    #[error("too many fields ({0}): expected <timeranges> [<days> [<weeks> [<months>]]]")]
    TooManyFields(usize),
    /// `a,,b` or a trailing comma.
    #[error("empty {0} in list")]
    EmptyItem(&'static str),
    /// A time that is not `HH:MM` or `HH:MM:SS` in 00:00:00-23:59:59.
    #[error("invalid time {0:?}: expected HH:MM or HH:MM:SS (00:00 to 23:59:59)")]
    InvalidTime(String),
    /// `a-b-c`.
    #[error("only one '-' allowed in range {0:?}")]
    TooManyDashes(String),
    /// `09:00@10@20`.
    #[error("only one '@<interval>' allowed in {0:?}")]
    TooManyAt(String),
    /// The text after `@` is neither minutes nor a duration.
    #[error("invalid interval {0:?}: expected minutes (@10) or a duration (@30s, @1h30m, @2d)")]
    InvalidInterval(String),
    /// A day of week name that is not `mon`..`sun` or a full English day name.
    #[error("unknown day {0:?}")]
    UnknownDay(String),
    /// A month name that is not `jan`..`dec` or a full English month name.
    #[error("unknown month {0:?}")]
    UnknownMonth(String),
    /// A week that is not a number.
    #[error("invalid week {0:?}: expected an ISO week number 1-53")]
    InvalidWeek(String),
    /// A number outside the allowed range of its field.
    #[error("{what} {value} out of range {min}-{max}")]
    OutOfRange {
        /// "day", "week" or "month".
        what: &'static str,
        /// The number as written.
        value: String,
        /// Smallest accepted value.
        min: u32,
        /// Largest accepted value.
        max: u32,
    },
    /// `mon:first:x`.
    #[error("only one ':' allowed in day {0:?}")]
    TooManyColons(String),
    /// `mon:` with nothing after the colon.
    #[error("empty day of month after ':'")]
    EmptyMonthday,
    /// The text after `:` in a day is not a day of month.
    #[error("invalid day of month {0:?}: expected first..fifth, 1st..5th, last, or [+|-]1..31")]
    InvalidMonthday(String),
    /// A day of month 0 (`* :0`): days of month count from 1, or from -1 backwards.
    #[error("day of month 0 never matches: count from 1 (first) or from -1 (last)")]
    MonthdayZero,
    /// The expression's days, weeks and months never fall on one date (`* :31 * feb`,
    /// `* sat:1-... `): the task would never run.
    #[error("never matches: no date has these days, weeks and months together")]
    NeverMatches,
    /// `%2%3`.
    #[error("only one '%' allowed in month {0:?}")]
    TooManyPercent(String),
    /// The text after `%` is not `<n>[+<shift>]` with n > 0.
    #[error("invalid modulo {0:?}: expected %<n>[+<shift>] with n > 0")]
    InvalidModulo(String),
}

/// An error at a byte offset of the expression being parsed.
struct At {
    off: usize,
    kind: ScheduleErrorKind,
}

fn at<T>(off: usize, kind: ScheduleErrorKind) -> Result<T, At> {
    Err(At { off, kind })
}

/// A slice of the expression with its byte offset, for error positions.
#[derive(Clone, Copy, Debug)]
struct Tok<'a> {
    s: &'a str,
    off: usize,
}

impl<'a> Tok<'a> {
    fn split(self, sep: char) -> Vec<Tok<'a>> {
        let mut off = self.off;
        self.s
            .split(sep)
            .map(|p| {
                let t = Tok { s: p, off };
                off += p.len() + sep.len_utf8();
                t
            })
            .collect()
    }

    fn skip(self, n: usize) -> Tok<'a> {
        Tok {
            s: &self.s[n..],
            off: self.off + n,
        }
    }
}

/// Byte offset → 1-based character column.
pub(crate) fn char_pos(s: &str, byte_off: usize) -> usize {
    let mut b = byte_off.min(s.len());
    while !s.is_char_boundary(b) {
        b -= 1;
    }
    s[..b].chars().count() + 1
}

/// Split a schedule value (one expression or a JSON list) into its expressions.
pub(crate) fn split_value(value: &str) -> Result<Vec<String>, ScheduleError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed == "@0" {
        return Ok(Vec::new());
    }
    if !trimmed.starts_with('[') {
        return Ok(vec![value.to_string()]);
    }
    serde_json::from_str::<Vec<String>>(trimmed).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        // serde_json columns are 1-based; the list sits on the first line in practice.
        let lead = value.len() - value.trim_start().len();
        let mut byte = lead;
        let mut line = 1;
        for (i, c) in trimmed.char_indices() {
            if line == e.line() {
                byte = lead + i;
                break;
            }
            if c == '\n' {
                line += 1;
            }
        }
        byte += e.column().saturating_sub(1);
        ScheduleError {
            expr: value.to_string(),
            pos: char_pos(value, byte),
            reason: ScheduleErrorKind::InvalidJson(msg),
        }
    })
}

/// Parse one expression. `Ok(None)` for an empty (blank) expression, which matches nothing.
pub(crate) fn parse_expr(raw: &str) -> Result<Option<Expr>, ScheduleError> {
    parse_expr_at(raw).map_err(|a| ScheduleError {
        expr: raw.to_string(),
        pos: char_pos(raw, a.off),
        reason: a.kind,
    })
}

fn split_ws(s: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(b)) => {
                out.push(Tok {
                    s: &s[b..i],
                    off: b,
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(b) = start {
        out.push(Tok { s: &s[b..], off: b });
    }
    out
}

fn parse_expr_at(raw: &str) -> Result<Option<Expr>, At> {
    let mut fields = split_ws(raw);
    let mut exclude = false;
    let mut bang = 0;
    if let Some(first) = fields.first().copied() {
        if first.s.starts_with('!') {
            exclude = true;
            bang = first.off;
            if first.s.len() == 1 {
                fields.remove(0);
            } else {
                fields[0] = first.skip(1);
            }
        }
    }
    if fields.is_empty() {
        return if exclude {
            at(bang, ScheduleErrorKind::EmptyExclusion)
        } else {
            Ok(None)
        };
    }
    if fields.len() > 4 {
        return at(
            fields[4].off,
            ScheduleErrorKind::TooManyFields(fields.len()),
        );
    }
    let ranges = parse_timeranges(fields[0], exclude)?;
    let days = match fields.get(1) {
        Some(t) => parse_days(*t)?,
        None => vec![DaySpec {
            weekdays: ALL_WEEKDAYS,
            monthday: None,
        }],
    };
    let weeks = match fields.get(2) {
        Some(t) => parse_list(*t, Cal::Week)?,
        None => Cal::Week.all(),
    };
    let months = match fields.get(3) {
        Some(t) => parse_months(*t)?,
        None => Cal::Month.all(),
    };
    let expr = Expr {
        raw: raw.trim().to_string(),
        exclude,
        ranges,
        days,
        weeks,
        months: months as u16,
    };
    if !expr.ever_matches() {
        let off = fields.get(1).map_or(fields[0].off, |t| t.off);
        return at(off, ScheduleErrorKind::NeverMatches);
    }
    Ok(Some(expr))
}

fn parse_timeranges(tok: Tok<'_>, exclusion: bool) -> Result<Vec<TimeRange>, At> {
    let mut out = Vec::new();
    for item in tok.split(',') {
        if item.s.is_empty() {
            return at(item.off, ScheduleErrorKind::EmptyItem("time range"));
        }
        let (spread, body) = match item.s.strip_prefix('~') {
            Some(_) => (true, item.skip(1)),
            None => (false, item),
        };
        let parts = body.split('@');
        if parts.len() > 2 {
            return at(
                parts[2].off - 1,
                ScheduleErrorKind::TooManyAt(item.s.to_string()),
            );
        }
        let (begin, end) = parse_span(parts[0], exclusion)?;
        // Length of the window, inclusive bounds (G2 interval_from_timerange).
        let len = if begin <= end {
            end - begin + 1
        } else {
            DAY - begin + end + 1
        };
        let interval = match parts.get(1) {
            Some(iv) => parse_interval(*iv)?,
            None => u64::from(len),
        };
        if interval == 0 {
            // "...@0" discards the timerange (G2/G3).
            continue;
        }
        // G2/G3: spread only when the run happens once per window and the window is
        // longer than 2 seconds.
        let spread = spread && len > 2 && interval >= u64::from(len);
        out.push(TimeRange {
            begin,
            end,
            interval,
            spread,
        });
    }
    Ok(out)
}

/// `(begin, end)` in seconds, both inclusive. An include range keeps its end
/// second (`09:00-09:20` allows 09:20:00, and `09:00` is 09:00:00-09:00:01, as in
/// OpenSVC). An exclusion ends *at* its end (om3's `next`): `! 00:00-11:00` excludes
/// up to 10:59:59 and 11:00:00 is allowed again; `! 09:00` excludes 09:00:00 only.
fn parse_span(tok: Tok<'_>, exclusion: bool) -> Result<(u32, u32), At> {
    if tok.s.is_empty() || tok.s == "*" {
        return Ok((0, DAY - 1));
    }
    let parts = tok.split('-');
    match parts.len() {
        1 => {
            let t = parse_time(parts[0])?;
            Ok((t, if exclusion { t } else { t + 1 }))
        }
        2 => {
            let b = parse_time(parts[0])?;
            let e = parse_time(parts[1])?;
            Ok(match (b == e, exclusion) {
                (true, false) => (b, e + 1),
                (true, true) => (b, b),
                (false, false) => (b, e),
                // The second before the end; an end at midnight is the day's last second.
                (false, true) => (b, if e == 0 { DAY - 1 } else { e - 1 }),
            })
        }
        _ => at(
            parts[2].off - 1,
            ScheduleErrorKind::TooManyDashes(tok.s.to_string()),
        ),
    }
}

fn parse_time(tok: Tok<'_>) -> Result<u32, At> {
    let bad = || At {
        off: tok.off,
        kind: ScheduleErrorKind::InvalidTime(tok.s.to_string()),
    };
    let parts: Vec<&str> = tok.s.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let mut vals = [0u32; 3];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        vals[i] = p.parse().map_err(|_| bad())?;
    }
    let [h, m, s] = vals;
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60 + s)
}

/// Interval in seconds: bare digits are minutes, else `<n><unit>...` with s/m/h/d/w.
fn parse_interval(tok: Tok<'_>) -> Result<u64, At> {
    let bad = || At {
        off: tok.off,
        kind: ScheduleErrorKind::InvalidInterval(tok.s.to_string()),
    };
    let s = tok.s.to_ascii_lowercase();
    if s.is_empty() {
        return Err(bad());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = s.parse().map_err(|_| bad())?;
        return n.checked_mul(60).ok_or_else(bad);
    }
    let mut total: u64 = 0;
    let mut rest = s.as_str();
    while !rest.is_empty() {
        let nd = rest.bytes().take_while(u8::is_ascii_digit).count();
        if nd == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..nd].parse().map_err(|_| bad())?;
        rest = &rest[nd..];
        let nu = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let mult = match &rest[..nu] {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(bad()),
        };
        rest = &rest[nu..];
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

pub(crate) const ALL_WEEKDAYS: u8 = 0b1111_1110;

#[derive(Clone, Copy)]
enum Cal {
    Day,
    Week,
    Month,
}

const DAY_NAMES: &[(&str, u32)] = &[
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
    ("sun", 7),
    ("monday", 1),
    ("tuesday", 2),
    ("wednesday", 3),
    ("thursday", 4),
    ("friday", 5),
    ("saturday", 6),
    ("sunday", 7),
];

const MONTH_NAMES: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
];

impl Cal {
    fn max(self) -> u32 {
        match self {
            Cal::Day => 7,
            Cal::Week => 53,
            Cal::Month => 12,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Cal::Day => "day",
            Cal::Week => "week",
            Cal::Month => "month",
        }
    }

    /// Bit n set for every value n in 1..=max.
    fn all(self) -> u64 {
        ((1u64 << (self.max() + 1)) - 1) & !1
    }

    fn resolve(self, tok: Tok<'_>) -> Result<u32, At> {
        let s = tok.s.to_ascii_lowercase();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let n = s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=self.max()).contains(n));
            return n.ok_or(At {
                off: tok.off,
                kind: ScheduleErrorKind::OutOfRange {
                    what: self.what(),
                    value: tok.s.to_string(),
                    min: 1,
                    max: self.max(),
                },
            });
        }
        type Unknown = fn(String) -> ScheduleErrorKind;
        let (names, err): (&[(&str, u32)], Unknown) = match self {
            Cal::Day => (DAY_NAMES, ScheduleErrorKind::UnknownDay),
            Cal::Month => (MONTH_NAMES, ScheduleErrorKind::UnknownMonth),
            Cal::Week => (&[], ScheduleErrorKind::InvalidWeek),
        };
        names
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, v)| *v)
            .ok_or(At {
                off: tok.off,
                kind: err(tok.s.to_string()),
            })
    }

    /// `a` or `a-b` (wrapping when a > b, G2/G3) as a bit set.
    fn range(self, tok: Tok<'_>) -> Result<u64, At> {
        if tok.s == "*" {
            return Ok(self.all());
        }
        let parts = tok.split('-');
        match parts.len() {
            1 => Ok(1u64 << self.resolve(parts[0])?),
            2 => {
                let b = self.resolve(parts[0])?;
                let e = self.resolve(parts[1])?;
                let mut mask = 0u64;
                if b <= e {
                    (b..=e).for_each(|i| mask |= 1 << i);
                } else {
                    (b..=self.max()).chain(1..=e).for_each(|i| mask |= 1 << i);
                }
                Ok(mask)
            }
            _ => at(
                parts[2].off - 1,
                ScheduleErrorKind::TooManyDashes(tok.s.to_string()),
            ),
        }
    }
}

/// A comma list of values and ranges.
fn parse_list(tok: Tok<'_>, cal: Cal) -> Result<u64, At> {
    if tok.s == "*" {
        return Ok(cal.all());
    }
    let mut mask = 0;
    for item in tok.split(',') {
        if item.s.is_empty() {
            return at(item.off, ScheduleErrorKind::EmptyItem(cal.what()));
        }
        mask |= cal.range(item)?;
    }
    Ok(mask)
}

fn is_signed_number(s: &str) -> bool {
    (s.starts_with('-') || s.starts_with('+'))
        && s.len() > 1
        && s[1..].bytes().all(|b| b.is_ascii_digit())
}

fn parse_days(tok: Tok<'_>) -> Result<Vec<DaySpec>, At> {
    if tok.s == "*" {
        return Ok(vec![DaySpec {
            weekdays: ALL_WEEKDAYS,
            monthday: None,
        }]);
    }
    let mut out = Vec::new();
    for item in tok.split(',') {
        if item.s.is_empty() {
            return at(item.off, ScheduleErrorKind::EmptyItem("day"));
        }
        let parts = item.split(':');
        let spec = match parts.len() {
            1 if is_signed_number(item.s) => {
                // doppel extension: a bare signed number in the day list is a day of
                // month (`*:1,-1` = first and last day), as the OpenSVC docs intend.
                DaySpec {
                    weekdays: ALL_WEEKDAYS,
                    monthday: Some(parse_monthday(item)?),
                }
            }
            1 => DaySpec {
                weekdays: weekdays(item)?,
                monthday: None,
            },
            2 => {
                let wd = if parts[0].s.is_empty() {
                    ALL_WEEKDAYS
                } else {
                    weekdays(parts[0])?
                };
                if parts[1].s.is_empty() {
                    return at(parts[1].off, ScheduleErrorKind::EmptyMonthday);
                }
                DaySpec {
                    weekdays: wd,
                    monthday: Some(parse_monthday(parts[1])?),
                }
            }
            _ => {
                return at(
                    parts[2].off - 1,
                    ScheduleErrorKind::TooManyColons(item.s.to_string()),
                );
            }
        };
        out.push(spec);
    }
    Ok(out)
}

fn weekdays(tok: Tok<'_>) -> Result<u8, At> {
    Ok(Cal::Day.range(tok)? as u8)
}

fn parse_monthday(tok: Tok<'_>) -> Result<i32, At> {
    let s = tok.s.to_ascii_lowercase();
    let v = match s.as_str() {
        "first" | "1st" => 1,
        "second" | "2nd" => 2,
        "third" | "3rd" => 3,
        "fourth" | "4th" => 4,
        "fifth" | "5th" => 5,
        "last" => -1,
        _ => {
            let digits = s.strip_prefix(['+', '-']).unwrap_or(&s);
            let n = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<i32>().ok().filter(|n| n.abs() <= 31)
            } else {
                None
            };
            match n {
                Some(0) => return at(tok.off, ScheduleErrorKind::MonthdayZero),
                Some(n) => n,
                None => {
                    return at(
                        tok.off,
                        ScheduleErrorKind::InvalidMonthday(tok.s.to_string()),
                    );
                }
            }
        }
    };
    Ok(v)
}

fn parse_months(tok: Tok<'_>) -> Result<u64, At> {
    if tok.s == "*" {
        return Ok(Cal::Month.all());
    }
    let mut mask = 0;
    for item in tok.split(',') {
        if item.s.is_empty() {
            return at(item.off, ScheduleErrorKind::EmptyItem("month"));
        }
        let parts = item.split('%');
        if parts.len() > 2 {
            return at(
                parts[2].off - 1,
                ScheduleErrorKind::TooManyPercent(item.s.to_string()),
            );
        }
        let mut m = if parts[0].s.is_empty() {
            Cal::Month.all()
        } else {
            Cal::Month.range(parts[0])?
        };
        if let Some(modulo) = parts.get(1) {
            let (n, shift) = parse_modulo(*modulo)?;
            m &= (1..=12u32)
                .filter(|v| (v + shift % n) % n == 0)
                .fold(0u64, |acc, v| acc | 1 << v);
        }
        mask |= m;
    }
    Ok(mask)
}

fn parse_modulo(tok: Tok<'_>) -> Result<(u32, u32), At> {
    let bad = || At {
        off: tok.off,
        kind: ScheduleErrorKind::InvalidModulo(tok.s.to_string()),
    };
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let parts: Vec<&str> = tok.s.split('+').collect();
    let (n, shift) = match parts.as_slice() {
        [n] => (num(n), Some(0)),
        [n, s] => (num(n), num(s)),
        _ => return Err(bad()),
    };
    match (n, shift) {
        (Some(n), Some(s)) if n > 0 => Ok((n, s)),
        _ => Err(bad()),
    }
}
