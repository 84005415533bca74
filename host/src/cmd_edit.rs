//! Changing service files from the command line: `get`, `set`, `unset`, `edit
//! config`, `delete --rid`, `enable` / `disable`, `create`.
//!
//! Every change is validated before it is written, and written atomically (a
//! temporary file in the services directory, then a rename) keeping the file's
//! mode and owner. An edit that would leave the file invalid writes nothing and
//! exits 2 with every problem.

use std::io::{IsTerminal as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use doppel_core::edit;
use doppel_core::ini::{self, Ini};

use crate::cmd_drivers::load_registry_warned;
use crate::drivers::Registry;
use crate::{Context, UsageError, services};

/// The one service a file command acts on.
fn one_service(ctx: &Context) -> anyhow::Result<String> {
    let names = services::selected(ctx, ctx.selector.as_deref())?;
    match names.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(UsageError(format!(
            "this command changes one service file; the selector matches {}",
            names.join(", ")
        ))
        .into()),
    }
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())).into())
}

fn parse(path: &Path, text: &str) -> Ini {
    ini::parse(path, text.as_bytes()).ini
}

/// Every problem `text` would have as service `name`, with the real file's name
/// in the messages.
fn problems_of(
    ctx: &Context,
    registry: &Registry,
    name: &str,
    text: &str,
) -> anyhow::Result<Vec<String>> {
    let real = ctx.paths.service_file(name);
    let temp = temp_path(&real);
    write_new(&temp, text.as_bytes(), 0o600)?;
    let loaded = services::load_file(ctx, registry, name, &temp, true);
    let _ = std::fs::remove_file(&temp);
    let (from, to) = (temp.display().to_string(), real.display().to_string());
    Ok(loaded
        .diagnostics
        .iter()
        .map(|d| d.to_string().replace(&from, &to))
        .collect())
}

/// `.<name>.conf.edit.<pid>` beside the file: same directory, so the rename is
/// atomic, and not a `.conf`, so no command takes it for a service.
fn temp_path(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!(".{name}.edit.{}", std::process::id()))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<std::fs::File> {
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    f.write_all(bytes)?;
    Ok(f)
}

/// Replaces `file` with `text` atomically, keeping its mode and owner (0644 and
/// the invoking user for a new file).
fn replace(file: &Path, text: &str) -> anyhow::Result<()> {
    let meta = std::fs::metadata(file).ok();
    let mode = meta.as_ref().map(|m| m.mode() & 0o7777).unwrap_or(0o644);
    let owner = meta.as_ref().map(|m| (m.uid(), m.gid()));
    doppel_core::state::write_atomic_as(file, text.as_bytes(), mode, owner)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))
}

/// Validates `text` as service `name` and writes it, or writes nothing.
fn write_validated(
    ctx: &Context,
    registry: &Registry,
    name: &str,
    text: &str,
) -> anyhow::Result<()> {
    let problems = problems_of(ctx, registry, name, text)?;
    if !problems.is_empty() {
        let mut msg = format!(
            "the change would leave service {name} with {} configuration error(s); nothing was written:",
            problems.len()
        );
        for p in &problems {
            msg.push_str("\n  ");
            msg.push_str(p);
        }
        return Err(UsageError(msg).into());
    }
    replace(&ctx.paths.service_file(name), text)
}

/// `-s svc get --kw <section>.<keyword> [--eval]`.
pub fn get(ctx: &Context, kw: &str, eval: bool) -> anyhow::Result<ExitCode> {
    let name = one_service(ctx)?;
    let (section, key) = edit::split_keyword(kw).map_err(|e| UsageError(e.to_string()))?;
    let value = if eval {
        let registry = load_registry_warned(ctx);
        let svc = services::load_valid(ctx, &registry, &name)?;
        let found = match section {
            "DEFAULT" => svc.default_values.get(key).map(|r| r.value.clone()),
            "env" => svc
                .env_values
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, r)| r.value.clone()),
            rid => svc
                .resource(rid)
                .and_then(|r| r.values.get(key))
                .map(|r| r.value.clone()),
        };
        found.ok_or_else(|| UsageError(format!("{kw}: no value in force (not set, no default)")))?
    } else {
        let file = ctx.paths.service_file(&name);
        let text = read_text(&file)?;
        parse(&file, &text)
            .value(section, key)
            .map(str::to_owned)
            .ok_or_else(|| UsageError(format!("{kw}: not set in {}", file.display())))?
    };
    println!("{value}");
    Ok(ExitCode::SUCCESS)
}

/// `<section>.<keyword>=<value>`.
fn split_assignment(kw: &str) -> anyhow::Result<(&str, &str, &str)> {
    let (lhs, value) = kw
        .split_once('=')
        .ok_or_else(|| UsageError(format!("--kw {kw:?}: expected <section>.<keyword>=<value>")))?;
    let (section, key) =
        edit::split_keyword(lhs.trim()).map_err(|e| UsageError(format!("--kw {e}")))?;
    Ok((section, key, value.trim()))
}

/// `-s svc set --kw a.b=c ...`.
pub fn set(ctx: &Context, kws: &[String]) -> anyhow::Result<ExitCode> {
    let name = one_service(ctx)?;
    let file = ctx.paths.service_file(&name);
    let mut text = read_text(&file)?;
    for kw in kws {
        let (section, key, value) = split_assignment(kw)?;
        text = edit::set(&text, &parse(&file, &text), section, key, value);
    }
    write_validated(ctx, &load_registry_warned(ctx), &name, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// `-s svc unset --kw a.b ...`.
pub fn unset(ctx: &Context, kws: &[String]) -> anyhow::Result<ExitCode> {
    let name = one_service(ctx)?;
    let file = ctx.paths.service_file(&name);
    let mut text = read_text(&file)?;
    for kw in kws {
        let (section, key) =
            edit::split_keyword(kw).map_err(|e| UsageError(format!("--kw {e}")))?;
        text = edit::unset(&text, &parse(&file, &text), section, key)
            .ok_or_else(|| UsageError(format!("--kw {kw}: not set in {}", file.display())))?;
    }
    write_validated(ctx, &load_registry_warned(ctx), &name, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// `-s svc enable|disable [--rid R]`: the `disable` keyword of the resources (or
/// of the service, without `--rid`).
pub fn enable(ctx: &Context, rids: Option<&str>, on: bool) -> anyhow::Result<ExitCode> {
    let name = one_service(ctx)?;
    let file = ctx.paths.service_file(&name);
    let mut text = read_text(&file)?;
    let sections: Vec<String> = match rids {
        Some(r) => r
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        None => vec!["DEFAULT".to_owned()],
    };
    for section in &sections {
        let ini = parse(&file, &text);
        if section != "DEFAULT" && ini.section(section).is_none() {
            return Err(UsageError(format!(
                "--rid {section}: no such resource in {}",
                file.display()
            ))
            .into());
        }
        text = if on {
            edit::unset(&text, &ini, section, "disable").unwrap_or(text)
        } else {
            edit::set(&text, &ini, section, "disable", "true")
        };
    }
    write_validated(ctx, &load_registry_warned(ctx), &name, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// `-s svc delete --rid R [--force]`.
pub fn delete(ctx: &Context, rids: &str, force: bool) -> anyhow::Result<ExitCode> {
    let name = one_service(ctx)?;
    let file = ctx.paths.service_file(&name);
    let mut text = read_text(&file)?;
    for rid in rids.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        text = edit::delete_section(&text, &parse(&file, &text), rid)
            .map_err(|e| UsageError(format!("--rid {rid}: {e}")))?;
    }
    let registry = load_registry_warned(ctx);
    let problems = problems_of(ctx, &registry, &name, &text)?;
    if !problems.is_empty() && !force {
        let mut msg = format!(
            "refusing to delete {rids}: the rest of service {name} depends on it ({} problem(s) after the deletion; --force deletes anyway):",
            problems.len()
        );
        for p in &problems {
            msg.push_str("\n  ");
            msg.push_str(p);
        }
        return Err(UsageError(msg).into());
    }
    for p in &problems {
        eprintln!("warning: {p}");
    }
    replace(&file, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// `-s svc create [--config FILE] [--kw a.b=c ...]`.
pub fn create(ctx: &Context, config: Option<&Path>, kws: &[String]) -> anyhow::Result<ExitCode> {
    let Some(name) = ctx.selector.as_deref() else {
        return Err(UsageError("create: name the new service with -s <name>".into()).into());
    };
    if name.is_empty() || name.contains(['/', ',', '*', '?', '[']) || name.starts_with('.') {
        return Err(UsageError(format!("create: {name:?} is not a service name")).into());
    }
    let file = ctx.paths.service_file(name);
    if file.exists() {
        return Err(UsageError(format!(
            "create: service {name} exists ({}): use set, unset or edit config",
            file.display()
        ))
        .into());
    }
    let mut text = match config {
        Some(path) => read_text(path)?,
        None => String::new(),
    };
    for kw in kws {
        let (section, key, value) = split_assignment(kw)?;
        text = edit::set(&text, &parse(&file, &text), section, key, value);
    }
    std::fs::create_dir_all(ctx.paths.services_dir())?;
    write_validated(ctx, &load_registry_warned(ctx), name, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// `-s svc edit config`: `$VISUAL` or `$EDITOR` (else `vi`) on a copy, validated
/// when the editor exits; on errors, reopen (on a terminal) or discard.
pub fn edit_config(ctx: &Context) -> anyhow::Result<ExitCode> {
    let name = one_service(ctx)?;
    let file = ctx.paths.service_file(&name);
    let original = read_text(&file)?;
    let copy = std::env::temp_dir().join(format!("doppel-{name}-{}.conf", std::process::id()));
    drop(write_new(&copy, original.as_bytes(), 0o600)?);
    let editor = std::env::var("VISUAL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".to_owned());
    let registry = load_registry_warned(ctx);
    let outcome = loop {
        let status = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(&copy)
            .status()
            .map_err(|e| anyhow::anyhow!("cannot run the editor {editor:?}: {e}"));
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                break Err(UsageError(format!(
                    "the editor {editor:?} failed ({s}); nothing was written"
                ))
                .into());
            }
            Err(e) => break Err(e),
        }
        let edited = read_text(&copy)?;
        if edited == original {
            eprintln!("doppel: {name}: no change");
            break Ok(ExitCode::SUCCESS);
        }
        let problems = problems_of(ctx, &registry, &name, &edited)?;
        if problems.is_empty() {
            break replace(&file, &edited).map(|()| ExitCode::SUCCESS);
        }
        eprintln!(
            "doppel: the edited file has {} configuration error(s):",
            problems.len()
        );
        for p in &problems {
            eprintln!("  {p}");
        }
        if !std::io::stdin().is_terminal() {
            break Err(UsageError(format!("{} left as it was", file.display())).into());
        }
        eprint!("reopen the editor? [Y/n] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim().eq_ignore_ascii_case("n") {
            break Err(UsageError(format!(
                "changes discarded; {} left as it was",
                file.display()
            ))
            .into());
        }
    };
    let _ = std::fs::remove_file(&copy);
    outcome
}
