//! The clone set's state, from `symclone query`, and the status it makes.

use doppel_plugin_api::{Error, Status, StatusReport};
use jiff::tz::TimeZone;

use crate::pairs::Pair;
use crate::xml::Node;
use crate::{ACTIVABLE_STATES, ACTIVE_STATES, LAST_ACTION_FORMAT};

/// The clone session of one configured pair, as symdev shows its target.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Session {
    pub(crate) state: String,
    pub(crate) last_action: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PairStatus {
    pub(crate) pair: Pair,
    pub(crate) session: Option<Session>,
    /// Why the pair has no usable session, for the status.
    pub(crate) note: Option<String>,
}

impl PairStatus {
    pub(crate) fn is_in(&self, states: &[&str]) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| states.contains(&s.state.to_ascii_lowercase().as_str()))
    }

    pub(crate) fn describe(&self) -> String {
        match &self.session {
            Some(s) if s.state.is_empty() => format!("{} (no state)", self.pair.dst),
            Some(s) => format!("{} {}", self.pair.dst, s.state),
            None => format!("{} no session", self.pair.dst),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CloneSet {
    pub(crate) pairs: Vec<PairStatus>,
}

impl CloneSet {
    pub(crate) fn from_xml(root: &Node, pairs: &[Pair]) -> CloneSet {
        let devices: Vec<&Node> = root
            .children("Symmetrix")
            .flat_map(|s| s.children("Device"))
            .collect();
        let pairs = pairs
            .iter()
            .map(|pair| {
                let same = |a: Option<&str>, b: &str| a.is_some_and(|a| a.eq_ignore_ascii_case(b));
                let device = devices
                    .iter()
                    .find(|d| same(d.text_at("Dev_Info/dev_name"), &pair.dst));
                let Some(device) = device else {
                    return PairStatus {
                        pair: pair.clone(),
                        session: None,
                        note: Some(format!("{} not found in the symdev output", pair.dst)),
                    };
                };
                let clone = device
                    .children("CLONE_Device")
                    .find(|c| same(c.text_at("TGT/dev_name"), &pair.dst));
                let Some(clone) = clone else {
                    return PairStatus {
                        pair: pair.clone(),
                        session: None,
                        note: Some(format!("{} has no clone info", pair.dst)),
                    };
                };
                let src = clone.text_at("SRC/dev_name").unwrap_or("");
                if !src.eq_ignore_ascii_case(&pair.src) {
                    return PairStatus {
                        pair: pair.clone(),
                        session: None,
                        note: Some(format!(
                            "{} is the target of a clone session from {src}, not {}",
                            pair.dst, pair.src
                        )),
                    };
                }
                PairStatus {
                    pair: pair.clone(),
                    session: Some(Session {
                        state: clone.text_at("state").unwrap_or("").to_owned(),
                        last_action: clone.text_at("last_action").map(str::to_owned),
                    }),
                    note: None,
                }
            })
            .collect();
        CloneSet { pairs }
    }

    /// Fails when a pair has no clone session: it cannot become activable by
    /// waiting (the sessions are created outside doppel).
    pub(crate) fn check_sessions(&self) -> Result<(), Error> {
        let missing: Vec<String> = self
            .pairs
            .iter()
            .filter(|p| p.session.is_none())
            .map(|p| p.pair.label())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::failed(format!(
            "no clone session for {}: create the sessions first (symclone create -differential)",
            missing.join(", ")
        )))
    }

    pub(crate) fn count(&self, states: &[&str]) -> usize {
        self.pairs.iter().filter(|p| p.is_in(states)).count()
    }

    pub(crate) fn all_in(&self, states: &[&str]) -> bool {
        self.count(states) == self.pairs.len()
    }

    pub(crate) fn not_in(&self, states: &[&str]) -> Vec<&PairStatus> {
        self.pairs.iter().filter(|p| !p.is_in(states)).collect()
    }

    /// The driver's status from the clone set, times read in `tz`.
    pub(crate) fn report(&self, tz: &TimeZone) -> StatusReport {
        let n = self.pairs.len();
        let sessions: Vec<(&PairStatus, &Session)> = self
            .pairs
            .iter()
            .filter_map(|p| p.session.as_ref().map(|s| (p, s)))
            .collect();
        if sessions.is_empty() {
            return StatusReport::new(Status::Down).info("no clone session");
        }
        // A pair neither active nor activable (Failed, Invalid, Split, a restore
        // in progress, ...) is not a usable clone, however recent its last action
        // (the seed: "devices are in an unexpected state").
        let unexpected: Vec<String> = sessions
            .iter()
            .filter(|(p, _)| !p.is_in(ACTIVE_STATES) && !p.is_in(ACTIVABLE_STATES))
            .map(|(p, _)| p.describe())
            .collect();
        if !unexpected.is_empty() {
            return StatusReport::new(Status::Down).error(format!(
                "pair(s) in an unexpected state (neither active nor activable): {}",
                unexpected.join(", ")
            ));
        }
        let mut warnings: Vec<String> = self.pairs.iter().filter_map(|p| p.note.clone()).collect();
        let mut last: Option<jiff::Zoned> = None;
        for (p, s) in &sessions {
            let Some(text) = &s.last_action else { continue };
            match parse_last_action(text, tz) {
                Some(when) => {
                    if last
                        .as_ref()
                        .is_none_or(|l| when.timestamp() > l.timestamp())
                    {
                        last = Some(when);
                    }
                }
                None => warnings.push(format!("{}: cannot read last_action '{text}'", p.pair.dst)),
            }
        }
        let Some(last) = last else {
            let mut report = StatusReport::new(Status::Down).info("no clone action recorded");
            for w in warnings {
                report = report.warn(w);
            }
            return report;
        };
        let active = self.count(ACTIVE_STATES);
        let mut report = if active > 0 && active < n {
            StatusReport::new(Status::Warn).warn(format!("cloneset has {active}/{n} active devs"))
        } else {
            let mut r = StatusReport::new(Status::Up);
            if active == 0 {
                let states: Vec<String> = sessions.iter().map(|(p, _)| p.describe()).collect();
                r = r.info(format!(
                    "target devices not activated: {}",
                    states.join(", ")
                ));
            }
            r.info(format!(
                "Last sync on {}",
                last.strftime("%Y-%m-%d %H:%M:%S")
            ))
        };
        if !warnings.is_empty() && report.state == Status::Up {
            report.state = Status::Warn;
        }
        for w in warnings {
            report = report.warn(w);
        }
        report.last_sync(last.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
    }
}

/// Reads a SYMCLI `last_action` (`Thu Feb 25 10:20:56 2010`, local time).
pub(crate) fn parse_last_action(text: &str, tz: &TimeZone) -> Option<jiff::Zoned> {
    let normalized = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let datetime = jiff::civil::DateTime::strptime(LAST_ACTION_FORMAT, &normalized).ok()?;
    datetime.to_zoned(tz.clone()).ok()
}
