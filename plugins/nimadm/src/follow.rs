//! Following nimadm's per-client log (`/var/adm/ras/alt_mig/<client>_alt_mig.log`
//! on the master) while the command runs, since doppel hands a command's output
//! over only when it ends.
//!
//! The follower starts at the end of the existing file. nimadm starts a new log
//! for a migration (a new file: a different inode or creation time, or a file
//! shorter than what was read): the follower then reads it from the start. Runs
//! that append (single phases after the first, cleanup, wake-up) are read from
//! where the previous content ended.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::SystemTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    created: Option<SystemTime>,
}

impl FileId {
    fn of(meta: &fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            created: meta.created().ok(),
        }
    }
}

/// Reads the lines appended to a file since the last call.
pub struct Follower {
    path: PathBuf,
    id: Option<FileId>,
    offset: u64,
    partial: String,
}

impl Follower {
    /// Starts following `path` from its current end (from the start once it appears).
    pub fn new(path: PathBuf) -> Follower {
        let (id, offset) = match fs::metadata(&path) {
            Ok(meta) => (Some(FileId::of(&meta)), meta.len()),
            Err(_) => (None, 0),
        };
        Follower {
            path,
            id,
            offset,
            partial: String::new(),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The complete lines written since the last call (none when the file is
    /// missing or unreadable).
    pub fn poll(&mut self) -> Vec<String> {
        let Ok(meta) = fs::metadata(&self.path) else {
            return Vec::new();
        };
        let id = FileId::of(&meta);
        if self.id != Some(id) || meta.len() < self.offset {
            self.id = Some(id);
            self.offset = 0;
            self.partial.clear();
        }
        if meta.len() == self.offset {
            return Vec::new();
        }
        let mut buf = Vec::new();
        let read = File::open(&self.path).and_then(|mut f| {
            f.seek(SeekFrom::Start(self.offset))?;
            f.read_to_end(&mut buf)
        });
        if read.is_err() {
            return Vec::new();
        }
        self.offset += buf.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_owned).collect();
        self.partial = lines.pop().unwrap_or_default();
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn follows_appends_and_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lpar1_alt_mig.log");
        fs::write(&path, "old run\nExecuting nimadm phase 12.\n").unwrap();
        let mut f = Follower::new(path.clone());
        assert!(f.poll().is_empty(), "starts at the end");
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        write!(file, "Executing nimadm phase 1.\npart").unwrap();
        assert_eq!(f.poll(), ["Executing nimadm phase 1."]);
        writeln!(file, "ial").unwrap();
        assert_eq!(f.poll(), ["partial"]);
        drop(file);
        // A new log (nimadm starts one per migration).
        fs::remove_file(&path).unwrap();
        fs::write(&path, "Initializing log\n").unwrap();
        assert_eq!(f.poll(), ["Initializing log"]);
        // Missing file: nothing.
        let mut g = Follower::new(dir.path().join("none.log"));
        assert!(g.poll().is_empty());
        fs::write(dir.path().join("none.log"), "a\nb\n").unwrap();
        assert_eq!(g.poll(), ["a", "b"]);
    }
}
