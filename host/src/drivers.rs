//! Driver discovery and loading (DESIGN §3).
//!
//! Search order: `$DOPPEL_DRIVER_PATH` (colon list), the node config's
//! `driver_dirs`, `<exe>/../lib/doppel/drivers`, then the executable's own
//! directory (so `target/release/` works after `cargo build --release`). Only files
//! named `libdoppel_driver_*.so` are opened, and only when neither the file nor its
//! directory is writable by group or others and both belong to root or the invoking
//! user: loading a library runs its code. Anything unusable is skipped with a
//! reason; the other drivers keep working.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use doppel_plugin_api::{LoadedDriver, load_driver};
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
    pub drivers: BTreeMap<String, Arc<LoadedDriver>>,
    pub skipped: Vec<Skipped>,
    pub searched: Vec<SearchDir>,
}

impl Registry {
    pub fn get(&self, type_name: &str) -> Option<&Arc<LoadedDriver>> {
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

/// Why loading `path` (a file or directory) would be unsafe, if it would.
fn unsafe_owner_or_mode(path: &Path, what: &str) -> Option<String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(format!("cannot stat {what}: {e}")),
    };
    let mode = meta.mode();
    if mode & 0o022 != 0 {
        return Some(format!(
            "{what} is writable by group or others (mode {:o}); fix with chmod go-w",
            mode & 0o7777
        ));
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != 0 && meta.uid() != me {
        return Some(format!(
            "{what} is owned by uid {}, neither root nor the invoking user",
            meta.uid()
        ));
    }
    None
}

fn is_driver_file_name(name: &str) -> bool {
    name.starts_with("libdoppel_driver_") && name.ends_with(".so")
}

/// Searches `dirs` and loads every driver found.
pub fn discover(dirs: Vec<SearchDir>) -> Registry {
    let mut registry = Registry::default();
    let mut seen_files = HashSet::new();
    let mut seen_dirs = HashSet::new();
    for dir in &dirs {
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
        if files.is_empty() {
            continue;
        }
        files.sort();
        let dir_problem = unsafe_owner_or_mode(&canonical_dir, "its directory");
        for file in files {
            let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
            if !seen_files.insert(canonical.clone()) {
                continue;
            }
            if let Some(reason) = dir_problem
                .clone()
                .or_else(|| unsafe_owner_or_mode(&canonical, "the file"))
            {
                registry.skipped.push(Skipped { path: file, reason });
                continue;
            }
            match load_driver(&canonical) {
                Ok(driver) => {
                    let type_name = driver.manifest().type_name();
                    if let Some(first) = registry.drivers.get(&type_name) {
                        registry.skipped.push(Skipped {
                            path: file,
                            reason: format!(
                                "{type_name} is already provided by {}",
                                first.path().display()
                            ),
                        });
                    } else {
                        registry.drivers.insert(type_name, Arc::new(driver));
                    }
                }
                Err(e) => registry.skipped.push(Skipped {
                    path: file,
                    reason: e.to_string(),
                }),
            }
        }
    }
    registry.searched = dirs;
    registry
}
