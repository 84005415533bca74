//! `cargo xtask dist` (docs/packaging.md): install the host package and one driver
//! package into a temporary root, and the installed doppel finds exactly that driver.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use doppel_e2e::{run, target_dir, workspace_root};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `dpkg --root <root> -i <debs>` into a fresh database, unprivileged. The temporary
/// root has no libc6 package, so only that dependency is ignored: doppel-abi-1 is checked.
fn dpkg_install(root: &Path, debs: &[&Path]) -> (i32, String, String) {
    std::fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg/updates")).unwrap();
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    let path = format!(
        "{}:/usr/sbin:/sbin",
        std::env::var("PATH").unwrap_or_default()
    );
    run(Command::new("dpkg")
        .env("PATH", path)
        .arg("--force-not-root")
        .arg(format!("--root={}", root.display()))
        .arg("--log=/dev/null")
        .arg("--ignore-depends=libc6,libgcc-s1")
        .arg("-i")
        .args(debs))
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let (code, stdout, stderr) = run(Command::new("dpkg-deb").args(args).arg(deb));
    assert_eq!(code, 0, "dpkg-deb {args:?} {}: {stderr}", deb.display());
    stdout
}

/// The one file in `dir` named `<package>_*.deb`.
fn deb(dir: &Path, package: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&format!("{package}_"))
        })
        .collect();
    assert_eq!(found.len(), 1, "{package}: {found:?}");
    found.into_iter().next().unwrap()
}

fn non_empty(root: &Path, rel: &str) {
    let meta = std::fs::metadata(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(meta.len() > 0, "{rel} is empty");
}

/// `cargo xtask dist` of what the test command built (target/debug, or
/// target/release), into a temporary directory.
fn dist() -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let profile = if target_dir().file_name().is_some_and(|n| n == "release") {
        "--release"
    } else {
        "--debug"
    };
    let (code, stdout, stderr) = run(Command::new(
        std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
    )
    .current_dir(workspace_root())
    .args(["xtask", "dist", profile, "--no-build", "--out"])
    .arg(out.path()));
    assert_eq!(code, 0, "cargo xtask dist failed:\n{stdout}\n{stderr}");
    out
}

#[test]
fn dist_packages_install_and_the_installed_doppel_finds_exactly_its_drivers() {
    if !have("dpkg-deb") || !have("dpkg") {
        assert!(
            std::env::var_os("CI").is_none(),
            "dpkg and dpkg-deb are required in CI (.ci/run installs them)"
        );
        eprintln!(
            "SKIPPED: dpkg/dpkg-deb are not installed (`apt-get install dpkg`; .ci/run does it)"
        );
        return;
    }
    let out = dist();

    // One package for the host, one per first-party driver (plugins/*), and nothing
    // else: no test driver, no simulator.
    let mut expected: Vec<String> = std::fs::read_dir(workspace_root().join("plugins"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| {
            // The library's name (`[lib] name = "doppel_driver_<name>"`), else the directory's.
            let manifest = std::fs::read_to_string(p.join("Cargo.toml")).unwrap();
            let lib = manifest.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("name = \"doppel_driver_")?
                    .strip_suffix('"')
            });
            let name = lib
                .map(str::to_owned)
                .unwrap_or_else(|| p.file_name().unwrap().to_str().unwrap().to_owned());
            format!("doppel-driver-{}", name.replace('_', "-"))
        })
        .chain(["doppel".to_owned()])
        .collect();
    expected.sort();
    let mut debs: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".deb"))
        .map(|n| n.split('_').next().unwrap().to_owned())
        .collect();
    debs.sort();
    assert_eq!(debs, expected);

    let host = deb(out.path(), "doppel");
    let script = deb(out.path(), "doppel-driver-script");
    let info = dpkg_deb(&["-I"], &host);
    assert!(info.contains("\n Package: doppel\n"), "{info}");
    assert!(info.contains("\n Provides: doppel-abi-1\n"), "{info}");
    assert!(
        info.contains("\n Suggests: pacemaker, resource-agents\n"),
        "{info}"
    );
    assert!(info.contains("conffiles"), "{info}");
    let info = dpkg_deb(&["-I"], &script);
    assert!(
        info.contains("\n Depends: doppel-abi-1, libc6, libgcc-s1\n"),
        "{info}"
    );
    let (code, conffiles, _) = run(Command::new("sh").arg("-c").arg(format!(
        "dpkg-deb --ctrl-tarfile '{}' | tar -xOf - ./conffiles",
        host.display()
    )));
    assert_eq!(
        (code, conffiles.as_str()),
        (0, "/etc/doppel/doppel.toml\n/etc/logrotate.d/doppel\n")
    );

    // The driver package holds its library, stripped, and the copyright and
    // changelog every Debian package has; everything belongs to root.
    let contents = dpkg_deb(&["-c"], &script);
    let files: Vec<&str> = contents
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "./usr/lib/doppel/drivers/libdoppel_driver_script.so",
            "./usr/share/doc/doppel-driver-script/changelog.gz",
            "./usr/share/doc/doppel-driver-script/copyright",
        ],
        "{contents}"
    );
    for deb in [&host, &script] {
        for line in dpkg_deb(&["-c"], deb).lines() {
            assert!(
                line.split_whitespace().nth(1) == Some("root/root"),
                "{line}"
            );
        }
    }

    // A driver alone does not install: it needs a host of its ABI major.
    let alone = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = dpkg_install(alone.path(), &[&script]);
    assert_ne!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("doppel-abi-1"), "{stderr}");

    // With the host it does.
    let root = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = dpkg_install(root.path(), &[&host, &script]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let root = root.path();

    // Nothing writable by group or others: the loader would refuse it.
    fn check_modes(dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            let mode = std::fs::symlink_metadata(&p).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o022,
                0,
                "{} has mode {:o}",
                p.display(),
                mode & 0o7777
            );
            if p.is_dir() {
                check_modes(&p);
            }
        }
    }
    for dir in ["usr", "etc", "lib"] {
        check_modes(&root.join(dir));
    }
    let bin_mode = std::fs::metadata(root.join("usr/bin/doppel"))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(bin_mode, 0o755);
    let lib_mode =
        std::fs::metadata(root.join("usr/lib/doppel/drivers/libdoppel_driver_script.so"))
            .unwrap()
            .permissions()
            .mode();
    assert_eq!(lib_mode & 0o7777, 0o644);

    // The OCF resource agent ocf:doppel:service (docs/ha-pacemaker.md) comes with the
    // host, executable, where Pacemaker looks for provider doppel's agents.
    let agent = root.join("usr/lib/ocf/resource.d/doppel/service");
    let agent_mode = std::fs::metadata(&agent)
        .unwrap_or_else(|e| panic!("{}: {e}", agent.display()))
        .permissions()
        .mode();
    assert_eq!(agent_mode & 0o7777, 0o755);
    assert_eq!(
        std::fs::read(&agent).unwrap(),
        std::fs::read(workspace_root().join("packaging/ocf/service")).unwrap()
    );
    let (code, stdout, stderr) = run(Command::new(&agent).arg("meta-data"));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("<resource-agent name=\"service\""),
        "{stdout}"
    );

    // The installed doppel, with no DOPPEL_DRIVER_PATH and the packaged example config
    // (--root), finds its drivers in <prefix>/lib/doppel/drivers: exactly app.script.
    let (code, stdout, stderr) = run(Command::new(root.join("usr/bin/doppel"))
        .env_remove("DOPPEL_DRIVER_PATH")
        .env_remove("DOPPEL_ROOT")
        .arg("--root")
        .arg(root)
        .args(["drivers", "list", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let types: Vec<&str> = doc["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["app.script"], "{stdout}");
    assert_eq!(doc["skipped"], serde_json::json!([]), "{stdout}");
    let path = doc["drivers"][0]["path"].as_str().unwrap();
    assert_eq!(
        Path::new(path),
        root.join("usr/lib/doppel/drivers/libdoppel_driver_script.so")
            .canonicalize()
            .unwrap()
    );

    // Man pages, completions, the unit and the example config came with the host.
    for rel in [
        "usr/share/man/man1/doppel.1.gz",
        "usr/share/man/man1/doppel-drivers.1.gz",
        "usr/share/man/man1/doppel-drivers-list.1.gz",
        "usr/share/man/man1/doppel-sync-update.1.gz",
        "usr/share/man/man1/doppel-print-status.1.gz",
        "usr/share/man/man1/doppel-ls.1.gz",
        "usr/share/doc/doppel/operator-guide.md",
        "usr/share/doc/doppel/copyright",
        "usr/share/doc/doppel/changelog.gz",
        "etc/logrotate.d/doppel",
        "usr/share/bash-completion/completions/doppel",
        "usr/share/zsh/vendor-completions/_doppel",
        "usr/share/fish/vendor_completions.d/doppel.fish",
        "lib/systemd/system/doppel.service",
        "etc/doppel/doppel.toml",
    ] {
        non_empty(root, rel);
    }
    let (code, man, _) =
        run(Command::new("zcat").arg(root.join("usr/share/man/man1/doppel-drivers.1.gz")));
    assert_eq!(code, 0);
    assert!(man.contains(".TH doppel-drivers 1"), "{man}");
    let rotate = std::fs::read_to_string(root.join("etc/logrotate.d/doppel")).unwrap();
    assert!(rotate.starts_with("/var/log/doppel/*.log {"), "{rotate}");
    assert!(rotate.contains("copytruncate"), "{rotate}");
    // Stripped: no symbol table left.
    let (_, symbols, _) = run(Command::new("nm").arg(root.join("usr/bin/doppel")));
    assert!(
        symbols.trim().is_empty() || !symbols.contains(" T main"),
        "not stripped"
    );
    let unit = std::fs::read_to_string(root.join("lib/systemd/system/doppel.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/doppel daemon"), "{unit}");
}

/// Debian's own checker finds no error in any package (`.ci/run` installs lintian).
#[test]
fn lintian_reports_no_error_on_the_packages() {
    if !have("lintian") || !have("dpkg-deb") {
        assert!(
            std::env::var_os("CI").is_none(),
            "lintian and dpkg-deb are required in CI (.ci/run installs them)"
        );
        eprintln!("SKIPPED: lintian is not installed (`apt-get install lintian`)");
        return;
    }
    let out = dist();
    let debs: Vec<std::path::PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    assert!(debs.len() > 1);
    let (code, stdout, stderr) = run(Command::new("lintian")
        .args(["--tag-display-limit", "0"])
        .args(&debs));
    let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("E: ")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{stdout}\n{stderr}");
    assert_ne!(code, 2, "lintian could not run: {stderr}");
}
