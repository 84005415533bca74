//! `sync.crash`: misbehaves as its keywords say, to check from the operator's side
//! that no driver can take doppel down.
//!
//! * `crash` = `abort`, `exit` (code 3), `segfault`, `stack_overflow`, `panic`,
//!   `hang` (ignores cancellation) or `none`;
//! * `crash_in` = the method that does it: `validate`, `open`, `status`, or an
//!   action name (default `status`);
//! * `DOPPEL_CRASH_MANIFEST` = `empty_type`, `duplicate` (a keyword twice) or
//!   `reserved` (declares `tags`) breaks the manifest;
//! * `record_pid` = a file where every status call appends the process id;
//! * `spawn` = a program the driver starts itself (not through doppel) before
//!   misbehaving, its pid written to `<state_dir>/spawned.pid`: the orphan test.

use std::time::Duration;

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, Driver, Error, Host, KeywordSpec, KeywordType,
    Manifest, Problem, ResourceConfig, Status, StatusReport,
};

pub struct Crash {
    config: ResourceConfig,
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let buf = [depth; 512];
    std::hint::black_box(&buf);
    recurse(depth + 1) + std::hint::black_box(buf[0])
}

impl Crash {
    fn maybe_crash(&self, method: &str) {
        let when = self.config.get("crash_in").unwrap_or("status");
        if when != method {
            return;
        }
        if let Some(program) = self.config.get("spawn") {
            let child = std::process::Command::new(program)
                .arg("300")
                .spawn()
                .expect("spawn");
            let _ = std::fs::create_dir_all(&self.config.state_dir);
            std::fs::write(
                self.config.state_dir.join("spawned.pid"),
                child.id().to_string(),
            )
            .expect("write pid");
        }
        match self.config.get("crash").unwrap_or("none") {
            "abort" => std::process::abort(),
            "exit" => std::process::exit(3),
            // SAFETY: none; crashing is the point.
            "segfault" => unsafe { std::ptr::null_mut::<u64>().write_volatile(1) },
            "stack_overflow" => {
                std::hint::black_box(recurse(0));
            }
            "panic" => panic!("sync.crash was told to panic in {method}"),
            "hang" => loop {
                std::thread::sleep(Duration::from_secs(1));
            },
            _ => {}
        }
    }
}

impl Driver for Crash {
    fn manifest() -> Manifest {
        let mut m = Manifest::new("sync", "crash", env!("CARGO_PKG_VERSION"))
            .description("Misbehaves on purpose (doppel's isolation tests)")
            .keyword(
                KeywordSpec::new("crash", KeywordType::String)
                    .candidates(&[
                        "abort",
                        "exit",
                        "segfault",
                        "stack_overflow",
                        "panic",
                        "hang",
                        "none",
                    ])
                    .desc("How to misbehave."),
            )
            .keyword(KeywordSpec::new("crash_in", KeywordType::String).desc("Where."))
            .keyword(KeywordSpec::new("spawn", KeywordType::String).desc("A program to start first."))
            .keyword(
                KeywordSpec::new("record_pid", KeywordType::String)
                    .desc("A file where every status appends the driver's process id."),
            )
            .call_timeout("sync_update", Duration::from_secs(3));
        for a in ["start", "stop", "sync_update"] {
            m = m.action(ActionSpec::standard(a));
        }
        // A broken manifest, for the loader's checks.
        match std::env::var("DOPPEL_CRASH_MANIFEST").as_deref() {
            Ok("empty_type") => m.name = String::new(),
            Ok("duplicate") => m = m.keyword(KeywordSpec::new("crash", KeywordType::String)),
            Ok("reserved") => m = m.keyword(KeywordSpec::new("tags", KeywordType::List)),
            _ => {}
        }
        m
    }

    fn validate(config: &ResourceConfig) -> Vec<Problem> {
        Crash {
            config: config.clone(),
        }
        .maybe_crash("validate");
        Vec::new()
    }

    fn open(config: ResourceConfig, _host: Host) -> Result<Self, Error> {
        let me = Crash { config };
        me.maybe_crash("open");
        Ok(me)
    }

    fn status(&self) -> Result<StatusReport, Error> {
        if let Some(path) = self.config.get("record_pid") {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open record_pid");
            writeln!(f, "{}", std::process::id()).expect("write record_pid");
        }
        self.maybe_crash("status");
        Ok(StatusReport::new(Status::Up))
    }

    fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        self.maybe_crash(&request.action);
        Ok(ActionOutcome::default())
    }
}

doppel_plugin_api::export_driver!(Crash);

/// Runs when the library is loaded (feature `ctor`), before doppel can call it.
#[cfg(feature = "ctor")]
extern "C" fn end_on_load() {
    // SAFETY: getenv with a NUL-terminated name; exit/abort end the process.
    unsafe {
        let how = libc::getenv(c"DOPPEL_CRASH_CTOR".as_ptr());
        if !how.is_null() && std::ffi::CStr::from_ptr(how).to_bytes() == b"abort" {
            libc::abort();
        }
        libc::exit(7);
    }
}

#[cfg(feature = "ctor")]
#[used]
#[unsafe(link_section = ".init_array")]
static END_ON_LOAD: extern "C" fn() = end_on_load;
