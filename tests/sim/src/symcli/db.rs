//! On-disk state of the SYMCLI simulator and its locked load/save cycle.
//!
//! ```text
//! $DOPPEL_SIM_ROOT/symmetrix/
//!   .lock                 flock target (every command holds it while it reads/writes)
//!   config.json           simulator defaults (default copy seconds)
//!   faults.json           armed faults (symsim fail ...)
//!   dgs.json              device groups (the host's SYMAPI database)
//!   <sid>/devices.json    one array: devices, clone sessions, per-array copy seconds
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::model::{Array, DEFAULT_COPY_SECONDS, same_dev};
use super::{msg, rc};
use crate::common::faults::FaultSet;
use crate::common::{LockError, SimError, SimResult, StateDir, read_json, to_json, write_atomic};

pub const STATE_DIR: &str = "symmetrix";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SymConfig {
    #[serde(default)]
    pub default_copy_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DgDevice {
    pub ld_name: String,
    pub dev: String,
    /// Added with `-tgt` (a clone target of the group).
    #[serde(default)]
    pub tgt: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceGroup {
    pub name: String,
    pub dg_type: String,
    #[serde(default)]
    pub symid: Option<String>,
    #[serde(default)]
    pub devices: Vec<DgDevice>,
}

impl DeviceGroup {
    pub fn ld(&self, name: &str) -> Option<&DgDevice> {
        self.devices.iter().find(|d| d.ld_name == name).or_else(|| {
            self.devices
                .iter()
                .find(|d| d.ld_name.eq_ignore_ascii_case(name))
        })
    }
    pub fn by_dev(&self, dev: &str) -> Option<&DgDevice> {
        self.devices.iter().find(|d| same_dev(&d.dev, dev))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DgDb {
    #[serde(default)]
    pub groups: BTreeMap<String, DeviceGroup>,
}

impl DgDb {
    /// Key of the group named `name` (exact first, then case-insensitive).
    pub fn key(&self, name: &str) -> Option<String> {
        if self.groups.contains_key(name) {
            return Some(name.to_string());
        }
        self.groups
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name))
            .cloned()
    }
    pub fn get(&self, name: &str) -> Option<&DeviceGroup> {
        self.key(name).and_then(|k| self.groups.get(&k))
    }
    pub fn get_mut(&mut self, name: &str) -> Option<&mut DeviceGroup> {
        let k = self.key(name)?;
        self.groups.get_mut(&k)
    }
    /// The group (other than `except`) holding `dev` of array `sid`.
    pub fn group_of(&self, sid: &str, dev: &str, except: Option<&str>) -> Option<&DeviceGroup> {
        self.groups.values().find(|g| {
            Some(g.name.as_str()) != except
                && g.symid.as_deref() == Some(sid)
                && g.by_dev(dev).is_some()
        })
    }
}

/// Everything the SYMCLI simulator keeps, loaded under the lock.
#[derive(Debug)]
pub struct Db {
    dir: StateDir,
    pub arrays: BTreeMap<String, Array>,
    pub dgs: DgDb,
    pub faults: FaultSet,
    pub config: SymConfig,
    snapshots: HashMap<PathBuf, String>,
    loaded_arrays: Vec<String>,
}

fn io_err(what: &str, e: std::io::Error) -> SimError {
    SimError::new(rc::FAIL, format!("simulator state: cannot {what}: {e}"))
}

impl Db {
    fn load(dir: StateDir) -> SimResult<Db> {
        let mut snapshots = HashMap::new();
        let mut arrays = BTreeMap::new();
        let entries = fs::read_dir(dir.path()).map_err(|e| io_err("list arrays", e))?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        let mut loaded_arrays = Vec::new();
        for name in names {
            let path = dir.join(&name).join("devices.json");
            if !path.exists() {
                continue;
            }
            let (mut a, raw): (Array, _) = read_json(&path)?;
            if a.sid.is_empty() {
                a.sid = name.clone();
            }
            if let Some(raw) = raw {
                snapshots.insert(path, raw);
            }
            loaded_arrays.push(name.clone());
            arrays.insert(name, a);
        }
        let (dgs, raw) = read_json::<DgDb>(&dir.join("dgs.json"))?;
        if let Some(raw) = raw {
            snapshots.insert(dir.join("dgs.json"), raw);
        }
        let (faults, raw) = read_json::<FaultSet>(&dir.join("faults.json"))?;
        if let Some(raw) = raw {
            snapshots.insert(dir.join("faults.json"), raw);
        }
        let (config, raw) = read_json::<SymConfig>(&dir.join("config.json"))?;
        if let Some(raw) = raw {
            snapshots.insert(dir.join("config.json"), raw);
        }
        Ok(Db {
            dir,
            arrays,
            dgs,
            faults,
            config,
            snapshots,
            loaded_arrays,
        })
    }

    fn write_if_changed(&self, path: PathBuf, text: String) -> SimResult<()> {
        if self.snapshots.get(&path) == Some(&text) {
            return Ok(());
        }
        write_atomic(&path, text.as_bytes())
            .map_err(|e| io_err(&format!("write {}", path.display()), e))
    }

    fn save(&self) -> SimResult<()> {
        for (sid, a) in &self.arrays {
            self.write_if_changed(self.dir.join(sid).join("devices.json"), to_json(a))?;
        }
        for sid in &self.loaded_arrays {
            if !self.arrays.contains_key(sid) {
                fs::remove_dir_all(self.dir.join(sid)).map_err(|e| io_err("delete array", e))?;
            }
        }
        self.write_if_changed(self.dir.join("dgs.json"), to_json(&self.dgs))?;
        self.write_if_changed(self.dir.join("faults.json"), to_json(&self.faults))?;
        self.write_if_changed(self.dir.join("config.json"), to_json(&self.config))?;
        Ok(())
    }

    /// Resolve `-sid`: exact id, else a unique suffix (SYMCLI accepts the last
    /// digits, e.g. `-sid 234` for `000192601234`); without `-sid`, the only array.
    pub fn resolve_sid(&self, sid: Option<&str>) -> SimResult<String> {
        match sid {
            Some(s) => {
                if self.arrays.contains_key(s) {
                    return Ok(s.to_string());
                }
                let m: Vec<&String> = self
                    .arrays
                    .keys()
                    .filter(|k| {
                        !s.is_empty() && k.to_ascii_lowercase().ends_with(&s.to_ascii_lowercase())
                    })
                    .collect();
                match m.as_slice() {
                    [one] => Ok((*one).clone()),
                    [] => Err(SimError::new(rc::FAIL, msg::unknown_sid(s))),
                    _ => Err(SimError::new(
                        rc::FAIL,
                        format!("The Symmetrix ID '{s}' is ambiguous"),
                    )),
                }
            }
            None => match self.arrays.len() {
                1 => Ok(self.arrays.keys().next().cloned().unwrap_or_default()),
                0 => Err(SimError::new(
                    rc::FAIL,
                    "No Symmetrix arrays are known to this host (simulator: create one with \
                     'symsim array create <sid> --devs <dev,...>')",
                )),
                _ => Err(SimError::new(
                    rc::FAIL,
                    "More than one Symmetrix is known to this host: specify one with -sid",
                )),
            },
        }
    }

    pub fn array(&self, sid: &str) -> SimResult<&Array> {
        self.arrays
            .get(sid)
            .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_sid(sid)))
    }

    pub fn array_mut(&mut self, sid: &str) -> SimResult<&mut Array> {
        self.arrays
            .get_mut(sid)
            .ok_or_else(|| SimError::new(rc::FAIL, msg::unknown_sid(sid)))
    }

    pub fn copy_seconds(&self, sid: &str) -> f64 {
        self.arrays
            .get(sid)
            .and_then(|a| a.copy_seconds)
            .or(self.config.default_copy_seconds)
            .unwrap_or(DEFAULT_COPY_SECONDS)
    }

    pub fn dir(&self) -> &StateDir {
        &self.dir
    }
}

/// Lock the simulator state, load it, run `f`, save what changed, unlock.
/// Lock contention (a real concurrent holder past the timeout) is exit code 2.
pub fn with_db<R>(f: impl FnOnce(&mut Db) -> R) -> SimResult<R> {
    let dir = StateDir::open(STATE_DIR)?;
    let _lock = dir.lock().map_err(|e| match e {
        LockError::Timeout(_) => SimError::new(rc::DB_LOCKED, msg::DB_LOCKED),
        LockError::Io(e) => io_err("lock the SYMAPI database", e),
    })?;
    let mut db = Db::load(dir)?;
    let r = f(&mut db);
    db.save()?;
    Ok(r)
}
