//! `sg_turs` and `multipath`: the two Linux host tools the symclone driver runs
//! after an activation (OpenSVC's sync/symclone/linux.py), simulated against the
//! simulated arrays' devices so that no real SCSI device is touched.
//!
//! - `sg_turs [-v] DEVICE`: TEST UNIT READY. Exit 0 when DEVICE is a native path
//!   (or the physical name) of a visible, ready device; 2 ("not ready", as
//!   sg3_utils) when the device is Not Ready; 15 (sg3_utils' open error) when no
//!   simulated device has that name.
//! - `multipath [-v N] -r [DEVICE]`: reload the maps (of DEVICE). Exit 0 when
//!   DEVICE is known (or absent); 1 otherwise.

use super::db::with_db;
use super::model::Device;
use crate::common::{SimResult, err, out};

/// The simulated device named `name` (a native path or the physical name).
fn lookup(name: &str) -> SimResult<Option<Device>> {
    with_db(|db| {
        db.arrays
            .values()
            .flat_map(|a| a.devices.iter())
            .find(|d| {
                d.visible() && (d.pd_name == name || d.native_paths().iter().any(|p| p == name))
            })
            .cloned()
    })
}

pub fn sg_turs_main(argv: Vec<String>) -> i32 {
    let Some(dev) = argv.iter().rev().find(|a| !a.starts_with('-')) else {
        err("Usage: sg_turs [--verbose] DEVICE\n  (doppel simulator of sg3_utils' sg_turs)\n");
        return 1;
    };
    match lookup(dev) {
        Ok(Some(d)) if d.ready => 0,
        Ok(Some(_)) => {
            out("device not ready\n");
            2
        }
        Ok(None) => {
            err(&format!(
                "sg_turs: error opening file: {dev}: No such file or directory\n"
            ));
            15
        }
        Err(e) => {
            err(&format!("sg_turs: {}\n", e.message));
            e.code
        }
    }
}

pub fn multipath_main(argv: Vec<String>) -> i32 {
    let mut reload = false;
    let mut dev: Option<&String> = None;
    let mut i = 0;
    while i < argv.len() {
        match argv[i].as_str() {
            "-r" => reload = true,
            "-v" => i += 1,
            a if a.starts_with("-v") => {}
            a if a.starts_with('-') => {
                err(&format!(
                    "multipath: unsupported option {a} (doppel simulator)\n"
                ));
                return 1;
            }
            _ => dev = Some(&argv[i]),
        }
        i += 1;
    }
    if !reload {
        err("multipath: the doppel simulator only does -r (reload)\n");
        return 1;
    }
    match dev.map(|d| lookup(d)) {
        None | Some(Ok(Some(_))) => 0,
        Some(Ok(None)) => {
            err(&format!(
                "{}: invalid device\n",
                dev.map(String::as_str).unwrap_or("")
            ));
            1
        }
        Some(Err(e)) => {
            err(&format!("multipath: {}\n", e.message));
            e.code
        }
    }
}
