//! Root-only inputs. doppel runs as root and runs what its files say (triggers,
//! `app.script` commands, the tools under a driver's `bin`), so a file that someone
//! else can write is a way to run code as root. The rule drivers follow (DESIGN §3)
//! applies to every such input: it must not be writable by group or others, and it
//! must be owned by root or by the user running doppel.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// A file or directory doppel refuses to trust, with the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("refusing {what} {path}: {problem} (mode {mode:04o}, owner {owner}); {fix}")]
pub struct Untrusted {
    /// What the path is to doppel (`service file`, `services directory`, ...).
    pub what: String,
    /// The path.
    pub path: PathBuf,
    /// What is wrong.
    pub problem: String,
    /// Its permission bits.
    pub mode: u32,
    /// Its owner, as a user name when known.
    pub owner: String,
    /// The command that fixes it.
    pub fix: String,
}

/// Checks that `path` (followed if it is a symlink) is neither writable by group or
/// others nor owned by a user other than root or the invoking user. A missing path
/// passes: whoever reads it reports that.
pub fn check(path: &Path, what: &str) -> Result<(), Box<Untrusted>> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let mode = meta.mode() & 0o7777;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let untrusted = |problem: String, fix: String| {
        Box::new(Untrusted {
            what: what.to_owned(),
            path: path.to_owned(),
            problem,
            mode,
            owner: user_name(meta.uid()),
            fix,
        })
    };
    if mode & 0o022 != 0 {
        return Err(untrusted(
            "writable by group or others".to_owned(),
            format!("fix with chmod go-w {}", path.display()),
        ));
    }
    if meta.uid() != 0 && meta.uid() != me {
        return Err(untrusted(
            format!(
                "owned by {}, neither root nor {}",
                user_name(meta.uid()),
                user_name(me)
            ),
            format!("fix with chown {} {}", user_name(me), path.display()),
        ));
    }
    Ok(())
}

/// Who runs this process: `root (uid 0)`, for the log lines that say who acted.
pub fn invoking_user() -> String {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    format!("{} (uid {uid})", user_name(uid))
}

/// `root`, `alice`, or `uid 1234` when the user has no name.
pub fn user_name(uid: u32) -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: passwd is a plain C struct; all-zero is a valid (empty) value that
    // getpwuid_r overwrites.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and `buf` outlives `pwd`'s use.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc == 0 && !result.is_null() {
        // SAFETY: on success pw_name points to a NUL-terminated string in `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        if let Ok(name) = name.to_str() {
            return name.to_owned();
        }
    }
    format!("uid {uid}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn group_or_other_writable_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("svc.conf");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(check(&file, "service file"), Ok(()));
        for mode in [0o664, 0o646, 0o666] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = check(&file, "service file").unwrap_err();
            let text = e.to_string();
            assert!(text.starts_with(&format!("refusing service file {}: writable by group or others (mode {mode:04o}, owner ", file.display())), "{text}");
            assert!(
                text.ends_with(&format!("fix with chmod go-w {}", file.display())),
                "{text}"
            );
        }
    }

    #[test]
    fn a_missing_path_is_left_to_its_reader() {
        assert_eq!(
            check(Path::new("/nonexistent/doppel/x"), "service file"),
            Ok(())
        );
    }

    #[test]
    fn root_has_a_name() {
        assert_eq!(user_name(0), "root");
    }
}
