//! DRD's console output: banner-framed, on stderr, filtered by verbosity, and
//! appended to `/var/opt/drd/drd.log`.
//!
//! ```text
//! =======  04/21/10 09:05:53 EDT  BEGIN Clone System Image (user=root)  (jobid=sheldon-01)
//!
//! * Reading Current System Information
//! ...
//!
//! =======  04/21/10 09:38:48 EDT  END Clone System Image succeeded. (user=root)  (jobid=sheldon-01)
//! ```

use std::io::Write;
use std::path::PathBuf;

use doppel_sim::common::{clock, err};

/// Default verbosity (`-x verbosity=3`).
pub const DEFAULT_VERBOSITY: i32 = 3;

/// The date format of banners and `drd status` dates: US `mm/dd/yy`, local time, zone abbreviation.
pub const DATE_FORMAT: &str = "%m/%d/%y %H:%M:%S %Z";

/// A date as DRD prints it, from simulated seconds since the epoch.
pub fn drd_date(ts: f64) -> String {
    clock::format_local(ts, DATE_FORMAT)
}

/// The console of one drd invocation.
pub struct Console {
    pub verbosity: i32,
    user: String,
    jobid: String,
    log: Option<PathBuf>,
    /// Warnings printed so far (they make the exit code 2).
    pub warnings: usize,
    /// Errors printed so far.
    pub errors: usize,
    /// Stop printing (injected "truncate" fault).
    pub muted: bool,
}

fn user() -> String {
    for key in ["USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(key)
            && !v.trim().is_empty()
        {
            return v;
        }
    }
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        "root".into()
    } else {
        uid.to_string()
    }
}

impl Console {
    pub fn new(verbosity: i32, jobid: String, log: Option<PathBuf>) -> Console {
        Console {
            verbosity,
            user: user(),
            jobid,
            log,
            warnings: 0,
            errors: 0,
            muted: false,
        }
    }

    /// Prints a line on stderr (and into drd.log).
    pub fn line(&mut self, text: &str) {
        if self.muted {
            return;
        }
        err(&format!("{text}\n"));
        if let Some(path) = &self.log {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(f, "{text}");
            }
        }
    }

    fn banner(&mut self, what: &str) {
        let date = drd_date(clock::now());
        let text = format!(
            "=======  {date}  {what} (user={})  (jobid={})",
            self.user, self.jobid
        );
        self.line(&text);
    }

    pub fn begin(&mut self, operation: &str) {
        self.banner(&format!("BEGIN {operation}"));
        self.line("");
    }

    pub fn end(&mut self, operation: &str, succeeded: bool) {
        self.line("");
        let verdict = if succeeded { "succeeded" } else { "failed" };
        self.banner(&format!("END {operation} {verdict}."));
    }

    /// An error (always shown). Continuation lines are indented under the text.
    pub fn error(&mut self, text: &str) {
        self.errors += 1;
        self.prefixed("ERROR:   ", text);
    }

    /// A warning (verbosity ≥ 1).
    pub fn warning(&mut self, text: &str) {
        self.warnings += 1;
        if self.verbosity >= 1 {
            self.prefixed("WARNING: ", text);
        }
    }

    /// A note (verbosity ≥ 2).
    pub fn note(&mut self, text: &str) {
        if self.verbosity >= 2 {
            self.prefixed("NOTE:    ", text);
        }
    }

    /// A step (verbosity ≥ 3): `* text`.
    pub fn info(&mut self, text: &str) {
        if self.verbosity >= 3 {
            self.line(&format!("* {text}"));
        }
    }

    /// Verbose information (verbosity ≥ 4).
    pub fn verbose(&mut self, text: &str) {
        if self.verbosity >= 4 {
            self.line(&format!("  * {text}"));
        }
    }

    /// Detailed information (verbosity ≥ 5).
    pub fn detail(&mut self, text: &str) {
        if self.verbosity >= 5 {
            self.line(&format!("    - {text}"));
        }
    }

    /// A status field (`  Clone Disk:                 /dev/disk/disk2`), shown at verbosity ≥ 3.
    pub fn field(&mut self, label: &str, value: &str) {
        if self.verbosity >= 3 {
            self.line(&format!("  {:<28}{value}", format!("{label}:")));
        }
    }

    fn prefixed(&mut self, prefix: &str, text: &str) {
        let pad = " ".repeat(prefix.len());
        for (i, l) in text.lines().enumerate() {
            let head = if i == 0 { prefix } else { pad.as_str() };
            self.line(&format!("{head}{l}"));
        }
    }
}
