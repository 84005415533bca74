//! The one grammar of durations and sizes, shared by doppel and every driver.
//!
//! doppel validates keyword values with these functions before a driver sees them,
//! and drivers read the same values with the same functions (through
//! [`ResourceConfig::get_duration`](crate::ResourceConfig::get_duration) and friends),
//! so a value that validates is the value used: `copy_timeout = 1h 30m` is 5400
//! seconds for `doppel validate` and for the driver alike.
//!
//! # Durations
//!
//! A bare integer is seconds ([`parse_duration`]) or minutes
//! ([`parse_duration_minutes`], OpenSVC's `sync_max_delay`); otherwise one or more
//! `<integer><unit>` groups, units `w d h m s` (case-insensitive), blanks allowed
//! between and inside groups: `1h30m`, `1d3h`, `1H 30M`, `1h 30m`, `90 s`. Fractions
//! (`1.5h`), negative numbers, a number without a unit after a group (`1h30`, which
//! OpenSVC 2 silently drops), unknown units and the empty string are errors.
//! [`format_duration`] writes the canonical form (`1h30m`), which parses back.
//!
//! # Sizes
//!
//! A number (fractions allowed, `,` accepted as the decimal mark) and an optional unit
//! `k m g t p e` (case-insensitive), binary multiples: `512k` is 524288 bytes. As in
//! OpenSVC an `i` after the unit selects **decimal** multiples (`1ki` is 1000) and a
//! trailing `b`/`B` is ignored (`100MB`, `100MiB`). LVM expressions like `10%FREE`
//! are refused. [`format_size`] writes the canonical form (`512k`).
//!
//! ```
//! use std::time::Duration;
//! use doppel_plugin_api::units::{format_duration, format_size, parse_duration, parse_size};
//!
//! assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
//! assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
//! assert_eq!(parse_size("1.5g"), Ok(1_610_612_736));
//! assert_eq!(format_size(524_288), "512k");
//! let err = parse_duration("1h30").unwrap_err();
//! assert_eq!(err.to_string(),
//!            r#"expected a duration like 1h30m, got "1h30": missing unit (w, d, h, m or s) after the last number"#);
//! ```

use std::fmt;
use std::time::Duration;

/// What a duration in seconds accepts, as error messages say it.
pub const EXPECT_DURATION: &str = "a duration like 1h30m";
/// What a duration in minutes accepts, as error messages say it.
pub const EXPECT_DURATION_MINUTES: &str = "a duration like 1h30m or a number of minutes";
/// What a size accepts, as error messages say it.
pub const EXPECT_SIZE: &str = "a size like 100m";

/// A value that is not a duration or a size.
///
/// Displays on one line: `expected <what>, got "<value>"[: <reason>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitError {
    /// What was expected, e.g. [`EXPECT_DURATION`].
    pub expected: &'static str,
    /// The offending text, as given.
    pub value: String,
    /// A more precise reason, when there is one.
    pub reason: Option<&'static str>,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, got {:?}", self.expected, self.value)?;
        if let Some(r) = self.reason {
            write!(f, ": {r}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnitError {}

/// Python's `str.isspace()` set: what OpenSVC strips around values.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A duration where a bare integer is seconds: `90`, `5m`, `1h30m`, `1h 30m`, `2d`, `1w`.
///
/// ```
/// use std::time::Duration;
/// use doppel_plugin_api::units::parse_duration;
/// assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
/// assert_eq!(parse_duration("1d3h"), Ok(Duration::from_secs(97_200)));
/// assert!(parse_duration("1.5h").is_err());
/// ```
///
/// # Errors
/// A [`UnitError`] saying what is wrong.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    duration(text, 1, EXPECT_DURATION).map(Duration::from_secs)
}

/// A duration where a bare integer is **minutes** (`sync_max_delay = 1440` is one
/// day); with units, as [`parse_duration`] (`1d3h`).
///
/// ```
/// use std::time::Duration;
/// use doppel_plugin_api::units::parse_duration_minutes;
/// assert_eq!(parse_duration_minutes("1440"), Ok(Duration::from_secs(86_400)));
/// assert_eq!(parse_duration_minutes("90s"), Ok(Duration::from_secs(90)));
/// ```
///
/// # Errors
/// A [`UnitError`] saying what is wrong.
pub fn parse_duration_minutes(text: &str) -> Result<Duration, UnitError> {
    duration(text, 60, EXPECT_DURATION_MINUTES).map(Duration::from_secs)
}

fn duration(s: &str, bare_unit: u64, expected: &'static str) -> Result<u64, UnitError> {
    let err = |reason| UnitError {
        expected,
        value: s.to_owned(),
        reason,
    };
    let t = s.trim_matches(is_space);
    if t.is_empty() {
        return Err(err(None));
    }
    if t.starts_with('-') {
        return Err(err(Some("a duration cannot be negative")));
    }
    if t.contains(['.', ',']) {
        return Err(err(Some("use whole numbers (1h30m, not 1.5h)")));
    }
    let bare = t.strip_prefix('+').unwrap_or(t);
    if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = bare.parse().map_err(|_| err(Some("too large")))?;
        return n
            .checked_mul(bare_unit)
            .ok_or_else(|| err(Some("too large")));
    }
    let mut total: u64 = 0;
    let mut rest = bare;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err(None));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| err(Some("too large")))?;
        rest = rest[digits..].trim_start_matches(is_space);
        let mut unit_chars = rest.chars();
        let unit = match unit_chars.next().map(|c| c.to_ascii_lowercase()) {
            Some('w') => 604_800,
            Some('d') => 86_400,
            Some('h') => 3_600,
            Some('m') => 60,
            Some('s') => 1,
            None => {
                return Err(err(Some(
                    "missing unit (w, d, h, m or s) after the last number",
                )));
            }
            Some(_) => return Err(err(Some("unknown unit (use w, d, h, m or s)"))),
        };
        rest = unit_chars.as_str().trim_start_matches(is_space);
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err(Some("too large")))?;
    }
    Ok(total)
}

/// The canonical text of a duration, to the second: `1d3h`, `1m30s`, `0s`. It parses
/// back to the same value with [`parse_duration`] (and [`parse_duration_minutes`]).
///
/// ```
/// use std::time::Duration;
/// use doppel_plugin_api::units::format_duration;
/// assert_eq!(format_duration(Duration::from_secs(97_200)), "1d3h");
/// assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
/// assert_eq!(format_duration(Duration::ZERO), "0s");
/// ```
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        let n = rest / len;
        rest %= len;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

/// A size in bytes: `512k`, `100m`, `1.5g`, `100MB`, `1ki` (decimal), `4096`.
///
/// ```
/// use doppel_plugin_api::units::parse_size;
/// assert_eq!(parse_size("512k"), Ok(524_288));
/// assert_eq!(parse_size("1ki"), Ok(1000));
/// assert!(parse_size("10%FREE").is_err());
/// ```
///
/// # Errors
/// A [`UnitError`] saying what is wrong.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let err = |reason| UnitError {
        expected: EXPECT_SIZE,
        value: s.to_owned(),
        reason,
    };
    let t = s.trim_matches(is_space);
    if t.is_empty() {
        return Err(err(None));
    }
    if t.contains('%') {
        return Err(err(Some(
            "LVM size expressions like 10%FREE are not supported here",
        )));
    }
    if t.starts_with('-') {
        return Err(err(Some("a size cannot be negative")));
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let number_len = t
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.' || *b == b',')
        .count();
    let number = t[..number_len].replace(',', ".");
    let unit = t[number_len..]
        .trim_start_matches(is_space)
        .to_ascii_lowercase();
    let (int_part, frac_part) = number.split_once('.').unwrap_or((&number, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(err(None));
    }
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let (unit, base) = match unit.strip_suffix('i') {
        Some(u) => (u, 1000u128),
        None => (unit, 1024u128),
    };
    let bad_unit = "unknown unit (use k, m, g, t, p or e, optionally followed by i or b)";
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        "e" => 6,
        _ => return Err(err(Some(bad_unit))),
    };
    if unit.is_empty() && base == 1000 {
        // "100i": an "i" with no multiplier.
        return Err(err(Some(bad_unit)));
    }
    let multiplier = base.pow(power);
    let whole: u128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| err(Some("too large")))?
    };
    let mut bytes = whole
        .checked_mul(multiplier)
        .ok_or_else(|| err(Some("too large")))?;
    if !frac_part.is_empty() {
        // Only the first digits matter once multiplied by at most 1024^6.
        let digits = &frac_part[..frac_part.len().min(30)];
        let scale = 10u128.pow(u32::try_from(digits.len()).unwrap_or(30));
        let frac: u128 = digits.parse().map_err(|_| err(Some("too large")))?;
        bytes += frac * multiplier / scale;
    }
    u64::try_from(bytes).map_err(|_| err(Some("too large")))
}

/// The canonical text of a size: the largest binary unit that divides it exactly
/// (`512k`, `100m`, `3g`), else bytes (`1500`). It parses back with [`parse_size`].
///
/// ```
/// use doppel_plugin_api::units::format_size;
/// assert_eq!(format_size(104_857_600), "100m");
/// assert_eq!(format_size(1500), "1500");
/// assert_eq!(format_size(0), "0");
/// ```
pub fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0".to_owned();
    }
    for (unit, power) in [("e", 6), ("p", 5), ("t", 4), ("g", 3), ("m", 2), ("k", 1)] {
        let m = 1024u64.pow(power);
        if bytes % m == 0 {
            return format!("{}{unit}", bytes / m);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_through_the_formatter() {
        for secs in [
            0, 1, 59, 60, 90, 3600, 5400, 86_400, 97_200, 604_800, 1_000_000,
        ] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{secs}");
            assert_eq!(parse_duration_minutes(&format_duration(d)), Ok(d), "{secs}");
        }
    }

    #[test]
    fn sizes_round_trip_through_the_formatter() {
        for bytes in [
            0,
            1,
            1000,
            1024,
            1500,
            524_288,
            104_857_600,
            3 << 30,
            u64::MAX,
        ] {
            assert_eq!(parse_size(&format_size(bytes)), Ok(bytes), "{bytes}");
        }
    }

    #[test]
    fn blanks_inside_and_between_groups() {
        for t in [
            "1h30m", "1h 30m", " 1H 30M ", "1 h 30 m", "90m", "5400", "5400s",
        ] {
            assert_eq!(parse_duration(t), Ok(Duration::from_secs(5400)), "{t}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let msg = |r: Result<Duration, UnitError>| r.unwrap_err().to_string();
        assert_eq!(
            msg(parse_duration("")),
            r#"expected a duration like 1h30m, got """#
        );
        assert_eq!(
            msg(parse_duration("1.5h")),
            r#"expected a duration like 1h30m, got "1.5h": use whole numbers (1h30m, not 1.5h)"#
        );
        assert_eq!(
            msg(parse_duration("-5m")),
            r#"expected a duration like 1h30m, got "-5m": a duration cannot be negative"#
        );
        assert_eq!(
            msg(parse_duration("5y")),
            r#"expected a duration like 1h30m, got "5y": unknown unit (use w, d, h, m or s)"#
        );
        assert_eq!(
            msg(parse_duration_minutes("soon")),
            r#"expected a duration like 1h30m or a number of minutes, got "soon""#
        );
        assert_eq!(
            parse_size("100i").unwrap_err().to_string(),
            r#"expected a size like 100m, got "100i": unknown unit (use k, m, g, t, p or e, optionally followed by i or b)"#
        );
    }
}
