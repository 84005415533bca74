//! The invariants docs/ARCHITECTURE.md writes down, enforced (as rust-analyzer's
//! tidy tests do): a change that breaks one fails CI.

use std::path::Path;
use std::process::Command;

use doppel_e2e::{run, workspace_root};

/// `cargo tree` of the workspace, offline, as `name` lines.
fn cargo_tree(args: &[&str]) -> Vec<String> {
    let (code, stdout, stderr) = run(Command::new(
        std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
    )
    .current_dir(workspace_root())
    .args([
        "tree",
        "--offline",
        "--locked",
        "-e",
        "normal",
        "--prefix",
        "none",
    ])
    .args(args));
    assert_eq!(code, 0, "cargo tree {args:?}: {stderr}");
    stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn core_built_alone_links_no_loader() {
    let deps = cargo_tree(&["-p", "doppel-core"]);
    for forbidden in ["abi_stable", "libloading"] {
        assert!(
            !deps.iter().any(|d| d == forbidden),
            "doppel-core depends on {forbidden}: {deps:?}"
        );
    }
}

#[test]
fn abi_stable_is_used_by_plugin_api_alone() {
    let dependents = cargo_tree(&["--workspace", "-i", "abi_stable", "--depth", "1"]);
    assert_eq!(dependents, ["abi_stable", "doppel-plugin-api"]);
}

#[test]
fn first_party_drivers_depend_on_plugin_api_only() {
    for entry in std::fs::read_dir(workspace_root().join("plugins")).unwrap() {
        let dir = entry.unwrap().path();
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest).unwrap();
        let deps = text
            .split("[dependencies]")
            .nth(1)
            .unwrap_or("")
            .split("\n[")
            .next()
            .unwrap_or("");
        let ours: Vec<&str> = deps
            .lines()
            .filter_map(|l| l.split('=').next())
            .map(str::trim)
            .filter(|name| name.starts_with("doppel"))
            .collect();
        assert_eq!(ours, ["doppel-plugin-api"], "{}", manifest.display());
    }
}

/// Every `unsafe` block, fn or impl of the shipped crates says why it is sound.
#[test]
fn every_unsafe_has_a_safety_comment() {
    let mut missing = Vec::new();
    for dir in ["core", "host", "plugin-api", "plugins"] {
        walk(&workspace_root().join(dir), &mut |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                let is_unsafe = ["unsafe {", "unsafe fn ", "unsafe impl ", "unsafe extern"]
                    .iter()
                    .any(|k| code.contains(k));
                if is_unsafe
                    && !lines[i.saturating_sub(4)..=i]
                        .iter()
                        .any(|l| l.contains("SAFETY:"))
                {
                    missing.push(format!("{}:{}: {}", path.display(), i + 1, code));
                }
            }
        });
    }
    assert!(
        missing.is_empty(),
        "unsafe without a // SAFETY: comment:\n{}",
        missing.join("\n")
    );
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                walk(&path, f);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            f(&path);
        }
    }
}
