//! The simulated system: disks, the clone record, boot state, the manifest of
//! what drd last wrote on the clone, the IPD, and where everything lives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use doppel_sim::common::{SimError, SimResult, StateDir, read_json, write_json_atomic};
use serde::{Deserialize, Serialize};

/// The simulator family directory under `$DOPPEL_SIM_ROOT`.
pub const FAMILY: &str = "drd";

/// The default booted root disk.
pub const DEFAULT_ROOT_DISK: &str = "/dev/disk/disk1";

/// Where DRD keeps the sync lists (image path).
pub const SYNC_DIR: &str = "/var/opt/drd/sync";
/// The list of files `drd sync` copies (or would copy, with `-p`).
pub const FILES_TO_BE_COPIED: &str = "files_to_be_copied_by_drd_sync";
/// Files in non-synchronized locations [S].
pub const FILTERED_NON_SYNCED: &str = "filtered_out_by_non_synced_location_filter_sync_phase";
/// Files changed on the clone by something else than drd [S].
pub const FILTERED_TARGET_CHANGED: &str = "filtered_out_by_target_changed_filter_sync_phase";
/// Files whose clone copy is newer than the original [U: name].
pub const FILTERED_TARGET_NEWER: &str = "filtered_out_by_target_newer_filter_sync_phase";
/// Non-volatile files of the Installed Products Database [U: name].
pub const FILTERED_IPD_NONVOLATILE: &str = "filtered_out_by_ipd_nonvolatile_filter_sync_phase";
/// Volatile IPD files whose newconfig templates differ or are missing [U: name].
pub const FILTERED_IPD_VOLATILE: &str = "filtered_out_by_ipd_volatile_filter_sync_phase";

/// Every list `drd sync` writes, in the order it writes them.
pub const SYNC_LISTS: &[&str] = &[
    FILES_TO_BE_COPIED,
    FILTERED_NON_SYNCED,
    FILTERED_TARGET_CHANGED,
    FILTERED_TARGET_NEWER,
    FILTERED_IPD_NONVOLATILE,
    FILTERED_IPD_VOLATILE,
];

/// One of the two system images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Image {
    Original,
    Clone,
}

impl Image {
    pub fn other(self) -> Image {
        match self {
            Image::Original => Image::Clone,
            Image::Clone => Image::Original,
        }
    }

    /// `Original Disk` / `Clone Disk`, as `drd status` labels them.
    pub fn label(self) -> &'static str {
        match self {
            Image::Original => "Original Disk",
            Image::Clone => "Clone Disk",
        }
    }
}

/// A disk of the simulated host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Disk {
    /// Hardware path, shown in the bootpath lines of activate.
    pub hw_path: String,
    /// The active LVM volume group using it (it cannot be a clone target).
    #[serde(default)]
    pub vg: Option<String>,
    /// Carries LVM or file-system data (a clone target then needs `-x overwrite=true`).
    #[serde(default)]
    pub data: bool,
}

/// The inactive clone image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloneInfo {
    pub disk: String,
    #[serde(default)]
    pub mirror_disk: Option<String>,
    /// Simulated time of the last `drd clone` (seconds since the epoch).
    pub created: f64,
    /// Simulated time of the last successful `drd sync` (not previews).
    #[serde(default)]
    pub last_sync: Option<f64>,
    pub efi: String,
}

/// `$DOPPEL_SIM_ROOT/drd/system.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct System {
    pub hostname: String,
    /// The root volume group (`vg00`); the clone is imported as `drd00`.
    pub root_vg: String,
    pub original_disk: String,
    pub original_efi: String,
    pub disks: BTreeMap<String, Disk>,
    #[serde(default)]
    pub clone: Option<CloneInfo>,
    pub booted: Image,
    pub activated: Image,
    /// The inactive image is mounted under /var/opt/drd/mnts.
    #[serde(default)]
    pub mounted: bool,
    /// Simulated duration of `drd clone` (seconds of tool time).
    pub clone_seconds: f64,
    /// Simulated duration of the copy phase of `drd sync`.
    pub sync_seconds: f64,
    /// EFI partition text of a new clone.
    pub clone_efi: String,
    /// Job counter for the `(jobid=<host>-NN)` banners.
    #[serde(default)]
    pub jobs: u32,
}

pub const EFI_OK: &str = "AUTO file present, Boot loader present";

fn default_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its whole length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        let name = String::from_utf8_lossy(&buf[..end]).into_owned();
        let short = name.split('.').next().unwrap_or("").to_owned();
        if !short.is_empty() {
            return short;
        }
    }
    "hpux01".into()
}

impl Default for System {
    fn default() -> Self {
        let disk = |hw: &str, vg: Option<&str>, data: bool| Disk {
            hw_path: hw.into(),
            vg: vg.map(Into::into),
            data,
        };
        let mut disks = BTreeMap::new();
        disks.insert(
            DEFAULT_ROOT_DISK.into(),
            disk("0/1/1/0.0.0", Some("vg00"), true),
        );
        disks.insert("/dev/disk/disk2".into(), disk("0/1/1/0.1.0", None, false));
        disks.insert("/dev/disk/disk3".into(), disk("0/1/1/0.2.0", None, false));
        disks.insert(
            "/dev/disk/disk4".into(),
            disk("0/1/1/0.3.0", Some("vg01"), true),
        );
        System {
            hostname: default_hostname(),
            root_vg: "vg00".into(),
            original_disk: DEFAULT_ROOT_DISK.into(),
            original_efi: EFI_OK.into(),
            disks,
            clone: None,
            booted: Image::Original,
            activated: Image::Original,
            mounted: false,
            clone_seconds: 2.0,
            sync_seconds: 1.0,
            clone_efi: EFI_OK.into(),
            jobs: 0,
        }
    }
}

impl System {
    /// The LVM group the clone is imported as: `drdNN` for `vgNN`, else `drd<vg>`.
    pub fn clone_group(&self) -> String {
        match self.root_vg.strip_prefix("vg") {
            Some(rest) if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) => {
                format!("drd{rest}")
            }
            _ => format!("drd{}", self.root_vg),
        }
    }

    /// The disk holding `image`, if it exists.
    pub fn disk_of(&self, image: Image) -> Option<&str> {
        match image {
            Image::Original => Some(&self.original_disk),
            Image::Clone => self.clone.as_ref().map(|c| c.disk.as_str()),
        }
    }

    /// The image that is not booted.
    pub fn inactive(&self) -> Image {
        self.booted.other()
    }

    /// Boots `image`: its disk now holds the active root volume group, the other
    /// image's disk none.
    pub fn boot(&mut self, image: Image) {
        self.booted = image;
        self.mounted = false;
        let booted = self.disk_of(image).map(str::to_owned);
        let other = self.disk_of(image.other()).map(str::to_owned);
        if let Some(d) = other.and_then(|o| self.disks.get_mut(&o)) {
            d.vg = None;
            d.data = true;
        }
        let vg = self.root_vg.clone();
        if let Some(d) = booted.and_then(|b| self.disks.get_mut(&b)) {
            d.vg = Some(vg);
        }
    }

    pub fn hw_path(&self, disk: &str) -> String {
        self.disks
            .get(disk)
            .map(|d| d.hw_path.clone())
            .unwrap_or_else(|| "<unknown>".into())
    }
}

/// What drd last wrote on the clone for one path: its size and mtime.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub kind: crate::tree::Kind,
    pub size: u64,
    pub mtime: (i64, u32),
}

/// `$DOPPEL_SIM_ROOT/drd/manifest.json`: image path → what drd wrote.
pub type Manifest = BTreeMap<String, ManifestEntry>;

/// One file of the simulated SD-UX Installed Products Database.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpdFile {
    #[serde(default)]
    pub volatile: bool,
}

/// `$DOPPEL_SIM_ROOT/drd/ipd.json`: image path → IPD attributes.
pub type Ipd = BTreeMap<String, IpdFile>;

/// The files and directories of the simulator.
#[derive(Clone, Debug)]
pub struct Dirs {
    pub state: StateDir,
}

impl Dirs {
    /// `$DOPPEL_SIM_ROOT/drd`, created with its `original/` tree.
    pub fn open() -> SimResult<Dirs> {
        let state = StateDir::open(FAMILY)?;
        let dirs = Dirs { state };
        std::fs::create_dir_all(dirs.original()).map_err(|e| {
            SimError::new(
                1,
                format!("cannot create {}: {e}", dirs.original().display()),
            )
        })?;
        Ok(dirs)
    }

    pub fn base(&self) -> &Path {
        self.state.path()
    }

    pub fn original(&self) -> PathBuf {
        self.state.join("original")
    }

    pub fn clone_tree(&self) -> PathBuf {
        self.state.join("clone")
    }

    pub fn image(&self, image: Image) -> PathBuf {
        match image {
            Image::Original => self.original(),
            Image::Clone => self.clone_tree(),
        }
    }

    /// A DRD path of the simulated host (`/var/opt/drd/...`), under the family directory.
    pub fn host_path(&self, abs: &str) -> PathBuf {
        self.state.join(abs.trim_start_matches('/'))
    }

    pub fn sync_dir(&self) -> PathBuf {
        self.host_path(SYNC_DIR)
    }

    pub fn log_file(&self) -> PathBuf {
        self.host_path("/var/opt/drd/drd.log")
    }

    pub fn mount_point(&self, name: &str) -> PathBuf {
        self.host_path(&format!("/var/opt/drd/mnts/{name}"))
    }

    pub fn load_system(&self) -> SimResult<System> {
        Ok(read_json::<System>(&self.state.join("system.json"))?.0)
    }

    pub fn save_system(&self, sys: &System) -> SimResult<()> {
        write_json_atomic(&self.state.join("system.json"), sys)
    }

    pub fn load_manifest(&self) -> SimResult<Manifest> {
        Ok(read_json::<Manifest>(&self.state.join("manifest.json"))?.0)
    }

    pub fn save_manifest(&self, manifest: &Manifest) -> SimResult<()> {
        write_json_atomic(&self.state.join("manifest.json"), manifest)
    }

    pub fn load_ipd(&self) -> SimResult<Ipd> {
        Ok(read_json::<Ipd>(&self.state.join("ipd.json"))?.0)
    }

    pub fn save_ipd(&self, ipd: &Ipd) -> SimResult<()> {
        write_json_atomic(&self.state.join("ipd.json"), ipd)
    }

    pub fn faults_file(&self) -> PathBuf {
        self.state.join("faults.json")
    }
}
