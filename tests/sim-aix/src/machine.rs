//! The simulated AIX machine: a disk table, volume groups, the bootlists, the
//! simulator settings and armed faults (one JSON file), plus one file tree per
//! volume group.
//!
//! ```text
//! $DOPPEL_SIM_ROOT/aix/                 the local machine
//!   .lock                               flock(2): every command holds it while it reads and writes
//!   machine.json                        disks, volume groups, bootlists, settings, faults
//!   vg/<vgname>/                        the file tree of a volume group (rootvg: the running system)
//!   backup.list                         the file list of the last alt_disk_copy phase 1
//!   hosts/<host>/                       other machines, same layout ($DOPPEL_SIM_AIX_HOST, aixsim --host)
//! ```
//!
//! The model is shared by every AIX simulator: a NIM simulator keeps one
//! [`MachineDir`] per client ([`MachineDir::for_host`]) and drives the alt_disk
//! phases of [`crate::altcopy`] on it.

use std::fs;
use std::path::{Path, PathBuf};

use doppel_sim::common::faults::{Fault, FaultSet};
use doppel_sim::common::{
    LockError, SimError, SimResult, StateDir, clock, read_json, sim_root, to_json, write_atomic,
};
use serde::{Deserialize, Serialize};

/// Directory of the AIX family under `$DOPPEL_SIM_ROOT`.
pub const FAMILY: &str = "aix";
/// Environment variable selecting another simulated machine (`hosts/<name>`).
pub const HOST_ENV: &str = "DOPPEL_SIM_AIX_HOST";
/// The running system's volume group.
pub const ROOTVG: &str = "rootvg";
/// The volume group alt_disk_copy creates.
pub const ALTINST: &str = "altinst_rootvg";
/// The former rootvg after booting an alternate disk.
pub const OLD_ROOTVG: &str = "old_rootvg";
/// The oslevel of a new machine.
pub const DEFAULT_LEVEL: &str = "7200-05-03-2148";
/// Size of a new machine's disks, in MB.
pub const DEFAULT_DISK_MB: u64 = 30720;
/// Space used in a new machine's rootvg, in MB.
pub const DEFAULT_USED_MB: u64 = 6144;
/// Physical partition size shown by `lspv <disk>`.
pub const PP_MB: u64 = 64;

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// One physical volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disk {
    pub name: String,
    /// `None`: lspv shows `none`.
    #[serde(default)]
    pub pvid: Option<String>,
    pub size_mb: u64,
    /// Number of paths (MPIO): `bootlist -o` prints one line per path.
    #[serde(default = "one")]
    pub paths: u32,
    /// False: alt_disk_copy refuses the disk unless `-g`.
    #[serde(default = "yes")]
    pub bootable: bool,
}

/// What alt_disk_copy knows about an alternate rootvg (altinst_rootvg, or the
/// old_rootvg left by a boot from the clone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AltInfo {
    /// Phases completed (1, 2, 3).
    #[serde(default)]
    pub phases: Vec<u8>,
    /// The file systems are mounted under /alt_inst (post phase 1, or woken up).
    #[serde(default)]
    pub mounted: bool,
    /// When the phase 1 copy completed (simulated clock, seconds since the epoch).
    #[serde(default)]
    pub created: f64,
    /// A boot image was built (phase 2).
    #[serde(default)]
    pub bootable: bool,
    #[serde(default)]
    pub jfs2: bool,
    #[serde(default)]
    pub device_reset: bool,
    #[serde(default)]
    pub nim_client: bool,
    #[serde(default)]
    pub console: Option<String>,
    #[serde(default)]
    pub image_data: Option<String>,
    #[serde(default)]
    pub first_boot_script: Option<String>,
    /// installp operations applied in phase 2 (`-b`, `-f`, `-F`, `-w` with `-l`).
    #[serde(default)]
    pub installed: Vec<String>,
}

impl AltInfo {
    pub fn done(&self, phase: u8) -> bool {
        self.phases.contains(&phase)
    }

    pub fn mark(&mut self, phase: u8) {
        if !self.done(phase) {
            self.phases.push(phase);
            self.phases.sort_unstable();
        }
    }
}

/// One volume group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeGroup {
    pub name: String,
    /// Member disks; the first one is the boot disk.
    pub disks: Vec<String>,
    /// Varied on: lspv shows `active`.
    pub varied_on: bool,
    /// Space the volume group's logical volumes use (what a clone needs), MB.
    #[serde(default)]
    pub used_mb: u64,
    /// oslevel of the system on it (rootvg-like groups).
    #[serde(default)]
    pub level: String,
    /// Set for alternate rootvgs.
    #[serde(default)]
    pub alt: Option<AltInfo>,
}

/// One bootlist entry: a device and its `attr=value` pairs (`blv=hd5`, `pathid=0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootEntry {
    pub device: String,
    #[serde(default)]
    pub attrs: Vec<String>,
}

impl BootEntry {
    pub fn disk(name: &str) -> BootEntry {
        BootEntry {
            device: name.to_owned(),
            attrs: vec!["blv=hd5".into()],
        }
    }

    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find_map(|a| a.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }
}

/// An alt_disk operation in progress (the real tool's lock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Busy {
    pub pid: u32,
    pub tool: String,
    pub since: f64,
}

impl Busy {
    /// True while the process that set it is alive.
    pub fn alive(&self) -> bool {
        if self.pid == std::process::id() {
            return true;
        }
        // SAFETY: kill with signal 0 only checks that the process exists.
        let r = unsafe { libc::kill(self.pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
}

fn default_copy_seconds() -> f64 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Simulated duration of the phase 1 copy (scaled by `$DOPPEL_SIM_TIME_SCALE`).
    #[serde(default = "default_copy_seconds")]
    pub copy_seconds: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            copy_seconds: default_copy_seconds(),
        }
    }
}

/// The whole machine state (`machine.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    #[serde(default)]
    pub disks: Vec<Disk>,
    #[serde(default)]
    pub vgs: Vec<VolumeGroup>,
    /// `bootlist -m normal`.
    #[serde(default)]
    pub normal: Vec<BootEntry>,
    /// `bootlist -m service`.
    #[serde(default)]
    pub service: Vec<BootEntry>,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub faults: FaultSet,
    #[serde(default)]
    pub busy: Option<Busy>,
    /// How many times the machine rebooted.
    #[serde(default)]
    pub boots: u32,
}

/// A PVID derived from the disk name (stable across runs, so outputs are reproducible).
pub fn pvid_for(name: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("00f6db0a{h:08x}")
}

/// `hdisk2` before `hdisk10`.
pub fn natural_key(name: &str) -> (String, u64, String) {
    let digits_at = name
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(name.len());
    let (prefix, rest) = name.split_at(digits_at);
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let n = rest[..end].parse::<u64>().unwrap_or(0);
    (prefix.to_owned(), n, rest[end..].to_owned())
}

/// Parses `30g`, `512m`, `1t`, or bare megabytes.
pub fn parse_size_mb(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 0),
        'm' => (&t[..t.len() - 1], 1),
        'g' => (&t[..t.len() - 1], 1024),
        't' => (&t[..t.len() - 1], 1024 * 1024),
        _ => (t, 1),
    };
    let n: u64 = num.trim().parse().ok()?;
    if mult == 0 {
        Some(n.div_ceil(1024))
    } else {
        n.checked_mul(mult)
    }
}

impl Machine {
    /// A new machine: hdisk0 in rootvg (booted), hdisk1 and hdisk2 free.
    pub fn new_default() -> Machine {
        let mut m = Machine::default();
        for name in ["hdisk0", "hdisk1", "hdisk2"] {
            m.disks.push(Disk {
                name: name.into(),
                pvid: Some(pvid_for(name)),
                size_mb: DEFAULT_DISK_MB,
                paths: 1,
                bootable: true,
            });
        }
        m.vgs.push(VolumeGroup {
            name: ROOTVG.into(),
            disks: vec!["hdisk0".into()],
            varied_on: true,
            used_mb: DEFAULT_USED_MB,
            level: DEFAULT_LEVEL.into(),
            alt: None,
        });
        m.normal = vec![BootEntry::disk("hdisk0")];
        m
    }

    pub fn disk(&self, name: &str) -> Option<&Disk> {
        self.disks.iter().find(|d| d.name == name)
    }

    pub fn disk_mut(&mut self, name: &str) -> Option<&mut Disk> {
        self.disks.iter_mut().find(|d| d.name == name)
    }

    pub fn vg(&self, name: &str) -> Option<&VolumeGroup> {
        self.vgs.iter().find(|v| v.name == name)
    }

    pub fn vg_mut(&mut self, name: &str) -> Option<&mut VolumeGroup> {
        self.vgs.iter_mut().find(|v| v.name == name)
    }

    /// The volume group `disk` belongs to.
    pub fn vg_of(&self, disk: &str) -> Option<&VolumeGroup> {
        self.vgs.iter().find(|v| v.disks.iter().any(|d| d == disk))
    }

    pub fn rootvg(&self) -> Option<&VolumeGroup> {
        self.vg(ROOTVG)
    }

    /// The running system's level.
    pub fn level(&self) -> &str {
        self.rootvg()
            .map(|v| v.level.as_str())
            .filter(|l| !l.is_empty())
            .unwrap_or(DEFAULT_LEVEL)
    }

    /// Disks in natural order.
    pub fn sorted_disks(&self) -> Vec<&Disk> {
        let mut v: Vec<&Disk> = self.disks.iter().collect();
        v.sort_by_key(|d| natural_key(&d.name));
        v
    }

    /// The operation in progress, if its process still runs.
    pub fn busy_live(&self) -> Option<&Busy> {
        self.busy.as_ref().filter(|b| b.alive())
    }

    /// The alternate volume group whose file systems are mounted (awake), if any.
    pub fn awake(&self) -> Option<&VolumeGroup> {
        self.vgs
            .iter()
            .find(|v| v.alt.as_ref().is_some_and(|a| a.mounted))
    }

    /// Fires an armed fault of `kind` (consuming one count) touching `objects`.
    pub fn take_fault(&mut self, kind: &str, objects: &[String]) -> Option<Fault> {
        self.faults
            .take(kind, |f| f.touches(objects, |a, b| a == b))
    }

    /// Removes volume group `name` (its disks become free) and its file tree.
    pub fn remove_vg(&mut self, name: &str, dir: &MachineDir) -> SimResult<VolumeGroup> {
        let idx = self
            .vgs
            .iter()
            .position(|v| v.name == name)
            .ok_or_else(|| SimError::new(1, format!("volume group {name} does not exist")))?;
        let vg = self.vgs.remove(idx);
        dir.remove_tree(name)?;
        Ok(vg)
    }

    /// Renames a volume group and moves its tree.
    pub fn rename_vg(&mut self, old: &str, new: &str, dir: &MachineDir) -> SimResult<()> {
        if self.vg(new).is_some() {
            return Err(SimError::new(
                1,
                format!("volume group {new} already exists"),
            ));
        }
        let vg = self
            .vg_mut(old)
            .ok_or_else(|| SimError::new(1, format!("volume group {old} does not exist")))?;
        vg.name = new.to_owned();
        dir.rename_tree(old, new)
    }

    /// Boots from the first disk of the normal bootlist. The booted volume group
    /// becomes rootvg; the former rootvg becomes old_rootvg. Returns what happened.
    pub fn reboot(&mut self, dir: &MachineDir) -> SimResult<String> {
        let entry = self
            .normal
            .iter()
            .find(|e| self.disk(&e.device).is_some())
            .cloned()
            .ok_or_else(|| {
                SimError::new(
                    1,
                    "no disk in the normal bootlist: the machine would not boot",
                )
            })?;
        let disk = entry.device;
        let vg = self.vg_of(&disk).cloned().ok_or_else(|| {
            SimError::new(
                1,
                format!("{disk} holds no volume group: the machine would not boot"),
            )
        })?;
        self.boots += 1;
        if vg.name == ROOTVG {
            if let Some(a) = self
                .vgs
                .iter_mut()
                .filter_map(|v| v.alt.as_mut())
                .find(|a| a.mounted)
            {
                a.mounted = false;
            }
            for v in self.vgs.iter_mut().filter(|v| v.name != ROOTVG) {
                v.varied_on = false;
            }
            return Ok(format!("rebooted from {disk} (rootvg)"));
        }
        let alt = vg.alt.clone().unwrap_or_default();
        let bootable = vg.name == OLD_ROOTVG || (alt.done(3) && alt.bootable);
        if !bootable {
            self.boots -= 1;
            return Err(SimError::new(
                1,
                format!(
                    "{disk} is not bootable: {} is incomplete (phases done: {:?})",
                    vg.name, alt.phases
                ),
            ));
        }
        if vg.name != OLD_ROOTVG && self.vg(OLD_ROOTVG).is_some() {
            self.boots -= 1;
            return Err(SimError::new(
                1,
                "old_rootvg exists: remove it (alt_rootvg_op -X old_rootvg) before booting another alternate rootvg",
            ));
        }
        let level = self.level().to_owned();
        // The running rootvg becomes the old one.
        let booted = vg.name.clone();
        let tmp = "__booting";
        self.rename_vg(&booted, tmp, dir)?;
        self.rename_vg(ROOTVG, OLD_ROOTVG, dir)?;
        self.rename_vg(tmp, ROOTVG, dir)?;
        if let Some(old) = self.vg_mut(OLD_ROOTVG) {
            old.varied_on = false;
            old.alt = Some(AltInfo {
                phases: vec![1, 2, 3],
                bootable: true,
                created: clock::now(),
                ..AltInfo::default()
            });
            if old.level.is_empty() {
                old.level = level.clone();
            }
        }
        if let Some(root) = self.vg_mut(ROOTVG) {
            root.varied_on = true;
            root.alt = None;
            if root.level.is_empty() {
                root.level = level;
            }
        }
        for v in self.vgs.iter_mut().filter(|v| v.name != ROOTVG) {
            if let Some(a) = v.alt.as_mut() {
                a.mounted = false;
            }
            if v.alt.is_some() {
                v.varied_on = false;
            }
        }
        Ok(format!(
            "rebooted from {disk}: {booted} is now rootvg, the former rootvg is old_rootvg"
        ))
    }
}

/// Where one simulated machine lives.
#[derive(Debug, Clone)]
pub struct MachineDir {
    state: StateDir,
}

fn lock_error(e: LockError) -> SimError {
    match e {
        LockError::Timeout(d) => SimError::new(
            1,
            format!(
                "the AIX simulator state is locked by another command (waited {:.0}s)",
                d.as_secs_f64()
            ),
        ),
        LockError::Io(e) => SimError::new(1, format!("cannot lock the AIX simulator state: {e}")),
    }
}

impl MachineDir {
    /// The machine `$DOPPEL_SIM_AIX_HOST` names, or the local one.
    pub fn open() -> SimResult<MachineDir> {
        let host = std::env::var(HOST_ENV)
            .ok()
            .filter(|h| !h.trim().is_empty());
        MachineDir::for_host(host.as_deref())
    }

    /// `$DOPPEL_SIM_ROOT/aix` (`None`) or `$DOPPEL_SIM_ROOT/aix/hosts/<host>`.
    pub fn for_host(host: Option<&str>) -> SimResult<MachineDir> {
        let base = sim_root()?.join(FAMILY);
        let path = match host {
            None => base,
            Some(h) => {
                if h.is_empty()
                    || !h
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                    || h.starts_with('.')
                {
                    return Err(SimError::new(
                        1,
                        format!("invalid simulated host name {h:?}"),
                    ));
                }
                base.join("hosts").join(h)
            }
        };
        MachineDir::at(path)
    }

    /// An explicit directory.
    pub fn at(path: PathBuf) -> SimResult<MachineDir> {
        Ok(MachineDir {
            state: StateDir::at(path)?,
        })
    }

    pub fn path(&self) -> &Path {
        self.state.path()
    }

    fn file(&self) -> PathBuf {
        self.state.join("machine.json")
    }

    /// The file tree of volume group `vg`.
    pub fn tree(&self, vg: &str) -> PathBuf {
        self.state.join("vg").join(vg)
    }

    /// Where phase 1 writes its file list.
    pub fn backup_list(&self) -> PathBuf {
        self.state.join("backup.list")
    }

    pub fn remove_tree(&self, vg: &str) -> SimResult<()> {
        let t = self.tree(vg);
        match fs::remove_dir_all(&t) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SimError::new(
                1,
                format!("cannot remove {}: {e}", t.display()),
            )),
        }
    }

    pub fn rename_tree(&self, old: &str, new: &str) -> SimResult<()> {
        let (from, to) = (self.tree(old), self.tree(new));
        if !from.exists() {
            return Ok(());
        }
        self.remove_tree(new)?;
        fs::rename(&from, &to).map_err(|e| {
            SimError::new(
                1,
                format!("cannot rename {} to {}: {e}", from.display(), to.display()),
            )
        })
    }

    /// Loads the machine; a missing file gives a new default machine (written,
    /// with a sample rootvg tree).
    fn load_unlocked(&self) -> SimResult<(Machine, Option<String>)> {
        let (m, raw): (Machine, Option<String>) = read_json(&self.file())?;
        if raw.is_none() {
            let m = Machine::new_default();
            crate::tree::populate_sample(&self.tree(ROOTVG))?;
            return Ok((m, None));
        }
        Ok((m, raw))
    }

    fn save_unlocked(&self, m: &Machine, raw: Option<&str>) -> SimResult<()> {
        let text = to_json(m);
        if raw == Some(text.as_str()) {
            return Ok(());
        }
        write_atomic(&self.file(), text.as_bytes())
            .map_err(|e| SimError::new(1, format!("cannot write {}: {e}", self.file().display())))
    }

    /// Runs `f` on the machine under the lock and saves what changed (also when
    /// `f` fails: a failure may leave state behind, as the real tools do).
    pub fn with<T>(&self, f: impl FnOnce(&mut Machine) -> SimResult<T>) -> SimResult<T> {
        let _lock = self.state.lock().map_err(lock_error)?;
        let (mut m, raw) = self.load_unlocked()?;
        let result = f(&mut m);
        self.save_unlocked(&m, raw.as_deref())?;
        result
    }

    /// A snapshot of the machine.
    pub fn load(&self) -> SimResult<Machine> {
        self.with(|m| Ok(m.clone()))
    }

    /// Replaces the machine and clears the trees (aixsim init/reset).
    pub fn reset(&self, m: Option<&Machine>) -> SimResult<()> {
        let _lock = self.state.lock().map_err(lock_error)?;
        let vg_dir = self.state.join("vg");
        if vg_dir.exists() {
            fs::remove_dir_all(&vg_dir).map_err(|e| {
                SimError::new(1, format!("cannot remove {}: {e}", vg_dir.display()))
            })?;
        }
        let _ = fs::remove_file(self.backup_list());
        match m {
            Some(m) => {
                fs::create_dir_all(self.tree(ROOTVG))
                    .map_err(|e| SimError::new(1, format!("cannot create the rootvg tree: {e}")))?;
                self.save_unlocked(m, None)
            }
            None => {
                let _ = fs::remove_file(self.file());
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_natural_order() {
        assert_eq!(parse_size_mb("30g"), Some(30720));
        assert_eq!(parse_size_mb("512"), Some(512));
        assert_eq!(parse_size_mb("512MB"), Some(512));
        assert_eq!(parse_size_mb("2048k"), Some(2));
        assert_eq!(parse_size_mb("x"), None);
        let mut v = vec!["hdisk10", "hdisk2", "cd0", "hdisk1"];
        v.sort_by_key(|n| natural_key(n));
        assert_eq!(v, ["cd0", "hdisk1", "hdisk2", "hdisk10"]);
        assert_eq!(pvid_for("hdisk1").len(), 16);
        assert_ne!(pvid_for("hdisk1"), pvid_for("hdisk2"));
    }

    #[test]
    fn reboot_swaps_rootvg_and_the_clone() {
        let dir = tempfile::tempdir().unwrap();
        let md = MachineDir::at(dir.path().join("m")).unwrap();
        let mut m = Machine::new_default();
        fs::create_dir_all(md.tree(ROOTVG)).unwrap();
        fs::write(md.tree(ROOTVG).join("orig"), "x").unwrap();
        m.vgs.push(VolumeGroup {
            name: ALTINST.into(),
            disks: vec!["hdisk1".into()],
            varied_on: false,
            used_mb: 10,
            level: DEFAULT_LEVEL.into(),
            alt: Some(AltInfo {
                phases: vec![1],
                ..AltInfo::default()
            }),
        });
        fs::create_dir_all(md.tree(ALTINST)).unwrap();
        fs::write(md.tree(ALTINST).join("clone"), "x").unwrap();
        m.normal = vec![BootEntry::disk("hdisk1")];
        assert!(m.reboot(&md).unwrap_err().message.contains("not bootable"));
        m.vg_mut(ALTINST).unwrap().alt = Some(AltInfo {
            phases: vec![1, 2, 3],
            bootable: true,
            ..AltInfo::default()
        });
        m.reboot(&md).unwrap();
        assert_eq!(m.vg_of("hdisk1").unwrap().name, ROOTVG);
        assert_eq!(m.vg_of("hdisk0").unwrap().name, OLD_ROOTVG);
        assert!(md.tree(ROOTVG).join("clone").exists());
        assert!(md.tree(OLD_ROOTVG).join("orig").exists());
        // Booting back to the old disk swaps again.
        m.normal = vec![BootEntry::disk("hdisk0")];
        m.reboot(&md).unwrap();
        assert_eq!(m.vg_of("hdisk0").unwrap().name, ROOTVG);
        assert_eq!(m.vg_of("hdisk1").unwrap().name, OLD_ROOTVG);
        assert_eq!(m.boots, 2);
    }
}
