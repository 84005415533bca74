//! `alt_rootvg_op`: operations on alternate rootvgs.
//!
//! ```text
//! alt_rootvg_op -X [vgname]                 remove (default altinst_rootvg)
//! alt_rootvg_op -q -d disk                  the boot disk of the volume group holding disk
//! alt_rootvg_op -v newname -d disk          rename
//! alt_rootvg_op -W -d disk                  wake up (vary on, mount under /alt_inst)
//! alt_rootvg_op -S [-t] [-D]                put the woken group to sleep
//! alt_rootvg_op -C [-R f] [-s script] [-b b|-f f|-F fixes|-w filesets -l images] [-I flags] [-D]
//!                                           customize the woken group
//! ```

use doppel_sim::common::{SimError, SimResult, err, out};

use crate::altcopy::{CopyOptions, FILE_SYSTEMS, phase2};
use crate::getopt::{Opts, getopt};
use crate::machine::{ALTINST, BootEntry, Machine, MachineDir, OLD_ROOTVG, ROOTVG};

const USAGE: &str = "Usage: alt_rootvg_op -X [<volume group>] [-D]
       alt_rootvg_op -q -d <disk>
       alt_rootvg_op -v <new volume group name> -d <disk>
       alt_rootvg_op -W -d <disk> [-D]
       alt_rootvg_op -S [-t] [-D]
       alt_rootvg_op -C [-R <resolv.conf>] [-s <script>] [-b <bundle>] [-I <installp flags>]
                     [-l <images location>] [-f <fix bundle>] [-F <fixes>] [-w <filesets>] [-D] [-V]
";

fn fail(code: &str, text: impl std::fmt::Display) -> SimError {
    SimError::new(1, format!("{code} alt_rootvg_op: {text}"))
}

fn usage(text: &str) -> SimError {
    SimError::new(1, format!("alt_rootvg_op: {text}\n{USAGE}"))
}

/// `7200-05-03-2148` → 7200.
fn release(level: &str) -> u32 {
    level
        .split('-')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn is_alternate(m: &Machine, vg: &str) -> bool {
    vg == OLD_ROOTVG || vg == ALTINST || m.vg(vg).is_some_and(|v| v.alt.is_some())
}

fn fault(m: &mut Machine, kind: &str, objects: &[String], default: &str) -> SimResult<()> {
    match m.take_fault(kind, objects) {
        Some(f) => Err(SimError::new(
            f.rc.unwrap_or(1),
            f.message.unwrap_or_else(|| default.to_owned()),
        )),
        None => Ok(()),
    }
}

fn busy(m: &Machine) -> SimResult<()> {
    match m.busy_live() {
        Some(b) => Err(fail(
            "0505-126",
            format!(
                "Another alternate disk operation is in progress ({}, pid {}).",
                b.tool, b.pid
            ),
        )),
        None => Ok(()),
    }
}

/// The volume group holding `disk`, which must be an alternate rootvg.
fn alt_vg_of(m: &Machine, disk: &str) -> SimResult<String> {
    if m.disk(disk).is_none() {
        return Err(fail(
            "0505-121",
            format!("{disk} is not a physical volume of this system (see lspv)."),
        ));
    }
    let vg = m.vg_of(disk).ok_or_else(|| {
        fail(
            "0505-183",
            format!("{disk} does not belong to a volume group."),
        )
    })?;
    if !is_alternate(m, &vg.name) {
        return Err(fail(
            "0505-182",
            format!(
                "{disk} belongs to {}, which is not an alternate rootvg volume group.",
                vg.name
            ),
        ));
    }
    Ok(vg.name.clone())
}

fn cleanup(dir: &MachineDir, o: &Opts) -> SimResult<String> {
    let name = o
        .operands
        .first()
        .cloned()
        .unwrap_or_else(|| ALTINST.to_owned());
    dir.with(|m| {
        busy(m)?;
        let vg = m
            .vg(&name)
            .cloned()
            .ok_or_else(|| fail("0505-180", format!("Volume group {name} does not exist.")))?;
        if name == ROOTVG {
            return Err(fail(
                "0505-181",
                "rootvg is the running system's volume group: it cannot be removed.",
            ));
        }
        if !is_alternate(m, &name) {
            return Err(fail(
                "0505-182",
                format!("{name} is not an alternate rootvg volume group."),
            ));
        }
        fault(
            m,
            "cleanup",
            &vg.disks,
            &format!("0505-184 alt_rootvg_op: Cannot remove {name}: exportvg failed."),
        )?;
        m.remove_vg(&name, dir)?;
        let mut text = String::new();
        let before = m.normal.len();
        m.normal.retain(|e| !vg.disks.contains(&e.device));
        m.service.retain(|e| !vg.disks.contains(&e.device));
        if before > 0
            && m.normal.is_empty()
            && let Some(boot) = m.rootvg().and_then(|r| r.disks.first()).cloned()
        {
            m.normal = vec![BootEntry::disk(&boot)];
            text.push_str(&format!(
                "Bootlist is set to the boot disk: {boot} blv=hd5\n"
            ));
        }
        Ok(text)
    })
}

fn query(dir: &MachineDir, disk: &str) -> SimResult<String> {
    let m = dir.load()?;
    let name = alt_vg_of(&m, disk).or_else(|e| {
        if m.vg_of(disk).is_some_and(|v| v.name == ROOTVG) {
            Ok(ROOTVG.to_owned())
        } else {
            Err(e)
        }
    })?;
    let vg = m.vg(&name).expect("found above");
    Ok(format!("{}\n", vg.disks[0]))
}

fn rename(dir: &MachineDir, new: &str, disk: &str) -> SimResult<String> {
    dir.with(|m| {
        busy(m)?;
        let name = alt_vg_of(m, disk)?;
        if new.is_empty()
            || new.len() > 15
            || !new.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(fail(
                "0505-187",
                format!("{new} is not a valid volume group name."),
            ));
        }
        m.rename_vg(&name, new, dir)?;
        Ok(String::new())
    })
}

fn wake(dir: &MachineDir, disk: &str) -> SimResult<String> {
    dir.with(|m| {
        busy(m)?;
        let name = alt_vg_of(m, disk)?;
        if let Some(a) = m.awake() {
            return Err(if a.name == name {
                fail("0505-188", format!("{name} is already awake."))
            } else {
                fail("0505-189", format!("{} is awake: put it to sleep (alt_rootvg_op -S) before waking {name}.", a.name))
            });
        }
        let vg = m.vg(&name).cloned().expect("exists");
        if release(&vg.level) > release(m.level()) {
            return Err(fail(
                "0505-185",
                format!(
                    "{name} is at level {}, higher than the running system ({}): boot from it to wake the other volume group.",
                    vg.level,
                    m.level()
                ),
            ));
        }
        fault(m, "wake", &vg.disks, &format!("0505-190 alt_rootvg_op: Cannot wake up {name}: varyonvg failed."))?;
        let vg = m.vg_mut(&name).expect("exists");
        vg.varied_on = true;
        let alt = vg.alt.get_or_insert_with(Default::default);
        alt.mounted = true;
        let mut text = format!("Waking up {name} volume group ...\n");
        for fs in FILE_SYSTEMS {
            text.push_str(&format!("Mounting /alt_inst{} file system.\n", if *fs == "/" { "" } else { fs }));
        }
        Ok(text)
    })
}

fn sleep(dir: &MachineDir, o: &Opts) -> SimResult<String> {
    dir.with(|m| {
        busy(m)?;
        let vg = m
            .awake()
            .cloned()
            .ok_or_else(|| fail("0505-186", "No alternate rootvg volume group is awake."))?;
        fault(
            m,
            "sleep",
            &vg.disks,
            &format!(
                "0505-191 alt_rootvg_op: Cannot put {} to sleep: unmount failed.",
                vg.name
            ),
        )?;
        let mut text = format!("Putting volume group {} to sleep ...\n", vg.name);
        if o.has('t') {
            text.push_str(&format!("Building boot image on {}.\n", vg.disks[0]));
        }
        for fs in FILE_SYSTEMS.iter().rev() {
            text.push_str(&format!(
                "forced unmount of /alt_inst{}\n",
                if *fs == "/" { "" } else { fs }
            ));
        }
        text.push_str("Fixing LV control blocks...\nFixing file system superblocks...\n");
        let v = m.vg_mut(&vg.name).expect("exists");
        v.varied_on = false;
        if let Some(a) = v.alt.as_mut() {
            a.mounted = false;
            if o.has('t') {
                a.bootable = true;
            }
        }
        Ok(text)
    })
}

fn customize(dir: &MachineDir, o: &Opts) -> SimResult<String> {
    let vg = dir.with(|m| {
        busy(m)?;
        m.awake().map(|v| v.name.clone()).ok_or_else(|| {
            fail(
                "0505-186",
                "No alternate rootvg volume group is awake: wake it up (-W) first.",
            )
        })
    })?;
    let s = |c: char| o.value(c).map(str::to_owned);
    let copy = CopyOptions {
        targets: vec!["(woken)".into()],
        script: s('s'),
        bundle: s('b'),
        installp_flags: s('I'),
        images: s('l'),
        fix_bundle: s('f'),
        fixes: s('F'),
        filesets: s('w'),
        resolv_conf: s('R'),
        ..CopyOptions::default()
    };
    copy.check()
        .map_err(|e| SimError::new(e.code, e.message.replace("alt_disk_copy", "alt_rootvg_op")))?;
    phase2(dir, &vg, &copy, &out)?;
    Ok(String::new())
}

fn run(args: &[String]) -> SimResult<String> {
    let o = getopt(args, "Xqd:v:WStDCR:s:b:I:l:f:F:w:V", true).map_err(|e| usage(&e))?;
    let modes: Vec<char> = ['X', 'q', 'v', 'W', 'S', 'C']
        .into_iter()
        .filter(|c| o.has(*c))
        .collect();
    if modes.len() != 1 {
        return Err(usage("specify exactly one of -X, -q, -v, -W, -S and -C"));
    }
    if modes[0] != 'X' && !o.operands.is_empty() {
        return Err(usage(&format!("unexpected argument '{}'", o.operands[0])));
    }
    if o.operands.len() > 1 {
        return Err(usage("-X takes one volume group name"));
    }
    let disk = || {
        o.value('d')
            .map(str::to_owned)
            .ok_or_else(|| usage("the -d flag (disk) is required"))
    };
    let dir = MachineDir::open()?;
    match modes[0] {
        'X' => cleanup(&dir, &o),
        'q' => query(&dir, &disk()?),
        'v' => rename(&dir, o.value('v').unwrap_or(""), &disk()?),
        'W' => wake(&dir, &disk()?),
        'S' => sleep(&dir, &o),
        _ => customize(&dir, &o),
    }
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
