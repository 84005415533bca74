//! Which services a selector names, and what a cache reader needs of a file.

use super::*;

/// Lists service names under `dir` (`<name>.conf`), sorted.
pub fn list_services(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "conf") {
                    if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                        names.push(stem.to_owned());
                    }
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    names.sort();
    Ok(names)
}

/// Expands a selector (`name`, `a,b`, `db*`) against the service names.
pub fn select_services(selector: &str, names: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    // A set beside the list: selection stays linear at 20,000 services.
    let mut seen = std::collections::HashSet::new();
    let mut known: Option<std::collections::HashMap<&str, &String>> = None;
    for part in selector.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let matched: Vec<&String> = if part.contains(['*', '?', '[']) {
            let pattern = glob::Pattern::new(part)
                .map_err(|e| format!("bad service selector {part:?}: {e}"))?;
            names.iter().filter(|n| pattern.matches(n)).collect()
        } else {
            // A name: looked up, not matched against every service.
            let all = known.get_or_insert_with(|| {
                names
                    .iter()
                    .map(|n| (n.as_str(), n))
                    .collect::<std::collections::HashMap<_, _>>()
            });
            all.get(part).copied().into_iter().collect()
        };
        if matched.is_empty() {
            let hint = closest(part, names.iter().map(String::as_str))
                .map(|c| format!(" (did you mean {c}?)"))
                .unwrap_or_default();
            return Err(format!("no service matches {part:?}{hint}"));
        }
        for m in matched {
            if seen.insert(m.as_str()) {
                out.push(m.clone());
            }
        }
    }
    if out.is_empty() {
        return Err("empty service selector".to_owned());
    }
    Ok(out)
}

/// The closest of `candidates` to `word`, if close enough to suggest.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // Edit distance with transpositions: typos in short names (`wbe`, `tagz`) are
    // the common case. The first of equally close candidates wins.
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = strsim::osa_distance(word, c);
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// What commands that only read caches need to know of a service file, read
/// cheaply (no driver, no checks).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// Why this node does not run the service ([`Service::foreign_reason`]).
    pub foreign_reason: Option<String>,
    /// The resource sections' rids, in file order.
    pub rids: Vec<String>,
}

/// [`FileFacts`] of the service in `file` for node `nodename`; `None` when the file
/// cannot be read (whoever loads it reports that).
pub fn file_facts(name: &str, file: &Path, nodename: &str) -> Option<FileFacts> {
    let bytes = std::fs::read(file).ok()?;
    let parsed = ini::parse(file, &bytes);
    let rids = parsed
        .ini
        .sections()
        .iter()
        .filter(|s| matches!(s.kind(), SectionKind::Resource { .. }))
        .map(|s| s.name().to_owned())
        .collect();
    Some(FileFacts {
        foreign_reason: foreign_reason_in(name, file, nodename, parsed.ini),
        rids,
    })
}

/// Why this node does not run the service whose parsed file is `ini`, from its
/// `DEFAULT.nodes` and `DEFAULT.drpnodes` alone.
pub(super) fn foreign_reason_in(
    name: &str,
    file: &Path,
    nodename: &str,
    ini: Ini,
) -> Option<String> {
    let parsed = ini::ParsedIni {
        ini,
        errors: Vec::new(),
    };
    let list = |k: &str| {
        parsed
            .ini
            .value("DEFAULT", k)
            .map(convert::to_list)
            .unwrap_or_default()
    };
    let nodes = list("nodes");
    let drpnodes = list("drpnodes");
    let svc = Service {
        name: name.to_owned(),
        file: file.to_owned(),
        nodename: nodename.to_owned(),
        nodes: if nodes.is_empty() {
            vec![nodename.to_owned()]
        } else {
            nodes
        },
        drpnodes,
        disabled: false,
        lock_timeout: Duration::ZERO,
        trigger_timeout: Duration::ZERO,
        status_schedule: String::new(),
        triggers: BTreeMap::new(),
        resources: Vec::new(),
        parallel_subsets: BTreeSet::new(),
        default_values: BTreeMap::new(),
        env_values: Vec::new(),
        ini: parsed.ini,
    };
    svc.foreign_reason()
}
