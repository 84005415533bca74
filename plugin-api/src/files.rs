//! Files on the host a resource's commands run on (host services `read_file` and
//! `write_file`, added in protocol 1 through [`Host::call`]).
//!
//! A resource with `ssh = <destination>` runs its commands on another host;
//! files a driver reads or writes for it (drd's sync lists, nimadm's per-client
//! logs) live there too. Reading and writing them through [`Host::read_file`] and
//! [`Host::write_file`] instead of `std::fs` makes the driver work both locally
//! and over ssh without knowing which. A host that does not offer these services
//! (an older doppel) runs every command locally, so the methods then fall back to
//! `std::fs` on this machine.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, ErrorKind, Host};

/// Part of a file, as [`Host::read_file_from`] returns it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileChunk {
    /// Which file this is (device and inode locally, the inode over ssh): a
    /// different value than last time means the file was replaced.
    #[serde(default)]
    pub id: String,
    /// The file's size in bytes when it was read.
    #[serde(default)]
    pub size: u64,
    /// The file's text from the requested offset (invalid UTF-8 replaced).
    #[serde(default)]
    pub text: String,
}

impl FileChunk {
    /// A chunk of file `id` of `size` bytes holding `text`.
    pub fn new(id: impl Into<String>, size: u64, text: impl Into<String>) -> FileChunk {
        FileChunk {
            id: id.into(),
            size,
            text: text.into(),
        }
    }
}

impl Host {
    /// Reads a whole text file on the resource's host: the local one, or its `ssh`
    /// destination. `Ok(None)` when the file does not exist.
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// let dir = std::env::temp_dir().join(format!("doppel-doc-read-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("list"), "/etc/hosts\n").unwrap();
    /// let host = FakeHost::new(|_| Ok(Default::default())).host();
    /// assert_eq!(host.read_file(&dir.join("list")).unwrap().as_deref(), Some("/etc/hosts\n"));
    /// assert_eq!(host.read_file(&dir.join("missing")).unwrap(), None);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn read_file(&self, path: &Path) -> Result<Option<String>, Error> {
        Ok(self.read_file_from(path, 0)?.map(|c| c.text))
    }

    /// Reads a text file on the resource's host from byte `offset` on, with its
    /// identity and size: what a log follower needs (a changed `id`, or a size
    /// below the offset read so far, means a new file). `Ok(None)` when the file
    /// does not exist.
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// let path = std::env::temp_dir().join(format!("doppel-doc-from-{}", std::process::id()));
    /// std::fs::write(&path, "phase 1\nphase 2\n").unwrap();
    /// let host = FakeHost::new(|_| Ok(Default::default())).host();
    /// let chunk = host.read_file_from(&path, 8).unwrap().unwrap();
    /// assert_eq!((chunk.size, chunk.text.as_str()), (16, "phase 2\n"));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn read_file_from(&self, path: &Path, offset: u64) -> Result<Option<FileChunk>, Error> {
        let request = serde_json::json!({ "path": path, "offset": offset });
        match self.call("read_file", &request) {
            Ok(serde_json::Value::Null) => Ok(None),
            Ok(value) => serde_json::from_value(value)
                .map(Some)
                .map_err(|e| Error::failed(format!("read_file: bad answer from doppel: {e}"))),
            Err(e) if e.kind == ErrorKind::Unsupported => read_local(path, offset),
            Err(e) => Err(e),
        }
    }

    /// Replaces a text file on the resource's host, atomically (a temporary file
    /// in the same directory, then a rename), creating its directory if needed.
    /// Under `--dry-run` doppel logs it and writes nothing.
    ///
    /// ```
    /// use doppel_plugin_api::testing::FakeHost;
    /// let path = std::env::temp_dir().join(format!("doppel-doc-write-{}", std::process::id()));
    /// let host = FakeHost::new(|_| Ok(Default::default())).host();
    /// host.write_file(&path, "/var/opt/app\n").unwrap();
    /// assert_eq!(std::fs::read_to_string(&path).unwrap(), "/var/opt/app\n");
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn write_file(&self, path: &Path, text: &str) -> Result<(), Error> {
        self.write(path, text, true)
    }

    /// Writes a file on the resource's host in place, without a temporary file:
    /// for files that cannot be renamed over (`/sys/.../rescan`).
    pub fn write_file_in_place(&self, path: &Path, text: &str) -> Result<(), Error> {
        self.write(path, text, false)
    }

    fn write(&self, path: &Path, text: &str, atomic: bool) -> Result<(), Error> {
        let request = serde_json::json!({ "path": path, "text": text, "atomic": atomic });
        match self.call("write_file", &request) {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::Unsupported => {
                if self.dry_run() {
                    return Ok(());
                }
                write_local(path, text.as_bytes(), atomic)
                    .map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))
            }
            Err(e) => Err(e),
        }
    }
}

/// [`Host::read_file_from`] on this machine: what doppel does for a local
/// resource, and what the methods fall back to on a host without the service.
pub fn read_local(path: &Path, offset: u64) -> Result<Option<FileChunk>, Error> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::MetadataExt;
    let fail = |e: std::io::Error| Error::failed(format!("cannot read {}: {e}", path.display()));
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e)),
    };
    let meta = file.metadata().map_err(fail)?;
    let mut bytes = Vec::new();
    if offset < meta.len() {
        file.seek(SeekFrom::Start(offset)).map_err(fail)?;
        file.read_to_end(&mut bytes).map_err(fail)?;
    }
    Ok(Some(FileChunk {
        id: format!("{}:{}", meta.dev(), meta.ino()),
        size: meta.len(),
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }))
}

/// Writes `bytes` to `path` on this machine: through a temporary file and a
/// rename when `atomic`, else in place.
pub fn write_local(path: &Path, bytes: &[u8], atomic: bool) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
        }
    }
    if !atomic {
        return std::fs::write(path, bytes);
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    // Unique per write: two threads of one driver may replace the same file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use crate::testing::FakeHost;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("doppel-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_replaced_file_has_another_id_and_an_offset_past_the_end_reads_nothing() {
        let dir = temp_dir("replaced");
        let path = dir.join("client_alt_mig.log");
        std::fs::write(&path, "old run\n").unwrap();
        let host = FakeHost::new(|_| Ok(Default::default())).host();
        let first = host.read_file_from(&path, 0).unwrap().unwrap();
        let past = host.read_file_from(&path, 100).unwrap().unwrap();
        assert_eq!((past.size, past.text.as_str()), (8, ""));
        let new = dir.join("new");
        std::fs::write(&new, "new run\n").unwrap();
        std::fs::rename(&new, &path).unwrap();
        let second = host.read_file_from(&path, 0).unwrap().unwrap();
        assert_ne!(first.id, second.id);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn write_file_is_dropped_under_dry_run_on_a_host_without_the_service() {
        let dir = temp_dir("dry");
        let path = dir.join("list");
        FakeHost::dry_run(|_| Ok(Default::default()))
            .host()
            .write_file(&path, "x")
            .unwrap();
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
