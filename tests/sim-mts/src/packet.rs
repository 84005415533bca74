//! The update packet file format of the simulator.
//!
//! A physical packet is a text header, a blank line, then its share of the
//! logical packet's body (the JSON list of oplog entries, split by `-maxsize`):
//!
//! ```text
//! %MULTISITE-PACKET 1 (doppel simulator)
//! Packet-Type: Update
//! Family: 5f3c...            Vob-Tag: /vobs/dev
//! Packet-Id: ...             Origin: paris      Origin-Oid: ...
//! Targets: tokyo london      Fragment: 1 of 3   Logical-Sequence: 4
//! Ranges: paris=2:5          (per originating replica: after:through)
//! Sender-Row: paris=5 tokyo=2
//! Body-Length / Body-Checksum         this fragment's bytes (FNV-1a 64)
//! Packet-Length / Packet-Checksum     the whole logical body
//! ```
//! (one `Key: value` per line). A file whose body is shorter than announced is
//! *truncated*; a checksum mismatch makes it *corrupt*. Either is refused at import.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::world::{Entry, fnv64};

pub const MAGIC: &str = "%MULTISITE-PACKET 1 (doppel simulator)";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Header {
    pub kind: String,
    pub family_oid: String,
    pub vob: String,
    pub packet_id: String,
    pub origin: String,
    pub origin_oid: String,
    pub incarnation: u64,
    pub comment: String,
    pub targets: Vec<String>,
    pub fragment: u32,
    pub fragments: u32,
    pub logical_seq: u64,
    /// Originating replica → (after, through): the entries with after < id <= through.
    pub ranges: BTreeMap<String, (u64, u64)>,
    pub sender_row: BTreeMap<String, u64>,
    pub entries: u64,
    pub created: f64,
    pub body_length: u64,
    pub body_checksum: String,
    pub packet_length: u64,
    pub packet_checksum: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PacketError {
    NotAPacket(String),
    Truncated { have: u64, want: u64 },
    TruncatedHeader,
    Corrupt(String),
    Io(String),
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketError::NotAPacket(why) => write!(f, "not a synchronization packet ({why})"),
            PacketError::Truncated { have, want } => {
                write!(
                    f,
                    "packet is truncated ({have} of {want} data bytes present)"
                )
            }
            PacketError::TruncatedHeader => {
                write!(f, "packet is truncated (its header is incomplete)")
            }
            PacketError::Corrupt(why) => write!(f, "packet is corrupt ({why})"),
            PacketError::Io(e) => write!(f, "{e}"),
        }
    }
}

pub fn checksum(data: &[u8]) -> String {
    format!("{:016x}", fnv64(data))
}

fn ranges_text(r: &BTreeMap<String, (u64, u64)>) -> String {
    r.iter()
        .map(|(k, (a, b))| format!("{k}={a}:{b}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn row_text(r: &BTreeMap<String, u64>) -> String {
    r.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Header {
    pub fn encode(&self, body: &[u8]) -> Vec<u8> {
        let mut h = String::new();
        h.push_str(MAGIC);
        h.push('\n');
        let mut line = |k: &str, v: String| {
            h.push_str(k);
            h.push_str(": ");
            h.push_str(&v);
            h.push('\n');
        };
        line("Packet-Type", self.kind.clone());
        line("Family", self.family_oid.clone());
        line("Vob-Tag", self.vob.clone());
        line("Packet-Id", self.packet_id.clone());
        line("Origin", self.origin.clone());
        line("Origin-Oid", self.origin_oid.clone());
        line("Incarnation", self.incarnation.to_string());
        line(
            "Comment",
            self.comment.replace('\\', "\\\\").replace('\n', "\\n"),
        );
        line("Targets", self.targets.join(" "));
        line(
            "Fragment",
            format!("{} of {}", self.fragment, self.fragments),
        );
        line("Logical-Sequence", self.logical_seq.to_string());
        line("Ranges", ranges_text(&self.ranges));
        line("Sender-Row", row_text(&self.sender_row));
        line("Entries", self.entries.to_string());
        line("Created", format!("{:.3}", self.created));
        line("Body-Length", self.body_length.to_string());
        line("Body-Checksum", self.body_checksum.clone());
        line("Packet-Length", self.packet_length.to_string());
        line("Packet-Checksum", self.packet_checksum.clone());
        h.push('\n');
        let mut out = h.into_bytes();
        out.extend_from_slice(body);
        out
    }

    /// Reads a header; returns it and the body that follows.
    pub fn decode(data: &[u8]) -> Result<(Header, Vec<u8>), PacketError> {
        let not = |why: &str| PacketError::NotAPacket(why.to_owned());
        let end = data.windows(2).position(|w| w == b"\n\n").ok_or_else(|| {
            if data.starts_with(MAGIC.as_bytes()) {
                PacketError::TruncatedHeader
            } else {
                not("no packet header")
            }
        })?;
        let head = std::str::from_utf8(&data[..end]).map_err(|_| not("header is not text"))?;
        let mut lines = head.lines();
        if lines.next() != Some(MAGIC) {
            return Err(not("bad magic line"));
        }
        let mut map: BTreeMap<&str, &str> = BTreeMap::new();
        for l in lines {
            let (k, v) = l
                .split_once(": ")
                .or_else(|| l.split_once(':'))
                .ok_or_else(|| not("malformed header line"))?;
            map.insert(k.trim(), v.trim());
        }
        let get = |k: &str| {
            map.get(k)
                .copied()
                .ok_or_else(|| PacketError::NotAPacket(format!("header field {k} missing")))
        };
        let num = |k: &str| -> Result<u64, PacketError> {
            get(k)?
                .parse::<u64>()
                .map_err(|_| PacketError::NotAPacket(format!("header field {k} is not a number")))
        };
        let (fragment, fragments) = {
            let f = get("Fragment")?;
            let (a, b) = f
                .split_once(" of ")
                .ok_or_else(|| not("bad Fragment field"))?;
            (
                a.trim()
                    .parse::<u32>()
                    .map_err(|_| not("bad Fragment field"))?,
                b.trim()
                    .parse::<u32>()
                    .map_err(|_| not("bad Fragment field"))?,
            )
        };
        if fragment == 0 || fragment > fragments {
            return Err(not("bad Fragment field"));
        }
        let mut ranges = BTreeMap::new();
        for item in get("Ranges")?.split_whitespace() {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| not("bad Ranges field"))?;
            let (a, b) = v.split_once(':').ok_or_else(|| not("bad Ranges field"))?;
            ranges.insert(
                k.to_owned(),
                (
                    a.parse().map_err(|_| not("bad Ranges field"))?,
                    b.parse().map_err(|_| not("bad Ranges field"))?,
                ),
            );
        }
        let mut sender_row = BTreeMap::new();
        for item in get("Sender-Row")?.split_whitespace() {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| not("bad Sender-Row field"))?;
            sender_row.insert(
                k.to_owned(),
                v.parse().map_err(|_| not("bad Sender-Row field"))?,
            );
        }
        let mut comment = String::new();
        let mut chars = get("Comment")?.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => comment.push('\n'),
                    Some(o) => comment.push(o),
                    None => {}
                }
            } else {
                comment.push(c);
            }
        }
        let header = Header {
            kind: get("Packet-Type")?.to_owned(),
            family_oid: get("Family")?.to_owned(),
            vob: get("Vob-Tag")?.to_owned(),
            packet_id: get("Packet-Id")?.to_owned(),
            origin: get("Origin")?.to_owned(),
            origin_oid: get("Origin-Oid")?.to_owned(),
            incarnation: num("Incarnation")?,
            comment,
            targets: get("Targets")?
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            fragment,
            fragments,
            logical_seq: num("Logical-Sequence")?,
            ranges,
            sender_row,
            entries: num("Entries")?,
            created: get("Created")?
                .parse()
                .map_err(|_| not("bad Created field"))?,
            body_length: num("Body-Length")?,
            body_checksum: get("Body-Checksum")?.to_owned(),
            packet_length: num("Packet-Length")?,
            packet_checksum: get("Packet-Checksum")?.to_owned(),
        };
        Ok((header, data[end + 2..].to_vec()))
    }

    /// Checks this fragment's body against its length and checksum.
    pub fn verify(&self, body: &[u8]) -> Result<(), PacketError> {
        let have = body.len() as u64;
        if have < self.body_length {
            return Err(PacketError::Truncated {
                have,
                want: self.body_length,
            });
        }
        if have > self.body_length {
            return Err(PacketError::Corrupt(format!(
                "{} unexpected trailing bytes",
                have - self.body_length
            )));
        }
        let sum = checksum(body);
        if sum != self.body_checksum {
            return Err(PacketError::Corrupt(format!(
                "checksum {sum} does not match {}",
                self.body_checksum
            )));
        }
        Ok(())
    }
}

/// A physical packet read from disk.
#[derive(Clone, Debug)]
pub struct PacketFile {
    pub path: std::path::PathBuf,
    pub header: Header,
    pub body: Vec<u8>,
    /// Arrival (modification) time, seconds since the epoch.
    pub mtime: f64,
}

pub fn read(path: &Path) -> Result<PacketFile, PacketError> {
    let data = std::fs::read(path)
        .map_err(|e| PacketError::Io(format!("cannot read {}: {e}", path.display())))?;
    let (header, body) = Header::decode(&data)?;
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    Ok(PacketFile {
        path: path.to_owned(),
        header,
        body,
        mtime,
    })
}

/// Splits a body into chunks of at most `maxsize` bytes (at least one chunk).
pub fn split(body: &[u8], maxsize: Option<u64>) -> Vec<Vec<u8>> {
    match maxsize {
        Some(m) if m > 0 && (body.len() as u64) > m => {
            body.chunks(m as usize).map(<[u8]>::to_vec).collect()
        }
        _ => vec![body.to_vec()],
    }
}

/// Rebuilds the logical packet from all its fragments (any order) and checks it.
pub fn assemble(frags: &[&PacketFile]) -> Result<Vec<Entry>, (std::path::PathBuf, PacketError)> {
    let mut sorted: Vec<&&PacketFile> = frags.iter().collect();
    sorted.sort_by_key(|f| f.header.fragment);
    let mut body = Vec::new();
    for f in &sorted {
        f.header.verify(&f.body).map_err(|e| (f.path.clone(), e))?;
        body.extend_from_slice(&f.body);
    }
    let first = sorted.first().expect("at least one fragment");
    let have = body.len() as u64;
    if have != first.header.packet_length {
        return Err((
            first.path.clone(),
            PacketError::Truncated {
                have,
                want: first.header.packet_length,
            },
        ));
    }
    let sum = checksum(&body);
    if sum != first.header.packet_checksum {
        return Err((
            first.path.clone(),
            PacketError::Corrupt(format!(
                "packet checksum {sum} does not match {}",
                first.header.packet_checksum
            )),
        ));
    }
    serde_json::from_slice::<Vec<Entry>>(&body).map_err(|e| {
        (
            first.path.clone(),
            PacketError::Corrupt(format!("unreadable oplog entries: {e}")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(body: &[u8]) -> Header {
        Header {
            kind: "Update".into(),
            family_oid: "f".into(),
            vob: "/vobs/dev".into(),
            packet_id: "p1".into(),
            origin: "paris".into(),
            origin_oid: "o".into(),
            comment: "two\nlines \\ ok".into(),
            targets: vec!["tokyo".into(), "london".into()],
            fragment: 1,
            fragments: 1,
            logical_seq: 3,
            ranges: [("paris".to_owned(), (2, 5))].into(),
            sender_row: [("paris".to_owned(), 5), ("tokyo".to_owned(), 1)].into(),
            entries: 3,
            created: 12.5,
            body_length: body.len() as u64,
            body_checksum: checksum(body),
            packet_length: body.len() as u64,
            packet_checksum: checksum(body),
            ..Header::default()
        }
    }

    #[test]
    fn roundtrip_and_verification() {
        let body = b"[1,2,3]";
        let h = header(body);
        let data = h.encode(body);
        let (back, b) = Header::decode(&data).unwrap();
        assert_eq!(back, h);
        assert_eq!(b, body);
        assert!(back.verify(&b).is_ok());
        assert!(matches!(
            back.verify(&b[..3]),
            Err(PacketError::Truncated { have: 3, want: 7 })
        ));
        assert!(matches!(
            back.verify(b"[1,2,4]"),
            Err(PacketError::Corrupt(_))
        ));
        assert!(matches!(
            Header::decode(b"hello\n\nworld"),
            Err(PacketError::NotAPacket(_))
        ));
        assert_eq!(
            Header::decode(&data[..40]).unwrap_err(),
            PacketError::TruncatedHeader
        );
    }

    #[test]
    fn split_sizes() {
        assert_eq!(split(b"abcdefg", Some(3)).len(), 3);
        assert_eq!(split(b"abc", Some(3)).len(), 1);
        assert_eq!(split(b"", Some(3)).len(), 1);
        assert_eq!(split(b"abcdefg", None).len(), 1);
    }
}
