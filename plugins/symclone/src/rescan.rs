//! The Linux device refresh after an activation, as OpenSVC's
//! `sync/symclone/linux.py` does it: the host must not read the targets' old
//! data from its caches once the array switched them to the new point-in-time
//! copy.
//!
//! For each pair's target, from the same `symdev list -v -output xml_e` the
//! status reads:
//!
//! - `Dev_Info/pd_name` is the device the host uses (`/dev/sdq`, a multipath map
//!   `/dev/mapper/3600...`, a PowerPath `/dev/emcpowera`). "Not Visible" is an
//!   error: the target is not mapped to this host ("please scan scsi buses and
//!   run symcfg discover", OpenSVC's words).
//! - `Front_End/Port/pd_name` are its native SCSI paths (`/dev/sdc`, `/dev/sdd`).
//!   Without them, `pd_name` is the only path.
//!
//! Then, per target: `echo 1 > /sys/block/<path>/device/rescan` for every path
//! (under the node config's `sysroot`), `sg_turs <path>` until the path answers
//! TEST UNIT READY (5 tries, a second apart), and `multipath -v0 -r <pd_name>`
//! when multipath is installed. sg_turs and multipath run through doppel (so
//! they are logged and skipped under `--dry-run`); the rescan writes are logged
//! as `echo 1>...` and skipped under `--dry-run`.
//!
//! The node config's `[driver.symclone]` keys read here and in the driver:
//! [`NODE_CONFIG_KEYS`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use doppel_plugin_api::{CommandRequest, Error, Problem, ResourceConfig};

use super::{Node, Pair, Symclone};

/// The keys of the node config's `[driver.symclone]` table this driver reads:
/// `bin` (the SYMCLI directory, default `/usr/symcli/bin`), `sysroot` (where
/// `/sys` is found, default `/`), `sg_turs` and `multipath` (full paths of the
/// host tools, default [`DEFAULT_SG_TURS`] and [`DEFAULT_MULTIPATH`]).
pub const NODE_CONFIG_KEYS: &[&str] = &["bin", "sysroot", "sg_turs", "multipath"];
/// Where sg3_utils installs sg_turs.
pub const DEFAULT_SG_TURS: &str = "/usr/bin/sg_turs";
/// Where multipath-tools installs multipath (also reachable on merged-/usr systems).
pub const DEFAULT_MULTIPATH: &str = "/sbin/multipath";
/// How many times a path is asked TEST UNIT READY before giving up (OpenSVC: 5 s,
/// one try a second).
const READY_TRIES: u32 = 5;
/// Time limit of one sg_turs or multipath run.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether a `rescan` keyword is meaningful here: the refresh uses Linux's sysfs.
pub fn supported() -> bool {
    cfg!(target_os = "linux")
}

/// The host side of the refresh: where sysfs is and the two tools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostTools {
    pub sysroot: PathBuf,
    pub sg_turs: String,
    pub multipath: String,
}

impl HostTools {
    pub fn from_config(config: &ResourceConfig) -> HostTools {
        let path = |key: &str, default: &str| {
            config
                .option(key)
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .unwrap_or(default)
                .to_owned()
        };
        HostTools {
            sysroot: PathBuf::from(path("sysroot", "/")),
            sg_turs: path("sg_turs", DEFAULT_SG_TURS),
            multipath: path("multipath", DEFAULT_MULTIPATH),
        }
    }

    /// `<sysroot>/sys/block/<name>/device/rescan` for `/dev/<name>`; `None` for a
    /// device that is not a plain block device name (`/dev/mapper/x`).
    pub fn rescan_file(&self, device: &str) -> Option<PathBuf> {
        let name = device.strip_prefix("/dev/")?;
        if name.is_empty() || name.contains('/') {
            return None;
        }
        Some(
            self.sysroot
                .join("sys/block")
                .join(name)
                .join("device/rescan"),
        )
    }
}

/// Node-config values that must be full paths.
pub fn node_config_problems(config: &ResourceConfig) -> Vec<Problem> {
    ["sysroot", "sg_turs", "multipath"]
        .iter()
        .filter_map(|key| {
            let value = config.option(key)?.trim();
            (!value.is_empty() && !value.starts_with('/')).then(|| {
                Problem::resource(format!(
                    "node config [driver.symclone] {key} = '{value}': must be a full path"
                ))
            })
        })
        .collect()
}

/// A pair's target as the host sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetDevice {
    /// The Symmetrix device name (`00B61`).
    pub dev: String,
    /// `Dev_Info/pd_name`.
    pub pd_name: String,
    /// `Front_End/Port/pd_name`, each once; `pd_name` itself when symdev shows none.
    pub paths: Vec<String>,
    /// The paths came from `Front_End` (else they are `pd_name` itself).
    pub from_front_end: bool,
}

/// The targets of `pairs` in the symdev XML; an error for a target that is
/// missing or not visible from this host.
pub fn target_devices(root: &Node, pairs: &[Pair]) -> Result<Vec<TargetDevice>, Error> {
    let devices: Vec<&Node> = root
        .children("Symmetrix")
        .flat_map(|s| s.children("Device"))
        .collect();
    let mut out = Vec::new();
    for pair in pairs {
        let device = devices
            .iter()
            .find(|d| {
                d.text_at("Dev_Info/dev_name")
                    .is_some_and(|n| n.eq_ignore_ascii_case(&pair.dst))
            })
            .ok_or_else(|| Error::failed(format!("{} not found in the symdev output", pair.dst)))?;
        let pd_name = device.text_at("Dev_Info/pd_name").unwrap_or("Not Visible");
        if pd_name.contains("Not Visible") {
            return Err(Error::failed(format!(
                "{}: pd name is 'Not Visible'. please scan scsi buses and run symcfg discover",
                pair.dst
            )));
        }
        let mut paths: Vec<String> = Vec::new();
        for port in device
            .children("Front_End")
            .flat_map(|f| f.children("Port"))
        {
            if let Some(p) = port
                .text_at("pd_name")
                .filter(|p| p.starts_with("/dev/") && !paths.iter().any(|x| x == p))
            {
                paths.push(p.to_owned());
            }
        }
        let from_front_end = !paths.is_empty();
        if !from_front_end {
            paths.push(pd_name.to_owned());
        }
        out.push(TargetDevice {
            dev: pair.dst.clone(),
            pd_name: pd_name.to_owned(),
            paths,
            from_front_end,
        });
    }
    Ok(out)
}

impl Symclone {
    /// Whether the refresh runs: the `rescan` keyword (default true on Linux).
    pub(crate) fn rescan_enabled(&self) -> bool {
        supported() && self.config.get_bool("rescan", true)
    }

    /// Rescans, waits for and reloads the targets of `pairs` (see the module doc).
    /// Returns how many paths were rescanned.
    pub(crate) fn refresh_devices(&self, pairs: &[Pair], dry_run: bool) -> Result<usize, Error> {
        let tools = HostTools::from_config(&self.config);
        let root = self.patient(|| self.query_doc(pairs))?;
        let targets = target_devices(&root, pairs)?;
        let have_sg_turs = Path::new(&tools.sg_turs).exists();
        if !have_sg_turs {
            self.host.warn(&format!(
                "{} not found (sg3_utils): the readiness of the target devices is not checked",
                tools.sg_turs
            ));
        }
        let have_multipath = Path::new(&tools.multipath).exists();
        if !have_multipath {
            tracing::debug!("{} not found: no multipath map to reload", tools.multipath);
        }
        let mut rescanned = 0;
        for t in &targets {
            let mut scsi_paths = Vec::new();
            for path in &t.paths {
                let file = tools.rescan_file(path).filter(|f| f.exists());
                match file {
                    Some(file) => {
                        self.rescan(&file, dry_run)?;
                        scsi_paths.push(path.as_str());
                        rescanned += 1;
                    }
                    None if t.from_front_end => {
                        let shown = tools
                            .rescan_file(path)
                            .map(|f| f.display().to_string())
                            .unwrap_or_else(|| "no /sys/block entry".to_owned());
                        return Err(Error::failed(format!(
                            "{}: cannot rescan {path}: {shown} does not exist",
                            t.dev
                        )));
                    }
                    None => self.host.info(&format!(
                        "{}: {path} has no SCSI path known to symdev (no Front_End ports) and no \
                         /sys/block/<dev>/device/rescan: not rescanned",
                        t.dev
                    )),
                }
            }
            if have_sg_turs {
                for path in &scsi_paths {
                    self.wait_ready(&tools, path)?;
                }
            }
            if have_multipath {
                self.host.run_checked(
                    &CommandRequest::new([
                        tools.multipath.as_str(),
                        "-v0",
                        "-r",
                        t.pd_name.as_str(),
                    ])
                    .timeout(TOOL_TIMEOUT),
                )?;
            }
        }
        Ok(rescanned)
    }

    /// `echo 1 > <file>`.
    fn rescan(&self, file: &Path, dry_run: bool) -> Result<(), Error> {
        if dry_run {
            self.host
                .info(&format!("dry-run: echo 1>{}", file.display()));
            return Ok(());
        }
        self.host.info(&format!("echo 1>{}", file.display()));
        self.host.write_file_in_place(file, "1")
    }

    /// `sg_turs <path>` until it succeeds, [`READY_TRIES`] times a second apart.
    fn wait_ready(&self, tools: &HostTools, path: &str) -> Result<(), Error> {
        let delay = self.poll.min(Duration::from_secs(1));
        for attempt in 1..=READY_TRIES {
            let out = self
                .host
                .run(&CommandRequest::new([tools.sg_turs.as_str(), path]).timeout(TOOL_TIMEOUT))?;
            if out.dry_run || out.success() {
                return Ok(());
            }
            if attempt == 1 {
                self.host.info(&format!(
                    "waiting for device {path} to become ready (max {READY_TRIES} secs)"
                ));
            }
            if attempt < READY_TRIES {
                self.host.sleep(delay)?;
            }
        }
        Err(Error::failed(format!(
            "timed out waiting for device {path} to become ready (max {READY_TRIES} secs)"
        )))
    }
}
