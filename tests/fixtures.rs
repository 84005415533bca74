//! Driver libraries built on demand for loader tests: the example vendor driver
//! rebuilt against a copy of plugin-api relabelled with another version, a shared
//! library that is not a driver, and so on. Built with `cargo --offline` into
//! `target/fixtures/`, shared by every test (cargo's own lock serialises builds).

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Builds the example vendor driver (sync.dircopy) against a copy of plugin-api
/// whose version is `api_version`, as library `libdoppel_driver_<lib_suffix>.so`.
/// Returns the directory holding only that library.
pub fn vendor_driver_against(api_version: &str, lib_suffix: &str) -> PathBuf {
    let work = fixtures_dir().join(format!("api-{api_version}-{lib_suffix}"));
    let api = work.join("plugin-api");
    let driver = work.join("driver");
    let _ = std::fs::remove_dir_all(&work);
    copy_dir(&workspace_root().join("plugin-api"), &api);
    copy_dir(&workspace_root().join("examples/vendor-driver"), &driver);
    replace_in(
        &api.join("Cargo.toml"),
        "version = \"1.0.0\"",
        &format!("version = \"{api_version}\""),
    );
    replace_in(
        &driver.join("Cargo.toml"),
        "path = \"../../plugin-api\", version = \"1\"",
        "path = \"../plugin-api\"",
    );
    replace_in(
        &driver.join("Cargo.toml"),
        "name = \"doppel_driver_dircopy\"",
        &format!("name = \"doppel_driver_{lib_suffix}\""),
    );
    std::fs::copy(
        workspace_root().join("Cargo.lock"),
        driver.join("Cargo.lock"),
    )
    .expect("lock");
    let target = fixtures_dir().join("target");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(driver.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "building the fixture driver against plugin-api {api_version} failed"
    );
    let lib = format!("libdoppel_driver_{lib_suffix}.so");
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

/// Builds the misbehaving test driver `sync.crash`; returns the directory holding
/// only its library.
pub fn crash_driver(build: CrashBuild) -> PathBuf {
    let suffix = match build {
        CrashBuild::Plain => "crash",
        CrashBuild::PanicAbort => "crashabort",
        CrashBuild::ConstructorExit => "crashctor",
    };
    let work = fixtures_dir().join(format!("driver-{suffix}"));
    let api = work.join("plugin-api");
    let driver = work.join("driver");
    let _ = std::fs::remove_dir_all(&work);
    copy_dir(&workspace_root().join("plugin-api"), &api);
    copy_dir(&workspace_root().join("tests/crash-driver"), &driver);
    replace_in(
        &driver.join("Cargo.toml"),
        "path = \"../../plugin-api\"",
        "path = \"../plugin-api\"",
    );
    replace_in(
        &driver.join("Cargo.toml"),
        "name = \"doppel_driver_crash\"",
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
    match build {
        CrashBuild::Plain => {}
        CrashBuild::PanicAbort => {
            cmd.env("CARGO_PROFILE_DEV_PANIC", "abort");
        }
        CrashBuild::ConstructorExit => {
            cmd.args(["--features", "ctor"]);
        }
    }
    let status = cmd.status().expect("run cargo");
    assert!(status.success(), "building the {suffix} test driver failed");
    let lib = format!("libdoppel_driver_{suffix}.so");
    let out = work.join("lib");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::copy(target.join("debug").join(&lib), out.join(&lib)).expect("copy lib");
    out
}
