//! The incoming packets addressed to the local replica (`lspacket -long`),
//! and those that cannot be imported now.

use std::time::{Duration, SystemTime};

use doppel_plugin_api::Error;

use crate::Replica;
use crate::config::Settings;
use crate::lspacket::{self, Logical, Packet, Target};

/// A packet that cannot be imported now.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Held {
    pub(crate) name: String,
    pub(crate) why: String,
    pub(crate) waited: Option<Duration>,
}

/// Age of the oldest file of a logical packet (its arrival), from the file times.
fn waited(l: &Logical<'_>) -> Option<Duration> {
    let now = SystemTime::now();
    l.parts
        .iter()
        .filter_map(|p| std::fs::metadata(&p.path).and_then(|m| m.modified()).ok())
        .filter_map(|t| now.duration_since(t).ok())
        .max()
}

impl Replica {
    /// True for the target line standing for the local replica.
    pub(crate) fn is_ours(s: &Settings, t: &Target) -> bool {
        match &s.local {
            Some(name) => &t.name == name,
            None => match &t.tag {
                Some(tag) => tag == &s.vob,
                None => false,
            },
        }
    }

    /// The packets addressed to the local replica, per `lspacket -long`.
    pub(crate) fn listing(&self, s: &Settings) -> Result<Vec<Packet>, Error> {
        Ok(self.listing_all(s)?.0)
    }

    /// The packets addressed to the local replica, and how many others the
    /// listing shows (packets for other VOBs or replicas of this host).
    pub(crate) fn listing_all(&self, s: &Settings) -> Result<(Vec<Packet>, usize), Error> {
        let argv = self.lspacket_argv(s);
        let program = argv[0].clone();
        let out = self
            .host
            .run(&self.query(s, argv))
            .map_err(|e| Error::failed(format!("cannot run {program}: {e}")))?;
        if out.dry_run {
            return Ok((Vec::new(), 0));
        }
        let packets = lspacket::parse(&out.stdout);
        if !out.success() && packets.is_empty() {
            let why = if out.timed_out {
                "timed out".to_owned()
            } else {
                out.last_line().to_owned()
            };
            return Err(Error::failed(format!("lspacket failed: {why}")));
        }
        if !out.success() {
            tracing::warn!("lspacket: {}", out.last_line());
        }
        let (ours, others): (Vec<Packet>, Vec<Packet>) = packets
            .into_iter()
            .partition(|p| p.targets.iter().any(|t| Self::is_ours(s, t)));
        Ok((ours, others.len()))
    }

    /// Logical packets that cannot be imported now, and why.
    pub(crate) fn held(&self, s: &Settings, packets: &[Packet]) -> Vec<Held> {
        let mut held = Vec::new();
        for l in lspacket::group(packets) {
            let why = if !l.complete() {
                let missing: Vec<String> = l.missing().iter().map(u32::to_string).collect();
                format!(
                    "fragment(s) {} of {} not arrived",
                    missing.join(", "),
                    l.fragments
                )
            } else if !l
                .parts
                .iter()
                .any(|p| p.target(&|t| Self::is_ours(s, t)).is_some_and(|t| t.star))
            {
                "a predecessor is missing (no * in lspacket)".to_owned()
            } else {
                continue;
            };
            held.push(Held {
                name: l.name().to_owned(),
                why,
                waited: waited(&l),
            });
        }
        held
    }

    /// True when lspacket marks the logical packet importable here (`*`).
    pub(crate) fn starred(s: &Settings, l: &Logical<'_>) -> bool {
        l.parts
            .iter()
            .any(|p| p.target(&|t| Self::is_ours(s, t)).is_some_and(|t| t.star))
    }
}
