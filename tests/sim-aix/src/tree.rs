//! Volume group file trees: the backup file list of phase 1 (`./path` lines),
//! exclude lists (one `grep` pattern per line, basic regular expressions), and
//! the copy of the kept entries.

use std::fs;
use std::io;
use std::path::Path;

use doppel_sim::common::{SimError, SimResult};

/// Files of a new machine's rootvg: enough to show what exclusion patterns do.
pub const SAMPLE: &[(&str, &str)] = &[
    ("etc/hosts", "127.0.0.1 loopback localhost\n"),
    ("etc/motd", "AIX 7.2 (simulated by doppel)\n"),
    ("etc/resolv.conf", "nameserver 192.0.2.53\n"),
    (
        "etc/niminfo",
        "export NIM_NAME=labnode\nexport NIM_MASTER_HOSTNAME=nimmaster\n",
    ),
    (".rhosts", "nimmaster root\n"),
    ("home/admin/.profile", "PATH=/usr/bin:/etc:/usr/sbin\n"),
    ("home/admin/tmpnotes.txt", "notes about /tmp\n"),
    ("opt/app/bin/app", "#!/usr/bin/ksh\necho app\n"),
    ("tmp/install.log", "scratch\n"),
    ("tmp/session/abc.sock", "scratch\n"),
    ("usr/bin/ksh", "#!ksh\n"),
    ("var/adm/ras/errlog", "\n"),
    ("var/tmp/cache.db", "cache\n"),
];

/// Writes the sample tree into `root` (existing files are kept).
pub fn populate_sample(root: &Path) -> SimResult<()> {
    let err = |e: io::Error| {
        SimError::new(
            1,
            format!("cannot write the sample tree in {}: {e}", root.display()),
        )
    };
    fs::create_dir_all(root).map_err(err)?;
    for (rel, content) in SAMPLE {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(err)?;
        }
        if !p.exists() {
            fs::write(&p, content).map_err(err)?;
        }
    }
    Ok(())
}

/// The backup list of `root`: every directory, file and link as `./relative/path`,
/// a directory before its contents, names in byte order (as `find . -print | sort`
/// would give for a tree walk). The root itself (`.`) is not listed.
pub fn backup_list(root: &Path) -> io::Result<Vec<String>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let line = format!("{prefix}/{name}");
            out.push(line.clone());
            let ft = e.file_type()?;
            if ft.is_dir() {
                walk(&e.path(), &line, out)?;
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, ".", &mut out)?;
    }
    Ok(out)
}

/// Translates a POSIX basic regular expression (what `grep` reads from an
/// exclude list) into the `regex` crate's syntax.
pub fn bre_to_regex(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    // True where `*` is literal: at the start of the pattern or of a group.
    let mut at_start = true;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err("trailing backslash".into());
                };
                i += 2;
                match n {
                    '(' => {
                        out.push('(');
                        at_start = true;
                        continue;
                    }
                    ')' => out.push(')'),
                    '{' => out.push('{'),
                    '}' => out.push('}'),
                    '|' => {
                        out.push('|');
                        at_start = true;
                        continue;
                    }
                    '<' | '>' => out.push_str("\\b"),
                    d if d.is_ascii_digit() => {
                        return Err(format!("back-references (\\{d}) are not supported"));
                    }
                    other => out.push_str(&regex::escape(&other.to_string())),
                }
                at_start = false;
                continue;
            }
            '[' => {
                // Bracket expression: copied with the regex crate's escapes.
                let mut j = i + 1;
                out.push('[');
                if chars.get(j) == Some(&'^') {
                    out.push('^');
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    out.push_str("\\]");
                    j += 1;
                }
                let mut closed = false;
                while j < chars.len() {
                    let b = chars[j];
                    if b == ']' {
                        closed = true;
                        break;
                    }
                    if b == '[' && chars.get(j + 1) == Some(&':') {
                        // [:class:]
                        let rest: String = chars[j..].iter().collect();
                        if let Some(end) = rest.find(":]") {
                            out.push_str(&rest[..end + 2]);
                            j += rest[..end + 2].chars().count();
                            continue;
                        }
                    }
                    match b {
                        '\\' | '[' | '&' | '~' => {
                            out.push('\\');
                            out.push(b);
                        }
                        _ => out.push(b),
                    }
                    j += 1;
                }
                if !closed {
                    return Err("unmatched [".into());
                }
                out.push(']');
                i = j + 1;
            }
            '*' if at_start => {
                out.push_str("\\*");
                i += 1;
            }
            '*' => {
                out.push('*');
                i += 1;
            }
            '^' if i == 0 => {
                out.push('^');
                i += 1;
                continue;
            }
            '$' if i + 1 == chars.len() => {
                out.push('$');
                i += 1;
            }
            '.' => {
                out.push('.');
                i += 1;
            }
            other => {
                out.push_str(&regex::escape(&other.to_string()));
                i += 1;
            }
        }
        at_start = false;
    }
    Ok(out)
}

/// An exclude list: one grep pattern per non-blank line.
#[derive(Debug)]
pub struct ExcludeList {
    patterns: Vec<(String, regex::Regex)>,
}

impl ExcludeList {
    pub fn empty() -> ExcludeList {
        ExcludeList {
            patterns: Vec::new(),
        }
    }

    /// Parses the text of an exclude list; an invalid pattern is an error naming its line.
    pub fn parse(text: &str) -> Result<ExcludeList, String> {
        let mut patterns = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let re = bre_to_regex(line)
                .and_then(|r| regex::Regex::new(&r).map_err(|e| e.to_string()))
                .map_err(|e| format!("line {}: {line:?}: {e}", n + 1))?;
            patterns.push((line.to_owned(), re));
        }
        Ok(ExcludeList { patterns })
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// True when a pattern matches the line (as `grep -v -f` would drop it).
    pub fn excludes(&self, line: &str) -> bool {
        self.patterns.iter().any(|(_, re)| re.is_match(line))
    }

    /// Splits `list` into (kept, excluded).
    pub fn apply(&self, list: Vec<String>) -> (Vec<String>, Vec<String>) {
        list.into_iter().partition(|l| !self.excludes(l))
    }
}

/// Copies the entries of `list` (`./path` lines) from `src` into `dst`, which is
/// emptied first. Parent directories of a kept entry are created even when the
/// directory itself was excluded (as restore does).
pub fn copy_listed(src: &Path, dst: &Path, list: &[String]) -> io::Result<()> {
    if dst.exists() {
        fs::remove_dir_all(dst)?;
    }
    fs::create_dir_all(dst)?;
    for line in list {
        let rel = line.trim_start_matches("./");
        if rel.is_empty() || rel == "." {
            continue;
        }
        let from = src.join(rel);
        let to = dst.join(rel);
        let meta = match fs::symlink_metadata(&from) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::create_dir_all(&to)?;
            fs::set_permissions(&to, meta.permissions())?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&from)?;
            let _ = fs::remove_file(&to);
            std::os::unix::fs::symlink(target, &to)?;
        } else if ft.is_file() {
            fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, line: &str) -> bool {
        ExcludeList::parse(pattern).unwrap().excludes(line)
    }

    #[test]
    fn bre_translation() {
        assert_eq!(bre_to_regex("^./tmp/").unwrap(), "^./tmp/");
        assert!(matches("^./tmp/", "./tmp/install.log"));
        assert!(!matches("^./tmp/", "./tmp"));
        assert!(!matches("^./tmp/", "./var/tmp/cache.db"));
        assert!(matches("tmp", "./var/tmp/cache.db"));
        assert!(matches("tmp", "./home/admin/tmpnotes.txt"));
        assert!(matches("^./scratch$", "./scratch"));
        assert!(!matches("^./scratch$", "./scratch/x"));
        // ERE characters are literal in a BRE.
        assert!(matches("a+b", "./a+b"));
        assert!(!matches("a+b", "./aab"));
        assert!(matches("x\\(y\\)*z", "./xyyz"));
        assert!(matches("*.log", "./tmp/*.log"));
        assert!(matches("[[:digit:]]\\{3\\}", "./f123"));
        assert!(matches("[^a]b", "./cb"));
        assert!(!matches("[^a]b", "ab"));
        assert!(matches("^./core$", "./core"));
        assert!(ExcludeList::parse("[abc").unwrap_err().contains("line 1"));
        let list = ExcludeList::parse("\n^./tmp/\n\n").unwrap();
        assert_eq!(list.len(), 1, "blank lines are ignored");
    }

    #[test]
    fn list_and_copy() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        populate_sample(&src).unwrap();
        std::os::unix::fs::symlink("hosts", src.join("etc/hosts.link")).unwrap();
        let list = backup_list(&src).unwrap();
        assert!(list.contains(&"./tmp".to_owned()));
        assert!(list.contains(&"./tmp/session/abc.sock".to_owned()));
        let pos = |p: &str| list.iter().position(|l| l == p).unwrap();
        assert!(pos("./etc") < pos("./etc/hosts"));
        let (kept, excluded) = ExcludeList::parse("^./tmp/\n").unwrap().apply(list);
        assert!(excluded.iter().all(|l| l.starts_with("./tmp/")));
        assert_eq!(excluded.len(), 3);
        let dst = dir.path().join("dst");
        std::fs::create_dir_all(dst.join("stale")).unwrap();
        copy_listed(&src, &dst, &kept).unwrap();
        assert!(dst.join("tmp").is_dir());
        assert!(!dst.join("tmp/install.log").exists());
        assert!(!dst.join("stale").exists());
        assert!(dst.join("var/tmp/cache.db").is_file());
        assert_eq!(
            std::fs::read_link(dst.join("etc/hosts.link")).unwrap(),
            Path::new("hosts")
        );
    }
}
