//! Driver manifests remembered between commands (`var/cache/doppel/drivers.json`).
//!
//! Reading a driver's manifest means loading its library in a probe process
//! (`driver_process::probe`): most of what `doppel drivers list` costs, and paid
//! again by every command. A library unchanged since the last command has the
//! same manifest (`describe()` takes no input), so the manifests are kept here and
//! read back instead of probing.
//!
//! A file counts as unchanged when its device, inode, size, modification and
//! change times are the ones recorded (replacing or rewriting a file changes its
//! change time, which only the clock sets), and only for the doppel executable
//! that recorded it (an upgraded doppel may refuse what an older one loaded).
//! Every file is still opened and checked as the probe would (owner and mode, of
//! the file and its real directory) before its entry is looked at. Only libraries
//! that loaded are kept: a broken file is probed again by every command, so its
//! warning stays true, and a file gone from the search path leaves the cache.
//!
//! The cache is trusted as a library is: it is read only when it and its
//! directory belong to root or the invoking user and are not writable by group or
//! others. Missing, damaged or untrusted, it is ignored and rewritten; when it
//! cannot be written (a user without write access to the root), commands probe
//! as before. `DOPPEL_DRIVER_CACHE=off` turns it off, for a test driver whose
//! manifest follows its environment.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use doppel_plugin_api::Manifest;
use serde::{Deserialize, Serialize};

use crate::driver_process::{self, unsafe_owner_or_mode};

/// Set to `off` (or `0`) to probe every library on every command.
pub const CACHE_ENV: &str = "DOPPEL_DRIVER_CACHE";

/// Bumped when the file's layout changes: an older file is then ignored.
const FORMAT: u32 = 1;

/// What identifies one version of a file without reading it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileKey {
    pub fn of(meta: &Metadata) -> FileKey {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// One library's entry: its real path, its version, its manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    path: PathBuf,
    key: FileKey,
    manifest: Manifest,
}

/// The file as written.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct CacheFile {
    format: u32,
    /// doppel's version and its executable's key: whose probe produced the entries.
    doppel: String,
    exe: FileKey,
    drivers: Vec<Entry>,
}

/// The manifests known from the last command, and those of this one.
pub struct ManifestCache {
    /// Where it lives; `None` when turned off or doppel's executable is unknown.
    path: Option<PathBuf>,
    exe: Option<FileKey>,
    known: Vec<Entry>,
    /// The entries of the libraries found by this command, in discovery order.
    seen: Vec<Entry>,
}

impl ManifestCache {
    /// The cache at `path`, read if present and trusted; turned off by
    /// [`CACHE_ENV`], and with in-process drivers (which discovery loads
    /// anyway, without asking the cache: it must not empty it either).
    pub fn open(path: PathBuf) -> ManifestCache {
        let off = std::env::var(CACHE_ENV).is_ok_and(|v| v == "off" || v == "0")
            || driver_process::in_process_requested();
        let exe = std::env::current_exe()
            .and_then(std::fs::metadata)
            .map(|m| FileKey::of(&m))
            .ok();
        let path = if off || exe.is_none() {
            None
        } else {
            Some(path)
        };
        let known = match (&path, &exe) {
            (Some(p), Some(exe)) => read_trusted(p)
                .filter(|f| f.format == FORMAT && f.doppel == version() && f.exe == *exe)
                .map(|f| f.drivers)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        ManifestCache {
            path,
            exe,
            known,
            seen: Vec::new(),
        }
    }

    /// The manifest recorded for the library at `real` if it is still the file
    /// `key` describes; remembered for this command's cache.
    pub fn get(&mut self, real: &Path, key: &FileKey) -> Option<Manifest> {
        let entry = self
            .known
            .iter()
            .find(|e| e.path == real && e.key == *key)?
            .clone();
        let manifest = entry.manifest.clone();
        self.seen.push(entry);
        Some(manifest)
    }

    /// Records the manifest a probe read from the library at `real`.
    pub fn put(&mut self, real: PathBuf, key: FileKey, manifest: Manifest) {
        self.seen.push(Entry {
            path: real,
            key,
            manifest,
        });
    }

    /// Writes this command's entries when they differ from what was read
    /// (atomically; a failure only means the next command probes again).
    pub fn save(mut self) {
        let (Some(path), Some(exe)) = (self.path.take(), self.exe.take()) else {
            return;
        };
        self.seen.sort_by(|a, b| a.path.cmp(&b.path));
        self.known.sort_by(|a, b| a.path.cmp(&b.path));
        if self.seen == self.known {
            return;
        }
        let file = CacheFile {
            format: FORMAT,
            doppel: version(),
            exe,
            drivers: self.seen,
        };
        let Ok(mut bytes) = serde_json::to_vec(&file) else {
            return;
        };
        bytes.push(b'\n');
        if let Some(dir) = path.parent() {
            // Not through the umask: a group-writable directory would make the
            // cache untrusted, and never read.
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir);
        }
        let _ = doppel_core::state::write_atomic(&path, &bytes);
    }
}

fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The cache file's content, if it and its directory may be trusted and it parses.
fn read_trusted(path: &Path) -> Option<CacheFile> {
    let mut file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || unsafe_owner_or_mode(&meta, "the cache").is_some() {
        return None;
    }
    let dir = std::fs::metadata(path.parent()?).ok()?;
    if unsafe_owner_or_mode(&dir, "its directory").is_some() {
        return None;
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use doppel_plugin_api::Manifest;

    fn manifest(name: &str) -> Manifest {
        Manifest::new("sync", name, "1.0.0")
    }

    fn key_of(path: &Path) -> FileKey {
        FileKey::of(&std::fs::metadata(path).unwrap())
    }

    /// Library files `names` in `dir` and a cache at `cache/drivers.json`
    /// recording a manifest for each (named after its file).
    fn saved(dir: &Path, names: &[&str]) -> (Vec<PathBuf>, PathBuf) {
        let cache_path = dir.join("cache/drivers.json");
        let mut cache = ManifestCache::open(cache_path.clone());
        let libs: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
        for (lib, name) in libs.iter().zip(names) {
            std::fs::write(lib, name.as_bytes()).unwrap();
            assert_eq!(cache.get(lib, &key_of(lib)), None);
            cache.put(lib.clone(), key_of(lib), manifest(name));
        }
        cache.save();
        assert!(cache_path.is_file());
        (libs, cache_path)
    }

    #[test]
    fn a_saved_entry_is_found_while_the_file_is_unchanged_and_lost_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (libs, cache_path) = saved(dir.path(), &["x"]);
        let lib = &libs[0];
        let mut cache = ManifestCache::open(cache_path.clone());
        assert_eq!(cache.get(lib, &key_of(lib)), Some(manifest("x")));

        // Rewritten in place (same inode, same size): the change time moves.
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(lib, b"y").unwrap();
        let mut cache = ManifestCache::open(cache_path);
        assert_eq!(cache.get(lib, &key_of(lib)), None);
    }

    #[test]
    fn a_cache_writable_by_others_or_damaged_is_not_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (libs, cache_path) = saved(dir.path(), &["x"]);
        let lib = &libs[0];

        std::fs::set_permissions(&cache_path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let mut cache = ManifestCache::open(cache_path.clone());
        assert_eq!(cache.get(lib, &key_of(lib)), None);

        std::fs::set_permissions(&cache_path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut cache = ManifestCache::open(cache_path.clone());
        assert_eq!(cache.get(lib, &key_of(lib)), Some(manifest("x")));
        std::fs::write(&cache_path, b"{\"format\": 1, \"doppel\"").unwrap();
        let mut cache = ManifestCache::open(cache_path);
        assert_eq!(cache.get(lib, &key_of(lib)), None);
    }

    #[test]
    fn entries_of_libraries_not_found_again_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (libs, cache_path) = saved(dir.path(), &["a", "b"]);
        let (a, b) = (&libs[0], &libs[1]);

        // This command finds only a.
        let mut cache = ManifestCache::open(cache_path.clone());
        assert!(cache.get(a, &key_of(a)).is_some());
        cache.save();

        let mut cache = ManifestCache::open(cache_path);
        assert!(cache.get(a, &key_of(a)).is_some());
        assert_eq!(cache.get(b, &key_of(b)), None);
    }
}
