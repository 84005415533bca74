//! Reading `multitool lspacket [-long]` output (reference/vendor-tools.md §5.3).
//!
//! ```text
//! Packet is: /opt/rational/clearcase/shipping/ms_ship/incoming/sync_bangalore_30-Oct-02.14.35.49_2468_1
//! Packet type: Update
//! VOB family identifier is: 12a3456b.78c901d2.e3ab.45:67:89:c0:1d:e2
//! Comment supplied at packet creation is:
//! Packet intended for the following targets:
//!   lambik_repl [ local to this network ] * tag: /vobs/vob1
//!   boston_hub
//! Originating replica is: bangalore (...)          (-long)
//! Packet identifier is: <oid>                       (-long)
//! Packet fragment: 1 of 2                           (-long)
//! The packet sequence number is 1
//! ```
//!
//! A `*` after a target replica means the packet can be imported there now; a
//! packet without it waits for an earlier one.

/// A target replica line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    /// `[ local to this network ]` (or any bracketed note) was shown.
    pub local: bool,
    /// The packet can be imported at this replica now.
    pub star: bool,
    /// The VOB tag, when the replica is known locally.
    pub tag: Option<String>,
}

/// One physical packet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packet {
    pub path: String,
    pub kind: String,
    pub family: String,
    pub comment: String,
    pub targets: Vec<Target>,
    pub origin: Option<String>,
    pub id: Option<String>,
    /// `Packet fragment: i of n` (from `-long`).
    pub fragment: Option<(u32, u32)>,
    pub sequence: Option<u32>,
}

impl Packet {
    /// The file name.
    pub fn name(&self) -> &str {
        self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path)
    }

    /// What identifies the logical packet: its identifier, else the name
    /// without the trailing `_<n>`.
    pub fn key(&self) -> String {
        if let Some(id) = &self.id {
            return id.clone();
        }
        let name = self.path.as_str();
        match name.rsplit_once('_') {
            Some((stem, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
                stem.to_owned()
            }
            _ => name.to_owned(),
        }
    }

    /// (i, n): this packet is fragment i of n.
    pub fn fragment(&self) -> (u32, u32) {
        self.fragment.unwrap_or((1, 1))
    }

    /// The target lines that stand for the local replica.
    pub fn target<'a>(&'a self, is_ours: &dyn Fn(&Target) -> bool) -> Option<&'a Target> {
        self.targets.iter().find(|t| is_ours(t))
    }
}

fn after<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.strip_prefix(prefix).map(str::trim)
}

fn parse_target(line: &str) -> Option<Target> {
    let t = line.trim();
    let name = t
        .split_whitespace()
        .next()?
        .trim_end_matches('*')
        .to_owned();
    if name.is_empty() {
        return None;
    }
    let rest = &t[t.find(char::is_whitespace).unwrap_or(t.len())..];
    let (before_tag, tag) = match rest.find("tag:") {
        Some(i) => (
            &rest[..i],
            Some(rest[i + 4..].trim().to_owned()).filter(|s| !s.is_empty()),
        ),
        None => (rest, None),
    };
    let (note, tail) = match (before_tag.find('['), before_tag.rfind(']')) {
        (Some(a), Some(b)) if b > a => (
            true,
            format!("{}{}", &before_tag[..a], &before_tag[b + 1..]),
        ),
        _ => (false, before_tag.to_owned()),
    };
    let star = tail.contains('*')
        || t.split_whitespace()
            .next()
            .is_some_and(|w| w.ends_with('*'));
    Some(Target {
        name,
        local: note,
        star,
        tag,
    })
}

/// Parses the whole listing.
pub fn parse(text: &str) -> Vec<Packet> {
    let mut packets: Vec<Packet> = Vec::new();
    let mut in_targets = false;
    for raw in text.lines() {
        let line = raw.trim_end();
        if let Some(p) = after(line, "Packet is:") {
            packets.push(Packet {
                path: p.to_owned(),
                ..Packet::default()
            });
            in_targets = false;
            continue;
        }
        let Some(cur) = packets.last_mut() else {
            continue;
        };
        if in_targets {
            if line.starts_with([' ', '\t']) && !line.trim().is_empty() {
                if let Some(t) = parse_target(line) {
                    cur.targets.push(t);
                }
                continue;
            }
            in_targets = false;
        }
        if let Some(v) = after(line, "Packet type:") {
            cur.kind = v.to_owned();
        } else if let Some(v) = after(line, "VOB family identifier is:") {
            cur.family = v.to_owned();
        } else if let Some(v) = after(line, "Comment supplied at packet creation is:") {
            cur.comment = v.to_owned();
        } else if line
            .trim_start()
            .starts_with("Packet intended for the following targets")
        {
            in_targets = true;
        } else if let Some(v) =
            after(line, "Originating replica is:").or_else(|| after(line, "Originating replica is"))
        {
            cur.origin = v.split_whitespace().next().map(str::to_owned);
        } else if let Some(v) = after(line, "Packet identifier is:") {
            cur.id = Some(v.to_owned()).filter(|s| !s.is_empty());
        } else if let Some(v) = after(line, "Packet fragment:") {
            if let Some((a, b)) = v.split_once(" of ")
                && let (Ok(a), Ok(b)) = (a.trim().parse(), b.trim().parse())
            {
                cur.fragment = Some((a, b));
            }
        } else if let Some(v) = after(line, "The packet sequence number is") {
            cur.sequence = v.trim().parse().ok();
        }
    }
    packets
}

/// A logical packet: its physical parts present in the listing.
#[derive(Clone, Debug)]
pub struct Logical<'a> {
    pub parts: Vec<&'a Packet>,
    pub fragments: u32,
}

impl Logical<'_> {
    pub fn complete(&self) -> bool {
        self.missing().is_empty()
    }

    /// Fragment numbers not present.
    pub fn missing(&self) -> Vec<u32> {
        (1..=self.fragments)
            .filter(|i| !self.parts.iter().any(|p| p.fragment().0 == *i))
            .collect()
    }

    /// The name of its first part present.
    pub fn name(&self) -> &str {
        self.parts[0].name()
    }

    pub fn paths(&self) -> Vec<String> {
        self.parts.iter().map(|p| p.path.clone()).collect()
    }
}

/// Groups physical packets into logical packets, keeping the listing's order.
pub fn group<'a>(packets: impl IntoIterator<Item = &'a Packet>) -> Vec<Logical<'a>> {
    let mut out: Vec<(String, Logical<'a>)> = Vec::new();
    for p in packets {
        let key = p.key();
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, l)) => {
                if !l.parts.iter().any(|q| q.path == p.path) {
                    l.fragments = l.fragments.max(p.fragment().1);
                    l.parts.push(p);
                }
            }
            None => out.push((
                key,
                Logical {
                    parts: vec![p],
                    fragments: p.fragment().1,
                },
            )),
        }
    }
    for (_, l) in &mut out {
        l.parts.sort_by_key(|p| p.fragment().0);
    }
    out.into_iter().map(|(_, l)| l).collect()
}
