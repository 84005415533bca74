//! Real file-tree operations on the simulated images: walking with `lstat`,
//! and copying entries the way `pax -rw -pe` does (content, mode, ownership,
//! modification time; symbolic links as links).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The kind of a tree entry. Other kinds (fifos, devices, sockets) are not copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// What `lstat` says about an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    pub size: u64,
    /// Modification time: seconds and nanoseconds since the epoch.
    pub mtime: (i64, u32),
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Meta {
    fn from(md: &fs::Metadata) -> Meta {
        let ft = md.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        Meta {
            kind,
            size: md.size(),
            mtime: (md.mtime(), md.mtime_nsec().clamp(0, 999_999_999) as u32),
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
        }
    }

    /// The change test of drd sync: different mtime, or different size (sizes of
    /// directories depend on the file system, so only their mtime counts).
    pub fn differs(&self, size: u64, mtime: (i64, u32), kind: Kind) -> bool {
        self.kind != kind || self.mtime != mtime || (self.kind != Kind::Dir && self.size != size)
    }
}

/// `lstat(path)`; `None` when it does not exist.
pub fn lmeta(path: &Path) -> io::Result<Option<Meta>> {
    match fs::symlink_metadata(path) {
        Ok(md) => Ok(Some(Meta::from(&md))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The host path of image path `abs` (`/etc/hosts`) in the tree at `root`.
pub fn host(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// Every entry under `root` (not `root` itself), depth first, parents before
/// children, names sorted; paths as image paths (`/etc/hosts`). Does not follow
/// symbolic links.
pub fn walk(root: &Path) -> io::Result<Vec<(String, Meta)>> {
    fn visit(dir: &Path, prefix: &str, out: &mut Vec<(String, Meta)>) -> io::Result<()> {
        let mut names: Vec<_> = fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
        names.sort_by_key(|e| e.file_name());
        for entry in names {
            let name = entry.file_name().to_string_lossy().into_owned();
            let abs = format!("{prefix}/{name}");
            let path = entry.path();
            let md = fs::symlink_metadata(&path)?;
            let meta = Meta::from(&md);
            let is_dir = meta.kind == Kind::Dir;
            out.push((abs.clone(), meta));
            if is_dir {
                visit(&path, &abs, out)?;
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    if root.is_dir() {
        visit(root, "", &mut out)?;
    }
    Ok(out)
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

/// Sets the modification time of `path` without following a symbolic link
/// (the access time is left alone).
pub fn set_mtime(path: &Path, mtime: (i64, u32)) -> io::Result<()> {
    let c = cstring(path)?;
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: mtime.0 as libc::time_t,
            tv_nsec: mtime.1 as libc::c_long,
        },
    ];
    // SAFETY: c is a valid NUL-terminated path and times points at two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Gives `path` the ownership and (unless a link) the mode of `meta`, as pax -pe
/// does. Ownership changes that need privileges the simulator lacks are skipped.
fn set_owner_mode(path: &Path, meta: &Meta) -> io::Result<()> {
    if let Err(e) = std::os::unix::fs::lchown(path, Some(meta.uid), Some(meta.gid))
        && e.kind() != io::ErrorKind::PermissionDenied
    {
        return Err(e);
    }
    if meta.kind != Kind::Symlink {
        fs::set_permissions(path, fs::Permissions::from_mode(meta.mode))?;
    }
    Ok(())
}

/// Removes whatever is at `path` (file, link or whole directory).
fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Copies entries from one tree to another, keeping the directories' mtimes
/// right: a copied directory gets the source's mtime, and a directory that only
/// received entries gets its own mtime back, so the copy itself never makes a
/// clone directory look "changed by someone else".
pub struct Copier<'a> {
    src: &'a Path,
    dst: &'a Path,
    /// Directory → mtime to give it at the end.
    dir_times: BTreeMap<PathBuf, (i64, u32)>,
}

impl<'a> Copier<'a> {
    pub fn new(src: &'a Path, dst: &'a Path) -> Copier<'a> {
        Copier {
            src,
            dst,
            dir_times: BTreeMap::new(),
        }
    }

    /// Remembers the mtime of `dir` before the copy writes into it.
    fn touching(&mut self, dir: &Path) {
        if self.dir_times.contains_key(dir) {
            return;
        }
        if let Ok(Some(m)) = lmeta(dir)
            && m.kind == Kind::Dir
        {
            self.dir_times.insert(dir.to_owned(), m.mtime);
        }
    }

    /// Creates the missing parents of `path` (with the source's metadata when the
    /// source has them), remembering the mtimes of those it writes into.
    fn parents(&mut self, abs: &str) -> io::Result<()> {
        let mut current = self.dst.to_owned();
        let parts: Vec<&str> = abs.trim_start_matches('/').split('/').collect();
        let mut image = String::new();
        for part in &parts[..parts.len().saturating_sub(1)] {
            image.push('/');
            image.push_str(part);
            let next = current.join(part);
            match lmeta(&next)? {
                Some(m) if m.kind == Kind::Dir => {}
                other => {
                    self.touching(&current);
                    if other.is_some() {
                        remove_any(&next)?;
                    }
                    fs::create_dir(&next)?;
                    if let Some(sm) =
                        lmeta(&host(self.src, &image))?.filter(|m| m.kind == Kind::Dir)
                    {
                        set_owner_mode(&next, &sm)?;
                        self.dir_times.insert(next.clone(), sm.mtime);
                    }
                }
            }
            current = next;
        }
        self.touching(&current);
        Ok(())
    }

    /// Copies one entry (image path `abs`, source metadata `meta`). A directory
    /// is created or has its metadata updated; its contents are not copied.
    pub fn copy(&mut self, abs: &str, meta: &Meta) -> io::Result<()> {
        let src = host(self.src, abs);
        let dst = host(self.dst, abs);
        self.parents(abs)?;
        match meta.kind {
            Kind::Dir => {
                match lmeta(&dst)? {
                    Some(m) if m.kind == Kind::Dir => {}
                    Some(_) => {
                        remove_any(&dst)?;
                        fs::create_dir(&dst)?;
                    }
                    None => fs::create_dir(&dst)?,
                }
                set_owner_mode(&dst, meta)?;
                self.dir_times.insert(dst, meta.mtime);
            }
            Kind::File => {
                if lmeta(&dst)?.is_some_and(|m| m.kind != Kind::File) {
                    remove_any(&dst)?;
                }
                let name = dst
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let tmp = dst.with_file_name(format!(".{name}.drd-sync.{}", std::process::id()));
                fs::copy(&src, &tmp)?;
                set_owner_mode(&tmp, meta)?;
                set_mtime(&tmp, meta.mtime)?;
                if let Err(e) = fs::rename(&tmp, &dst) {
                    let _ = fs::remove_file(&tmp);
                    return Err(e);
                }
            }
            Kind::Symlink => {
                let target = fs::read_link(&src)?;
                remove_any(&dst)?;
                std::os::unix::fs::symlink(&target, &dst)?;
                set_owner_mode(&dst, meta)?;
                set_mtime(&dst, meta.mtime)?;
            }
            Kind::Other => {}
        }
        Ok(())
    }

    /// Sets the directories' final mtimes. Call once, after every copy.
    pub fn finish(self) -> io::Result<()> {
        for (dir, mtime) in self.dir_times.iter().rev() {
            set_mtime(dir, *mtime)?;
        }
        Ok(())
    }
}

/// The mtime/size/kind drd recorded for an entry it wrote, read back from the
/// destination after the copy.
pub fn written(dst_root: &Path, abs: &str) -> io::Result<Option<Meta>> {
    lmeta(&host(dst_root, abs))
}

/// Replaces the tree at `dst` by a full copy of `src`; returns every entry copied.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<Vec<(String, Meta)>> {
    remove_any(dst)?;
    fs::create_dir_all(dst)?;
    if let Some(root) = lmeta(src)? {
        set_owner_mode(dst, &root)?;
    }
    let entries: Vec<(String, Meta)> = walk(src)?
        .into_iter()
        .filter(|(_, m)| m.kind != Kind::Other)
        .collect();
    let mut copier = Copier::new(src, dst);
    for (abs, meta) in &entries {
        copier.copy(abs, meta)?;
    }
    copier.finish()?;
    if let Some(root) = lmeta(src)? {
        set_mtime(dst, root.mtime)?;
    }
    Ok(entries)
}

/// True when the two files exist and have the same content.
pub fn same_content(a: &Path, b: &Path) -> bool {
    match (fs::read(a), fs::read(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
