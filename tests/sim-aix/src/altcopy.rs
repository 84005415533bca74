//! `alt_disk_copy`: clone the running rootvg to alternate disks, in three phases.
//!
//! - phase 1: checks the target disks, creates `altinst_rootvg` (varied on, its
//!   file systems "mounted" under /alt_inst), builds the backup list of the rootvg
//!   tree (`./path` lines), drops the lines an exclude list's grep patterns match,
//!   and copies the rest into the target's tree (taking the configured copy time);
//! - phase 2: installp operations (`-l` with `-b/-f/-F/-w`), ODM and boot image,
//!   `-R`, `-n`, `-x` files, then the customization script `-s`, run with
//!   `$DOPPEL_SIM_ALT_INST` pointing at the target tree (the real /alt_inst);
//! - phase 3: unmounts, puts altinst_rootvg to sleep (varied off) and sets the
//!   normal bootlist to the first target disk unless `-B`; reboots with `-r`.
//!
//! The library entry points ([`CopyOptions`], [`run`]) are reusable by other AIX
//! simulators (nimadm runs phases 1 and 3 on a client machine).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use doppel_sim::common::{SimError, SimResult, clock, err, out};

use crate::getopt::getopt;
use crate::machine::{ALTINST, AltInfo, BootEntry, Busy, MachineDir, ROOTVG, VolumeGroup};
use crate::tree::{ExcludeList, backup_list, copy_listed};

/// Environment variable the customization script gets: the target's tree (/alt_inst).
pub const ALT_INST_ENV: &str = "DOPPEL_SIM_ALT_INST";

pub const USAGE: &str = "Usage: alt_disk_copy -d <target disks...>
        [-i <image.data>] [-s <script>] [-b <bundle>] [-I <installp flags>]
        [-l <images location>] [-f <fix bundle>] [-F <fixes>] [-e <exclude list>]
        [-w <filesets>] [-n] [-P <phase option>] [-c <console>]
        [-x <first boot script>] [-R <resolv.conf>] [-DBOVgrTS] [-u]
";

/// getopt spec: the documented flags, plus `-z` (seen in smit-generated command
/// lines, value ignored) and `-M` (the level nimadm passes, value ignored).
const SPEC: &str = "d:i:s:b:I:l:f:F:e:w:nP:c:x:R:DBOVgrTSuz:M:";

/// Logical volumes phase 1 creates (with the `alt_` prefix).
pub const LVS: &[&str] = &[
    "hd5",
    "hd6",
    "hd8",
    "hd4",
    "hd2",
    "hd9var",
    "hd3",
    "hd1",
    "hd10opt",
    "hd11admin",
    "lg_dumplv",
    "livedump",
];
/// File systems phase 1 creates under /alt_inst.
pub const FILE_SYSTEMS: &[&str] = &[
    "/",
    "/admin",
    "/home",
    "/opt",
    "/tmp",
    "/usr",
    "/var",
    "/var/adm/ras/livedump",
];

/// What an alt_disk_copy invocation asks for.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CopyOptions {
    pub targets: Vec<String>,
    pub phases: Vec<u8>,
    pub image_data: Option<String>,
    pub script: Option<String>,
    pub bundle: Option<String>,
    pub installp_flags: Option<String>,
    pub images: Option<String>,
    pub fix_bundle: Option<String>,
    pub fixes: Option<String>,
    pub exclude: Option<String>,
    pub filesets: Option<String>,
    pub console: Option<String>,
    pub first_boot: Option<String>,
    pub resolv_conf: Option<String>,
    pub nim_client: bool,
    pub debug: bool,
    pub no_bootlist: bool,
    pub device_reset: bool,
    pub verbose: bool,
    pub skip_boot_check: bool,
    pub reboot: bool,
    pub jfs2: bool,
    pub skip_space_check: bool,
    pub wpar: bool,
}

fn fail(code: &str, text: impl std::fmt::Display) -> SimError {
    SimError::new(1, format!("{code} alt_disk_copy: {text}"))
}

fn install_fail(code: &str, text: impl std::fmt::Display) -> SimError {
    SimError::new(1, format!("{code} alt_disk_install: {text}"))
}

/// Parses `-P`: 1, 2, 3, 12, 23, all (and 123).
pub fn parse_phases(text: &str) -> Option<Vec<u8>> {
    Some(match text {
        "1" => vec![1],
        "2" => vec![2],
        "3" => vec![3],
        "12" => vec![1, 2],
        "23" => vec![2, 3],
        "all" | "123" => vec![1, 2, 3],
        _ => return None,
    })
}

impl CopyOptions {
    /// Parses the command line.
    pub fn parse(args: &[String]) -> SimResult<CopyOptions> {
        let o = getopt(args, SPEC, false)
            .map_err(|e| SimError::new(1, format!("alt_disk_copy: {e}\n{USAGE}")))?;
        if !o.operands.is_empty() {
            return Err(SimError::new(
                1,
                format!(
                    "alt_disk_copy: unexpected argument '{}'\n{USAGE}",
                    o.operands[0]
                ),
            ));
        }
        let s = |c: char| o.value(c).map(str::to_owned);
        let phases = match o.value('P') {
            None => vec![1, 2, 3],
            Some(p) => parse_phases(p).ok_or_else(|| {
                fail(
                    "0505-120",
                    format!("Invalid phase option {p}. Valid values are 1, 2, 3, 12, 23 or all."),
                )
            })?,
        };
        let targets: Vec<String> = o
            .value('d')
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Ok(CopyOptions {
            targets,
            phases,
            image_data: s('i'),
            script: s('s'),
            bundle: s('b'),
            installp_flags: s('I'),
            images: s('l'),
            fix_bundle: s('f'),
            fixes: s('F'),
            exclude: s('e'),
            filesets: s('w'),
            console: s('c'),
            first_boot: s('x'),
            resolv_conf: s('R'),
            nim_client: o.has('n'),
            debug: o.has('D'),
            no_bootlist: o.has('B'),
            device_reset: o.has('O'),
            verbose: o.has('V'),
            skip_boot_check: o.has('g'),
            reboot: o.has('r'),
            jfs2: o.has('T'),
            skip_space_check: o.has('S'),
            wpar: o.has('u'),
        })
    }

    fn runs(&self, phase: u8) -> bool {
        self.phases.contains(&phase)
    }

    /// The rules between flags and the files they name (no machine state needed).
    pub fn check(&self) -> SimResult<()> {
        if self.targets.is_empty() {
            return Err(fail(
                "0505-113",
                format!("The -d flag (target disks) is required.\n{USAGE}"),
            ));
        }
        for (i, t) in self.targets.iter().enumerate() {
            if self.targets[..i].contains(t) {
                return Err(fail(
                    "0505-112",
                    format!("{t} is listed twice in the -d target disk list."),
                ));
            }
        }
        if self.reboot && self.no_bootlist {
            return Err(fail(
                "0505-114",
                "The -r flag cannot be used with the -B flag.",
            ));
        }
        let needs_images = [
            ('b', &self.bundle),
            ('f', &self.fix_bundle),
            ('F', &self.fixes),
            ('w', &self.filesets),
            ('I', &self.installp_flags),
        ];
        for (flag, v) in needs_images {
            if v.is_some() && self.images.is_none() {
                return Err(fail(
                    "0505-115",
                    format!("The -l flag must be used with the -{flag} flag."),
                ));
            }
        }
        if self.console.is_some() && !self.device_reset {
            return Err(fail(
                "0505-116",
                "The -c flag is only valid with the -O flag.",
            ));
        }
        for (flag, v) in [
            ('e', &self.exclude),
            ('i', &self.image_data),
            ('R', &self.resolv_conf),
        ] {
            if let Some(p) = v {
                if !p.starts_with('/') {
                    return Err(fail(
                        "0505-117",
                        format!("{p} (-{flag}) must be a full path name."),
                    ));
                }
                if !Path::new(p).is_file() {
                    return Err(fail(
                        "0505-118",
                        format!("Cannot open {p} (-{flag}): No such file or directory."),
                    ));
                }
            }
        }
        for (flag, v) in [('s', &self.script), ('x', &self.first_boot)] {
            if let Some(p) = v {
                let meta = std::fs::metadata(p).map_err(|_| {
                    fail(
                        "0505-118",
                        format!("Cannot open {p} (-{flag}): No such file or directory."),
                    )
                })?;
                if flag == 's' && (!meta.is_file() || meta.permissions().mode() & 0o111 == 0) {
                    return Err(fail(
                        "0505-119",
                        format!("The customization script {p} is not executable."),
                    ));
                }
            }
        }
        if let Some(l) = &self.images
            && !l.starts_with("/dev/")
            && !Path::new(l).is_dir()
        {
            return Err(fail(
                "0505-118",
                format!("Cannot open the images location {l}: No such file or directory."),
            ));
        }
        Ok(())
    }
}

/// Where the output of a run goes (stdout for the tool; nimadm may prefix it).
pub type Printer<'a> = &'a dyn Fn(&str);

fn say(p: Printer<'_>, line: &str) {
    p(&format!("{line}\n"));
}

/// Runs the phases of `o` on the machine in `dir`.
pub fn run(dir: &MachineDir, o: &CopyOptions, p: Printer<'_>) -> SimResult<()> {
    o.check()?;
    let exclude = match (&o.exclude, o.runs(1)) {
        (Some(path), true) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| fail("0505-118", format!("Cannot open {path} (-e): {e}.")))?;
            ExcludeList::parse(&text).map_err(|e| {
                fail(
                    "0505-130",
                    format!("Invalid pattern in the exclude list {path}, {e}"),
                )
            })?
        }
        _ => ExcludeList::empty(),
    };
    // Checks against the machine, and the operation lock.
    let (needed, have, not_bootable) = dir.with(|m| {
        if let Some(b) = m.busy_live() {
            return Err(install_fail(
                "0505-126",
                format!("Another alternate disk operation is in progress ({}, pid {}).", b.tool, b.pid),
            ));
        }
        for t in &o.targets {
            if m.disk(t).is_none() {
                return Err(install_fail("0505-121", format!("{t} is not a physical volume of this system (see lspv).")));
            }
        }
        if o.runs(1) {
            for t in &o.targets {
                if let Some(vg) = m.vg_of(t) {
                    let hint = if vg.name == ALTINST {
                        "\nRemove the existing alternate rootvg with alt_rootvg_op -X altinst_rootvg.".to_owned()
                    } else {
                        "\nTarget disks must not contain a volume group definition (lspv shows them in volume group None).".to_owned()
                    };
                    return Err(install_fail("0505-122", format!("{t} belongs to volume group {}.{hint}", vg.name)));
                }
            }
            if let Some(vg) = m.vg(ALTINST) {
                return Err(install_fail(
                    "0505-123",
                    format!(
                        "Volume group altinst_rootvg already exists on {}.\nRemove it with alt_rootvg_op -X altinst_rootvg.",
                        vg.disks.join(" ")
                    ),
                ));
            }
        } else {
            let vg = m.vg(ALTINST).ok_or_else(|| {
                install_fail("0505-127", format!("{} is not in volume group altinst_rootvg: run phase 1 first.", o.targets[0]))
            })?;
            for t in &o.targets {
                if !vg.disks.contains(t) {
                    return Err(install_fail(
                        "0505-127",
                        format!("{t} is not in volume group altinst_rootvg ({}): run phase 1 first.", vg.disks.join(" ")),
                    ));
                }
            }
            if let Some(d) = vg.disks.iter().find(|d| !o.targets.contains(d)) {
                return Err(install_fail("0505-127", format!("altinst_rootvg also holds {d}: name every disk of it with -d.")));
            }
            if !vg.alt.as_ref().is_some_and(|a| a.mounted) {
                return Err(install_fail(
                    "0505-128",
                    format!(
                        "altinst_rootvg is not in the post phase 1 state (its file systems are not mounted under /alt_inst).\nWake it up first: alt_rootvg_op -W -d {}",
                        vg.disks[0]
                    ),
                ));
            }
        }
        let needed = m.rootvg().map(|v| v.used_mb).unwrap_or(0);
        let have: u64 = o.targets.iter().filter_map(|t| m.disk(t)).map(|d| d.size_mb).sum();
        let not_bootable: Vec<String> = o.targets.iter().filter(|t| m.disk(t).is_some_and(|d| !d.bootable)).cloned().collect();
        m.busy = Some(Busy { pid: std::process::id(), tool: "alt_disk_copy".into(), since: clock::now() });
        Ok((needed, have, not_bootable))
    })?;
    let mut created = false;
    let result = run_phases(
        dir,
        o,
        p,
        &exclude,
        needed,
        have,
        &not_bootable,
        &mut created,
    );
    let cleanup = dir.with(|m| {
        m.busy = None;
        if result.is_err() && created && m.vg(ALTINST).is_some() {
            m.remove_vg(ALTINST, dir)?;
        }
        Ok(())
    });
    if result.is_err() && created {
        say(p, "Cleaning up.");
    }
    result?;
    cleanup
}

#[allow(clippy::too_many_arguments)]
fn run_phases(
    dir: &MachineDir,
    o: &CopyOptions,
    p: Printer<'_>,
    exclude: &ExcludeList,
    needed: u64,
    have: u64,
    not_bootable: &[String],
    created: &mut bool,
) -> SimResult<()> {
    let fault = |phase: u8| -> SimResult<()> {
        let kind = format!("phase{phase}");
        let fired = dir.with(|m| Ok(m.take_fault(&kind, &o.targets)))?;
        match fired {
            Some(f) => Err(SimError::new(
                f.rc.unwrap_or(1),
                f.message.unwrap_or_else(|| {
                    format!("0505-150 alt_disk_install: Phase {phase} failed (injected fault).")
                }),
            )),
            None => Ok(()),
        }
    };
    if o.runs(1) {
        match &o.image_data {
            Some(i) => say(p, &format!("Using the image.data file {i}.")),
            None => say(p, "Calling mkszfile to create new /image.data file."),
        }
        say(p, "Checking disk sizes.");
        if !o.skip_space_check && have < needed {
            return Err(install_fail(
                "0505-124",
                format!(
                    "The target disk(s) {} are too small: {have} megabytes, the rootvg needs {needed} megabytes.",
                    o.targets.join(" ")
                ),
            ));
        }
        if !o.skip_boot_check
            && let Some(d) = not_bootable.first()
        {
            return Err(install_fail(
                "0505-125",
                format!("{d} is not bootable (-g skips the bootability check)."),
            ));
        }
        dir.with(|m| {
            let level = m.level().to_owned();
            m.vgs.push(VolumeGroup {
                name: ALTINST.into(),
                disks: o.targets.clone(),
                varied_on: true,
                used_mb: needed,
                level,
                alt: Some(AltInfo {
                    mounted: true,
                    jfs2: o.jfs2,
                    image_data: o.image_data.clone(),
                    ..AltInfo::default()
                }),
            });
            Ok(())
        })?;
        *created = true;
        say(
            p,
            "Creating cloned rootvg volume group and associated logical volumes.",
        );
        for lv in LVS {
            say(p, &format!("Creating logical volume alt_{lv}."));
        }
        for fs in FILE_SYSTEMS {
            say(
                p,
                &format!(
                    "Creating /alt_inst{} file system",
                    if *fs == "/" { "/" } else { fs }
                ),
            );
        }
        if o.jfs2 {
            say(p, "Converting JFS file systems to JFS2 file systems.");
        }
        say(p, "Generating a list of files");
        say(
            p,
            "for backup and restore into the alternate file system...",
        );
        let src = dir.tree(ROOTVG);
        let list = backup_list(&src)
            .map_err(|e| install_fail("0505-140", format!("Cannot list {}: {e}", src.display())))?;
        let (kept, _excluded) = exclude.apply(list);
        let mut text = kept.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        std::fs::write(dir.backup_list(), &text)
            .map_err(|e| install_fail("0505-140", format!("Cannot write the backup list: {e}")))?;
        if o.verbose {
            p(&text);
        }
        say(p, "Backing-up the rootvg files and restoring them to the");
        say(p, "alternate file system...");
        let seconds = dir.with(|m| Ok(m.settings.copy_seconds))?;
        clock::sleep(seconds);
        copy_listed(&src, &dir.tree(ALTINST), &kept).map_err(|e| {
            install_fail(
                "0505-141",
                format!("Restore to the alternate file system failed: {e}"),
            )
        })?;
        fault(1)?;
        dir.with(|m| {
            if let Some(a) = m.vg_mut(ALTINST).and_then(|v| v.alt.as_mut()) {
                a.mark(1);
                a.created = clock::now();
            }
            Ok(())
        })?;
    }
    if o.runs(2) {
        phase2(dir, ALTINST, o, p)?;
        fault(2)?;
        dir.with(|m| {
            if let Some(a) = m.vg_mut(ALTINST).and_then(|v| v.alt.as_mut()) {
                a.mark(2);
                a.bootable = true;
            }
            Ok(())
        })?;
    }
    if o.runs(3) {
        for fs in FILE_SYSTEMS.iter().rev() {
            let path = if *fs == "/" {
                "/alt_inst".to_owned()
            } else {
                format!("/alt_inst{fs}")
            };
            say(p, &format!("forced unmount of {path}"));
            say(p, &format!("forced unmount of {path}"));
        }
        say(
            p,
            "Changing logical volume names in volume group descriptor area.",
        );
        say(p, "Fixing LV control blocks...");
        say(p, "Fixing file system superblocks...");
        fault(3)?;
        let rebooted = dir.with(|m| {
            if let Some(vg) = m.vg_mut(ALTINST) {
                vg.varied_on = false;
                if let Some(a) = vg.alt.as_mut() {
                    a.mounted = false;
                    a.mark(3);
                }
            }
            if !o.no_bootlist {
                m.normal = vec![BootEntry::disk(&o.targets[0])];
            }
            if o.reboot {
                m.reboot(dir).map(Some)
            } else {
                Ok(None)
            }
        });
        if !o.no_bootlist {
            say(
                p,
                &format!("Bootlist is set to the boot disk: {} blv=hd5", o.targets[0]),
            );
        }
        if let Some(what) = rebooted? {
            say(p, &format!("Rebooting... ({what})"));
        }
    }
    Ok(())
}

/// The customizations of phase 2 (also used by `alt_rootvg_op -C` on a woken group).
pub fn phase2(dir: &MachineDir, vg_name: &str, o: &CopyOptions, p: Printer<'_>) -> SimResult<()> {
    let tree = dir.tree(vg_name);
    let mut installed = Vec::new();
    if let Some(l) = &o.images {
        let flags = o.installp_flags.as_deref().unwrap_or("-acgX");
        for (what, v) in [
            ("bundle", &o.bundle),
            ("fix bundle", &o.fix_bundle),
            ("fixes", &o.fixes),
            ("filesets", &o.filesets),
        ] {
            if let Some(v) = v {
                say(
                    p,
                    &format!(
                        "Installing {what} {v} from {l} into the alternate rootvg (installp {flags})."
                    ),
                );
                installed.push(format!("{what}: {v}"));
            }
        }
    }
    say(p, "Modifying ODM on cloned disk.");
    say(p, "Building boot image on cloned disk.");
    if o.device_reset {
        say(p, "Resetting all device attributes.");
        say(
            p,
            "NOTE: The first boot of the cloned disk may take several minutes.",
        );
    }
    let io = |what: &str, e: std::io::Error| {
        install_fail("0505-142", format!("Cannot copy {what}: {e}"))
    };
    if let Some(r) = &o.resolv_conf {
        std::fs::create_dir_all(tree.join("etc")).map_err(|e| io("resolv.conf", e))?;
        std::fs::copy(r, tree.join("etc/resolv.conf")).map_err(|e| io(r, e))?;
    }
    if o.nim_client {
        let root = dir.tree(ROOTVG);
        for f in [".rhosts", "etc/niminfo"] {
            if root.join(f).is_file() {
                if let Some(parent) = tree.join(f).parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io(f, e))?;
                }
                std::fs::copy(root.join(f), tree.join(f)).map_err(|e| io(f, e))?;
            }
        }
    }
    if let Some(x) = &o.first_boot {
        std::fs::create_dir_all(tree.join("etc")).map_err(|e| io("the first boot script", e))?;
        std::fs::copy(x, tree.join("etc/firstboot")).map_err(|e| io(x, e))?;
    }
    dir.with(|m| {
        if let Some(a) = m.vg_mut(vg_name).and_then(|v| v.alt.as_mut()) {
            a.installed.extend(installed);
            a.device_reset |= o.device_reset;
            a.nim_client |= o.nim_client;
            if o.console.is_some() {
                a.console = o.console.clone();
            }
            if o.first_boot.is_some() {
                a.first_boot_script = o.first_boot.clone();
            }
        }
        Ok(())
    })?;
    if let Some(s) = &o.script {
        let status = std::process::Command::new(s)
            .env(ALT_INST_ENV, &tree)
            .stdin(std::process::Stdio::null())
            .status()
            .map_err(|e| {
                install_fail(
                    "0505-129",
                    format!("Cannot run the customization script {s}: {e}."),
                )
            })?;
        if !status.success() {
            let code = status
                .code()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "killed".into());
            return Err(install_fail(
                "0505-129",
                format!("The customization script {s} failed (exit code {code})."),
            ));
        }
    }
    Ok(())
}

pub fn main(args: Vec<String>) -> i32 {
    let result = CopyOptions::parse(&args).and_then(|o| {
        let dir = MachineDir::open()?;
        run(&dir, &o, &out)
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            err(&format!("{}\n", e.message.trim_end()));
            e.code
        }
    }
}
