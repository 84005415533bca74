//! Driver discovery and loading (DESIGN §3).
//!
//! Search order: `$DOPPEL_DRIVER_PATH` (colon list), the node config's
//! `driver_dirs`, `<exe>/../lib/doppel/drivers`, then the executable's own
//! directory (so `target/release/` works after `cargo build --release`). Only files
//! named `libdoppel_driver_*.so` are opened, and only when neither the file nor its
//! real directory is writable by group or others and both belong to root or the
//! invoking user (checked on the opened file, see `driver_process::open_checked`):
//! loading a library runs its code. Libraries are loaded in driver processes, so
//! one that aborts on load is skipped like any other unusable file, with a reason;
//! the other drivers keep working. Two files claiming one type are both refused
//! unless the node config's `[driver_files]` pins one.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use doppel_core::keywords::generic_resource_keywords;
use doppel_plugin_api::Manifest;

use crate::driver_cache::{FileKey, ManifestCache};
use crate::driver_process::{self, Driver};
use serde::Serialize;

/// A directory searched for drivers, and why.
#[derive(Clone, Debug, Serialize)]
pub struct SearchDir {
    pub path: PathBuf,
    pub origin: &'static str,
}

/// A file that looked like a driver but was not loaded.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// The loaded drivers, by `group.name`.
#[derive(Default)]
pub struct Registry {
    pub drivers: BTreeMap<String, Arc<Driver>>,
    pub skipped: Vec<Skipped>,
    pub searched: Vec<SearchDir>,
}

impl Registry {
    pub fn get(&self, type_name: &str) -> Option<&Arc<Driver>> {
        self.drivers.get(type_name)
    }

    /// The loaded driver types, `group.name`.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.drivers.keys().map(String::as_str)
    }

    /// Does the driver of `type_name` declare `action`?
    pub fn implements(&self, type_name: &str, action: &str) -> bool {
        self.get(type_name)
            .is_some_and(|d| d.manifest().find_action(action).is_some())
    }

    /// May the driver of `type_name` serve several status calls at once
    /// (its manifest's `reentrant`)?
    pub fn reentrant(&self, type_name: &str) -> bool {
        self.get(type_name).is_some_and(|d| d.manifest().reentrant)
    }

    /// "no driver X is installed (installed: ...)", with `hint` after the type.
    pub fn not_installed(&self, type_name: &str, hint: &str) -> String {
        let known: Vec<&str> = self.types().collect();
        format!(
            "no driver {type_name} is installed{hint} (installed: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )
    }
}

/// The search path, in order.
pub fn search_dirs(config_dirs: &[PathBuf]) -> Vec<SearchDir> {
    let mut dirs = Vec::new();
    if let Some(env) = std::env::var_os("DOPPEL_DRIVER_PATH") {
        for p in std::env::split_paths(&env) {
            if !p.as_os_str().is_empty() {
                dirs.push(SearchDir {
                    path: p,
                    origin: "DOPPEL_DRIVER_PATH",
                });
            }
        }
    }
    for p in config_dirs {
        dirs.push(SearchDir {
            path: p.clone(),
            origin: "driver_dirs",
        });
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
    {
        if let Some(prefix) = exe_dir.parent() {
            dirs.push(SearchDir {
                path: prefix.join("lib/doppel/drivers"),
                origin: "install prefix",
            });
        }
        dirs.push(SearchDir {
            path: exe_dir,
            origin: "executable directory",
        });
    }
    dirs
}

fn is_driver_file_name(name: &str) -> bool {
    name.starts_with("libdoppel_driver_") && name.ends_with(".so")
}

/// Why doppel refuses `m`, if it does: an empty type, a keyword declared twice,
/// or a keyword doppel reserves for itself (`tags`, `disable`, triggers, ...).
pub fn manifest_problem(m: &Manifest) -> Option<String> {
    if m.group.trim().is_empty() || m.name.trim().is_empty() {
        return Some(format!(
            "its manifest declares an empty type ({:?})",
            m.type_name()
        ));
    }
    let mut seen = HashSet::new();
    for k in &m.keywords {
        if !seen.insert(k.name.as_str()) {
            return Some(format!(
                "driver {}: keyword '{}' is declared twice",
                m.type_name(),
                k.name
            ));
        }
    }
    let mut reserved: HashSet<String> = generic_resource_keywords(&m.group)
        .into_iter()
        .map(|k| k.name)
        .collect();
    reserved.insert("type".into());
    if let Some(k) = m.keywords.iter().find(|k| reserved.contains(&k.name)) {
        return Some(format!(
            "driver {}: keyword '{}' is reserved by doppel (a generic resource keyword)",
            m.type_name(),
            k.name
        ));
    }
    None
}

/// Searches `dirs` and reads the manifest of every driver found: from `cache`
/// for a library unchanged since it was recorded, otherwise by loading it in a
/// probe process (see `driver_process`). `pins` (node config `[driver_files]`)
/// says which file provides a type that several files claim.
pub fn discover(
    dirs: Vec<SearchDir>,
    pins: &BTreeMap<String, PathBuf>,
    cache: &mut ManifestCache,
) -> Registry {
    let mut registry = Registry::default();
    let candidates = candidate_files(&dirs, pins);
    let in_process = driver_process::in_process_requested();
    let manifests = if in_process {
        let files: Vec<PathBuf> = candidates.iter().map(|(f, _)| f.clone()).collect();
        driver_process::probe(&files)
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    } else {
        read_manifests(&candidates, cache)
    };
    // type -> the files claiming it (file as found, canonical, manifest)
    let mut claims: BTreeMap<String, Vec<Claimant>> = BTreeMap::new();
    for ((file, canonical), result) in candidates.into_iter().zip(manifests) {
        match result.and_then(|m| match manifest_problem(&m) {
            Some(why) => Err(why),
            None => Ok(m),
        }) {
            Ok(m) => claims
                .entry(m.type_name())
                .or_default()
                .push((file, canonical, m)),
            Err(reason) => registry.skipped.push(Skipped { path: file, reason }),
        }
    }
    for (type_name, claimants) in claims {
        let Some((file, canonical, manifest)) =
            one_claimant(&type_name, claimants, pins, &mut registry.skipped)
        else {
            continue;
        };
        let driver = if in_process {
            match Driver::in_process(canonical) {
                Ok(d) => d,
                Err(reason) => {
                    registry.skipped.push(Skipped { path: file, reason });
                    continue;
                }
            }
        } else {
            Driver::isolated(manifest, canonical)
        };
        registry.drivers.insert(type_name, Arc::new(driver));
    }
    registry.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    registry.searched = dirs;
    registry
}

/// The manifest of each candidate (as found, canonical), in order: from `cache`
/// when the library is unchanged, else probed (and recorded in `cache` if it
/// loaded). Each file is opened and checked first as the probe would, so a
/// refused file gets the probe's reason without a process.
fn read_manifests(
    candidates: &[(PathBuf, PathBuf)],
    cache: &mut ManifestCache,
) -> Vec<Result<Manifest, String>> {
    let mut results: Vec<Option<Result<Manifest, String>>> = vec![None; candidates.len()];
    // (index, file as found, real path, version) of the files to probe
    let mut misses: Vec<(usize, PathBuf, PathBuf, Option<FileKey>)> = Vec::new();
    for (i, (file, _)) in candidates.iter().enumerate() {
        match driver_process::open_checked(file) {
            Err(why) => results[i] = Some(Err(why)),
            Ok((opened, real)) => {
                let key = opened.metadata().ok().map(|m| FileKey::of(&m));
                match key.as_ref().and_then(|k| cache.get(&real, k)) {
                    Some(m) => results[i] = Some(Ok(m)),
                    None => misses.push((i, file.clone(), real, key)),
                }
            }
        }
    }
    let files: Vec<PathBuf> = misses.iter().map(|(_, f, _, _)| f.clone()).collect();
    let probed = driver_process::probe(&files);
    for ((i, _, real, key), (_, result)) in misses.into_iter().zip(probed) {
        if let (Ok(m), Some(key)) = (&result, key) {
            cache.put(real, key, m.clone());
        }
        results[i] = Some(result);
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("no answer".into())))
        .collect()
}

/// A file claiming a driver type: as found, canonical, and its manifest.
type Claimant = (PathBuf, PathBuf, Manifest);

/// The driver files to probe, as found and canonical, each once: those of the
/// search directories (each directory once, files in name order), then the
/// pinned files outside them.
fn candidate_files(
    dirs: &[SearchDir],
    pins: &BTreeMap<String, PathBuf>,
) -> Vec<(PathBuf, PathBuf)> {
    let mut seen_files = HashSet::new();
    let mut seen_dirs = HashSet::new();
    let mut candidates: Vec<(PathBuf, PathBuf)> = Vec::new();
    for dir in dirs {
        let Ok(canonical_dir) = dir.path.canonicalize() else {
            continue;
        };
        if !seen_dirs.insert(canonical_dir.clone()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&canonical_dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(is_driver_file_name)
            })
            .collect();
        files.sort();
        for file in files {
            let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
            if seen_files.insert(canonical.clone()) {
                candidates.push((file, canonical));
            }
        }
    }
    // A pinned file outside the search path is used too.
    for file in pins.values() {
        let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
        if seen_files.insert(canonical.clone()) {
            candidates.push((file.clone(), canonical));
        }
    }
    candidates
}

/// The file that provides `type_name`: the only claimant, or the one the node
/// config pins. Several claimants and no pin: all refused, until the operator
/// pins one. The files not chosen go to `skipped`, with why.
fn one_claimant(
    type_name: &str,
    mut claimants: Vec<Claimant>,
    pins: &BTreeMap<String, PathBuf>,
    skipped: &mut Vec<Skipped>,
) -> Option<Claimant> {
    if claimants.len() <= 1 {
        return claimants.pop();
    }
    let pinned = pins
        .get(type_name)
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()));
    match pinned.and_then(|p| claimants.iter().position(|(_, c, _)| *c == p)) {
        Some(i) => {
            let chosen = claimants.remove(i);
            for (file, _, _) in claimants {
                skipped.push(Skipped {
                    path: file,
                    reason: format!(
                        "{type_name} is pinned to {} by the node config (driver_files)",
                        chosen.0.display()
                    ),
                });
            }
            Some(chosen)
        }
        None => {
            let names: Vec<String> = claimants
                .iter()
                .map(|(f, _, _)| f.display().to_string())
                .collect();
            let reason = format!(
                "{type_name} is claimed by {}: refused (pin one in the node config: [driver_files] \"{type_name}\" = \"<file>\")",
                names.join(" and ")
            );
            for (file, _, _) in claimants {
                skipped.push(Skipped {
                    path: file,
                    reason: reason.clone(),
                });
            }
            None
        }
    }
}
