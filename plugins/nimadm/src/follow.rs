//! Following nimadm's per-client log (`/var/adm/ras/alt_mig/<client>_alt_mig.log`
//! on the master) while the command runs, since doppel hands a command's output
//! over only when it ends.
//!
//! The follower starts at the end of the existing file. nimadm starts a new log
//! for a migration (a new file: a different inode or creation time, or a file
//! shorter than what was read): the follower then reads it from the start. Runs
//! that append (single phases after the first, cleanup, wake-up) are read from
//! where the previous content ended.

use std::path::PathBuf;

use doppel_plugin_api::{FileChunk, Host};

/// Reads the lines appended to a file since the last call, through the host's
/// file service: on this machine, or on the NIM master when the resource sets
/// `ssh = <destination>`.
pub struct Follower {
    path: PathBuf,
    id: Option<String>,
    offset: u64,
    partial: String,
}

impl Follower {
    /// Starts following `path` from its current end (from the start once it appears).
    pub fn new(host: &Host, path: PathBuf) -> Follower {
        let (id, offset) = match host.read_file_from(&path, u64::MAX) {
            Ok(Some(chunk)) => (Some(chunk.id), chunk.size),
            _ => (None, 0),
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
    pub fn poll(&mut self, host: &Host) -> Vec<String> {
        let Ok(Some(chunk)) = host.read_file_from(&self.path, self.offset) else {
            return Vec::new();
        };
        let chunk = if self.id.as_deref() != Some(chunk.id.as_str()) || chunk.size < self.offset {
            // A new file: read it from the start.
            self.id = Some(chunk.id.clone());
            self.offset = 0;
            self.partial.clear();
            match host.read_file_from(&self.path, 0) {
                Ok(Some(c)) => c,
                _ => return Vec::new(),
            }
        } else {
            chunk
        };
        self.take(chunk)
    }

    fn take(&mut self, chunk: FileChunk) -> Vec<String> {
        self.offset += chunk.text.len() as u64;
        self.partial.push_str(&chunk.text);
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_owned).collect();
        self.partial = lines.pop().unwrap_or_default();
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doppel_plugin_api::testing::FakeHost;
    use std::fs;
    use std::io::Write;

    #[test]
    fn follows_appends_and_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lpar1_alt_mig.log");
        fs::write(&path, "old run\nExecuting nimadm phase 12.\n").unwrap();
        let fake = FakeHost::new(|_| Ok(Default::default()));
        let host = fake.host();
        let mut f = Follower::new(&host, path.clone());
        assert!(f.poll(&host).is_empty(), "starts at the end");
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        write!(file, "Executing nimadm phase 1.\npart").unwrap();
        assert_eq!(f.poll(&host), ["Executing nimadm phase 1."]);
        writeln!(file, "ial").unwrap();
        assert_eq!(f.poll(&host), ["partial"]);
        drop(file);
        // A new log (nimadm starts one per migration).
        fs::remove_file(&path).unwrap();
        fs::write(&path, "Initializing log\n").unwrap();
        assert_eq!(f.poll(&host), ["Initializing log"]);
        // Missing file: nothing.
        let mut g = Follower::new(&host, dir.path().join("none.log"));
        assert!(g.poll(&host).is_empty());
        fs::write(dir.path().join("none.log"), "a\nb\n").unwrap();
        assert_eq!(g.poll(&host), ["a", "b"]);
    }
}
