//! The simulated Symmetrix: devices, clone sessions and the pair state machine.
//!
//! States are computed lazily from timestamps: a background copy that started
//! at `T` is complete at `T + copy_seconds`, so no process runs in the background.

use serde::{Deserialize, Serialize};

/// Size of a simulated track (SYMCLI reports 64 KiB tracks: MB = tracks / 16).
pub const TRACK_KB: u64 = 64;
/// Default device size in tracks (1 GiB).
pub const DEFAULT_TRACKS: u64 = 16_384;
/// Default simulated copy time in seconds.
pub const DEFAULT_COPY_SECONDS: f64 = 2.0;

/// Fault kind leaving created/recreated pairs in CreateInProg/RecreateInProg.
pub const STUCK_NEVER_ACTIVABLE: &str = "never-activable";
/// Fault kind freezing a background copy or restore below 100%.
pub const STUCK_COPY: &str = "stuck-copy";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Device {
    /// Symmetrix device name as created (e.g. `00B60`).
    pub name: String,
    /// Host physical name, or `Not Visible`.
    pub pd_name: String,
    #[serde(default = "default_tracks")]
    pub tracks: u64,
    /// Ready (RW) or Not Ready to the host.
    #[serde(default = "yes")]
    pub ready: bool,
    #[serde(default = "default_config")]
    pub config: String,
    /// The host's native SCSI paths to the device (`/dev/sdc`, `/dev/sdd`) when
    /// `pd_name` is a multipath or PowerPath device (`/dev/mapper/...`,
    /// `/dev/emcpowera`); empty: one path, `pd_name` itself. symdev shows them as
    /// `Front_End/Port/pd_name`, as Solutions Enabler does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

fn default_tracks() -> u64 {
    DEFAULT_TRACKS
}
fn yes() -> bool {
    true
}
fn default_config() -> String {
    "TDEV".into()
}

impl Device {
    pub fn megabytes(&self) -> u64 {
        self.tracks * TRACK_KB / 1024
    }
    pub fn status(&self) -> &'static str {
        if self.ready { "Ready" } else { "Not Ready" }
    }
    pub fn visible(&self) -> bool {
        !self.pd_name.contains("Not Visible")
    }
    /// The host's native paths (block devices) of a visible device.
    pub fn native_paths(&self) -> Vec<String> {
        if !self.visible() {
            Vec::new()
        } else if self.paths.is_empty() {
            vec![self.pd_name.clone()]
        } else {
            self.paths.clone()
        }
    }
}

/// The stored phase of a session; the displayed state is derived from it and time.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Phase {
    Created,
    Precopy,
    Recreated,
    Activated,
    Restoring,
    Split,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub src: String,
    pub tgt: String,
    pub phase: Phase,
    /// Background copy mode (`-copy` or `-precopy`); otherwise CopyOnAccess after activate.
    pub copy: bool,
    /// Created with `-differential`: recreate and restore allowed.
    pub differential: bool,
    /// Virtual (snap) target: CopyOnWrite after activate.
    #[serde(default)]
    pub vse: bool,
    /// Precopy was requested by the last create/recreate.
    #[serde(default)]
    pub precopy: bool,
    /// When the phase was entered.
    pub since: f64,
    /// When the background copy started (precopy or activation).
    #[serde(default)]
    pub copy_start: Option<f64>,
    /// Time of the last clone action on this pair.
    pub last_action: f64,
    /// Set by a fault (`never-activable`, `stuck-copy`): the pair does not progress.
    #[serde(default)]
    pub stuck: Option<String>,
    /// State string forced by `symsim pair state` (shown as is until the next action).
    #[serde(default)]
    pub forced_state: Option<String>,
}

/// A displayed pair state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    CreateInProg,
    Created,
    Precopy,
    RecreateInProg,
    Recreated,
    CopyInProg,
    Copied,
    CopyOnAccess,
    CopyOnWrite,
    RestInProg,
    Restored,
    Split,
    Failed,
    Invalid,
    Other,
}

impl StateKind {
    pub const ALL: [StateKind; 14] = [
        StateKind::CreateInProg,
        StateKind::Created,
        StateKind::Precopy,
        StateKind::RecreateInProg,
        StateKind::Recreated,
        StateKind::CopyInProg,
        StateKind::Copied,
        StateKind::CopyOnAccess,
        StateKind::CopyOnWrite,
        StateKind::RestInProg,
        StateKind::Restored,
        StateKind::Split,
        StateKind::Failed,
        StateKind::Invalid,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StateKind::CreateInProg => "CreateInProg",
            StateKind::Created => "Created",
            StateKind::Precopy => "Precopy",
            StateKind::RecreateInProg => "RecreateInProg",
            StateKind::Recreated => "Recreated",
            StateKind::CopyInProg => "CopyInProg",
            StateKind::Copied => "Copied",
            StateKind::CopyOnAccess => "CopyOnAccess",
            StateKind::CopyOnWrite => "CopyOnWrite",
            StateKind::RestInProg => "RestInProg",
            StateKind::Restored => "Restored",
            StateKind::Split => "Split",
            StateKind::Failed => "Failed",
            StateKind::Invalid => "Invalid",
            StateKind::Other => "Other",
        }
    }

    /// Case-insensitive parse of a state name (`copied`, `CopyInProg`, ...).
    pub fn parse(s: &str) -> Option<StateKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
    }
}

/// What `query`, `verify` and `symdev` see for a pair at a given instant.
#[derive(Debug, Clone, PartialEq)]
pub struct PairStatus {
    pub kind: StateKind,
    /// Display name (the forced string when one is set).
    pub state: String,
    pub percent: u32,
    /// A background copy is active (C flag).
    pub copying: bool,
}

fn progress(start: f64, now: f64, cs: f64) -> (bool, u32) {
    if cs <= 0.0 || now >= start + cs {
        return (true, 100);
    }
    let p = (((now - start) / cs) * 100.0).floor();
    (false, p.clamp(0.0, 99.0) as u32)
}

impl Session {
    pub fn new(src: &str, tgt: &str, phase: Phase, now: f64) -> Session {
        Session {
            src: src.into(),
            tgt: tgt.into(),
            phase,
            copy: false,
            differential: false,
            vse: false,
            precopy: false,
            since: now,
            copy_start: None,
            last_action: now,
            stuck: None,
            forced_state: None,
        }
    }

    fn stuck_is(&self, kind: &str) -> bool {
        self.stuck.as_deref() == Some(kind)
    }

    /// The state of the pair at `now` with copies taking `cs` seconds.
    pub fn status(&self, now: f64, cs: f64) -> PairStatus {
        if let Some(forced) = &self.forced_state {
            let kind = StateKind::parse(forced).unwrap_or(StateKind::Other);
            let percent = match kind {
                StateKind::Copied | StateKind::Restored | StateKind::Split => 100,
                _ => 0,
            };
            return PairStatus {
                kind,
                state: forced.clone(),
                percent,
                copying: false,
            };
        }
        let (kind, percent, copying) = match self.phase {
            Phase::Created if self.stuck_is(STUCK_NEVER_ACTIVABLE) => {
                (StateKind::CreateInProg, 0, false)
            }
            Phase::Created => (StateKind::Created, 0, false),
            Phase::Precopy | Phase::Recreated if self.stuck_is(STUCK_NEVER_ACTIVABLE) => {
                (StateKind::RecreateInProg, 0, false)
            }
            Phase::Precopy => {
                let (done, p) = progress(self.copy_start.unwrap_or(self.since), now, cs);
                (StateKind::Precopy, p, !done)
            }
            Phase::Recreated => (StateKind::Recreated, 0, false),
            Phase::Activated if self.vse => (StateKind::CopyOnWrite, 0, false),
            Phase::Activated if !self.copy => (StateKind::CopyOnAccess, 0, false),
            Phase::Activated => {
                let (done, p) = progress(self.copy_start.unwrap_or(self.since), now, cs);
                if done && !self.stuck_is(STUCK_COPY) {
                    (StateKind::Copied, 100, false)
                } else {
                    (StateKind::CopyInProg, p.min(99), true)
                }
            }
            Phase::Restoring => {
                let (done, p) = progress(self.since, now, cs);
                if done && !self.stuck_is(STUCK_COPY) {
                    (StateKind::Restored, 100, false)
                } else {
                    (StateKind::RestInProg, p.min(99), true)
                }
            }
            Phase::Split => (StateKind::Split, 100, false),
        };
        PairStatus {
            kind,
            state: kind.name().to_string(),
            percent,
            copying,
        }
    }

    /// CGDP flags: C copy active, G target in group, D differential, P precopy cycle done.
    pub fn flags(&self, st: &PairStatus, tgt_in_group: bool) -> String {
        let precopied = self.phase == Phase::Precopy && st.percent >= 100;
        [
            if st.copying || (self.copy && st.kind == StateKind::Copied) {
                'X'
            } else {
                '.'
            },
            if tgt_in_group { 'X' } else { '.' },
            if self.differential { 'X' } else { '.' },
            if precopied || (self.precopy && self.phase == Phase::Activated) {
                'X'
            } else {
                '.'
            },
        ]
        .iter()
        .collect()
    }
}

/// One simulated array.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Array {
    pub sid: String,
    /// Per-array copy time; `None` = the simulator default.
    #[serde(default)]
    pub copy_seconds: Option<f64>,
    #[serde(default)]
    pub devices: Vec<Device>,
    #[serde(default)]
    pub sessions: Vec<Session>,
}

/// Parse a Symmetrix device number (hexadecimal, 1 to 8 digits).
pub fn dev_number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Same device (compared as hexadecimal numbers, so `0B60` == `00B60`).
pub fn same_dev(a: &str, b: &str) -> bool {
    match (dev_number(a), dev_number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.eq_ignore_ascii_case(b),
    }
}

impl Array {
    pub fn device(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|d| same_dev(&d.name, name))
    }
    pub fn device_mut(&mut self, name: &str) -> Option<&mut Device> {
        self.devices.iter_mut().find(|d| same_dev(&d.name, name))
    }
    /// Session whose target is `tgt`.
    pub fn session_by_tgt(&self, tgt: &str) -> Option<usize> {
        self.sessions.iter().position(|s| same_dev(&s.tgt, tgt))
    }
    /// Session pairing exactly `src` and `tgt`.
    pub fn session(&self, src: &str, tgt: &str) -> Option<usize> {
        self.sessions
            .iter()
            .position(|s| same_dev(&s.src, src) && same_dev(&s.tgt, tgt))
    }
    /// Sessions involving `dev` as source or target.
    pub fn sessions_of(&self, dev: &str) -> Vec<&Session> {
        self.sessions
            .iter()
            .filter(|s| same_dev(&s.src, dev) || same_dev(&s.tgt, dev))
            .collect()
    }
}

/// Expand a `-devs` list: comma separated names and `first:last` ranges.
pub fn expand_devs(list: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some((a, b)) = item.split_once(':') {
            let (x, y) = match (dev_number(a), dev_number(b)) {
                (Some(x), Some(y)) if x <= y => (x, y),
                _ => return Err(format!("Invalid device range '{item}'")),
            };
            if y - x > 65_535 {
                return Err(format!("Device range '{item}' is too large"));
            }
            let width = a.len().max(b.len());
            for n in x..=y {
                out.push(format!("{n:0width$X}"));
            }
        } else if dev_number(item).is_some() {
            out.push(item.to_ascii_uppercase());
        } else {
            return Err(format!("Invalid Symmetrix device name '{item}'"));
        }
    }
    if out.is_empty() {
        return Err("No Symmetrix devices were specified".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(phase: Phase, copy: bool, start: f64) -> Session {
        let mut s = Session::new("00B60", "00B61", phase, start);
        s.copy = copy;
        s.copy_start = Some(start);
        s
    }

    #[test]
    fn copy_completes_after_copy_seconds() {
        let s = session(Phase::Activated, true, 100.0);
        let st = s.status(100.5, 2.0);
        assert_eq!((st.kind, st.percent), (StateKind::CopyInProg, 25));
        assert_eq!(s.status(101.99, 2.0).kind, StateKind::CopyInProg);
        assert_eq!(s.status(101.99, 2.0).percent, 99);
        let st = s.status(102.0, 2.0);
        assert_eq!((st.kind, st.percent), (StateKind::Copied, 100));
        assert_eq!(
            s.status(100.0, 0.0).kind,
            StateKind::Copied,
            "copy_seconds 0 is instant"
        );
        assert_eq!(
            session(Phase::Activated, false, 100.0)
                .status(1e9, 2.0)
                .kind,
            StateKind::CopyOnAccess
        );
    }

    #[test]
    fn restore_and_stuck_states() {
        let mut s = session(Phase::Restoring, true, 10.0);
        s.since = 10.0;
        assert_eq!(s.status(11.0, 2.0).kind, StateKind::RestInProg);
        assert_eq!(s.status(12.0, 2.0).kind, StateKind::Restored);
        s.stuck = Some(STUCK_COPY.into());
        assert_eq!(s.status(1e6, 2.0).kind, StateKind::RestInProg);
        let mut r = session(Phase::Recreated, true, 0.0);
        assert_eq!(r.status(5.0, 1.0).kind, StateKind::Recreated);
        r.stuck = Some(STUCK_NEVER_ACTIVABLE.into());
        assert_eq!(r.status(5.0, 1.0).kind, StateKind::RecreateInProg);
        r.forced_state = Some("Invalid".into());
        assert_eq!(r.status(5.0, 1.0).kind, StateKind::Invalid);
        r.forced_state = Some("Weird".into());
        let st = r.status(5.0, 1.0);
        assert_eq!((st.kind, st.state.as_str()), (StateKind::Other, "Weird"));
    }

    #[test]
    fn state_names_parse_case_insensitively() {
        for k in StateKind::ALL {
            assert_eq!(StateKind::parse(&k.name().to_ascii_lowercase()), Some(k));
        }
        assert_eq!(StateKind::parse("bogus"), None);
    }

    #[test]
    fn device_lists_and_names() {
        assert_eq!(
            expand_devs("0120:0123,00B60").unwrap(),
            ["0120", "0121", "0122", "0123", "00B60"]
        );
        assert_eq!(expand_devs("b60").unwrap(), ["B60"]);
        assert!(expand_devs("0123:0120").is_err());
        assert!(expand_devs("XYZ!").is_err());
        assert!(expand_devs("").is_err());
        assert!(same_dev("0B60", "00b60"));
        assert!(!same_dev("0B60", "0B61"));
    }
}
