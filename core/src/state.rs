//! The state store under `var/lib/doppel/<svc>/` (DESIGN §4): status cache, last-run
//! stamps and per-resource driver state.
//!
//! Every write is atomic (temp file, fsync, rename, fsync of the directory), so a crash
//! or a full disk leaves either the old content or the new one, never half a file. Reads
//! never fail hard: state can always be rebuilt, so a damaged file is reported to the
//! caller as [`ReadOutcome::Corrupt`] to warn about and carry on.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Makes temp names unique between threads of one process (the pid covers processes).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `bytes` so that readers, and the file after a crash, see either
/// the old content or the new one.
///
/// Writes a hidden temp file next to the target (same file system, so the rename is
/// atomic), fsyncs it, renames it over the target and fsyncs the directory so the rename
/// itself survives a power loss. Creates missing parent directories. The temp file is
/// removed if any step fails. The new file is 0644, owned by the invoking user.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_as(path, bytes, 0o644, None)
}

/// [`write_atomic`], the new file with permission bits `mode` and, when given, the
/// owner `(uid, gid)`: for a file the operator owns, which doppel rewrites (a
/// service file after `doppel set`) keeping its mode and owner.
pub fn write_atomic_as(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    fs::create_dir_all(parent)?;

    let temp = parent.join(format!(
        ".{}.tmp.{}.{}",
        name.to_string_lossy(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
        // Set after creation: the umask does not apply, and the bits are exactly
        // the ones asked for (a 0640 service file stays 0640).
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        File::open(parent)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// What reading a state file gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadOutcome<T> {
    /// No such file: first run, or state removed by the operator.
    Missing,
    /// The file parsed.
    Ok(T),
    /// The file exists but could not be read or parsed; the caller warns ("state file X
    /// is corrupt (...): rebuilding it") and carries on as if it were missing.
    Corrupt {
        /// What was wrong, for that warning.
        error: String,
    },
}

impl<T> ReadOutcome<T> {
    /// The value when there is one, for callers that treat corrupt like missing after
    /// warning about it.
    pub fn ok(self) -> Option<T> {
        match self {
            ReadOutcome::Ok(v) => Some(v),
            ReadOutcome::Missing | ReadOutcome::Corrupt { .. } => None,
        }
    }
}

/// Reads `path` without following a symlink in its last component (`ELOOP` if it
/// is one): state files are doppel's own, a symlink there was planted.
pub fn read_no_follow(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok(bytes)
}

/// Why doppel refuses `path` as one of its own files (a log, a lock, a cache): it is
/// a symlink, so writing to it would write wherever it points.
pub fn symlink_refusal(path: &Path, what: &str) -> Option<String> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_symlink() {
        return None;
    }
    let target = fs::read_link(path)
        .map(|t| format!(" (to {})", t.display()))
        .unwrap_or_default();
    Some(format!(
        "refusing {what} {}: it is a symlink{target}, which doppel never follows; remove it",
        path.display()
    ))
}

/// Reads a JSON state file. Never panics and never fails hard: see [`ReadOutcome`].
pub fn read_json<T: DeserializeOwned>(path: &Path) -> ReadOutcome<T> {
    let bytes = match read_no_follow(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return ReadOutcome::Missing,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return ReadOutcome::Corrupt {
                error: "it is a symlink, which doppel never follows".to_owned(),
            };
        }
        Err(e) => {
            return ReadOutcome::Corrupt {
                error: format!("cannot read it: {e}"),
            };
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(v) => ReadOutcome::Ok(v),
        Err(e) => ReadOutcome::Corrupt {
            error: e.to_string(),
        },
    }
}

/// Writes a JSON state file atomically, pretty-printed with a trailing newline so an
/// operator can read and diff it.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// A small key/value store private to one resource, for drivers that must remember
/// something between runs (a last sync time, a device id) without knowing the layout.
///
/// Each key is a file `<dir>/kv/<key>` holding the value verbatim, written atomically.
/// Keys are limited to `[A-Za-z0-9_.-]`, at most 128 characters and not starting with a
/// dot, so a key can never escape the directory or collide with the hidden temp files
/// of [`write_atomic`].
#[derive(Clone, Debug)]
pub struct KvStore {
    dir: PathBuf,
}

impl KvStore {
    /// The store of the resource whose state directory is `dir`
    /// (`var/lib/doppel/<svc>/<rid>/`). Nothing is created until the first `put`.
    pub fn new(dir: impl Into<PathBuf>) -> KvStore {
        KvStore { dir: dir.into() }
    }

    /// The value of `key`; `None` when it was never set, or the key is invalid (such a
    /// key can never have been set), or the value cannot be read as UTF-8 text.
    pub fn get(&self, key: &str) -> Option<String> {
        let path = self.path(key).ok()?;
        String::from_utf8(read_no_follow(&path).ok()?).ok()
    }

    /// Sets `key` to `value`, atomically. Invalid keys are an `InvalidInput` error.
    pub fn put(&self, key: &str, value: &str) -> io::Result<()> {
        write_atomic(&self.path(key)?, value.as_bytes())
    }

    /// Forgets `key`; forgetting an unset key is not an error.
    pub fn remove(&self, key: &str) -> io::Result<()> {
        match fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn path(&self, key: &str) -> io::Result<PathBuf> {
        validate_key(key)?;
        Ok(self.dir.join("kv").join(key))
    }
}

fn validate_key(key: &str) -> io::Result<()> {
    let valid = !key.is_empty()
        && key.len() <= 128
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "invalid state key {key:?}: keys are 1 to 128 characters among A-Z a-z 0-9 \
                 _ . - and do not start with a dot"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn atomic_write_creates_parents_and_leaves_no_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("var/lib/doppel/svc1");
        let path = dir.join("status.json");
        write_atomic(&path, b"one").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        write_atomic(&path, b"two, longer").unwrap();
        write_atomic(&path, b"3").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"3");
        assert_eq!(entries(&dir), ["status.json"]);
    }

    #[test]
    fn atomic_write_replaces_the_inode() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        write_atomic(&path, b"old").unwrap();
        // A reader that opened the old file keeps reading the old content.
        let before = fs::metadata(&path).unwrap().ino();
        let reader = File::open(&path).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_ne!(fs::metadata(&path).unwrap().ino(), before);
        assert_eq!(io::read_to_string(reader).unwrap(), "old");
    }

    #[test]
    fn failed_atomic_write_cleans_up() {
        let tmp = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: the rename fails.
        let target = tmp.path().join("target");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), "").unwrap();
        assert!(write_atomic(&target, b"data").is_err());
        assert_eq!(entries(tmp.path()), ["target"]);
        // A parent that is a file cannot be created.
        let file = tmp.path().join("file");
        fs::write(&file, "").unwrap();
        assert!(write_atomic(&file.join("child"), b"data").is_err());
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Stamp {
        action: String,
        at: u64,
    }

    #[test]
    fn json_round_trip_is_pretty_with_a_trailing_newline() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("svc/last_run.json");
        let stamp = Stamp {
            action: "sync_update".into(),
            at: 1_700_000_000,
        };
        write_json(&path, &stamp).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\n  \"action\": \"sync_update\",\n  \"at\": 1700000000\n}\n"
        );
        assert_eq!(read_json::<Stamp>(&path), ReadOutcome::Ok(stamp));
    }

    #[test]
    fn missing_file_is_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let outcome = read_json::<Stamp>(&tmp.path().join("nope.json"));
        assert_eq!(outcome, ReadOutcome::Missing);
        assert_eq!(outcome.ok(), None);
    }

    #[test]
    fn damaged_files_are_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.json");
        for content in [
            &b"{\"action\": \"sync_upd"[..], // truncated
            b"",                             // empty
            b"garbage",
            b"{\"action\": 3, \"at\": 1}", // wrong type
            b"[1, 2]",
            b"\xff\xfe\x00",
        ] {
            fs::write(&path, content).unwrap();
            match read_json::<Stamp>(&path) {
                ReadOutcome::Corrupt { error } => assert!(!error.is_empty()),
                other => panic!("{content:?}: {other:?}"),
            }
        }
        // A directory in place of the file cannot be read: reported, not a panic.
        let dir = tmp.path().join("d.json");
        fs::create_dir(&dir).unwrap();
        assert!(matches!(
            read_json::<Stamp>(&dir),
            ReadOutcome::Corrupt { .. }
        ));
    }

    #[test]
    fn kv_put_get_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let rdir = tmp.path().join("svc1/sync#1");
        let kv = KvStore::new(&rdir);
        assert_eq!(kv.get("last_sync"), None);
        assert!(!rdir.exists(), "nothing created by reads");

        kv.put("last_sync", "2026-11-20T10:00:00Z").unwrap();
        kv.put("dev.id-2_x", "  spaced\nvalue\n").unwrap();
        assert_eq!(kv.get("last_sync").as_deref(), Some("2026-11-20T10:00:00Z"));
        assert_eq!(kv.get("dev.id-2_x").as_deref(), Some("  spaced\nvalue\n"));
        kv.put("last_sync", "later").unwrap();
        assert_eq!(kv.get("last_sync").as_deref(), Some("later"));
        assert_eq!(entries(&rdir.join("kv")), ["dev.id-2_x", "last_sync"]);

        kv.remove("last_sync").unwrap();
        kv.remove("last_sync").unwrap();
        assert_eq!(kv.get("last_sync"), None);
    }

    #[test]
    fn kv_rejects_keys_that_could_escape() {
        let tmp = tempfile::tempdir().unwrap();
        let kv = KvStore::new(tmp.path().join("r"));
        let long = "k".repeat(129);
        for key in [
            "../x",
            "a/b",
            "/etc/passwd",
            "",
            ".",
            "..",
            ".hidden",
            "a b",
            "é",
            "a\0b",
            "x\n",
            &long,
        ] {
            let err = kv.put(key, "v").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{key:?}");
            assert!(err.to_string().contains("invalid state key"));
            assert_eq!(kv.get(key), None);
            assert_eq!(
                kv.remove(key).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }
        assert!(!tmp.path().join("x").exists());
        assert!(!tmp.path().join("r").exists());
        kv.put(&"k".repeat(128), "v").unwrap();
    }
}
