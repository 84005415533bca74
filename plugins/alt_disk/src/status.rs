//! The resource's status, from the disks' layout and the bootlist.

use doppel_plugin_api::{Error, Status, StatusReport};

use crate::layout::Layout;
use crate::phases::phases_text;
use crate::{ALTINST, AltDisk, OLD_ROOTVG, ROOTVG};

impl AltDisk {
    pub(crate) fn report(
        &self,
        layout: &Layout,
        bootlist: Result<Vec<String>, Error>,
    ) -> StatusReport {
        let mut report = self.clone_state(layout);
        // The clone time, as the last sync: doppel applies sync_max_delay to it (the
        // keyword is declared below), as to every sync resource.
        if layout.all_in(ALTINST) {
            match self.recorded_clone_time() {
                Some(at) => {
                    report = report.last_sync(at.to_string());
                }
                None => {
                    report = report.info("clone time unknown: it was not made by this resource")
                }
            }
        }
        let old = layout.members(OLD_ROOTVG);
        if !old.is_empty() {
            report = report.warn(format!(
                "old_rootvg on {}: the former rootvg, left by a boot from the clone; remove it with \
                 alt_rootvg_op -X old_rootvg once the new system is validated",
                old.join(" ")
            ));
        }
        next_boot(report, layout, bootlist)
    }

    /// The state of the target disks: up when altinst_rootvg holds them all,
    /// down when none, else a warning saying what holds them.
    fn clone_state(&self, layout: &Layout) -> StatusReport {
        let targets = layout.targets.join(" ");
        let missing = layout.missing();
        let foreign: Vec<(&str, &str)> = layout
            .foreign()
            .into_iter()
            .filter(|(_, vg)| *vg != ROOTVG)
            .collect();
        if !missing.is_empty() {
            StatusReport::new(Status::Warn)
                .warn(format!("{} not listed by lspv", missing.join(" ")))
        } else if layout.all_in(ALTINST) {
            self.clone_present(layout)
        } else if layout.all_in(ROOTVG) {
            StatusReport::new(Status::Warn).warn(format!(
                "the system runs from the clone: {targets} is rootvg now (a refresh would need other target disks)"
            ))
        } else if !foreign.is_empty() {
            let mut r = StatusReport::new(Status::Warn);
            for (d, vg) in &foreign {
                r = r.warn(format!(
                    "{d} belongs to volume group {vg}, not altinst_rootvg"
                ));
            }
            r
        } else if !layout.in_vg(ALTINST).is_empty() {
            StatusReport::new(Status::Warn).warn(format!(
                "altinst_rootvg holds {} but not {}",
                layout.in_vg(ALTINST).join(" "),
                layout
                    .targets
                    .iter()
                    .filter(|t| layout.vg_of(t) != Some(ALTINST))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
        } else {
            let mut r =
                StatusReport::new(Status::Down).info(format!("no altinst_rootvg on {targets}"));
            let others = layout.foreign_altinst();
            if !others.is_empty() {
                r = r.info(format!(
                    "an altinst_rootvg not made by this resource is on {}",
                    others.join(" ")
                ));
            }
            r
        }
    }

    /// altinst_rootvg on every target: up, unless the phases recorded say the
    /// clone is unfinished; awake or asleep.
    fn clone_present(&self, layout: &Layout) -> StatusReport {
        let targets = layout.targets.join(" ");
        let mut r = StatusReport::new(Status::Up).info(format!("altinst_rootvg on {targets}"));
        if let Some(done) = self
            .recorded_phases(&layout.targets)
            .filter(|d| !d.contains(&3))
        {
            r.state = Status::Warn;
            r = r.warn(format!(
                "altinst_rootvg is unfinished (phases done: {}): continue with `provision --phase {}`",
                phases_text(&done),
                if done.contains(&2) { "3" } else { "23" }
            ));
        }
        if layout.altinst_active() {
            r = r.info("altinst_rootvg is awake (varied on, mounted under /alt_inst)");
        }
        r
    }
}

/// The disk the next boot uses, by the normal bootlist (an empty or unreadable
/// bootlist is a warning).
fn next_boot(
    mut report: StatusReport,
    layout: &Layout,
    bootlist: Result<Vec<String>, Error>,
) -> StatusReport {
    match bootlist {
        Ok(list) => match list.first() {
            Some(first) => {
                let vg = layout.vg_of(first).unwrap_or("no volume group");
                let whose = if layout.targets.iter().any(|t| t == first) {
                    ", the clone"
                } else {
                    ""
                };
                report = report.info(format!(
                    "next boot: {first} ({vg}{whose}); bootlist -m normal: {}",
                    list.join(" ")
                ));
            }
            None => report = report.warn("the normal bootlist is empty"),
        },
        Err(e) => report = report.warn(format!("cannot read the bootlist: {}", e.message)),
    }
    report
}
