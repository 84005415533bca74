//! Service logs in the seed's format, on the console and in
//! `var/log/doppel/<svc>.log`:
//!
//! ```text
//! * DEMO.SYNC#0 - INFO - /usr/symcli/bin/symclone -sid 000123 -f ... -noprompt activate -i 20 -c 30
//! * DEMO.SYNC#0 - WARNING - command succesful but stderr
//! ```
//!
//! Every line carries its service and rid, so concurrent work stays readable; a
//! mutex keeps lines whole. The file gets the same records with a timestamp.

use std::fs::{File, OpenOptions};
use std::io::IsTerminal as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use doppel_plugin_api::Level;

/// Opens (appends to, creating it and its directory) a log file.
fn open_file(path: &std::path::Path) -> std::io::Result<File> {
    std::fs::create_dir_all(path.parent().unwrap_or(std::path::Path::new("/")))?;
    // A symlink planted at the log's path would make doppel append to its
    // target: never follow one (services::prepare refuses it first).
    OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Where a service's records go.
pub struct ServiceLog {
    svc: String,
    file: Mutex<Option<File>>,
    /// Set for a log that holds no descriptor between records (the daemon's, one
    /// per service it knows): each record opens, appends and closes.
    reopen: Option<std::path::PathBuf>,
    console: Level,
}

static CONSOLE: Mutex<()> = Mutex::new(());

/// A transient progress line is on the terminal and must be erased before the
/// next line is written.
static PROGRESS_SHOWN: AtomicBool = AtomicBool::new(false);

/// Erases the line the cursor is on (ANSI: carriage return, clear line).
const ERASE_LINE: &str = "\r\x1b[2K";

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

impl ServiceLog {
    /// Opens (appends to) the service's log file; a log file that cannot be opened
    /// costs a console warning, never the action.
    pub fn open(path: &std::path::Path, svc: &str, console: Level) -> Arc<ServiceLog> {
        let file = match open_file(path) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("warning: cannot open log file {}: {e}", path.display());
                None
            }
        };
        Arc::new(ServiceLog {
            svc: svc.to_owned(),
            file: Mutex::new(file),
            reopen: None,
            console,
        })
    }

    /// A log that keeps no file open between records: for a process that knows
    /// thousands of services for its whole life (the daemon), where holding a
    /// descriptor each would run out of them. Each record opens the file, appends
    /// and closes it.
    pub fn open_per_record(path: &std::path::Path, svc: &str, console: Level) -> Arc<ServiceLog> {
        if let Err(e) = open_file(path) {
            eprintln!("warning: cannot open log file {}: {e}", path.display());
        }
        Arc::new(ServiceLog {
            svc: svc.to_owned(),
            file: Mutex::new(None),
            reopen: Some(path.to_owned()),
            console,
        })
    }

    /// `SVC.RID` (or `SVC` when `rid` is `None`), as lines name their origin.
    fn name(&self, rid: Option<&str>) -> String {
        match rid {
            Some(rid) => format!("{}.{}", self.svc, rid).to_uppercase(),
            None => self.svc.to_uppercase(),
        }
    }

    /// Appends `line` to the log file, timestamped.
    fn write_file(&self, line: &str) {
        if let Ok(mut file) = self.file.lock() {
            let record = || {
                let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S%.3f");
                format!("{stamp} {line}")
            };
            if let Some(f) = file.as_mut() {
                let _ = f.write_all(record().as_bytes());
            } else if let Some(path) = &self.reopen {
                // Under the lock, so records of one service stay in order.
                if let Ok(mut f) = open_file(path) {
                    let _ = f.write_all(record().as_bytes());
                }
            }
        }
    }

    /// Writes `message` to the log file only, at info: records for the log's
    /// reader (who ran what) that would only clutter the console.
    pub fn file_only(&self, rid: Option<&str>, message: &str) {
        let line = format!("* {} - INFO - {message}\n", self.name(rid));
        self.write_file(&line);
    }

    /// Logs `message` for resource `rid` (or the service when `None`).
    pub fn log(&self, rid: Option<&str>, level: Level, message: &str) {
        let name = self.name(rid);
        let line = format!("* {name} - {} - {message}\n", level_name(level));
        if level <= self.console {
            let _guard = CONSOLE.lock();
            let mut err = std::io::stderr().lock();
            if PROGRESS_SHOWN.swap(false, Ordering::Relaxed) {
                let _ = err.write_all(ERASE_LINE.as_bytes());
            }
            let _ = err.write_all(line.as_bytes());
        }
        if level <= Level::Debug {
            self.write_file(&line);
        }
    }

    /// A progress line for a long wait: redrawn in place when the console is a
    /// terminal (the next log line erases it), absent from piped output, and
    /// kept in the log file at debug level.
    pub fn progress(&self, rid: Option<&str>, message: &str) {
        let name = self.name(rid);
        if self.console >= Level::Info && std::io::stderr().is_terminal() {
            let _guard = CONSOLE.lock();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{ERASE_LINE}* {name} - {message}");
            let _ = err.flush();
            PROGRESS_SHOWN.store(true, Ordering::Relaxed);
        }
        self.write_file(&format!("* {name} - DEBUG - {message}\n"));
    }

    pub fn info(&self, rid: Option<&str>, message: &str) {
        self.log(rid, Level::Info, message);
    }

    pub fn warn(&self, rid: Option<&str>, message: &str) {
        self.log(rid, Level::Warn, message);
    }

    pub fn error(&self, rid: Option<&str>, message: &str) {
        self.log(rid, Level::Error, message);
    }
}
