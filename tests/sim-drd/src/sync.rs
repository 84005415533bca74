//! The file selection of `drd sync` (reference/vendor-tools.md §2.4), done for
//! real on the two trees.
//!
//! A file of the booted original is copied when, in this order:
//! 1. it is not in the administrator's exclude list (applied to the initial list);
//! 2. its size or mtime differs from the clone copy (a missing copy differs);
//! 3. it is not in a non-synchronized location;
//! 4. the clone copy is still what drd last wrote there (size and mtime, from the
//!    manifest kept by `drd clone` and `drd sync`), or is missing;
//! 5. the original's mtime is not older than the clone copy's;
//! 6. it is not an IPD file, or a volatile IPD file whose newconfig templates are
//!    the same on both images.
//!
//! Files failing 3-6 are written to the `filtered_out_by_*` lists; nothing is
//! ever deleted from the clone.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use crate::model::{
    FILES_TO_BE_COPIED, FILTERED_IPD_NONVOLATILE, FILTERED_IPD_VOLATILE, FILTERED_NON_SYNCED,
    FILTERED_TARGET_CHANGED, FILTERED_TARGET_NEWER, Ipd, Manifest, SYNC_LISTS,
};
use crate::tree::{self, Kind, Meta};

/// Locations whose contents are never synchronized (`<dir>/*`).
const NON_SYNCED_DIRS: &[&str] = &[
    "/var/adm/sw",
    "/tmp",
    "/var/tmp",
    "/var/opt/drd/tmp",
    "/stand",
    "/etc/vx",
    "/etc/vxvmconf",
];
/// Path prefixes never synchronized (`/etc/lvmtab*`: the path itself and anything
/// starting with it).
const NON_SYNCED_PREFIXES: &[&str] = &["/etc/lvmconf", "/etc/lvmtab", "/etc/lvmpvg", "/etc/fstab"];

/// True when `abs` is in a non-synchronized location; `clone_group` is the LVM
/// group the clone is imported as (`/dev/<clone_group>` is not synchronized).
pub fn non_synced(abs: &str, clone_group: &str) -> bool {
    NON_SYNCED_DIRS.iter().any(|d| {
        abs.strip_prefix(d)
            .is_some_and(|rest| rest.starts_with('/'))
    }) || NON_SYNCED_PREFIXES.iter().any(|p| abs.starts_with(p))
        || abs.starts_with(&format!("/dev/{clone_group}"))
}

/// One line of an exclude list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    /// `/opt/app/cache`: the path and everything under it.
    Tree(String),
    /// `/opt/app/cache/*`: everything under the directory, not the directory.
    Children(String),
    /// `/var/log/app*`: every path starting with the text.
    Prefix(String),
}

/// The administrator's exclude list (`-x exclude_list=<file>`): one absolute
/// path per line; `#` comments and blank lines are ignored. A path excludes
/// itself and its subtree; `dir/*` only the subtree; a trailing `*` is a prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exclude {
    patterns: Vec<Pattern>,
}

impl Exclude {
    pub fn parse(text: &str) -> Exclude {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let abs = format!("/{}", line.trim_start_matches('/'));
            let pattern = if let Some(dir) = abs.strip_suffix("/*") {
                Pattern::Children(dir.trim_end_matches('/').to_owned())
            } else if let Some(prefix) = abs.strip_suffix('*') {
                Pattern::Prefix(prefix.to_owned())
            } else {
                let t = abs.trim_end_matches('/');
                Pattern::Tree(if t.is_empty() {
                    "/".into()
                } else {
                    t.to_owned()
                })
            };
            patterns.push(pattern);
        }
        Exclude { patterns }
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn matches(&self, abs: &str) -> bool {
        let under = |dir: &str| {
            dir == "/"
                || abs
                    .strip_prefix(dir)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        self.patterns.iter().any(|p| match p {
            Pattern::Tree(t) => abs == t || under(t),
            Pattern::Children(d) => under(d),
            Pattern::Prefix(p) => abs.starts_with(p.as_str()),
        })
    }
}

/// What a sync would do.
#[derive(Debug, Default)]
pub struct Plan {
    /// Entries to copy, parents before children.
    pub copy: Vec<(String, Meta)>,
    /// List file name → paths filtered out by that filter.
    pub filtered: BTreeMap<&'static str, Vec<String>>,
    /// Entries of the booted image considered (not excluded).
    pub considered: usize,
    /// Entries removed by the exclude list.
    pub excluded: usize,
    /// Entries identical on both images.
    pub unchanged: usize,
}

impl Plan {
    pub fn list(&self, name: &str) -> Vec<String> {
        if name == FILES_TO_BE_COPIED {
            return self.copy.iter().map(|(p, _)| p.clone()).collect();
        }
        self.filtered.get(name).cloned().unwrap_or_default()
    }

    fn filter(&mut self, name: &'static str, abs: &str) {
        self.filtered.entry(name).or_default().push(abs.to_owned());
    }
}

/// Computes the sync of `original` onto `clone`.
pub fn plan(
    original: &Path,
    clone: &Path,
    manifest: &Manifest,
    ipd: &Ipd,
    exclude: &Exclude,
    clone_group: &str,
) -> io::Result<Plan> {
    let mut plan = Plan::default();
    for (abs, om) in tree::walk(original)? {
        if om.kind == Kind::Other {
            continue;
        }
        if exclude.matches(&abs) {
            plan.excluded += 1;
            continue;
        }
        plan.considered += 1;
        let cm = tree::lmeta(&tree::host(clone, &abs))?;
        if let Some(cm) = &cm
            && !cm.differs(om.size, om.mtime, om.kind)
        {
            plan.unchanged += 1;
            continue;
        }
        if non_synced(&abs, clone_group) {
            plan.filter(FILTERED_NON_SYNCED, &abs);
            continue;
        }
        if let Some(cm) = &cm {
            let untouched = manifest
                .get(&abs)
                .is_some_and(|e| !cm.differs(e.size, e.mtime, e.kind));
            if !untouched {
                plan.filter(FILTERED_TARGET_CHANGED, &abs);
                continue;
            }
            if om.mtime < cm.mtime {
                plan.filter(FILTERED_TARGET_NEWER, &abs);
                continue;
            }
        }
        if let Some(entry) = ipd.get(&abs) {
            if !entry.volatile {
                plan.filter(FILTERED_IPD_NONVOLATILE, &abs);
                continue;
            }
            let template = format!("/usr/newconfig{abs}");
            if !tree::same_content(
                &tree::host(original, &template),
                &tree::host(clone, &template),
            ) {
                plan.filter(FILTERED_IPD_VOLATILE, &abs);
                continue;
            }
        }
        plan.copy.push((abs, om));
    }
    Ok(plan)
}

/// Writes every list of `plan` into `dir` (one image path per line), replacing
/// the previous run's lists.
pub fn write_lists(dir: &Path, plan: &Plan) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for name in SYNC_LISTS {
        let mut text = plan.list(name).join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        doppel_sim::common::write_atomic(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_synced_locations() {
        for p in [
            "/tmp/x",
            "/var/tmp/a/b",
            "/var/adm/sw/products/INDEX",
            "/var/opt/drd/tmp/f",
            "/stand/vmunix",
            "/etc/lvmconf/vg00.conf",
            "/etc/lvmconf",
            "/etc/lvmtab",
            "/etc/lvmtab_p",
            "/etc/lvmpvg",
            "/etc/vx/x",
            "/etc/vxvmconf/y",
            "/etc/fstab",
            "/etc/fstab.old",
            "/dev/drd00/group",
            "/dev/drd00",
        ] {
            assert!(non_synced(p, "drd00"), "{p}");
        }
        for p in [
            "/tmp",
            "/stand",
            "/etc/hosts",
            "/var/adm/syslog/syslog.log",
            "/tmpfoo",
            "/dev/vg00/group",
            "/etc/vx",
        ] {
            assert!(!non_synced(p, "drd00"), "{p}");
        }
    }

    #[test]
    fn exclude_patterns() {
        let ex = Exclude::parse(
            "# comment\n\n/opt/app/cache\n/var/log/*\n/home/*.bak*\nrelative/dir/\n",
        );
        assert_eq!(ex.len(), 4);
        assert!(ex.matches("/opt/app/cache"));
        assert!(ex.matches("/opt/app/cache/x/y"));
        assert!(!ex.matches("/opt/app/cachefile"));
        assert!(!ex.matches("/var/log"));
        assert!(ex.matches("/var/log/syslog"));
        assert!(ex.matches("/home/*.bak.1"));
        assert!(ex.matches("/relative/dir/x"));
        assert!(!Exclude::parse("").matches("/etc/hosts"));
    }
}
