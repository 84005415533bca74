//! Edits of a service file that keep everything else as written: comments, blank
//! lines, the order of sections and keys, line endings. Each edit works on the
//! text and the [`Ini`] parsed from it (which knows where every key and section
//! is), and returns the new text; the caller validates it before writing.

use crate::ini::Ini;

/// What an edit could not do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// `--kw` without a `<section>.<keyword>` form.
    #[error("{0:?}: expected <section>.<keyword> (e.g. sync#0.schedule or DEFAULT.nodes)")]
    BadKeyword(String),
    /// The section does not exist.
    #[error("no section [{0}] in the file")]
    NoSection(String),
}

/// Splits `sync#0.schedule` into (`sync#0`, `schedule`); `DEFAULT.nodes@n1` keeps
/// the scope in the key.
pub fn split_keyword(kw: &str) -> Result<(&str, &str), EditError> {
    match kw.split_once('.') {
        Some((s, k)) if !s.is_empty() && !k.is_empty() && !k.contains(char::is_whitespace) => {
            Ok((s, k))
        }
        _ => Err(EditError::BadKeyword(kw.to_owned())),
    }
}

/// The text's lines, each with its line ending.
fn lines(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_owned).collect()
}

/// The line ending the file uses (`\r\n` or `\n`).
fn eol(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

/// `key = value` as lines: a multi-line value continues on indented lines.
fn entry_lines(key: &str, value: &str, eol: &str) -> Vec<String> {
    let mut parts = value.split('\n');
    let mut out = vec![format!("{key} = {}{eol}", parts.next().unwrap_or(""))];
    out.extend(parts.map(|p| format!("    {p}{eol}")));
    out
}

/// The 1-based line after which a new key of `section` goes: after its last
/// entry, else after its header.
fn section_end(ini: &Ini, section: &str) -> Option<usize> {
    let s = ini.section(section)?;
    Some(
        s.entries()
            .iter()
            .map(|e| e.last_line)
            .max()
            .unwrap_or(s.location().line),
    )
}

/// Sets `section.key` to `value`: in place when the key exists, else as the
/// section's last key, else in a new section at the end of the file.
pub fn set(text: &str, ini: &Ini, section: &str, key: &str, value: &str) -> String {
    let eol = eol(text);
    let mut lines = lines(text);
    if let Some(e) = ini.get(section, key) {
        let (first, last) = (e.location.line - 1, e.last_line);
        lines.splice(first..last.min(lines.len()), entry_lines(key, value, eol));
    } else if let Some(end) = section_end(ini, section) {
        let at = end.min(lines.len());
        if at > 0 && !lines[at - 1].ends_with('\n') {
            lines[at - 1].push_str(eol);
        }
        lines.splice(at..at, entry_lines(key, value, eol));
    } else {
        if let Some(last) = lines.last_mut() {
            if !last.ends_with('\n') {
                last.push_str(eol);
            }
        }
        if !lines.is_empty() && lines.last().is_some_and(|l| !l.trim().is_empty()) {
            lines.push(eol.to_owned());
        }
        lines.push(format!("[{section}]{eol}"));
        lines.extend(entry_lines(key, value, eol));
    }
    lines.concat()
}

/// Removes `section.key`; `None` when it is not set.
pub fn unset(text: &str, ini: &Ini, section: &str, key: &str) -> Option<String> {
    let e = ini.get(section, key)?;
    let mut lines = lines(text);
    let (first, last) = (e.location.line - 1, e.last_line.min(lines.len()));
    lines.drain(first..last);
    Some(lines.concat())
}

/// Removes section `[name]`: its header, its keys and the comments and blank
/// lines up to the next section.
pub fn delete_section(text: &str, ini: &Ini, name: &str) -> Result<String, EditError> {
    let s = ini
        .section(name)
        .ok_or_else(|| EditError::NoSection(name.to_owned()))?;
    let start = s.location().line - 1;
    let mut lines = lines(text);
    let next = ini
        .sections()
        .iter()
        .map(|o| o.location().line - 1)
        .filter(|&l| l > start)
        .min()
        .unwrap_or(lines.len());
    lines.drain(start..next.min(lines.len()));
    Ok(lines.concat())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn ini(text: &str) -> Ini {
        crate::ini::parse(Path::new("t.conf"), text.as_bytes()).ini
    }

    const FILE: &str = "# the clone of prod\n[DEFAULT]\nnodes = n1\n\n; nightly\n[sync#0]\ntype = symclone\npairs = a:b\n   c:d\n\n[app#0]\ntype = script\n";

    #[test]
    fn set_replaces_in_place_keeping_comments_and_layout() {
        let out = set(FILE, &ini(FILE), "sync#0", "pairs", "x:y");
        assert_eq!(
            out,
            "# the clone of prod\n[DEFAULT]\nnodes = n1\n\n; nightly\n[sync#0]\ntype = symclone\npairs = x:y\n\n[app#0]\ntype = script\n"
        );
    }

    #[test]
    fn set_appends_to_the_section_or_makes_one() {
        let out = set(FILE, &ini(FILE), "sync#0", "schedule", "@1h");
        assert!(
            out.contains("pairs = a:b\n   c:d\nschedule = @1h\n\n[app#0]"),
            "{out}"
        );
        let out = set(FILE, &ini(FILE), "fs#1", "type", "test");
        assert!(
            out.ends_with("type = script\n\n[fs#1]\ntype = test\n"),
            "{out}"
        );
        let out = set("", &ini(""), "DEFAULT", "nodes", "n1 n2");
        assert_eq!(out, "[DEFAULT]\nnodes = n1 n2\n");
        // Multi-line values continue on indented lines; CRLF files stay CRLF.
        let crlf = "[a#0]\r\ntype = x\r\n";
        let out = set(crlf, &ini(crlf), "a#0", "pairs", "1:2\n3:4");
        assert_eq!(out, "[a#0]\r\ntype = x\r\npairs = 1:2\r\n    3:4\r\n");
    }

    #[test]
    fn unset_and_delete_remove_only_what_they_name() {
        let out = unset(FILE, &ini(FILE), "sync#0", "pairs").unwrap();
        assert!(out.contains("type = symclone\n\n[app#0]"), "{out}");
        assert_eq!(unset(FILE, &ini(FILE), "sync#0", "nope"), None);
        let out = delete_section(FILE, &ini(FILE), "sync#0").unwrap();
        assert_eq!(
            out,
            "# the clone of prod\n[DEFAULT]\nnodes = n1\n\n; nightly\n[app#0]\ntype = script\n"
        );
        assert_eq!(
            delete_section(FILE, &ini(FILE), "fs#9"),
            Err(EditError::NoSection("fs#9".into()))
        );
    }

    #[test]
    fn keywords_are_section_dot_key() {
        assert_eq!(
            split_keyword("sync#0.schedule").unwrap(),
            ("sync#0", "schedule")
        );
        assert_eq!(
            split_keyword("DEFAULT.nodes@n1").unwrap(),
            ("DEFAULT", "nodes@n1")
        );
        assert!(split_keyword("schedule").is_err());
        assert!(split_keyword(".x").is_err());
    }
}
