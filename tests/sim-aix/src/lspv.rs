//! `lspv`: the disk table.
//!
//! ```text
//! hdisk0          00f6db0a6c7aece5                    rootvg          active
//! hdisk1          00f6db0a1d1e2f3a                    altinst_rootvg
//! hdisk2          none                                None
//! ```

use doppel_sim::common::{SimError, SimResult, err, out};

use crate::getopt::getopt;
use crate::machine::{Machine, MachineDir, PP_MB};

const USAGE: &str = "Usage: lspv [-L] [-P] [-u]\n       lspv [-L] [-l | -p | -M] [-n DescriptorPhysicalVolume] [-v VolumeGroupID] PhysicalVolume\n";

/// The `lspv` listing of `m`.
pub fn listing(m: &Machine) -> String {
    let mut s = String::new();
    for d in m.sorted_disks() {
        let vg = m.vg_of(&d.name);
        let line = format!(
            "{:<15} {:<35} {:<15} {}",
            d.name,
            d.pvid.as_deref().unwrap_or("none"),
            vg.map(|v| v.name.as_str()).unwrap_or("None"),
            if vg.is_some_and(|v| v.varied_on) {
                "active"
            } else {
                ""
            }
        );
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// `lspv <disk>`.
pub fn detail(m: &Machine, name: &str) -> SimResult<String> {
    let d = m.disk(name).ok_or_else(|| {
        SimError::new(
            1,
            format!(
                "0516-1396 lspv: The physical volume {name}, was not found in the\nsystem database."
            ),
        )
    })?;
    let Some(vg) = m.vg_of(name) else {
        return Err(SimError::new(
            1,
            format!("0516-320 lspv: Physical volume {name} is not assigned to\n\ta volume group."),
        ));
    };
    let total = d.size_mb / PP_MB;
    let share = if vg.disks.is_empty() {
        0
    } else {
        vg.used_mb / vg.disks.len() as u64 / PP_MB
    };
    let used = share.min(total);
    let state = if vg.varied_on { "active" } else { "varied off" };
    let pvid = d.pvid.as_deref().unwrap_or("none");
    let vgid = format!(
        "{}00000000",
        d.pvid.as_deref().unwrap_or("0000000000000000")
    );
    let pp = format!("{PP_MB} megabyte(s)");
    let total_text = format!("{total} ({} megabytes)", total * PP_MB);
    let free_text = format!("{} ({} megabytes)", total - used, (total - used) * PP_MB);
    let mut s = String::new();
    s.push_str(&format!(
        "{:<20}{:<25}{:<18}{}\n",
        "PHYSICAL VOLUME:", d.name, "VOLUME GROUP:", vg.name
    ));
    s.push_str(&format!(
        "{:<20}{:<25}{:<18}{}\n",
        "PV IDENTIFIER:", pvid, "VG IDENTIFIER", vgid
    ));
    s.push_str(&format!("{:<20}{}\n", "PV STATE:", state));
    s.push_str(&format!(
        "{:<20}{:<25}{:<18}{}\n",
        "PP SIZE:", pp, "ALLOCATABLE:", "yes"
    ));
    s.push_str(&format!("{:<20}{}\n", "TOTAL PPs:", total_text));
    s.push_str(&format!("{:<20}{}\n", "FREE PPs:", free_text));
    Ok(s)
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
    let o =
        getopt(args, "LPu", false).map_err(|e| SimError::new(2, format!("lspv: {e}\n{USAGE}")))?;
    if o.has('P') || o.has('u') {
        return Err(SimError::new(
            2,
            format!("lspv: -P and -u are not simulated\n{USAGE}"),
        ));
    }
    let dir = MachineDir::open()?;
    let m = dir.with(|m| {
        if let Some(f) = m.take_fault("lspv", &o.operands) {
            return Err(SimError::new(
                f.rc.unwrap_or(1),
                f.message.unwrap_or_else(|| {
                    "0516-1201 lspv: Warning: The physical volume is missing from the ODM.".into()
                }),
            ));
        }
        Ok(m.clone())
    })?;
    match o.operands.as_slice() {
        [] => Ok(listing(&m)),
        [name] => detail(&m, name),
        _ => Err(SimError::new(2, USAGE)),
    }
}
