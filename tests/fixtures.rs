//! Driver libraries built on demand for loader tests: the example vendor driver
//! rebuilt against a copy of plugin-api relabelled with another version, a shared
//! library that is not a driver, and so on. Built with `cargo --offline` into
//! `target/fixtures/`, shared by every test.
//!
//! Each fixture is built once per test run (the first test asking for it builds
//! it, the others wait and get the same directory), and the copies of plugin-api
//! they build against are made once per version and shared by the fixtures of
//! that version (cargo builds such a copy again only for another profile, as the
//! `panic = "abort"` crash driver's).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use crate::{target_dir, workspace_root};

fn fixtures_dir() -> PathBuf {
    target_dir().parent().expect("target").join("fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let dest = to.join(&name);
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

/// What this run has built or copied, by name: one cell each, so a test waits
/// only for the fixture it needs, and only while it is first made.
static MADE: Mutex<BTreeMap<String, Arc<OnceLock<PathBuf>>>> = Mutex::new(BTreeMap::new());

/// `make`'s directory, made the first time `name` is asked for in this run.
fn once(name: &str, make: impl FnOnce() -> PathBuf) -> PathBuf {
    let cell = MADE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name.to_owned())
        .or_default()
        .clone();
    cell.get_or_init(make).clone()
}

/// This tree's plugin-api relabelled `version`, copied once per run.
fn plugin_api_copy(version: &str) -> PathBuf {
    once(&format!("plugin-api-{version}"), || {
        let dir = fixtures_dir().join(format!("plugin-api-{version}"));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&workspace_root().join("plugin-api"), &dir);
        replace_in(
            &dir.join("Cargo.toml"),
            "version = \"1.0.0\"",
            &format!("version = \"{version}\""),
        );
        dir
    })
}

/// The example vendor driver (sync.dircopy) built against a copy of plugin-api
/// whose version is `api_version`, as `libdoppel_driver_api_<version>.so`
/// (dots as underscores). Returns the directory holding only that library.
pub fn vendor_driver_against(api_version: &str) -> PathBuf {
    let suffix = format!("api_{}", api_version.replace('.', "_"));
    once(&format!("vendor-{suffix}"), || {
        let api = plugin_api_copy(api_version);
        build_driver(
            &workspace_root().join("examples/vendor-driver"),
            "path = \"../../plugin-api\", version = \"1\"",
            &api,
            "doppel_driver_dircopy",
            &suffix,
            |_| {},
        )
    })
}

/// Copies the driver crate at `source` into target/fixtures, points its
/// plugin-api dependency (the line `api_dep`) at `api`, renames its library from
/// `lib_name` to `doppel_driver_<suffix>`, builds it (`adjust` adds to the cargo
/// command) and returns a directory holding only the library.
fn build_driver(
    source: &Path,
    api_dep: &str,
    api: &Path,
    lib_name: &str,
    suffix: &str,
    adjust: impl FnOnce(&mut Command),
) -> PathBuf {
    let work = fixtures_dir().join(format!("driver-{suffix}"));
    let driver = work.join("driver");
    let _ = std::fs::remove_dir_all(&work);
    copy_dir(source, &driver);
    replace_in(
        &driver.join("Cargo.toml"),
        api_dep,
        &format!("path = {:?}", api.display().to_string()),
    );
    replace_in(
        &driver.join("Cargo.toml"),
        &format!("name = \"{lib_name}\""),
        &format!("name = \"doppel_driver_{suffix}\""),
    );
    std::fs::copy(
        workspace_root().join("Cargo.lock"),
        driver.join("Cargo.lock"),
    )
    .expect("lock");
    let target = fixtures_dir().join("target");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(driver.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS");
    adjust(&mut cmd);
    let status = cmd.status().expect("run cargo");
    assert!(
        status.success(),
        "building the fixture driver {suffix} from {} failed",
        source.display()
    );
    let lib = format!("libdoppel_driver_{suffix}.so");
    let out = work.join("lib");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::copy(target.join("debug").join(&lib), out.join(&lib)).expect("copy lib");
    out
}

/// A real shared library that is not a doppel driver, named like one.
pub fn non_driver_library(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    let src = dir.join("notadriver.c");
    std::fs::write(&src, "int doppel_not_a_driver(void) { return 42; }\n").expect("write");
    let lib = dir.join("libdoppel_driver_notadriver.so");
    let status = Command::new("cc")
        .arg("-shared")
        .arg("-fPIC")
        .arg("-o")
        .arg(&lib)
        .arg(&src)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed");
    lib
}

/// How [`crash_driver`] builds `sync.crash` (tests/crash-driver).
#[derive(Clone, Copy, Debug)]
pub enum CrashBuild {
    /// As it is: `libdoppel_driver_crash.so`.
    Plain,
    /// With `panic = "abort"`: `libdoppel_driver_crashabort.so`.
    PanicAbort,
    /// With a library constructor that ends the process on load:
    /// `libdoppel_driver_crashctor.so`.
    ConstructorExit,
}

/// The misbehaving test driver `sync.crash`, built once per run; returns the
/// directory holding only its library.
pub fn crash_driver(build: CrashBuild) -> PathBuf {
    let suffix = match build {
        CrashBuild::Plain => "crash",
        CrashBuild::PanicAbort => "crashabort",
        CrashBuild::ConstructorExit => "crashctor",
    };
    once(&format!("crash-{suffix}"), || {
        let api = plugin_api_copy("1.0.0");
        build_driver(
            &workspace_root().join("tests/crash-driver"),
            "path = \"../../plugin-api\"",
            &api,
            "doppel_driver_crash",
            suffix,
            |cmd| match build {
                CrashBuild::Plain => {}
                CrashBuild::PanicAbort => {
                    cmd.env("CARGO_PROFILE_DEV_PANIC", "abort");
                }
                CrashBuild::ConstructorExit => {
                    cmd.args(["--features", "ctor"]);
                }
            },
        )
    })
}
