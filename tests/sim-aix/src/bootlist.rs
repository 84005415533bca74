//! `bootlist`: the boot device lists of the normal and service modes.
//!
//! ```text
//! bootlist -m normal|service|both [-o] [-r] [-i] [-F] [-v] [Device [Attr=Value ...] ...]
//! ```
//!
//! `-o` prints the list (after setting it, when devices are given), one line per
//! path of a disk: `hdisk1 blv=hd5 pathid=0`.

use doppel_sim::common::{SimError, SimResult, err, out};

use crate::getopt::getopt;
use crate::machine::{BootEntry, Machine, MachineDir};

const USAGE: &str = "Usage: bootlist [ {-m Mode} [-r] [-o] [ [-i] [-V] [-F] | [ [-f File] [Device [Attr=Value ...] ...] ] ] [-v] ]\n";

/// The `-o` display of a list.
pub fn display(m: &Machine, list: &[BootEntry]) -> String {
    let mut s = String::new();
    for e in list {
        match m.disk(&e.device) {
            Some(d) => {
                let blv = e.attr("blv").unwrap_or("hd5");
                let others: Vec<&String> = e
                    .attrs
                    .iter()
                    .filter(|a| !a.starts_with("blv=") && !a.starts_with("pathid="))
                    .collect();
                let extra: String = others.iter().map(|a| format!(" {a}")).collect();
                match e.attr("pathid") {
                    Some(p) => s.push_str(&format!("{} blv={blv} pathid={p}{extra}\n", e.device)),
                    None => {
                        for p in 0..d.paths.max(1) {
                            s.push_str(&format!("{} blv={blv} pathid={p}{extra}\n", e.device));
                        }
                    }
                }
            }
            None => {
                let attrs: String = e.attrs.iter().map(|a| format!(" {a}")).collect();
                s.push_str(&format!("{}{attrs}\n", e.device));
            }
        }
    }
    s
}

fn valid_device(m: &Machine, name: &str) -> bool {
    if m.disk(name).is_some() {
        return true;
    }
    ["cd", "ent", "rmt", "fcs"].iter().any(|p| {
        name.strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    })
}

/// Parses `Device [Attr=Value ...] ...` into entries.
pub fn parse_devices(m: &Machine, words: &[String]) -> SimResult<Vec<BootEntry>> {
    let mut list: Vec<BootEntry> = Vec::new();
    for w in words {
        if w.contains('=') {
            match list.last_mut() {
                Some(e) => e.attrs.push(w.clone()),
                None => {
                    return Err(SimError::new(
                        1,
                        format!("0514-211 bootlist: Attribute {w} precedes all devices."),
                    ));
                }
            }
            continue;
        }
        if !valid_device(m, w) {
            return Err(SimError::new(
                1,
                format!("0514-210 bootlist: Device {w} is not valid."),
            ));
        }
        list.push(BootEntry {
            device: w.clone(),
            attrs: Vec::new(),
        });
    }
    if list.len() > 5 {
        return Err(SimError::new(
            1,
            "0514-204 bootlist: Too many devices: the boot list holds at most 5.",
        ));
    }
    Ok(list)
}

pub fn main(args: Vec<String>) -> i32 {
    match run(&args) {
        Ok(text) => {
            out(&text);
            0
        }
        Err(e) => {
            err(&format!("{}\n", e.message.trim_end()));
            e.code
        }
    }
}

fn run(args: &[String]) -> SimResult<String> {
    let o = getopt(args, "m:orivVFf:", false)
        .map_err(|e| SimError::new(1, format!("bootlist: {e}\n{USAGE}")))?;
    let mode = o
        .value('m')
        .ok_or_else(|| {
            SimError::new(
                1,
                format!("0514-200 bootlist: A mode (-m) must be specified.\n{USAGE}"),
            )
        })?
        .to_owned();
    let (normal, service) = match mode.as_str() {
        "normal" => (true, false),
        "service" => (false, true),
        "both" => (true, true),
        "prevboot" => (true, false),
        other => {
            return Err(SimError::new(
                1,
                format!(
                    "0514-201 bootlist: Invalid mode {other}: use normal, service or both.\n{USAGE}"
                ),
            ));
        }
    };
    if o.has('f') {
        return Err(SimError::new(1, "bootlist: -f is not simulated"));
    }
    let show = o.has('o') || o.has('r');
    if o.operands.is_empty() && !show && !o.has('i') {
        return Err(SimError::new(
            1,
            format!("0514-202 bootlist: Specify a device, or -o, -r or -i.\n{USAGE}"),
        ));
    }
    let dir = MachineDir::open()?;
    dir.with(|m| {
        if o.has('i') {
            if normal {
                m.normal.clear();
            }
            if service {
                m.service.clear();
            }
        }
        if !o.operands.is_empty() {
            let list = parse_devices(m, &o.operands)?;
            let disks: Vec<String> = list.iter().map(|e| e.device.clone()).collect();
            if let Some(f) = m.take_fault("bootlist", &disks) {
                return Err(SimError::new(
                    f.rc.unwrap_or(1),
                    f.message.unwrap_or_else(|| {
                        "0514-220 bootlist: Unable to set the boot list: NVRAM write failed.".into()
                    }),
                ));
            }
            if normal {
                m.normal = list.clone();
            }
            if service {
                m.service = list;
            }
        }
        Ok(if show {
            let list = if normal {
                m.normal.clone()
            } else {
                m.service.clone()
            };
            display(m, &list)
        } else {
            String::new()
        })
    })
}
