//! Which resources an action touches, and in which order (DESIGN §6,
//! reference/opensvc.md §3.5).
//!
//! Start-like actions walk the groups in [`START_GROUPS`] order; stop-like ones in
//! the reverse. Inside a group, resource sets (`<group>` then `<group>:<subset>`)
//! follow their id; inside a set, rids follow natural order (`fs#2` before
//! `fs#10`, unlike OpenSVC's string sort that surprised its users). A set marked
//! `[subset#<rset>] parallel = true` is one step whose resources run together.

use std::cmp::Ordering;

use crate::service::{ResourceDef, Service};

/// Group order for start-like actions. Array clones (`sync`) are activated right
/// after IPs and before the disks and file systems that use them.
pub const START_GROUPS: &[&str] = &[
    "ip",
    "sync",
    "volume",
    "disk",
    "fs",
    "share",
    "container",
    "app",
    "task",
];

/// Actions that walk the groups backwards.
pub fn is_stop_like(action: &str) -> bool {
    matches!(action, "stop" | "unprovision")
}

/// Resource selection from `--rid`, `--tags` and `--subsets` (they intersect).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Comma list of rids, bare groups or globs.
    pub rid: Option<String>,
    /// `a,b` (any) or `a+b` (all); `+` binds tighter than `,`.
    pub tags: Option<String>,
    /// Comma list of subset names.
    pub subsets: Option<String>,
}

impl Selection {
    /// True when no filter is given.
    pub fn is_empty(&self) -> bool {
        self.rid.is_none() && self.tags.is_none() && self.subsets.is_none()
    }

    /// Does `r` pass every filter?
    pub fn matches(&self, r: &ResourceDef) -> bool {
        self.matches_parts(&r.rid, |t| r.tags.contains(t), r.subset.as_deref())
    }

    /// [`Selection::matches`] on the parts of a resource (e.g. a cached status):
    /// its rid (`<group>#<index>`), its tags and its subset.
    pub fn matches_parts(
        &self,
        rid: &str,
        has_tag: impl Fn(&str) -> bool,
        subset: Option<&str>,
    ) -> bool {
        let group = rid.split_once('#').map_or(rid, |(g, _)| g);
        if let Some(rids) = &self.rid {
            let hit = rids
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .any(|item| {
                    if !item.contains('#') && !item.contains(['*', '?', '[']) {
                        return group == item;
                    }
                    glob::Pattern::new(item)
                        .map(|p| p.matches(rid))
                        .unwrap_or(false)
                });
            if !hit {
                return false;
            }
        }
        if let Some(tags) = &self.tags {
            let hit = tags
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .any(|all| all.split('+').map(str::trim).all(&has_tag));
            if !hit {
                return false;
            }
        }
        if let Some(subsets) = &self.subsets {
            let rset = match subset {
                Some(s) => format!("{group}:{s}"),
                None => group.to_owned(),
            };
            let hit = subsets
                .split(',')
                .map(str::trim)
                .any(|s| subset == Some(s) || rset == s);
            if !hit {
                return false;
            }
        }
        true
    }
}

/// Compares rids in natural order: `fs#2` < `fs#10` < `fs#a`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ny = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (dx, dy) = (&x[..nx], &y[..ny]);
                let tx = dx.iter().skip_while(|c| **c == b'0').count();
                let ty = dy.iter().skip_while(|c| **c == b'0').count();
                let ord = tx
                    .cmp(&ty)
                    .then_with(|| dx[nx - tx..].cmp(&dy[ny - ty..]))
                    .then(nx.cmp(&ny));
                if ord != Ordering::Equal {
                    return ord;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

/// One step of an action: resources run one after the other, or together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The resource set id (`sync`, `fs:a`).
    pub rset: String,
    /// Run the rids concurrently.
    pub parallel: bool,
    /// The rids, in order.
    pub rids: Vec<String>,
}

fn group_rank(group: &str) -> usize {
    START_GROUPS
        .iter()
        .position(|g| *g == group)
        .unwrap_or(START_GROUPS.len())
}

/// The steps of `action` over the resources of `svc` accepted by `include`.
pub fn steps(svc: &Service, action: &str, include: impl Fn(&ResourceDef) -> bool) -> Vec<Step> {
    let mut chosen: Vec<&ResourceDef> = svc.resources.iter().filter(|r| include(r)).collect();
    chosen.sort_by(|a, b| {
        group_rank(&a.group)
            .cmp(&group_rank(&b.group))
            .then_with(|| a.group.cmp(&b.group))
            // The rset order: `<group>` (no subset) before `<group>:<subset>`.
            .then_with(|| a.subset.cmp(&b.subset))
            .then_with(|| natural_cmp(&a.rid, &b.rid))
    });
    if is_stop_like(action) {
        chosen.reverse();
    }
    let mut steps: Vec<Step> = Vec::new();
    for r in chosen {
        let rset = r.rset();
        let parallel = svc.parallel_subsets.contains(&rset);
        match steps.last_mut() {
            Some(last) if last.rset == rset => last.rids.push(r.rid.clone()),
            _ => steps.push(Step {
                rset,
                parallel,
                rids: vec![r.rid.clone()],
            }),
        }
    }
    // A sequential set is a run of one-resource steps, so callers can treat every
    // step alike: a step with several rids always runs them together.
    let mut flat = Vec::new();
    for s in steps {
        if s.parallel && s.rids.len() > 1 {
            flat.push(s);
        } else {
            for rid in s.rids {
                flat.push(Step {
                    rset: s.rset.clone(),
                    parallel: false,
                    rids: vec![rid],
                });
            }
        }
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["fs#10", "fs#2", "fs#1", "fs#a", "fs#02"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, vec!["fs#1", "fs#2", "fs#02", "fs#10", "fs#a"]);
    }
}
