//! Parser for OpenSVC-style service files (`etc/doppel/services/<name>.conf`).
//!
//! The accepted syntax is the one of Python's `configparser` as OpenSVC uses it
//! (`strict=True`, `optionxform=str`, no interpolation, no inline comments):
//!
//! * `[name]` opens a section. Any name is accepted; [`SectionKind::of`] classifies
//!   it (`[DEFAULT]`, `[env]`, `[subset#...]`, resource sections `[<group>#<index>]`).
//!   Text after the closing `]` is reported unless it is a `;`/`#` comment.
//! * `key = value` or `key: value`: the key ends at the first `=` or `:`; key and
//!   value are trimmed. Keys are case-sensitive. An empty value is allowed.
//! * Lines whose first non-blank character is `;` or `#` are comments. A `;` or `#`
//!   inside a value is part of the value.
//! * A line indented deeper than its key line continues the previous value; the
//!   parts are trimmed and joined with `"\n"`. A blank line ends the value; a
//!   comment line inside a value is skipped and does not end it.
//! * A key repeated in one section and a section header repeated in one file are
//!   errors (the first occurrence wins; the later keys of a repeated section are
//!   merged into the first one). `[DEFAULT]` may be opened several times, as in
//!   `configparser`.
//! * Lines end with `\n`, `\r\n` or `\r`. A leading UTF-8 byte-order mark is
//!   ignored. Invalid UTF-8 is decoded lossily (U+FFFD) and reported.
//!
//! [`parse`] never fails and never panics: it returns everything it could read
//! plus every problem it found, so `doppel validate` can report them all at once.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Where something was read: a file and a 1-based line number.
///
/// Displays as `<file>:<line>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file, as given to [`parse`].
    pub file: Arc<Path>,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One `key = value` of a section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key, exactly as written (case-sensitive, may carry a `@scope` suffix).
    pub key: String,
    /// The raw value: trimmed, continuation lines joined with `"\n"`.
    pub value: String,
    /// The line of the key (which is also where the value starts).
    pub location: Location,
    /// The last line of the value (equal to `location.line` for one-line values).
    pub last_line: usize,
}

/// A section and its entries, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    name: String,
    location: Location,
    entries: Vec<Entry>,
}

impl Section {
    /// The name between the brackets, exactly as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What kind of section this is.
    pub fn kind(&self) -> SectionKind {
        SectionKind::of(&self.name)
    }

    /// Where the (first) `[name]` header is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The entries in file order (no two share a key).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry for `key` (exact, case-sensitive match).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// The raw value for `key`.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|e| e.value.as_str())
    }
}

/// Classification of a section name (see reference/opensvc.md §1.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// `[DEFAULT]`: service-level keywords.
    Default,
    /// `[env]`: free-form user variables.
    Env,
    /// `[subset#<group>]` (`name` is `None`) or `[subset#<group>:<name>]`.
    Subset {
        /// The driver group the subset applies to.
        group: String,
        /// The subset name, if any.
        name: Option<String>,
    },
    /// `[<group>#<index>]`: a resource; the section name is its rid.
    Resource {
        /// Text before the first `#`.
        group: String,
        /// Text after the first `#`.
        index: String,
    },
    /// Anything else (`[data]`, `[foo]`, `[#1]`, `[fs#]`, `[subset#]`, ...).
    Other,
}

impl SectionKind {
    /// Classifies a section name. Names are case-sensitive (`[default]` is `Other`).
    pub fn of(name: &str) -> SectionKind {
        match name {
            "DEFAULT" => return SectionKind::Default,
            "env" => return SectionKind::Env,
            _ => {}
        }
        let Some((group, index)) = name.split_once('#') else {
            return SectionKind::Other;
        };
        if group.is_empty() || index.is_empty() {
            return SectionKind::Other;
        }
        if group == "subset" {
            return match index.split_once(':') {
                None => SectionKind::Subset {
                    group: index.to_owned(),
                    name: None,
                },
                Some((g, n)) if !g.is_empty() && !n.is_empty() => SectionKind::Subset {
                    group: g.to_owned(),
                    name: Some(n.to_owned()),
                },
                Some(_) => SectionKind::Other,
            };
        }
        SectionKind::Resource {
            group: group.to_owned(),
            index: index.to_owned(),
        }
    }
}

/// A parsed service file: its sections in file order.
///
/// `Display` writes it back in a canonical form (`key = value`, continuation lines
/// indented by four spaces, a blank line between sections; comments are not kept).
/// Parsing that text gives the same sections, keys and values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ini {
    file: Arc<Path>,
    sections: Vec<Section>,
}

impl Ini {
    /// The file this was read from, as given to [`parse`].
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The sections in the order of their first header.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The section called `name` (exact match).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The entry `key` of section `section`.
    pub fn get(&self, section: &str, key: &str) -> Option<&Entry> {
        self.section(section)?.get(key)
    }

    /// The raw value of `key` in `section`.
    pub fn value(&self, section: &str, key: &str) -> Option<&str> {
        self.section(section)?.value(key)
    }
}

impl fmt::Display for Ini {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, section) in self.sections.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "[{}]", section.name)?;
            for entry in &section.entries {
                let mut parts = entry.value.split('\n');
                let first = parts.next().unwrap_or("");
                if first.is_empty() {
                    write!(f, "{} =", entry.key)?;
                } else {
                    write!(f, "{} = {}", entry.key, first)?;
                }
                for part in parts {
                    write!(f, "\n    {part}")?;
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

/// The result of [`parse`]: what could be read, and every problem found.
#[derive(Clone, Debug)]
pub struct ParsedIni {
    /// The document. Lines in error are left out of it.
    pub ini: Ini,
    /// Every problem, in line order. Empty for a well-formed file.
    pub errors: Vec<IniError>,
}

impl ParsedIni {
    /// The document if there was no error, else all the errors.
    pub fn into_result(self) -> Result<Ini, Vec<IniError>> {
        if self.errors.is_empty() {
            Ok(self.ini)
        } else {
            Err(self.errors)
        }
    }
}

/// A syntax problem in a service file. Displays on one line as
/// `<file>:<line>: <message>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct IniError {
    /// Where the problem is.
    pub location: Location,
    /// What the problem is.
    pub kind: IniErrorKind,
}

/// The problems [`parse`] reports. Quoted text is escaped so a message is always
/// one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IniErrorKind {
    /// The line's bytes are not valid UTF-8 (they were replaced with U+FFFD).
    #[error("invalid UTF-8 (bytes replaced with U+FFFD)")]
    InvalidUtf8,
    /// Not a section header, a `key = value`, a continuation or a comment.
    #[error("line is not a section, a key = value or a comment: {line:?}")]
    Unrecognised {
        /// The line, trimmed (shortened if very long).
        line: String,
    },
    /// `= value` with nothing before the `=`.
    #[error("missing key name before '=' or ':': {line:?}")]
    EmptyKey {
        /// The line, trimmed (shortened if very long).
        line: String,
    },
    /// A `key = value` before the first section header.
    #[error("key {key:?} is not inside a section (add a [section] header before it)")]
    OutsideSection {
        /// The key.
        key: String,
    },
    /// Something other than a comment after a section header's `]`.
    #[error("unexpected text after the section header [{section}]: {text:?}")]
    TextAfterHeader {
        /// The section name.
        section: String,
        /// The extra text.
        text: String,
    },
    /// A second `[name]` header for the same section (except `[DEFAULT]`).
    #[error("section [{section}] already defined at line {first_line}")]
    DuplicateSection {
        /// The section name.
        section: String,
        /// Line of the first header.
        first_line: usize,
    },
    /// A second `key` in the same section.
    #[error("key {key:?} already set in section [{section}] at line {first_line}")]
    DuplicateKey {
        /// The section name.
        section: String,
        /// The key.
        key: String,
        /// Line of the first occurrence.
        first_line: usize,
    },
}

impl IniErrorKind {
    /// The section the problem is in, when the problem names one.
    pub fn section(&self) -> Option<&str> {
        match self {
            IniErrorKind::TextAfterHeader { section, .. }
            | IniErrorKind::DuplicateSection { section, .. }
            | IniErrorKind::DuplicateKey { section, .. } => Some(section),
            _ => None,
        }
    }

    /// The key the problem is about, when it names one.
    pub fn key(&self) -> Option<&str> {
        match self {
            IniErrorKind::OutsideSection { key } | IniErrorKind::DuplicateKey { key, .. } => {
                Some(key)
            }
            _ => None,
        }
    }

    /// The message without the section and key of [`section`](Self::section) and
    /// [`key`](Self::key), for a report that shows them apart (`file:line:
    /// section.key: detail`). A key outside any section keeps its full message.
    pub fn detail(&self) -> String {
        match self {
            IniErrorKind::TextAfterHeader { text, .. } => {
                format!("unexpected text after the section header: {text:?}")
            }
            IniErrorKind::DuplicateSection { first_line, .. } => {
                format!("section already defined at line {first_line}")
            }
            IniErrorKind::DuplicateKey { first_line, .. } => {
                format!("key already set at line {first_line}")
            }
            _ => self.to_string(),
        }
    }
}

/// Parses a service file.
///
/// `path` is only used in locations and messages; `bytes` is the file content. The
/// function never fails: the returned [`ParsedIni`] holds every section and key that
/// could be read and the list of all problems (see the module documentation for the
/// syntax).
pub fn parse(path: &Path, bytes: &[u8]) -> ParsedIni {
    Parser::new(path).run(bytes)
}

/// What a continuation line extends.
#[derive(Clone, Copy)]
enum Target {
    /// `sections[.0].entries[.1]`.
    Entry(usize, usize),
    /// A key that was rejected (duplicate, outside any section): its continuation
    /// lines are consumed and dropped.
    Discard,
}

struct Parser {
    file: Arc<Path>,
    sections: Vec<Section>,
    errors: Vec<IniError>,
    /// Index of the section receiving keys.
    current: Option<usize>,
    /// The value continuation lines extend, with the indentation of its key line.
    open_value: Option<(Target, usize)>,
}

impl Parser {
    fn new(path: &Path) -> Self {
        Parser {
            file: Arc::from(path),
            sections: Vec::new(),
            errors: Vec::new(),
            current: None,
            open_value: None,
        }
    }

    fn location(&self, line: usize) -> Location {
        Location {
            file: Arc::clone(&self.file),
            line,
        }
    }

    fn error(&mut self, line: usize, kind: IniErrorKind) {
        let location = self.location(line);
        self.errors.push(IniError { location, kind });
    }

    fn run(mut self, bytes: &[u8]) -> ParsedIni {
        for (index, raw) in split_lines(bytes).enumerate() {
            let lineno = index + 1;
            let decoded = String::from_utf8_lossy(raw);
            if matches!(decoded, std::borrow::Cow::Owned(_)) {
                self.error(lineno, IniErrorKind::InvalidUtf8);
            }
            let mut text: &str = &decoded;
            if lineno == 1 {
                text = text.strip_prefix('\u{feff}').unwrap_or(text);
            }
            self.line(lineno, text);
        }
        ParsedIni {
            ini: Ini {
                file: self.file,
                sections: self.sections,
            },
            errors: self.errors,
        }
    }

    fn line(&mut self, lineno: usize, text: &str) {
        let stripped = py_strip(text);
        if stripped.is_empty() {
            // A blank line ends the value being read.
            self.open_value = None;
            return;
        }
        if stripped.starts_with('#') || stripped.starts_with(';') {
            // Comments are skipped; they do not end a multi-line value.
            return;
        }
        let indent = text.chars().take_while(|c| is_py_space(*c)).count();
        if let Some((target, key_indent)) = self.open_value {
            if indent > key_indent {
                if let Target::Entry(s, e) = target {
                    let entry = &mut self.sections[s].entries[e];
                    entry.value.push('\n');
                    entry.value.push_str(stripped);
                    entry.last_line = lineno;
                }
                return;
            }
        }
        self.open_value = None;
        if let Some(rest) = stripped.strip_prefix('[') {
            if let Some(close) = rest.rfind(']') {
                if close > 0 {
                    self.header(lineno, &rest[..close], &rest[close + 1..]);
                    return;
                }
            }
        }
        self.key_value(lineno, stripped, indent);
    }

    fn header(&mut self, lineno: usize, name: &str, trailing: &str) {
        let trailing = py_strip(trailing);
        if !trailing.is_empty() && !trailing.starts_with(';') && !trailing.starts_with('#') {
            self.error(
                lineno,
                IniErrorKind::TextAfterHeader {
                    section: name.to_owned(),
                    text: shorten(trailing),
                },
            );
        }
        if let Some(i) = self.sections.iter().position(|s| s.name == name) {
            if name != "DEFAULT" {
                let first_line = self.sections[i].location.line;
                self.error(
                    lineno,
                    IniErrorKind::DuplicateSection {
                        section: name.to_owned(),
                        first_line,
                    },
                );
            }
            self.current = Some(i);
        } else {
            let location = self.location(lineno);
            self.sections.push(Section {
                name: name.to_owned(),
                location,
                entries: Vec::new(),
            });
            self.current = Some(self.sections.len() - 1);
        }
    }

    fn key_value(&mut self, lineno: usize, stripped: &str, indent: usize) {
        let Some(delim) = stripped.find(['=', ':']) else {
            self.error(
                lineno,
                IniErrorKind::Unrecognised {
                    line: shorten(stripped),
                },
            );
            return;
        };
        let key = py_strip(&stripped[..delim]);
        let value = py_strip(&stripped[delim + 1..]);
        if key.is_empty() {
            self.error(
                lineno,
                IniErrorKind::EmptyKey {
                    line: shorten(stripped),
                },
            );
            self.open_value = Some((Target::Discard, indent));
            return;
        }
        let Some(s) = self.current else {
            self.error(lineno, IniErrorKind::OutsideSection { key: shorten(key) });
            self.open_value = Some((Target::Discard, indent));
            return;
        };
        let section = &self.sections[s];
        if let Some(first) = section.get(key) {
            let kind = IniErrorKind::DuplicateKey {
                section: section.name.clone(),
                key: key.to_owned(),
                first_line: first.location.line,
            };
            self.error(lineno, kind);
            self.open_value = Some((Target::Discard, indent));
            return;
        }
        let location = self.location(lineno);
        let entries = &mut self.sections[s].entries;
        entries.push(Entry {
            key: key.to_owned(),
            value: value.to_owned(),
            location,
            last_line: lineno,
        });
        self.open_value = Some((Target::Entry(s, entries.len() - 1), indent));
    }
}

/// Splits on `\n`, `\r\n` and `\r` (Python's universal newlines). A final line
/// terminator does not start a new line.
fn split_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
            None => {
                let line = rest;
                rest = &[];
                Some(line)
            }
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = &rest[i + skip..];
                Some(line)
            }
        }
    })
}

/// Python's `str.isspace()` (Rust's `char::is_whitespace` plus the ASCII
/// separators U+001C..U+001F).
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Text quoted in a message, cut to a reasonable length.
fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push_str("...");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(text: &str) -> ParsedIni {
        parse(Path::new("svc.conf"), text.as_bytes())
    }

    fn ok(text: &str) -> Ini {
        let parsed = p(text);
        assert!(
            parsed.errors.is_empty(),
            "unexpected errors: {:?}",
            parsed.errors
        );
        parsed.ini
    }

    fn messages(text: &str) -> Vec<String> {
        p(text).errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn sections_keys_and_locations() {
        let ini = ok("[DEFAULT]\nnodes = n1 n2\n\n[sync#1]\ntype = symclone\nsymid=000123\n");
        let names: Vec<_> = ini.sections().iter().map(Section::name).collect();
        assert_eq!(names, ["DEFAULT", "sync#1"]);
        assert_eq!(ini.value("DEFAULT", "nodes"), Some("n1 n2"));
        assert_eq!(ini.value("sync#1", "symid"), Some("000123"));
        let entry = ini.get("sync#1", "type").unwrap();
        assert_eq!(entry.location.line, 5);
        assert_eq!(entry.last_line, 5);
        assert_eq!(entry.location.to_string(), "svc.conf:5");
        assert_eq!(ini.section("sync#1").unwrap().location().line, 4);
        assert_eq!(ini.file(), Path::new("svc.conf"));
    }

    #[test]
    fn colon_delimiter_and_first_delimiter_wins() {
        let ini = ok("[a]\nk: v\nx = a:b=c\ny: u=v\nurl = http://h:80/\n");
        assert_eq!(ini.value("a", "k"), Some("v"));
        assert_eq!(ini.value("a", "x"), Some("a:b=c"));
        assert_eq!(ini.value("a", "y"), Some("u=v"));
        assert_eq!(ini.value("a", "url"), Some("http://h:80/"));
    }

    #[test]
    fn keys_are_case_sensitive_and_scoped_keys_distinct() {
        let ini = ok("[a]\nKey = 1\nkey = 2\nkey@n1 = 3\nkey@nodes = 4\n");
        assert_eq!(ini.value("a", "Key"), Some("1"));
        assert_eq!(ini.value("a", "key"), Some("2"));
        assert_eq!(ini.value("a", "key@n1"), Some("3"));
        assert_eq!(ini.value("a", "key@nodes"), Some("4"));
        assert_eq!(ini.value("a", "KEY"), None);
    }

    #[test]
    fn empty_values_and_spaces_in_keys() {
        let ini = ok("[a]\nempty =\nempty2 =   \nmy key = v\n");
        assert_eq!(ini.value("a", "empty"), Some(""));
        assert_eq!(ini.value("a", "empty2"), Some(""));
        assert_eq!(ini.value("a", "my key"), Some("v"));
    }

    #[test]
    fn comments_full_line_only() {
        let ini = ok(
            "; top\n# top\n[a]\n  ; indented comment\nk = v ; not a comment\nh = a # b\n#k2 = x\n",
        );
        assert_eq!(ini.value("a", "k"), Some("v ; not a comment"));
        assert_eq!(ini.value("a", "h"), Some("a # b"));
        assert_eq!(ini.value("a", "#k2"), None);
        assert_eq!(ini.section("a").unwrap().entries().len(), 2);
    }

    #[test]
    fn continuation_lines() {
        let ini = ok("[a]\npairs = d1:d2\n    d3:d4\n\td5:d6  \nnext = x\n");
        let e = ini.get("a", "pairs").unwrap();
        assert_eq!(e.value, "d1:d2\nd3:d4\nd5:d6");
        assert_eq!((e.location.line, e.last_line), (2, 4));
        assert_eq!(ini.value("a", "next"), Some("x"));
    }

    #[test]
    fn continuation_with_empty_first_line() {
        let ini = ok("[a]\nk =\n  one\n  two\n");
        assert_eq!(ini.value("a", "k"), Some("\none\ntwo"));
    }

    #[test]
    fn continuation_looks_like_section_or_key() {
        // Indented deeper than the key: always a continuation, whatever it looks like.
        let ini = ok("[a]\nk = v\n  [b]\n  x = y\n");
        assert_eq!(ini.value("a", "k"), Some("v\n[b]\nx = y"));
        assert!(ini.section("b").is_none());
    }

    #[test]
    fn blank_line_ends_value() {
        let parsed = p("[a]\nk = v\n\n  w = 2\n");
        assert!(parsed.errors.is_empty());
        assert_eq!(parsed.ini.value("a", "k"), Some("v"));
        assert_eq!(parsed.ini.value("a", "w"), Some("2"));
        assert_eq!(
            messages("[a]\nk = v\n\n  orphan\n"),
            ["svc.conf:4: line is not a section, a key = value or a comment: \"orphan\""]
        );
    }

    #[test]
    fn comment_inside_value_is_skipped() {
        let ini = ok("[a]\nk = one\n  # two\n  three\n");
        assert_eq!(ini.value("a", "k"), Some("one\nthree"));
    }

    #[test]
    fn indented_keys_need_deeper_continuations() {
        let ini = ok("[a]\n  k = v\n  j = w\n    more\n");
        assert_eq!(ini.value("a", "k"), Some("v"));
        assert_eq!(ini.value("a", "j"), Some("w\nmore"));
    }

    #[test]
    fn no_continuation_after_section_header() {
        let ini = ok("[a]\n  k = v\n");
        assert_eq!(ini.value("a", "k"), Some("v"));
    }

    #[test]
    fn unrecognised_line() {
        assert_eq!(
            messages("[DEFAULT]\nnodes = n1\n\n\n\n\nfoo\n"),
            ["svc.conf:7: line is not a section, a key = value or a comment: \"foo\""]
        );
    }

    #[test]
    fn collects_all_errors() {
        let text = "k = 1\n[a]\nx = 1\nx = 2\n  cont of dropped dup\nbad\n= v\n[a]\ny = 3\n[]\n";
        let parsed = p(text);
        let msgs: Vec<String> = parsed.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [
                "svc.conf:1: key \"k\" is not inside a section (add a [section] header before it)",
                "svc.conf:4: key \"x\" already set in section [a] at line 3",
                "svc.conf:6: line is not a section, a key = value or a comment: \"bad\"",
                "svc.conf:7: missing key name before '=' or ':': \"= v\"",
                "svc.conf:8: section [a] already defined at line 2",
                "svc.conf:10: line is not a section, a key = value or a comment: \"[]\"",
            ]
        );
        // First occurrence wins; the repeated section is merged into the first.
        assert_eq!(parsed.ini.value("a", "x"), Some("1"));
        assert_eq!(parsed.ini.value("a", "y"), Some("3"));
        assert_eq!(parsed.ini.sections().len(), 1);
        assert!(parsed.into_result().is_err());
    }

    #[test]
    fn duplicate_key_across_repeated_section() {
        assert_eq!(
            messages("[a]\nx = 1\n[b]\n[a]\nx = 2\n"),
            [
                "svc.conf:4: section [a] already defined at line 1",
                "svc.conf:5: key \"x\" already set in section [a] at line 2",
            ]
        );
    }

    #[test]
    fn default_may_be_reopened_but_keys_stay_unique() {
        assert_eq!(
            messages("[DEFAULT]\na = 1\n[fs#1]\n[DEFAULT]\nb = 2\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            messages("[DEFAULT]\na = 1\n[DEFAULT]\na = 2\n"),
            ["svc.conf:4: key \"a\" already set in section [DEFAULT] at line 2"]
        );
    }

    #[test]
    fn section_header_forms() {
        let ini = ok("[fs#1] ; comment\n[a]]\n  [b]  \n[ c ]\n[d # x]\n");
        let names: Vec<_> = ini.sections().iter().map(Section::name).collect();
        assert_eq!(names, ["fs#1", "a]", "b", " c ", "d # x"]);
        assert_eq!(
            messages("[a] junk\nk = v\n"),
            ["svc.conf:1: unexpected text after the section header [a]: \"junk\""]
        );
        let parsed = p("[a] junk\nk = v\n");
        assert_eq!(parsed.ini.value("a", "k"), Some("v"));
    }

    #[test]
    fn half_open_bracket_is_a_key() {
        let ini = ok("[a]\n[x = y\n");
        assert_eq!(ini.value("a", "[x"), Some("y"));
    }

    #[test]
    fn line_endings_and_bom() {
        let ini = ok("\u{feff}[a]\r\nk = v\r\n  w\rj = 2");
        assert_eq!(ini.value("a", "k"), Some("v\nw"));
        assert_eq!(ini.get("a", "j").unwrap().location.line, 4);
        assert_eq!(ini.value("a", "j"), Some("2"));
    }

    #[test]
    fn invalid_utf8_is_reported_and_replaced() {
        let parsed = parse(Path::new("x.conf"), b"[a]\nk = caf\xe9\nj = ok\n");
        let msgs: Vec<String> = parsed.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            ["x.conf:2: invalid UTF-8 (bytes replaced with U+FFFD)"]
        );
        assert_eq!(parsed.ini.value("a", "k"), Some("caf\u{fffd}"));
        assert_eq!(parsed.ini.value("a", "j"), Some("ok"));
    }

    #[test]
    fn messages_stay_on_one_line() {
        let long = "x".repeat(200);
        let msgs = messages(&format!("[a]\n{long}\n\u{7}bell\n"));
        assert_eq!(msgs.len(), 2);
        assert!(msgs[0].ends_with("...\""), "{}", msgs[0]);
        assert!(msgs[1].contains("\\u{7}bell"), "{}", msgs[1]);
    }

    #[test]
    fn empty_input() {
        let parsed = p("");
        assert!(parsed.errors.is_empty());
        assert!(parsed.ini.sections().is_empty());
        assert!(p("\n\n; c\n").errors.is_empty());
    }

    #[test]
    fn section_kinds() {
        use SectionKind as K;
        let res = |g: &str, i: &str| K::Resource {
            group: g.into(),
            index: i.into(),
        };
        assert_eq!(K::of("DEFAULT"), K::Default);
        assert_eq!(K::of("default"), K::Other);
        assert_eq!(K::of("env"), K::Env);
        assert_eq!(K::of("data"), K::Other);
        assert_eq!(K::of("sync#1"), res("sync", "1"));
        assert_eq!(K::of("app#web"), res("app", "web"));
        assert_eq!(K::of("disk#1pr"), res("disk", "1pr"));
        assert_eq!(K::of("sync#i0"), res("sync", "i0"));
        assert_eq!(K::of("a#b#c"), res("a", "b#c"));
        assert_eq!(K::of("fs"), K::Other);
        assert_eq!(K::of("fs#"), K::Other);
        assert_eq!(K::of("#1"), K::Other);
        assert_eq!(
            K::of("subset#sync"),
            K::Subset {
                group: "sync".into(),
                name: None
            }
        );
        assert_eq!(
            K::of("subset#sync:clones"),
            K::Subset {
                group: "sync".into(),
                name: Some("clones".into())
            }
        );
        assert_eq!(K::of("subset#"), K::Other);
        assert_eq!(K::of("subset#:x"), K::Other);
        let ini = ok("[subset#app:web]\nparallel = true\n");
        assert!(matches!(ini.sections()[0].kind(), K::Subset { .. }));
    }

    #[test]
    fn write_back() {
        let text =
            "[DEFAULT]\nnodes = n1\n\n[sync#1]\ntype=symclone\npairs = a:b\n c:d\nk =\n  x\n";
        let ini = ok(text);
        assert_eq!(
            ini.to_string(),
            "[DEFAULT]\nnodes = n1\n\n[sync#1]\ntype = symclone\npairs = a:b\n    c:d\nk =\n    x\n"
        );
        assert_eq!(content(&ok(&ini.to_string())), content(&ini));
    }

    fn content(ini: &Ini) -> Vec<(String, Vec<(String, String)>)> {
        ini.sections()
            .iter()
            .map(|s| {
                let entries = s
                    .entries()
                    .iter()
                    .map(|e| (e.key.clone(), e.value.clone()))
                    .collect();
                (s.name().to_owned(), entries)
            })
            .collect()
    }

    /// Lines made of INI-ish fragments, to reach every parser branch.
    fn ini_like() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            "\\[[a-zA-Z#:@ \\]\\[]{0,8}\\][ ;#a-z]{0,4}",
            "[ \t]{0,3}[a-zA-Z_@#;\\[]{0,6}[ \t]{0,2}[=:]{0,2}[ \t]{0,2}[a-z0-9 ;#=:\"'\\\\]{0,10}",
            "[ \t]{1,4}[a-z0-9\\[\\]=:#; ]{0,10}",
            "[;#][^\n\r]{0,10}",
            Just(String::new()),
            "[^\n\r]{0,12}",
        ];
        (
            prop::collection::vec(line, 0..20),
            prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        )
            .prop_map(|(lines, eol)| lines.join(eol))
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let parsed = parse(Path::new("f.conf"), &bytes);
            for e in &parsed.errors {
                let msg = e.to_string();
                prop_assert!(!msg.contains('\n') && !msg.contains('\r'), "{:?}", msg);
                prop_assert!(msg.starts_with("f.conf:"));
            }
            let _ = parsed.ini.to_string();
        }

        #[test]
        fn ini_like_text_round_trips(text in ini_like()) {
            let parsed = parse(Path::new("f.conf"), text.as_bytes());
            for e in &parsed.errors {
                let msg = e.to_string();
                prop_assert!(!msg.contains('\n') && !msg.contains('\r'), "{:?}", msg);
                prop_assert!(e.location.line >= 1);
            }
            // What was read, written back and read again, is the same document.
            let written = parsed.ini.to_string();
            let again = parse(Path::new("f.conf"), written.as_bytes());
            prop_assert!(again.errors.is_empty(), "{:?}\n{}", again.errors, written);
            prop_assert_eq!(content(&again.ini), content(&parsed.ini), "{}", written);
        }
    }
}
