//! doppel's project tasks, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! `cargo xtask dist [--out DIR] [--release|--debug] [--no-build]` builds the host and
//! the first-party drivers (`plugins/*`), stages the install tree and builds one
//! Debian package for the host and one per driver. docs/packaging.md describes the
//! result.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, Subcommand};
use clap_complete::Shell;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "doppel's project tasks",
    max_term_width = 100
)]
struct Xtask {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Build the install tree (bin, drivers, man pages, completions, unit, config)
    /// and the Debian packages: doppel and one doppel-driver-<name> per driver
    Dist(DistArgs),
}

#[derive(Debug, clap::Args)]
struct DistArgs {
    /// Output directory (default: <target dir>/dist)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Package the release build (the default)
    #[arg(long, conflicts_with = "debug")]
    release: bool,
    /// Package the debug build
    #[arg(long)]
    debug: bool,
    /// Package what is already built instead of running cargo build first
    #[arg(long)]
    no_build: bool,
}

fn main() -> Result<()> {
    match Xtask::parse().task {
        Task::Dist(args) => dist(&args),
    }
}

/// Where the drivers go, relative to the install root; the host finds them from
/// `/usr/bin/doppel` as `<exe>/../lib/doppel/drivers`.
const DRIVER_DIR: &str = "usr/lib/doppel/drivers";
const CONFIG_FILE: &str = "etc/doppel/doppel.toml";
const UNIT_FILE: &str = "lib/systemd/system/doppel.service";
const MAN_DIR: &str = "usr/share/man/man1";
/// The OCF resource agent `ocf:doppel:service` (docs/ha-pacemaker.md), where
/// Pacemaker looks for provider `doppel`'s agents.
const OCF_AGENT: &str = "usr/lib/ocf/resource.d/doppel/service";

/// What `cargo metadata` says about the workspace.
struct Workspace {
    root: PathBuf,
    target_dir: PathBuf,
    host: Package,
    /// The ABI major of `doppel-plugin-api`: the host package provides
    /// `doppel-abi-<major>`, drivers depend on it.
    abi_major: u64,
    drivers: Vec<Driver>,
}

struct Package {
    name: String,
    version: String,
    description: String,
    license: String,
    repository: String,
}

/// A first-party driver: a cdylib package under `plugins/`.
struct Driver {
    package: Package,
    /// The directory of its Cargo.toml.
    dir: PathBuf,
    /// `script` for `libdoppel_driver_script.so`.
    name: String,
    /// `libdoppel_driver_script.so`.
    file: String,
}

impl Driver {
    fn deb_name(&self) -> String {
        format!("doppel-driver-{}", self.name.replace('_', "-"))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    ensure!(status.success(), "{cmd:?} failed ({status})");
    Ok(())
}

fn workspace() -> Result<Workspace> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has no parent directory")?
        .to_owned();
    let out = cargo()
        .current_dir(&root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cannot run cargo metadata")?;
    ensure!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata: invalid JSON")?;
    let str_of = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let package = |p: &serde_json::Value| Package {
        name: str_of(p, "name"),
        version: str_of(p, "version"),
        description: str_of(p, "description"),
        license: str_of(p, "license"),
        repository: str_of(p, "repository"),
    };
    let packages = meta["packages"]
        .as_array()
        .context("cargo metadata: no packages")?;
    let find = |name: &str| {
        packages
            .iter()
            .find(|p| p["name"] == name)
            .with_context(|| format!("no package {name}"))
    };
    let host = package(find("doppel")?);
    let api_version = str_of(find("doppel-plugin-api")?, "version");
    let abi_major = api_version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .context("bad plugin-api version")?;

    let plugins = root.join("plugins");
    let mut drivers = Vec::new();
    for p in packages {
        let manifest = PathBuf::from(str_of(p, "manifest_path"));
        let dir = manifest
            .parent()
            .context("manifest without directory")?
            .to_owned();
        if dir.parent() != Some(plugins.as_path()) {
            continue; // test drivers, simulators, the host...: not shipped as drivers
        }
        let Some(lib) = p["targets"].as_array().into_iter().flatten().find(|t| {
            t["crate_types"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c == "cdylib"))
        }) else {
            continue;
        };
        let lib_name = str_of(lib, "name").replace('-', "_");
        let Some(name) = lib_name.strip_prefix("doppel_driver_") else {
            bail!(
                "{}: a driver library must be named doppel_driver_<name>, not {lib_name}",
                manifest.display()
            );
        };
        drivers.push(Driver {
            package: package(p),
            dir,
            name: name.to_owned(),
            file: format!("lib{lib_name}.so"),
        });
    }
    drivers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Workspace {
        root,
        target_dir: PathBuf::from(str_of(&meta, "target_directory")),
        host,
        abi_major,
        drivers,
    })
}

fn dist(args: &DistArgs) -> Result<()> {
    let ws = workspace()?;
    let profile = if args.debug { "debug" } else { "release" };
    if !args.no_build {
        let mut build = cargo();
        build
            .current_dir(&ws.root)
            .args(["build", "--package", "doppel"]);
        for d in &ws.drivers {
            build.args(["--package", &d.package.name]);
        }
        if !args.debug {
            build.arg("--release");
        }
        run(&mut build)?;
    }
    let built = ws.target_dir.join(profile);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| ws.target_dir.join("dist"));
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let out = out.canonicalize()?;

    // Start afresh, removing only what a previous run made.
    for sub in ["root", "pkg"] {
        let p = out.join(sub);
        if p.exists() {
            fs::remove_dir_all(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
    for entry in fs::read_dir(&out)? {
        let p = entry?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with("doppel") && name.ends_with(".deb") {
            fs::remove_file(&p)?;
        }
    }

    let root = out.join("root");
    stage(&ws, &built, &root)?;
    let debs = packages(&ws, &root, &out.join("pkg"), &out, args.debug)?;
    println!("install tree: {}", root.display());
    for deb in debs {
        println!("package: {}", deb.display());
    }
    Ok(())
}

/// Writes the whole install tree under `root`.
fn stage(ws: &Workspace, built: &Path, root: &Path) -> Result<()> {
    let bin = built.join("doppel");
    ensure!(
        bin.is_file(),
        "{} is missing: build first, or drop --no-build",
        bin.display()
    );
    copy(&bin, &root.join("usr/bin/doppel"))?;
    strip(&root.join("usr/bin/doppel"))?;
    for d in &ws.drivers {
        let lib = built.join(&d.file);
        ensure!(
            lib.is_file(),
            "{} is missing: build first, or drop --no-build",
            lib.display()
        );
        copy(&lib, &root.join(DRIVER_DIR).join(&d.file))?;
        strip(&root.join(DRIVER_DIR).join(&d.file))?;
    }
    fs::create_dir_all(root.join(DRIVER_DIR))?;

    let unit = ws.root.join("packaging/systemd/doppel.service");
    if unit.is_file() {
        copy(&unit, &root.join(UNIT_FILE))?;
    } else {
        write(&root.join(UNIT_FILE), DEFAULT_UNIT)?;
    }
    write(&root.join(CONFIG_FILE), &example_config(ws)?)?;
    let agent = ws.root.join("packaging/ocf/service");
    ensure!(agent.is_file(), "{} is missing", agent.display());
    copy(&agent, &root.join(OCF_AGENT))?;
    man_pages(&root.join(MAN_DIR), &ws.host.version)?;
    completions(root)?;
    write(&root.join(LOGROTATE_FILE), LOGROTATE)?;
    // The host's documentation: what an operator reads first, and the HA guide.
    let doc = root.join("usr/share/doc").join(&ws.host.name);
    for page in [
        "operator-guide.md",
        "ha-pacemaker.md",
        "opensvc-migration.md",
    ] {
        copy(&ws.root.join("docs").join(page), &doc.join(page))?;
    }
    package_docs(ws, &ws.host.name, &ws.host.version, &doc)?;
    fix_modes(root)
}

/// `/etc/logrotate.d/doppel`. `copytruncate`: the daemon keeps each service log
/// open, so a renamed file would go on receiving its lines.
const LOGROTATE_FILE: &str = "etc/logrotate.d/doppel";
const LOGROTATE: &str = "\
/var/log/doppel/*.log {
    weekly
    rotate 8
    compress
    delaycompress
    missingok
    notifempty
    copytruncate
}
";

/// Drops symbols and notes from a staged binary or library (Debian policy 10.1;
/// lintian's unstripped-binary-or-object). The build tree is left alone.
fn strip(file: &Path) -> Result<()> {
    run(Command::new("strip")
        .args([
            "--strip-unneeded",
            "--remove-section=.comment",
            "--remove-section=.note",
        ])
        .arg(file))
    .with_context(|| format!("strip {} (binutils)", file.display()))
}

/// `gzip -9n`: what Debian wants for man pages and changelogs (no name or time
/// stored, so the result is reproducible).
fn gzip(file: &Path) -> Result<()> {
    run(Command::new("gzip").args(["-9nf"]).arg(file))
        .with_context(|| format!("gzip {}", file.display()))
}

/// `copyright` (machine-readable, Debian's format) and `changelog.gz` of package
/// `name` in its `doc` directory, as every Debian package has.
fn package_docs(ws: &Workspace, name: &str, version: &str, doc: &Path) -> Result<()> {
    let license = &ws.host.license;
    let common = match license.as_str() {
        "Apache-2.0" => "On Debian systems, the full text of the Apache License 2.0 is in\n \
                         /usr/share/common-licenses/Apache-2.0."
            .to_owned(),
        other => format!("See https://spdx.org/licenses/{other}.html."),
    };
    // The packaging date: SOURCE_DATE_EPOCH when set (reproducible builds), else now.
    let date_of = |format: &str| -> String {
        let mut cmd = Command::new("date");
        cmd.arg("-u").arg(format);
        if let Some(secs) = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            cmd.args(["-d", &format!("@{secs}")]);
        }
        cmd.output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let date = date_of("-R");
    write(
        &doc.join("copyright"),
        &format!(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
             Upstream-Name: doppel\n\
             {}\n\
             Files: *\n\
             Copyright: {} the doppel authors\n\
             License: {license}\n \
             {common}\n",
            if ws.host.repository.is_empty() {
                String::new()
            } else {
                format!("Source: {}\n", ws.host.repository)
            },
            date_of("+%Y")
        ),
    )?;
    let changelog = doc.join("changelog");
    write(
        &changelog,
        &format!(
            "{name} ({}) unstable; urgency=medium\n\n  \
             * Release {version}. What changed is in the project's history\n    \
             (git log); the documentation is in /usr/share/doc/doppel.\n\n \
             -- {}  {date}\n",
            deb_version(version),
            maintainer()
        ),
    )?;
    gzip(&changelog)
}

const DEFAULT_UNIT: &str = "\
[Unit]
Description=doppel service manager: scheduled syncs and status refreshes
Documentation=man:doppel(1) man:doppel-daemon(1)
After=local-fs.target network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=/usr/bin/doppel daemon
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure

[Install]
WantedBy=multi-user.target
";

/// `etc/doppel/doppel.toml`: every key commented out at its default, so the file
/// changes nothing until an operator edits it.
fn example_config(ws: &Workspace) -> Result<String> {
    let mut t = String::from(
        "# doppel node configuration. Every key is optional: the values shown, commented
# out, are the defaults or examples. Unknown keys are errors (reported with file
# and line). See doppel(1) and docs/packaging.md.

# This node's name, as service files scope keywords with it (kw@node1).
# Default: the host name.
#nodename = \"node1\"

# More directories searched for drivers, after $DOPPEL_DRIVER_PATH and before
# /usr/lib/doppel/drivers. Relative paths are relative to this file's directory.
# A directory or driver file writable by group or others is refused.
#driver_dirs = [\"/opt/vendor/doppel/drivers\"]

# Console and log file level: error, warn, info, debug or trace.
#log_level = \"info\"

# How long an action waits for a service's lock (the default of --waitlock).
#lock_timeout = \"60s\"

# One table per driver, named after the driver's basename (type sync.symclone:
# [driver.symclone]): where its vendor tools are, and its options.
",
    );
    for d in &ws.drivers {
        if let Some(bin) = default_bin(&d.dir)? {
            let _ = write!(
                t,
                "\n# {}\n# (package {})\n#[driver.{}]\n#bin = \"{bin}\"\n",
                d.package
                    .description
                    .strip_prefix("doppel driver ")
                    .unwrap_or(&d.package.description),
                d.deb_name(),
                d.name
            );
        }
    }
    Ok(t)
}

/// A driver's default tool directory: its source's `const DEFAULT_BIN: &str = "...";`.
fn default_bin(dir: &Path) -> Result<Option<String>> {
    let mut stack = vec![dir.join("src")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                for line in text.lines() {
                    let line = line.trim();
                    let value = line
                        .strip_prefix("const DEFAULT_BIN: &str = \"")
                        .and_then(|r| r.strip_suffix("\";"));
                    if let Some(value) = value {
                        return Ok(Some(value.to_owned()));
                    }
                }
            }
        }
    }
    Ok(None)
}

/// `doppel.1` and one page per visible subcommand (`doppel-drivers.1`,
/// `doppel-drivers-list.1`, ...), from the clap definition.
fn man_pages(dir: &Path, version: &str) -> Result<()> {
    fn generate(cmd: clap::Command, dir: &Path, version: &str) -> Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            generate(sub, dir, version)?;
        }
        let man = clap_mangen::Man::new(cmd)
            .source(format!("doppel {version}"))
            .manual("doppel manual");
        let path = dir.join(man.get_filename());
        let mut buf = Vec::new();
        man.render(&mut buf)?;
        write_bytes(&path, &buf)?;
        gzip(&path)
    }
    fs::create_dir_all(dir)?;
    let mut cmd = doppel::command().disable_help_subcommand(true);
    cmd.build();
    generate(cmd, dir, version)
}

fn completions(root: &Path) -> Result<()> {
    for (shell, path) in [
        (Shell::Bash, "usr/share/bash-completion/completions/doppel"),
        (Shell::Zsh, "usr/share/zsh/vendor-completions/_doppel"),
        (
            Shell::Fish,
            "usr/share/fish/vendor_completions.d/doppel.fish",
        ),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut doppel::command(), "doppel", &mut buf);
        write_bytes(&root.join(path), &buf)?;
    }
    Ok(())
}

/// Builds `doppel_<version>_<arch>.deb` and one `doppel-driver-<name>_<version>_<arch>.deb`
/// per driver into `out`, from the staged tree `root`, using `pkg` as scratch space.
fn packages(
    ws: &Workspace,
    root: &Path,
    pkg: &Path,
    out: &Path,
    fast: bool,
) -> Result<Vec<PathBuf>> {
    let arch = deb_arch()?;
    let maintainer = maintainer();
    let abi = format!("doppel-abi-{}", ws.abi_major);
    let mut debs = Vec::new();

    // The host: everything but the driver libraries.
    let host_dir = pkg.join(&ws.host.name);
    copy_tree(root, &host_dir, &|rel| {
        !rel.starts_with(DRIVER_DIR) || rel == Path::new(DRIVER_DIR)
    })?;
    let summary = ws
        .host
        .description
        .strip_prefix("doppel: ")
        .unwrap_or(&ws.host.description);
    let mut fields = BTreeMap::new();
    fields.insert("Depends", "libc6, libgcc-s1".to_owned());
    fields.insert("Provides", abi.clone());
    // The OCF agent runs under Pacemaker; doppel works without it.
    fields.insert("Suggests", "pacemaker, resource-agents".to_owned());
    let long = format!(
        "doppel drives storage clones and system replicas as services made of resources,\n\
         with dependency conditions, triggers, status, locks, logs and schedules.\n\
         Each capability is a driver, packaged separately as doppel-driver-<name>;\n\
         this package provides {abi}, the driver ABI they depend on."
    );
    let control_text = control(
        &ws.host,
        &ws.host.name,
        &arch,
        &maintainer,
        &fields,
        summary,
        &long,
        &host_dir,
    )?;
    write(&host_dir.join("DEBIAN/control"), &control_text)?;
    write(
        &host_dir.join("DEBIAN/conffiles"),
        &format!("/{CONFIG_FILE}\n/{LOGROTATE_FILE}\n"),
    )?;
    debs.push(build_deb(
        &host_dir,
        out,
        &ws.host.name,
        &ws.host.version,
        &arch,
        fast,
    )?);

    // One package per driver: only its library.
    for d in &ws.drivers {
        let name = d.deb_name();
        let dir = pkg.join(&name);
        let lib_rel = Path::new(DRIVER_DIR).join(&d.file);
        copy_tree(root, &dir, &|rel| lib_rel.starts_with(rel))?;
        package_docs(
            ws,
            &name,
            &d.package.version,
            &dir.join("usr/share/doc").join(&name),
        )?;
        let mut fields = BTreeMap::new();
        fields.insert("Depends", format!("{abi}, libc6, libgcc-s1"));
        fields.insert("Enhances", ws.host.name.clone());
        let summary = d
            .package
            .description
            .strip_prefix("doppel ")
            .unwrap_or(&d.package.description);
        let long = format!(
            "A doppel driver, loaded at run time from /{DRIVER_DIR}.\n\
             It works with any doppel that provides {abi} (doppel-plugin-api {}.x).",
            ws.abi_major
        );
        let control_text = control(
            &d.package,
            &name,
            &arch,
            &maintainer,
            &fields,
            summary,
            &long,
            &dir,
        )?;
        write(&dir.join("DEBIAN/control"), &control_text)?;
        debs.push(build_deb(
            &dir,
            out,
            &name,
            &d.package.version,
            &arch,
            fast,
        )?);
    }
    Ok(debs)
}

#[allow(clippy::too_many_arguments)]
fn control(
    p: &Package,
    name: &str,
    arch: &str,
    maintainer: &str,
    fields: &BTreeMap<&str, String>,
    summary: &str,
    long: &str,
    dir: &Path,
) -> Result<String> {
    let mut c = String::new();
    let _ = writeln!(c, "Package: {name}");
    let _ = writeln!(c, "Version: {}", deb_version(&p.version));
    let _ = writeln!(c, "Architecture: {arch}");
    let _ = writeln!(c, "Maintainer: {maintainer}");
    let _ = writeln!(c, "Installed-Size: {}", installed_size(dir)?);
    for key in ["Depends", "Provides", "Suggests", "Enhances"] {
        if let Some(v) = fields.get(key) {
            let _ = writeln!(c, "{key}: {v}");
        }
    }
    let _ = writeln!(c, "Section: admin");
    let _ = writeln!(c, "Priority: optional");
    if !p.repository.is_empty() {
        let _ = writeln!(c, "Homepage: {}", p.repository);
    }
    let _ = writeln!(c, "Description: {summary}");
    for line in long
        .lines()
        .chain(std::iter::once(""))
        .chain(std::iter::once(&*format!("License: {}.", p.license)))
    {
        let _ = writeln!(c, " {}", if line.is_empty() { "." } else { line });
    }
    Ok(c)
}

fn build_deb(
    dir: &Path,
    out: &Path,
    name: &str,
    version: &str,
    arch: &str,
    fast: bool,
) -> Result<PathBuf> {
    fix_modes(dir)?;
    let deb = out.join(format!("{name}_{}_{arch}.deb", deb_version(version)));
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("--build").arg("--root-owner-group");
    if fast {
        // Debug builds are large and for tests: gzip -1 instead of xz takes a second, not half a minute.
        cmd.args(["-Zgzip", "-z1"]);
    }
    run(cmd.arg(dir).arg(&deb))
        .context("dpkg-deb is needed to build the packages (apt-get install dpkg)")?;
    Ok(deb)
}

/// Cargo's `1.2.0-rc.1` is Debian's `1.2.0~rc.1` (sorts before 1.2.0).
fn deb_version(v: &str) -> String {
    v.replacen('-', "~", 1)
}

fn deb_arch() -> Result<String> {
    Ok(match std::env::consts::ARCH {
        "x86_64" => "amd64".to_owned(),
        "aarch64" => "arm64".to_owned(),
        "x86" => "i386".to_owned(),
        "powerpc64" => "ppc64".to_owned(),
        "s390x" => "s390x".to_owned(),
        "riscv64" => "riscv64".to_owned(),
        _ => {
            let out = Command::new("dpkg")
                .arg("--print-architecture")
                .output()
                .context("cannot run dpkg")?;
            String::from_utf8(out.stdout)?.trim().to_owned()
        }
    })
}

/// `$DEBFULLNAME <$DEBEMAIL>` when both are set (Debian's convention), else the project.
fn maintainer() -> String {
    match (std::env::var("DEBFULLNAME"), std::env::var("DEBEMAIL")) {
        (Ok(name), Ok(email)) if !name.is_empty() && !email.is_empty() => {
            format!("{name} <{email}>")
        }
        _ => "doppel maintainers <maintainers@example.invalid>".to_owned(),
    }
}

/// Kibibytes of the files under `dir` (DEBIAN/ excluded), as Installed-Size wants.
fn installed_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    walk(dir, &mut |p, meta| {
        if !p.starts_with(dir.join("DEBIAN")) {
            total += if meta.is_file() {
                meta.len().div_ceil(1024)
            } else {
                1
            };
        }
        Ok(())
    })?;
    Ok(total)
}

/// 0755 for directories, `usr/bin/*` and the OCF agent, 0644 for everything else:
/// nothing writable by group or others (the host refuses such drivers), whatever the umask.
fn fix_modes(root: &Path) -> Result<()> {
    let bin = root.join("usr/bin");
    let agent = root.join(OCF_AGENT);
    walk(root, &mut |p, meta| {
        let mode = if meta.is_dir() || p.parent() == Some(bin.as_path()) || p == agent {
            0o755
        } else {
            0o644
        };
        fs::set_permissions(p, fs::Permissions::from_mode(mode))
            .with_context(|| format!("chmod {}", p.display()))
    })
}

/// Calls `f` on every file and directory under `dir` (not `dir` itself), depth first.
fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &fs::Metadata) -> Result<()>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let p = entry?.path();
        let meta = fs::symlink_metadata(&p)?;
        if meta.is_dir() {
            walk(&p, f)?;
        }
        f(&p, &meta)?;
    }
    Ok(())
}

/// Copies the files of `from` whose relative path passes `keep` into `to`; a kept
/// directory is created even when empty.
fn copy_tree(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<()> {
    fs::create_dir_all(to)?;
    let mut result = Ok(());
    walk(from, &mut |p, meta| {
        let rel = p.strip_prefix(from).expect("under root");
        if keep(rel) {
            if meta.is_dir() {
                fs::create_dir_all(to.join(rel))?;
            } else if result.is_ok() {
                result = copy(p, &to.join(rel));
            }
        }
        Ok(())
    })?;
    result
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    write_bytes(path, text.as_bytes())
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
