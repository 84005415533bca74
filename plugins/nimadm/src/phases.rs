//! The 12 nimadm phases (vendor-tools.md §4.2) and how to read them in nimadm's
//! output.

/// Short names of the phases, for progress lines and status.
pub const PHASES: [&str; 12] = [
    "alt_disk_install phase 1: clone rootvg to altinst_rootvg",
    "export the /alt_inst file systems to the master",
    "mount the client file systems on the master",
    "pre-migration script",
    "save configuration, restore bos, merge the device database",
    "migrate the filesets with installp",
    "post-migration script",
    "bosboot: write the client boot image",
    "remove the master's mounts",
    "remove the client exports",
    "alt_disk_install phase 3: put altinst_rootvg to sleep, set the bootlist",
    "cleanup",
];

/// The short name of phase `n` (1-12); `initialization` for 0.
pub fn phase_label(n: u8) -> &'static str {
    match n {
        1..=12 => PHASES[usize::from(n - 1)],
        _ => "initialization",
    }
}

/// The phase a banner line announces: `Executing nimadm phase 6.` → 6.
pub fn banner_phase(line: &str) -> Option<u8> {
    let rest = line.trim().strip_prefix("Executing nimadm phase ")?;
    let n: u8 = rest.trim_end_matches('.').trim().parse().ok()?;
    (1..=12).contains(&n).then_some(n)
}

/// The last phase announced in `text` (0 when none).
pub fn last_phase(text: &str) -> u8 {
    text.lines().rev().find_map(banner_phase).unwrap_or(0)
}

/// `42s`, `6m03s`, `2h05m09s`.
pub fn duration_text(secs: f64) -> String {
    let s = if secs.is_finite() && secs > 0.0 {
        secs.round() as u64
    } else {
        0
    };
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_and_durations() {
        assert_eq!(banner_phase("Executing nimadm phase 6."), Some(6));
        assert_eq!(banner_phase("  Executing nimadm phase 12"), Some(12));
        assert_eq!(banner_phase("Executing nimadm phase 13."), None);
        assert_eq!(banner_phase("+------+"), None);
        assert_eq!(
            last_phase("x\nExecuting nimadm phase 1.\nfoo\nExecuting nimadm phase 2.\nbar\n"),
            2
        );
        assert_eq!(last_phase("Initializing the NIM master.\n"), 0);
        assert_eq!(duration_text(4.4), "4s");
        assert_eq!(duration_text(363.0), "6m03s");
        assert_eq!(duration_text(7509.0), "2h05m09s");
        assert_eq!(phase_label(0), "initialization");
        assert_eq!(phase_label(6), "migrate the filesets with installp");
    }
}
