//! Keyword value converters, with OpenSVC G2 semantics
//! (`opensvc/utilities/converters`, reference/opensvc.md §2.3).
//!
//! Values arrive as raw strings from the service file (already trimmed by the INI
//! parser, references already resolved). Each converter returns the typed value or a
//! [`ConvertError`] whose message says what was expected and what was found, e.g.
//! `expected a duration like 1h30m, got "xx"`.
//!
//! Where G2 silently returns `None` or ignores garbage (an unparsable integer, the
//! trailing `30` of `1h30`, the `xyz` of `10mxyz`), doppel reports an error instead:
//! the value is almost certainly a typo, and `doppel validate` should say so.

use doppel_plugin_api::{KeywordType, units};

use crate::ini::{is_py_space, py_strip};

/// A value that does not fit its keyword's type.
///
/// Displays on one line: `expected <what>, got "<value>"[: <reason>]`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got {value:?}{}", .reason.map(|r| format!(": {r}")).unwrap_or_default())]
pub struct ConvertError {
    /// What the type accepts, e.g. `a duration like 1h30m`.
    pub expected: &'static str,
    /// The offending value.
    pub value: String,
    /// A more precise reason, when there is one.
    pub reason: Option<&'static str>,
}

impl ConvertError {
    fn new(expected: &'static str, value: &str) -> Self {
        ConvertError {
            expected,
            value: value.to_owned(),
            reason: None,
        }
    }

    fn because(expected: &'static str, value: &str, reason: &'static str) -> Self {
        ConvertError {
            expected,
            value: value.to_owned(),
            reason: Some(reason),
        }
    }
}

const EXPECT_INTEGER: &str = "an integer";
const EXPECT_BOOLEAN: &str = "a boolean (yes/no, true/false, y/n, t/f, 1/0)";
const EXPECT_SHLEX: &str = "a shell-like command line";

/// A converted value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// [`KeywordType::String`]: the raw text.
    String(String),
    /// [`KeywordType::Integer`].
    Integer(i64),
    /// [`KeywordType::Boolean`].
    Boolean(bool),
    /// [`KeywordType::List`] and [`KeywordType::Shlex`]: the words.
    List(Vec<String>),
    /// [`KeywordType::Duration`] and [`KeywordType::DurationMinutes`]: seconds.
    Duration(u64),
    /// [`KeywordType::Size`]: bytes.
    Size(u64),
}

/// Converts `raw` according to the keyword type `kind`.
pub fn convert(kind: KeywordType, raw: &str) -> Result<Value, ConvertError> {
    Ok(match kind {
        KeywordType::String => Value::String(raw.to_owned()),
        KeywordType::Integer => Value::Integer(to_integer(raw)?),
        KeywordType::Boolean => Value::Boolean(to_bool(raw)?),
        KeywordType::List => Value::List(to_list(raw)),
        KeywordType::Duration => Value::Duration(to_duration_secs(raw)?),
        KeywordType::DurationMinutes => Value::Duration(to_duration_minute_secs(raw)?),
        KeywordType::Shlex => Value::List(to_shlex(raw)?),
        KeywordType::Size => Value::Size(to_size_bytes(raw)?),
    })
}

/// Checks that `raw` converts to `kind`, discarding the value.
pub fn check(kind: KeywordType, raw: &str) -> Result<(), ConvertError> {
    convert(kind, raw).map(drop)
}

/// `integer`: Python's `int(float(s))`. Surrounding blanks are ignored, a sign and a
/// fraction or exponent are allowed and truncated toward zero: `"3.0"` → 3,
/// `"-3.7"` → -3, `"1e3"` → 1000. `inf`, `nan`, `""` and out-of-range numbers are
/// errors (G2 returns `None` for unparsable values).
pub fn to_integer(s: &str) -> Result<i64, ConvertError> {
    let t = py_strip(s);
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    let f: f64 = t
        .parse()
        .map_err(|_| ConvertError::new(EXPECT_INTEGER, s))?;
    if !f.is_finite() {
        return Err(ConvertError::because(
            EXPECT_INTEGER,
            s,
            "not a finite number",
        ));
    }
    let f = f.trunc();
    // i64::MAX as f64 rounds up to 2^63, which is out of range.
    if f < -(2f64.powi(63)) || f >= 2f64.powi(63) {
        return Err(ConvertError::because(EXPECT_INTEGER, s, "out of range"));
    }
    // In range and integral: the cast is exact.
    Ok(f as i64)
}

/// `boolean`, case-insensitive. True: `yes y true t 1`. False: `no n false f 0 0.0`,
/// the empty string, `none`, `[]`, `{}`. Anything else is an error.
pub fn to_bool(s: &str) -> Result<bool, ConvertError> {
    match s.to_lowercase().as_str() {
        "yes" | "y" | "true" | "t" | "1" => Ok(true),
        "no" | "n" | "false" | "f" | "0" | "0.0" | "" | "none" | "[]" | "{}" => Ok(false),
        _ => Err(ConvertError::new(EXPECT_BOOLEAN, s)),
    }
}

/// `tristate`: an unset value stays unset, otherwise [`to_bool`].
pub fn to_tristate(s: Option<&str>) -> Result<Option<bool>, ConvertError> {
    s.map(to_bool).transpose()
}

/// `list`: Python's `str.split()`: words separated by runs of whitespace
/// (newlines of multi-line values included).
pub fn to_list(s: &str) -> Vec<String> {
    s.split(is_py_space)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `list_lower`: [`to_list`] with every word lowercased.
pub fn to_list_lower(s: &str) -> Vec<String> {
    to_list(&s.to_lowercase())
}

/// `list_comma`: items separated by commas, each trimmed; empty items dropped
/// (`"a, b c,,d"` → `["a", "b c", "d"]`).
pub fn to_list_comma(s: &str) -> Vec<String> {
    s.split(',')
        .map(py_strip)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `shlex`: split like Python's `shlex.split(s)` (POSIX mode, no comments).
///
/// Words are separated by blanks (space, tab, CR, LF); `'...'` quotes literally;
/// `"..."` quotes with `\"` and `\\` as the only escapes; outside quotes a
/// backslash escapes the next character. `""` yields an empty word and `#` is an
/// ordinary character. An unclosed quote or a final lone backslash is an error.
///
/// (The `shlex` crate is not used because it treats `#` as a comment start, which
/// Python's `shlex.split` does not: `notify --tag #1` must keep `#1`.)
pub fn to_shlex(s: &str) -> Result<Vec<String>, ConvertError> {
    let unclosed = || ConvertError::because(EXPECT_SHLEX, s, "no closing quotation");
    let dangling = || ConvertError::because(EXPECT_SHLEX, s, "nothing after the final backslash");
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next().ok_or_else(dangling)?);
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next().ok_or_else(unclosed)? {
                        '\'' => break,
                        other => word.push(other),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next().ok_or_else(unclosed)? {
                        '"' => break,
                        '\\' => match chars.next().ok_or_else(unclosed)? {
                            escaped @ ('"' | '\\') => word.push(escaped),
                            other => {
                                word.push('\\');
                                word.push(other);
                            }
                        },
                        other => word.push(other),
                    }
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `duration`, in seconds: the grammar of
/// [`doppel_plugin_api::units::parse_duration`], the one every driver reads values
/// with. A bare integer is seconds (`"90"` → 90); otherwise one or more
/// `<integer><unit>` groups, units `w d h m s` (case-insensitive), blanks allowed
/// between groups: `"1h30m"` → 5400, `"1d3h"` → 97200, `"1h 30m"` → 5400.
/// Fractions (`"1.5h"`), negative numbers, a number without a unit after a group
/// (`"1h30"`, which G2 silently drops), unknown units and the empty string are errors.
pub fn to_duration_secs(s: &str) -> Result<u64, ConvertError> {
    units::parse_duration(s)
        .map(|d| d.as_secs())
        .map_err(ConvertError::from)
}

/// `duration_minute` (used by `sync_max_delay`), in seconds: like
/// [`to_duration_secs`] except that a bare integer counts **minutes**
/// (`"1440"` → 86400, `"1d3h"` → 97200).
pub fn to_duration_minute_secs(s: &str) -> Result<u64, ConvertError> {
    units::parse_duration_minutes(s)
        .map(|d| d.as_secs())
        .map_err(ConvertError::from)
}

/// `size`, in bytes: the grammar of [`doppel_plugin_api::units::parse_size`]. A number
/// (fractions allowed, `,` accepted as the decimal mark) and an optional unit
/// `k m g t p e` (case-insensitive), binary multiples: `"512k"` → 524288, `"100m"` →
/// 104857600, `"1.5g"`. As in OpenSVC an `i` after the unit selects **decimal**
/// multiples (`"1ki"` → 1000) and a trailing `b`/`B` is ignored (`"100MB"`,
/// `"100MiB"`). A bare number is bytes; the result is truncated to whole bytes.
///
/// Errors: empty, negative, unknown unit or trailing text, results over `u64::MAX`,
/// and LVM expressions such as `10%FREE` (OpenSVC passes those through to LVM; no
/// doppel keyword accepts them).
pub fn to_size_bytes(s: &str) -> Result<u64, ConvertError> {
    units::parse_size(s).map_err(ConvertError::from)
}

impl From<units::UnitError> for ConvertError {
    fn from(e: units::UnitError) -> ConvertError {
        ConvertError {
            expected: e.expected,
            value: e.value,
            reason: e.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn msg<T: std::fmt::Debug>(r: Result<T, ConvertError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn integer() {
        assert_eq!(to_integer("3"), Ok(3));
        assert_eq!(to_integer("3.0"), Ok(3));
        assert_eq!(to_integer(" 42 "), Ok(42));
        assert_eq!(to_integer("-3.7"), Ok(-3));
        assert_eq!(to_integer("+5"), Ok(5));
        assert_eq!(to_integer("1e3"), Ok(1000));
        assert_eq!(to_integer(".5"), Ok(0));
        assert_eq!(to_integer("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(msg(to_integer("abc")), "expected an integer, got \"abc\"");
        assert!(to_integer("").is_err());
        assert!(to_integer("1h").is_err());
        assert_eq!(
            msg(to_integer("inf")),
            "expected an integer, got \"inf\": not a finite number"
        );
        assert!(to_integer("nan").is_err());
        assert_eq!(
            msg(to_integer("1e30")),
            "expected an integer, got \"1e30\": out of range"
        );
    }

    #[test]
    fn boolean() {
        for t in ["yes", "y", "true", "t", "1", "YES", "True", "T", "Y"] {
            assert_eq!(to_bool(t), Ok(true), "{t}");
        }
        for f in [
            "no", "n", "false", "f", "0", "0.0", "", "none", "None", "FALSE", "[]", "{}",
        ] {
            assert_eq!(to_bool(f), Ok(false), "{f}");
        }
        for bad in ["2", "on", "off", "maybe", " yes", "1.0"] {
            assert!(to_bool(bad).is_err(), "{bad}");
        }
        assert_eq!(
            msg(to_bool("maybe")),
            "expected a boolean (yes/no, true/false, y/n, t/f, 1/0), got \"maybe\""
        );
        assert_eq!(to_tristate(None), Ok(None));
        assert_eq!(to_tristate(Some("no")), Ok(Some(false)));
        assert!(to_tristate(Some("x")).is_err());
    }

    #[test]
    fn lists() {
        assert_eq!(to_list("  a b\tc\nd  "), ["a", "b", "c", "d"]);
        assert!(to_list("").is_empty());
        assert!(to_list(" \n ").is_empty());
        assert_eq!(to_list_lower("A b"), ["a", "b"]);
        assert_eq!(to_list_comma("a, b c,,d ,"), ["a", "b c", "d"]);
        assert_eq!(to_list_comma(" a "), ["a"]);
        assert!(to_list_comma(" , ").is_empty());
    }

    #[test]
    fn shlex() {
        let v = |s: &str| to_shlex(s).unwrap();
        assert_eq!(v("/bin/echo a  b"), ["/bin/echo", "a", "b"]);
        assert_eq!(v("echo 'a b' \"c d\""), ["echo", "a b", "c d"]);
        assert_eq!(v("a'b c'd"), ["ab cd"]);
        assert_eq!(v("a\\ b"), ["a b"]);
        assert_eq!(v("'' \"\" x"), ["", "", "x"]);
        assert_eq!(
            v(r#""a\"b" "c\\d" "e\$f" 'g\h'"#),
            ["a\"b", "c\\d", "e\\$f", "g\\h"]
        );
        assert_eq!(
            v("notify --tag #1 # x"),
            ["notify", "--tag", "#1", "#", "x"]
        );
        assert_eq!(v("a\nb\r\nc"), ["a", "b", "c"]);
        assert!(v("").is_empty());
        assert!(v("   ").is_empty());
        assert_eq!(
            msg(to_shlex("echo 'oops")),
            "expected a shell-like command line, got \"echo 'oops\": no closing quotation"
        );
        assert!(to_shlex("echo \"oops").is_err());
        assert!(to_shlex("echo \"oops\\").is_err());
        assert_eq!(
            msg(to_shlex("echo \\")),
            "expected a shell-like command line, got \"echo \\\\\": nothing after the final backslash"
        );
    }

    #[test]
    fn duration() {
        let d = |s: &str| to_duration_secs(s).unwrap();
        assert_eq!(d("90"), 90);
        assert_eq!(d("0"), 0);
        assert_eq!(d("1h30m"), 5400);
        assert_eq!(d("1d3h"), 97200);
        assert_eq!(d("1w"), 604_800);
        assert_eq!(d("1H30M"), 5400);
        assert_eq!(d("1h 30m"), 5400);
        assert_eq!(d("2m10s"), 130);
        assert_eq!(d(" 5s "), 5);
        assert_eq!(d("1h1h"), 7200);
        assert_eq!(
            msg(to_duration_secs("xx")),
            "expected a duration like 1h30m, got \"xx\""
        );
        assert_eq!(
            msg(to_duration_secs("1.5h")),
            "expected a duration like 1h30m, got \"1.5h\": use whole numbers (1h30m, not 1.5h)"
        );
        assert_eq!(
            msg(to_duration_secs("1h30")),
            "expected a duration like 1h30m, got \"1h30\": missing unit (w, d, h, m or s) after the last number"
        );
        assert_eq!(
            msg(to_duration_secs("3y")),
            "expected a duration like 1h30m, got \"3y\": unknown unit (use w, d, h, m or s)"
        );
        for bad in [
            "",
            "h",
            "-5",
            "-1h",
            "1hh",
            "h1",
            "1 h x",
            "99999999999999999999",
            "40000000000000w",
        ] {
            assert!(to_duration_secs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duration_minute() {
        let d = |s: &str| to_duration_minute_secs(s).unwrap();
        assert_eq!(d("1440"), 86400);
        assert_eq!(d("1"), 60);
        assert_eq!(d("1d3h"), 97200);
        assert_eq!(d("30s"), 30);
        assert_eq!(
            msg(to_duration_minute_secs("soon")),
            "expected a duration like 1h30m or a number of minutes, got \"soon\""
        );
        assert!(to_duration_minute_secs("1.5").is_err());
        assert!(to_duration_minute_secs("18446744073709551615").is_err());
    }

    #[test]
    fn size() {
        let z = |s: &str| to_size_bytes(s).unwrap();
        assert_eq!(z("0"), 0);
        assert_eq!(z("1234"), 1234);
        assert_eq!(z("512k"), 512 * 1024);
        assert_eq!(z("100m"), 100 << 20);
        assert_eq!(z("100M"), 100 << 20);
        assert_eq!(z("1g"), 1 << 30);
        assert_eq!(z("2T"), 2 << 40);
        assert_eq!(z("1p"), 1 << 50);
        assert_eq!(z("1e"), 1 << 60);
        assert_eq!(z("1.5g"), 3 << 29);
        assert_eq!(z("1,5k"), 1536);
        assert_eq!(z(".5k"), 512);
        assert_eq!(z("1.k"), 1024);
        assert_eq!(z("100 MB"), 100 << 20);
        assert_eq!(z("100mb"), 100 << 20);
        assert_eq!(z("100B"), 100);
        assert_eq!(z("100b"), 100);
        assert_eq!(z("1ki"), 1000);
        assert_eq!(z("1KiB"), 1000);
        assert_eq!(z("2gi"), 2_000_000_000);
        assert_eq!(z("1.0000001k"), 1024);
        assert_eq!(
            msg(to_size_bytes("big")),
            "expected a size like 100m, got \"big\""
        );
        assert_eq!(
            msg(to_size_bytes("10x")),
            "expected a size like 100m, got \"10x\": unknown unit (use k, m, g, t, p or e, optionally followed by i or b)"
        );
        assert_eq!(
            msg(to_size_bytes("10%FREE")),
            "expected a size like 100m, got \"10%FREE\": LVM size expressions like 10%FREE are not supported here"
        );
        for bad in [
            "",
            "m",
            "-1m",
            "10mxyz",
            "1.2.3m",
            "100i",
            "16e",
            "1z",
            "1..5k",
            "99999999999999999999999",
        ] {
            assert!(to_size_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(z("15e"), 15 << 60);
    }

    #[test]
    fn convert_by_keyword_type() {
        assert_eq!(
            convert(KeywordType::String, " a "),
            Ok(Value::String(" a ".into()))
        );
        assert_eq!(convert(KeywordType::Integer, "3.0"), Ok(Value::Integer(3)));
        assert_eq!(
            convert(KeywordType::Boolean, "yes"),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            convert(KeywordType::List, "a b"),
            Ok(Value::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            convert(KeywordType::Duration, "1h"),
            Ok(Value::Duration(3600))
        );
        assert_eq!(
            convert(KeywordType::DurationMinutes, "1440"),
            Ok(Value::Duration(86400))
        );
        assert_eq!(
            convert(KeywordType::Shlex, "a 'b c'"),
            Ok(Value::List(vec!["a".into(), "b c".into()]))
        );
        assert_eq!(convert(KeywordType::Size, "1k"), Ok(Value::Size(1024)));
        assert!(check(KeywordType::Duration, "1.5h").is_err());
        assert!(check(KeywordType::Boolean, "t").is_ok());
    }

    proptest! {
        #[test]
        fn converters_never_panic_and_errors_are_one_line(s in "\\PC{0,24}|[0-9 .,+\\-eEwdhmskgtpibB%'\"\\\\#]{0,16}") {
            let check_err = |e: ConvertError| {
                let m = e.to_string();
                assert!(!m.contains('\n') && !m.contains('\r'), "{m:?}");
            };
            let _ = to_integer(&s).map_err(check_err);
            let _ = to_bool(&s).map_err(check_err);
            let _ = to_shlex(&s).map_err(check_err);
            let _ = to_duration_secs(&s).map_err(check_err);
            let _ = to_duration_minute_secs(&s).map_err(check_err);
            let _ = to_size_bytes(&s).map_err(check_err);
            let _ = to_list(&s);
            let _ = to_list_comma(&s);
        }

        #[test]
        fn durations_compose(h in 0u64..1000, m in 0u64..1000, sec in 0u64..1000) {
            prop_assert_eq!(to_duration_secs(&format!("{h}h{m}m{sec}s")), Ok(h * 3600 + m * 60 + sec));
            prop_assert_eq!(to_duration_minute_secs(&m.to_string()), Ok(m * 60));
        }

        #[test]
        fn shlex_quote_round_trip(words in prop::collection::vec("[^\u{0}]{0,8}", 0..5)) {
            let line = shlex::try_join(words.iter().map(String::as_str)).unwrap();
            prop_assert_eq!(to_shlex(&line).unwrap(), words);
        }
    }
}
