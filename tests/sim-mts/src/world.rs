//! The simulated MultiSite world: VOB families, their replicas (each a small
//! versioned store with an oplog and an epoch matrix), the hosts and their
//! storage bays.
//!
//! ```text
//! $DOPPEL_SIM_ROOT/mts/
//!   .lock                          flock(2): every command holds it
//!   world.json                     families, replicas, hosts, faults, holds, locks
//!   vobs/<tag>/<replica>.json      one replica: oplog, epoch matrix, content, exports
//!   hosts/<host>/shipping.conf     STORAGE-BAY <class> <path> lines
//!   hosts/<host>/ms_ship/{incoming,outgoing}/     bay of class -default
//!   hosts/<host>/bays/<class>/{incoming,outgoing}/ other classes (cq_default, ...)
//!   transit/<host>/<class>/        packets held in transit to <host> (mtsim hold)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use doppel_sim::common::faults::FaultSet;
use doppel_sim::common::{
    DirLock, LockError, SimError, SimResult, StateDir, read_json, write_atomic, write_json_atomic,
};
use serde::{Deserialize, Serialize};

/// The simulator's directory under `$DOPPEL_SIM_ROOT`.
pub const STATE_NAME: &str = "mts";
/// The environment variable naming the simulated host a command runs on.
pub const SITE_ENV: &str = "MTS_SITE";
/// The default storage class.
pub const DEFAULT_CLASS: &str = "-default";
/// The ClearQuest default storage class.
pub const CQ_CLASS: &str = "cq_default";

/// A VOB family (a ClearQuest database family for `multiutil`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Family {
    /// The VOB tag (`/vobs/dev`), or the family name for ClearQuest (`PRODA`).
    pub tag: String,
    /// The family identifier, `12a3456b.78c901d2.e3ab.45:67:89:c0:1d:e2`.
    pub oid: String,
    /// The ClearQuest clan (`multiutil -clan`), if any.
    #[serde(default)]
    pub clan: Option<String>,
    pub replicas: Vec<ReplicaInfo>,
}

impl Family {
    pub fn replica(&self, name: &str) -> Option<&ReplicaInfo> {
        self.replicas.iter().find(|r| r.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.replicas.iter().map(|r| r.name.clone()).collect()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaInfo {
    pub name: String,
    pub oid: String,
    /// The host (site) that holds the replica.
    pub host: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub name: String,
    /// Storage class → bay directory.
    pub classes: BTreeMap<String, PathBuf>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    #[serde(default)]
    pub families: Vec<Family>,
    #[serde(default)]
    pub hosts: Vec<HostInfo>,
    /// Faults armed on deliveries (`drop`, `corrupt`, `truncate`).
    #[serde(default)]
    pub faults: FaultSet,
    /// Hosts whose deliveries wait in transit (`*`: every host).
    #[serde(default)]
    pub hold: Vec<String>,
    /// Locked replicas (`<tag> <name>`).
    #[serde(default)]
    pub locked: Vec<String>,
    /// Counter for identifiers.
    #[serde(default)]
    pub serial: u64,
}

/// One oplog entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The replica where the operation originated.
    pub origin: String,
    /// Its oplog ID at the origin (1, 2, ...).
    pub id: u64,
    /// `mkelem` or `checkin`.
    pub op: String,
    pub element: String,
    #[serde(default)]
    pub text: String,
    pub time: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// The oplog ID that created it.
    pub id: u64,
    pub text: String,
}

/// One export, kept for `recoverpacket`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub time: f64,
    pub packet: String,
    pub targets: Vec<String>,
    /// Estimated rows of the targets before the export.
    pub before: BTreeMap<String, BTreeMap<String, u64>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub time: f64,
    pub event: String,
    #[serde(default)]
    pub row: String,
}

/// A replica's store.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Store {
    /// Oplog entries in the order they were applied here.
    #[serde(default)]
    pub oplog: Vec<Entry>,
    /// The epoch matrix: row (replica) → column (originating replica) → oplog ID.
    /// The replica's own row is actual, the others are estimates.
    #[serde(default)]
    pub epoch: BTreeMap<String, BTreeMap<String, u64>>,
    /// Element → branch (originating replica) → versions.
    #[serde(default)]
    pub content: BTreeMap<String, BTreeMap<String, Vec<Version>>>,
    #[serde(default)]
    pub exports: Vec<ExportRecord>,
    #[serde(default)]
    pub history: Vec<HistoryRecord>,
    /// Logical packets generated so far.
    #[serde(default)]
    pub generated: u64,
    #[serde(default)]
    pub incarnation: u64,
}

impl Store {
    pub fn get(&self, row: &str, col: &str) -> u64 {
        self.epoch
            .get(row)
            .and_then(|r| r.get(col))
            .copied()
            .unwrap_or(0)
    }

    /// The row of `who` over `columns` (missing values are 0).
    pub fn row(&self, who: &str, columns: &[String]) -> BTreeMap<String, u64> {
        columns
            .iter()
            .map(|c| (c.clone(), self.get(who, c)))
            .collect()
    }

    pub fn set(&mut self, row: &str, col: &str, value: u64) {
        self.epoch
            .entry(row.to_owned())
            .or_default()
            .insert(col.to_owned(), value);
    }

    /// Applies an entry to the content and the oplog, raising `me`'s own row.
    pub fn apply(&mut self, me: &str, entry: Entry) {
        let branches = self.content.entry(entry.element.clone()).or_default();
        if entry.op == "checkin" {
            branches
                .entry(entry.origin.clone())
                .or_default()
                .push(Version {
                    id: entry.id,
                    text: entry.text.clone(),
                });
        } else {
            branches.entry(entry.origin.clone()).or_default();
        }
        if entry.id > self.get(me, &entry.origin) {
            self.set(me, &entry.origin, entry.id);
        }
        self.oplog.push(entry);
    }

    /// A change made at replica `me`: a new oplog entry with the next ID.
    pub fn local_change(
        &mut self,
        me: &str,
        op: &str,
        element: &str,
        text: &str,
        now: f64,
    ) -> Entry {
        let entry = Entry {
            origin: me.to_owned(),
            id: self.get(me, me) + 1,
            op: op.to_owned(),
            element: element.to_owned(),
            text: text.to_owned(),
            time: now,
        };
        self.apply(me, entry.clone());
        entry
    }

    /// The content as lines: `<element>@@/main/<origin>/<n>  <text>`.
    pub fn listing(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (element, branches) in &self.content {
            if branches.values().all(Vec::is_empty) {
                lines.push(format!("{element}@@/main/0"));
            }
            for (origin, versions) in branches {
                for (i, v) in versions.iter().enumerate() {
                    lines.push(format!("{element}@@/main/{origin}/{}  {}", i + 1, v.text));
                }
            }
        }
        lines
    }
}

/// Formats a row as `a=1 b=2`.
pub fn row_text(row: &BTreeMap<String, u64>) -> String {
    row.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A replica selector: `replica:name@vob`, `name@vob` or `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    pub name: String,
    pub vob: Option<String>,
}

impl Selector {
    pub fn parse(text: &str) -> Option<Selector> {
        let t = text.trim();
        let t = t.strip_prefix("replica:").unwrap_or(t);
        let (name, vob) = match t.split_once('@') {
            Some((n, v)) => (n, Some(v.trim().to_owned()).filter(|v| !v.is_empty())),
            None => (t, None),
        };
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        Some(Selector {
            name: name.to_owned(),
            vob,
        })
    }
}

/// Strips `vob:` from a VOB selector.
pub fn vob_tag(selector: &str) -> &str {
    selector
        .trim()
        .strip_prefix("vob:")
        .unwrap_or(selector.trim())
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The directory name of a storage class (`-default` → `default`).
pub fn class_dir(class: &str) -> String {
    sanitize(class.trim_start_matches('-'))
}

/// A deterministic OID-looking identifier from `seed`.
pub fn make_oid(seed: &str) -> String {
    let h = fnv64(seed.as_bytes());
    let g = fnv64(format!("{seed}#").as_bytes());
    let mac: Vec<String> = g.to_be_bytes()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{:08x}.{:08x}.{:04x}.{}",
        (h >> 32) as u32,
        h as u32,
        (g >> 48) as u16,
        mac.join(":")
    )
}

/// FNV-1a, 64 bits.
pub fn fnv64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The simulator's state, locked for the duration of one command.
pub struct Mts {
    dir: StateDir,
    pub world: World,
    raw: Option<String>,
    _lock: DirLock,
}

impl Mts {
    /// Opens `$DOPPEL_SIM_ROOT/mts` and takes its lock.
    pub fn open() -> SimResult<Mts> {
        let dir = StateDir::open(STATE_NAME)?;
        Self::open_at(dir)
    }

    pub fn open_at(dir: StateDir) -> SimResult<Mts> {
        let lock = dir.lock().map_err(|e| match e {
            LockError::Timeout(_) => SimError::new(
                1,
                format!("Error: MultiSite simulator state is locked by another process ({e})"),
            ),
            LockError::Io(e) => {
                SimError::new(1, format!("Error: cannot lock the simulator state: {e}"))
            }
        })?;
        let (world, raw) = read_json::<World>(&dir.join("world.json"))?;
        Ok(Mts {
            dir,
            world,
            raw,
            _lock: lock,
        })
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.join(rel)
    }

    /// Writes world.json if it changed.
    pub fn save(&mut self) -> SimResult<()> {
        let text = doppel_sim::common::to_json(&self.world);
        if self.raw.as_deref() != Some(text.as_str()) {
            let path = self.dir.join("world.json");
            write_atomic(&path, text.as_bytes())
                .map_err(|e| SimError::new(1, format!("cannot write {}: {e}", path.display())))?;
            self.raw = Some(text);
        }
        Ok(())
    }

    pub fn next_serial(&mut self) -> u64 {
        self.world.serial += 1;
        self.world.serial
    }

    fn store_path(&self, tag: &str, name: &str) -> PathBuf {
        self.dir
            .join("vobs")
            .join(sanitize(tag))
            .join(format!("{}.json", sanitize(name)))
    }

    pub fn load_store(&self, tag: &str, name: &str) -> SimResult<Store> {
        Ok(read_json::<Store>(&self.store_path(tag, name))?.0)
    }

    pub fn save_store(&self, tag: &str, name: &str, store: &Store) -> SimResult<()> {
        write_json_atomic(&self.store_path(tag, name), store)
    }

    pub fn family(&self, tag_or_oid: &str) -> Option<&Family> {
        let t = vob_tag(tag_or_oid);
        self.world
            .families
            .iter()
            .find(|f| f.tag == t || f.oid == t)
    }

    /// Finds a replica by selector: with a VOB, in that family; without, the only
    /// replica of that name.
    pub fn find_replica(&self, sel: &Selector) -> SimResult<(Family, ReplicaInfo)> {
        if let Some(vob) = &sel.vob {
            let fam = self.family(vob).ok_or_else(|| {
                SimError::new(
                    1,
                    format!("Error: Unable to determine VOB for pathname \"{vob}\"."),
                )
            })?;
            let rep = fam.replica(&sel.name).ok_or_else(|| {
                SimError::new(
                    1,
                    format!(
                        "Error: Replica \"{}\" not found in VOB family \"{}\".",
                        sel.name, fam.tag
                    ),
                )
            })?;
            return Ok((fam.clone(), rep.clone()));
        }
        let found: Vec<(&Family, &ReplicaInfo)> = self
            .world
            .families
            .iter()
            .filter_map(|f| f.replica(&sel.name).map(|r| (f, r)))
            .collect();
        match found.as_slice() {
            [(f, r)] => Ok(((*f).clone(), (*r).clone())),
            [] => Err(SimError::new(
                1,
                format!("Error: Replica \"{}\" not found.", sel.name),
            )),
            _ => Err(SimError::new(
                1,
                format!(
                    "Error: Replica name \"{}\" is ambiguous: add @<vob-tag>.",
                    sel.name
                ),
            )),
        }
    }

    pub fn host(&self, name: &str) -> Option<&HostInfo> {
        self.world.hosts.iter().find(|h| h.name == name)
    }

    /// The simulated host this command runs on: `$MTS_SITE` (a host name, or a
    /// replica name standing for its host), else the host of `hint`.
    pub fn this_host(&self, hint: Option<&ReplicaInfo>) -> SimResult<String> {
        match std::env::var(SITE_ENV)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
        {
            Some(site) => {
                if self.host(&site).is_some() {
                    return Ok(site);
                }
                let reps: Vec<&ReplicaInfo> = self
                    .world
                    .families
                    .iter()
                    .flat_map(|f| f.replicas.iter())
                    .filter(|r| r.name == site)
                    .collect();
                if let Some(first) = reps.first()
                    && reps.iter().all(|r| r.host == first.host)
                {
                    return Ok(first.host.clone());
                }
                Err(SimError::new(
                    1,
                    format!(
                        "Error: {SITE_ENV}={site} names no simulated MultiSite host (known: {})",
                        self.host_names().join(", ")
                    ),
                ))
            }
            None => match hint {
                Some(r) => Ok(r.host.clone()),
                None => Err(SimError::new(
                    1,
                    format!(
                        "Error: cannot tell which simulated MultiSite host this is: set {SITE_ENV} to one of: {}",
                        self.host_names().join(", ")
                    ),
                )),
            },
        }
    }

    pub fn host_names(&self) -> Vec<String> {
        self.world.hosts.iter().map(|h| h.name.clone()).collect()
    }

    /// Adds a host (with the default and ClearQuest bays) if missing.
    pub fn ensure_host(&mut self, name: &str) -> SimResult<()> {
        if self.host(name).is_some() {
            return Ok(());
        }
        let base = self.dir.join("hosts").join(sanitize(name));
        let mut classes = BTreeMap::new();
        classes.insert(DEFAULT_CLASS.to_owned(), base.join("ms_ship"));
        classes.insert(CQ_CLASS.to_owned(), base.join("bays").join(CQ_CLASS));
        self.world.hosts.push(HostInfo {
            name: name.to_owned(),
            classes,
        });
        self.write_host_files(name)
    }

    pub fn add_class(&mut self, host: &str, class: &str) -> SimResult<()> {
        let base = self
            .dir
            .join("hosts")
            .join(sanitize(host))
            .join("bays")
            .join(class_dir(class));
        if let Some(h) = self.world.hosts.iter_mut().find(|h| h.name == host) {
            h.classes.entry(class.to_owned()).or_insert(base);
        }
        self.write_host_files(host)
    }

    /// Creates the bays and writes `shipping.conf`.
    fn write_host_files(&self, host: &str) -> SimResult<()> {
        let Some(h) = self.host(host) else {
            return Ok(());
        };
        let mut conf =
            String::from("# shipping.conf of the simulated host (doppel MultiSite simulator)\n");
        for (class, path) in &h.classes {
            for sub in ["incoming", "outgoing"] {
                let d = path.join(sub);
                std::fs::create_dir_all(&d)
                    .map_err(|e| SimError::new(1, format!("cannot create {}: {e}", d.display())))?;
            }
            conf.push_str(&format!("STORAGE-BAY {class} {}\n", path.display()));
        }
        conf.push_str("MAX-DATA-SIZE 2097151k\n");
        let p = self
            .dir
            .join("hosts")
            .join(sanitize(host))
            .join("shipping.conf");
        write_atomic(&p, conf.as_bytes())
            .map_err(|e| SimError::new(1, format!("cannot write {}: {e}", p.display())))
    }

    /// The bay of `class` on `host`.
    pub fn bay(&self, host: &str, class: &str) -> SimResult<PathBuf> {
        let h = self
            .host(host)
            .ok_or_else(|| SimError::new(1, format!("Error: unknown host \"{host}\"")))?;
        h.classes.get(class).cloned().ok_or_else(|| {
            SimError::new(
                1,
                format!("Error: No storage bay for storage class \"{class}\" on host \"{host}\"."),
            )
        })
    }

    /// The transit directory for deliveries to `host` in `class`.
    pub fn transit_dir(&self, host: &str, class: &str) -> PathBuf {
        self.dir
            .join("transit")
            .join(sanitize(host))
            .join(class_dir(class))
    }

    pub fn is_locked(&self, tag: &str, name: &str) -> bool {
        self.world
            .locked
            .iter()
            .any(|l| l == &format!("{tag} {name}"))
    }

    /// Where a replica's VOB storage "is", for messages.
    pub fn storage_name(rep: &ReplicaInfo, fam: &Family) -> String {
        let base = fam.tag.rsplit(['/', '\\']).next().unwrap_or(&fam.tag);
        format!("{}:/vobstg/{}_{}.vbs", rep.host, base, rep.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert_eq!(
            Selector::parse("replica:tokyo@/vobs/dev"),
            Some(Selector {
                name: "tokyo".into(),
                vob: Some("/vobs/dev".into())
            })
        );
        assert_eq!(
            Selector::parse("boston_hub@\\dev").unwrap().vob.as_deref(),
            Some("\\dev")
        );
        assert_eq!(
            Selector::parse("x"),
            Some(Selector {
                name: "x".into(),
                vob: None
            })
        );
        assert_eq!(Selector::parse("@/vobs/dev"), None);
    }

    #[test]
    fn store_applies_and_lists() {
        let mut s = Store::default();
        s.local_change("paris", "mkelem", "a.c", "", 1.0);
        s.local_change("paris", "checkin", "a.c", "one", 2.0);
        assert_eq!(s.get("paris", "paris"), 2);
        s.apply(
            "paris",
            Entry {
                origin: "tokyo".into(),
                id: 1,
                op: "checkin".into(),
                element: "a.c".into(),
                text: "t1".into(),
                time: 3.0,
            },
        );
        assert_eq!(s.get("paris", "tokyo"), 1);
        assert_eq!(
            s.listing(),
            vec!["a.c@@/main/paris/1  one", "a.c@@/main/tokyo/1  t1"]
        );
    }

    #[test]
    fn oids_look_like_oids() {
        let o = make_oid("x");
        assert_eq!(o.split('.').count(), 4, "{o}");
        assert_ne!(o, make_oid("y"));
    }
}
