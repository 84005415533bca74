//! Store-and-forward: shipping orders (`sh_o_<packet>`) in the outgoing bay, their
//! delivery to the destination hosts' incoming bays, and `shipping_server`.
//!
//! Delivery goes through the fault and hold settings of `mtsim`: a destination
//! host on hold receives nothing until `mtsim transit deliver`; `drop`, `corrupt`
//! and `truncate` faults lose or damage a packet on its way. The sender is never
//! told (MultiSite senders assume success).

use std::path::{Path, PathBuf};

use doppel_sim::common::{SimError, SimResult, err, out, write_atomic};

use crate::dates::cc_datetime;
use crate::world::{DEFAULT_CLASS, Mts};

/// A shipping order.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub data_path: PathBuf,
    pub class: String,
    pub destinations: Vec<String>,
}

pub fn order_name(packet: &Path) -> String {
    format!(
        "sh_o_{}",
        packet
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .replace(':', ".")
    )
}

/// Writes the shipping order of `packet` next to it and returns its path.
pub fn write_order(
    packet: &Path,
    class: &str,
    destinations: &[String],
    now: f64,
) -> SimResult<PathBuf> {
    let dir = packet.parent().unwrap_or_else(|| Path::new("."));
    let path = dir.join(order_name(packet));
    let text = format!(
        "# shipping order (doppel MultiSite simulator)\n%IDENTIFIER {}\n%LOCAL-DATA-PATH \"{}\"\n%STORAGE-CLASS {}\n%DESTINATIONS {}\n%CREATION-DATE {}\n",
        packet
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        packet.display(),
        class,
        destinations.join(" "),
        cc_datetime(now),
    );
    write_atomic(&path, text.as_bytes()).map_err(|e| {
        SimError::new(
            1,
            format!("Error: cannot write shipping order {}: {e}", path.display()),
        )
    })?;
    Ok(path)
}

pub fn read_order(path: &Path) -> SimResult<Order> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        SimError::new(
            1,
            format!("Error: cannot read shipping order {}: {e}", path.display()),
        )
    })?;
    let mut data = None;
    let mut class = DEFAULT_CLASS.to_owned();
    let mut destinations = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("%LOCAL-DATA-PATH") {
            data = Some(PathBuf::from(v.trim().trim_matches('"')));
        } else if let Some(v) = line.strip_prefix("%STORAGE-CLASS") {
            class = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("%DESTINATIONS") {
            destinations = v.split_whitespace().map(str::to_owned).collect();
        }
    }
    let data_path = data.ok_or_else(|| {
        SimError::new(
            1,
            format!(
                "Error: shipping order {} has no %LOCAL-DATA-PATH",
                path.display()
            ),
        )
    })?;
    Ok(Order {
        data_path,
        class,
        destinations,
    })
}

fn copy_into(src_bytes: &[u8], dir: &Path, name: &str) -> SimResult<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| SimError::new(1, format!("cannot create {}: {e}", dir.display())))?;
    let dest = dir.join(name);
    write_atomic(&dest, src_bytes)
        .map_err(|e| SimError::new(1, format!("cannot write {}: {e}", dest.display())))?;
    Ok(dest)
}

/// Damages a packet's bytes: flips one byte in the body (or the header when the
/// body is empty).
pub fn corrupt_bytes(data: &mut [u8]) {
    if data.is_empty() {
        return;
    }
    let body_start = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|p| p + 2)
        .unwrap_or(0);
    let idx = if body_start < data.len() {
        body_start + (data.len() - body_start) / 2
    } else {
        data.len() / 2
    };
    data[idx] = if data[idx] == b'#' { b'%' } else { b'#' };
}

/// Cuts a packet in the middle of its body (at 60 % when it has no body).
pub fn truncate_bytes(data: &mut Vec<u8>) {
    let body_start = data.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    let n = match body_start {
        Some(b) if b < data.len() => b + (data.len() - b) / 2,
        _ => data.len() * 6 / 10,
    };
    data.truncate(n);
}

/// The fragment index in a packet name `..._<n>` (for fault filters).
fn fragment_of(bytes: &[u8]) -> String {
    crate::packet::Header::decode(bytes)
        .map(|(h, _)| h.fragment.to_string())
        .unwrap_or_default()
}

/// Delivers the packet of one shipping order to its destinations, then deletes
/// the packet and the order. Returns the packet path.
pub fn deliver(mts: &mut Mts, order_path: &Path) -> SimResult<PathBuf> {
    let order = read_order(order_path)?;
    let bytes = std::fs::read(&order.data_path).map_err(|e| {
        SimError::new(
            1,
            format!(
                "Error: cannot read packet {}: {e}",
                order.data_path.display()
            ),
        )
    })?;
    let name = order
        .data_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fragment = fragment_of(&bytes);
    for dest in &order.destinations {
        if mts.host(dest).is_none() {
            err(&format!(
                "shipping_server: Warning: no route to host \"{dest}\"; packet {} not delivered there\n",
                order.data_path.display()
            ));
            continue;
        }
        let dests = [dest.clone()];
        let matches = |f: &doppel_sim::common::faults::Fault| {
            f.touches(&dests, |a, b| a == b) && f.applies_to(&[fragment.as_str()], &["any"])
        };
        let mut data = bytes.clone();
        if mts.world.faults.take("drop", matches).is_some() {
            continue;
        }
        if mts.world.faults.take("corrupt", matches).is_some() {
            corrupt_bytes(&mut data);
        }
        if mts.world.faults.take("truncate", matches).is_some() {
            truncate_bytes(&mut data);
        }
        let held = mts.world.hold.iter().any(|h| h == "*" || h == dest);
        let class = if mts
            .host(dest)
            .is_some_and(|h| h.classes.contains_key(&order.class))
        {
            order.class.clone()
        } else {
            DEFAULT_CLASS.to_owned()
        };
        let dir = if held {
            mts.transit_dir(dest, &class)
        } else {
            mts.bay(dest, &class)?.join("incoming")
        };
        copy_into(&data, &dir, &name)?;
    }
    let _ = std::fs::remove_file(&order.data_path);
    let _ = std::fs::remove_file(order_path);
    mts.save()?;
    Ok(order.data_path)
}

/// `shipping_server [-sclass class] { -poll | order-pname ... }`.
pub fn main(args: Vec<String>) -> i32 {
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            err(&format!("shipping_server: {}\n", e.message));
            e.code
        }
    }
}

fn usage() -> SimError {
    SimError::new(
        1,
        "Usage: shipping_server [-sclass storage-class] { -poll | shipping-order-pname ... }"
            .to_owned(),
    )
}

fn run(args: Vec<String>) -> SimResult<i32> {
    let mut class: Option<String> = None;
    let mut poll = false;
    let mut orders = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-sclass" => class = Some(it.next().ok_or_else(usage)?),
            "-poll" => poll = true,
            "-h" | "-help" | "--help" => {
                out(
                    "Usage: shipping_server [-sclass storage-class] { -poll | shipping-order-pname ... }\n",
                );
                return Ok(0);
            }
            s if s.starts_with('-') => return Err(usage()),
            _ => orders.push(PathBuf::from(a)),
        }
    }
    if poll != orders.is_empty() {
        return Err(usage());
    }
    let mut mts = Mts::open()?;
    let host = mts.this_host(None)?;
    if poll {
        let h = mts
            .host(&host)
            .cloned()
            .ok_or_else(|| SimError::new(1, format!("Error: unknown host \"{host}\"")))?;
        for (c, bay) in &h.classes {
            if class.as_ref().is_some_and(|want| want != c) {
                continue;
            }
            let mut found: Vec<PathBuf> = std::fs::read_dir(bay.join("outgoing"))
                .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            found.retain(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("sh_o_"))
            });
            found.sort();
            orders.extend(found);
        }
    }
    let mut failures = 0;
    for order in orders {
        match deliver(&mut mts, &order) {
            Ok(packet) => out(&format!(
                " -- Forwarded/delivered packet {}\n",
                packet.display()
            )),
            Err(e) => {
                err(&format!("shipping_server: {}\n", e.message));
                failures += 1;
            }
        }
    }
    mts.save()?;
    Ok(if failures > 0 { 1 } else { 0 })
}
