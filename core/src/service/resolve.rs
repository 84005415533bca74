//! Scopes and references (`{svcname}`, `{env.x}`, `{section.kw}`): resolving a
//! keyword's value for this node.

use super::*;

pub(super) fn has_reference(text: &str) -> bool {
    references(text).next().is_some()
}

/// The `{name}` references in `text` (byte range and name). `${...}` is shell
/// syntax, not a reference.
pub(super) fn references(text: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            if bytes[i] == b'{' && (i == 0 || bytes[i - 1] != b'$') {
                let start = i;
                let mut j = i + 1;
                while j < bytes.len()
                    && (bytes[j].is_ascii_alphanumeric() || b"_#.".contains(&bytes[j]))
                {
                    j += 1;
                }
                if j < bytes.len() && bytes[j] == b'}' && j > start + 1 {
                    i = j + 1;
                    return Some((start, j + 1, &text[start + 1..j]));
                }
            }
            i += 1;
        }
        None
    })
}

/// The most keyword references one value may expand: values that each reference
/// the next twice double at every level, and 40 levels would never finish.
pub(super) const MAX_REFERENCES: usize = 10_000;

/// The state of one value's expansion.
#[derive(Default)]
pub(super) struct Walk {
    /// The references being expanded, outermost first (to detect cycles).
    pub(super) stack: Vec<String>,
    /// How many keyword references were expanded so far.
    pub(super) expanded: usize,
}

pub(super) struct Resolver<'a> {
    pub(super) ini: &'a Ini,
    pub(super) svcname: &'a str,
    pub(super) nodename: &'a str,
    pub(super) nodes: &'a [String],
    pub(super) drpnodes: &'a [String],
}

impl Resolver<'_> {
    /// Looks `name` up in `section` with the node's scopes: `kw@<node>` >
    /// `kw@nodes` > `kw@drpnodes` > `kw`. `_requires` spellings count as
    /// `_depends`.
    pub(super) fn lookup<'s>(
        &self,
        section: &'s Section,
        name: &str,
        scopable: bool,
    ) -> Option<&'s Entry> {
        let mut best: Option<(u8, &Entry)> = None;
        for e in section.entries() {
            let (key, scope) = split_scope(&e.key);
            if keywords::canonical_name(key) != name {
                continue;
            }
            let rank = match scope {
                Some(_) if !scopable => continue,
                Some(s) if s == self.nodename => 0,
                Some("nodes") if self.nodes.iter().any(|n| n == self.nodename) => 1,
                Some("drpnodes") if self.drpnodes.iter().any(|n| n == self.nodename) => 2,
                Some(_) => continue,
                None => 3,
            };
            if best.is_none_or(|(r, _)| rank < r) {
                best = Some((rank, e));
            }
        }
        best.map(|(_, e)| e)
    }

    /// Every `[env]` variable as a reference `{env.x}` reads it. A value whose
    /// references cannot be resolved is kept as written (validation reports it
    /// where it is used).
    pub(super) fn env_values(&self) -> Vec<(String, Resolved)> {
        let Some(section) = self.ini.section("env") else {
            return Vec::new();
        };
        let mut names: Vec<&str> = Vec::new();
        for e in section.entries() {
            let (name, _) = split_scope(&e.key);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let mut values = Vec::new();
        for name in names {
            let variable = name.to_uppercase();
            let resolved = match std::env::var(&variable) {
                Ok(value) => Resolved {
                    value,
                    origin: Origin::Environment { variable },
                },
                Err(_) => {
                    let Some(e) = self.lookup(section, name, true) else {
                        continue;
                    };
                    let value = self
                        .expand(&e.value, "env", &mut Walk::default())
                        .unwrap_or_else(|_| e.value.clone());
                    Resolved {
                        value,
                        origin: Origin::File {
                            location: e.location.to_string(),
                            key: e.key.clone(),
                        },
                    }
                }
            };
            values.push((name.to_owned(), resolved));
        }
        values
    }

    /// Replaces references in `text` (of section `section`).
    pub(super) fn expand(
        &self,
        text: &str,
        section: &str,
        walk: &mut Walk,
    ) -> Result<String, String> {
        let mut out = String::new();
        let mut last = 0;
        for (start, end, name) in references(text) {
            out.push_str(&text[last..start]);
            out.push_str(&self.reference(name, section, walk)?);
            last = end;
        }
        out.push_str(&text[last..]);
        Ok(out)
    }

    pub(super) fn reference(
        &self,
        name: &str,
        section: &str,
        walk: &mut Walk,
    ) -> Result<String, String> {
        match name {
            "svcname" | "name" => return Ok(self.svcname.to_owned()),
            "nodename" => return Ok(self.nodename.to_owned()),
            "short_nodename" => {
                return Ok(self.nodename.split('.').next().unwrap_or("").to_owned());
            }
            "rid" => return Ok(section.to_owned()),
            "rindex" => {
                return Ok(section
                    .split_once('#')
                    .map(|(_, i)| i)
                    .unwrap_or("")
                    .to_owned());
            }
            _ => {}
        }
        let (sec, key) = match name.rsplit_once('.') {
            Some((s, k)) => (s.to_owned(), k.to_owned()),
            None => (section.to_owned(), name.to_owned()),
        };
        if sec == "env" {
            if let Ok(v) = std::env::var(key.to_uppercase()) {
                return Ok(v);
            }
        }
        let id = format!("{sec}.{key}");
        if walk.stack.contains(&id) {
            walk.stack.push(id);
            return Err(format!("reference cycle: {}", walk.stack.join(" -> ")));
        }
        walk.expanded += 1;
        if walk.expanded > MAX_REFERENCES {
            return Err(format!(
                "more than {MAX_REFERENCES} references to expand (values referencing each other several times?)"
            ));
        }
        let lookup = |s: &str| {
            self.ini
                .section(s)
                .and_then(|sec| self.lookup(sec, &key, true))
        };
        let entry = lookup(&sec).or_else(|| {
            if name.contains('.') {
                None
            } else {
                lookup("DEFAULT")
            }
        });
        let Some(entry) = entry else {
            return Err(format!("unresolved reference {{{name}}}"));
        };
        walk.stack.push(id);
        let v = self.expand(&entry.value, &sec, walk);
        walk.stack.pop();
        v
    }
}
