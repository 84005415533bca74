//! `lspv` and `bootlist`, parsed: which disks hold which volume group.

use doppel_plugin_api::Error;

use crate::{ALTINST, OLD_ROOTVG, ROOTVG};

/// One `lspv` line: `hdisk1  00f6db0a...  altinst_rootvg  [active]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pv {
    pub(crate) name: String,
    /// `None` for `None` (no volume group).
    pub(crate) vg: Option<String>,
    pub(crate) active: bool,
}

/// Parses the `lspv` listing (lines with fewer than three fields are skipped).
pub(crate) fn parse_lspv(text: &str) -> Vec<Pv> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 3 {
                return None;
            }
            let vg = (!f[2].eq_ignore_ascii_case("none")).then(|| f[2].to_owned());
            Some(Pv {
                name: f[0].to_owned(),
                vg,
                active: f.get(3).is_some_and(|s| *s == "active"),
            })
        })
        .collect()
}

/// The disks of `bootlist -m normal -o`, in order, once each (one line per path).
pub(crate) fn parse_bootlist(text: &str) -> Vec<String> {
    let mut disks: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(dev) = line
            .split_whitespace()
            .next()
            .filter(|dev| !disks.iter().any(|d| d == dev))
        {
            disks.push(dev.to_owned());
        }
    }
    disks
}

/// Where the targets stand according to lspv.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Layout {
    pub(crate) pvs: Vec<Pv>,
    pub(crate) targets: Vec<String>,
}

impl Layout {
    pub(crate) fn pv(&self, name: &str) -> Option<&Pv> {
        self.pvs.iter().find(|p| p.name == name)
    }

    pub(crate) fn vg_of(&self, name: &str) -> Option<&str> {
        self.pv(name).and_then(|p| p.vg.as_deref())
    }

    pub(crate) fn missing(&self) -> Vec<&str> {
        self.targets
            .iter()
            .filter(|t| self.pv(t).is_none())
            .map(String::as_str)
            .collect()
    }

    /// Targets in a volume group other than altinst_rootvg: (disk, group).
    pub(crate) fn foreign(&self) -> Vec<(&str, &str)> {
        self.targets
            .iter()
            .filter_map(|t| {
                self.vg_of(t)
                    .filter(|vg| *vg != ALTINST)
                    .map(|vg| (t.as_str(), vg))
            })
            .collect()
    }

    pub(crate) fn in_vg(&self, vg: &str) -> Vec<&str> {
        self.targets
            .iter()
            .filter(|t| self.vg_of(t) == Some(vg))
            .map(String::as_str)
            .collect()
    }

    pub(crate) fn all_in(&self, vg: &str) -> bool {
        self.in_vg(vg).len() == self.targets.len()
    }

    /// Disks of a volume group, whoever they belong to.
    pub(crate) fn members(&self, vg: &str) -> Vec<&str> {
        self.pvs
            .iter()
            .filter(|p| p.vg.as_deref() == Some(vg))
            .map(|p| p.name.as_str())
            .collect()
    }

    /// altinst_rootvg disks that are not targets.
    pub(crate) fn foreign_altinst(&self) -> Vec<&str> {
        self.members(ALTINST)
            .into_iter()
            .filter(|d| !self.targets.iter().any(|t| t == d))
            .collect()
    }

    pub(crate) fn altinst_active(&self) -> bool {
        self.pvs
            .iter()
            .any(|p| p.vg.as_deref() == Some(ALTINST) && p.active && self.targets.contains(&p.name))
    }

    /// Refuses targets lspv does not list or that belong to another volume group.
    pub(crate) fn check_targets(&self) -> Result<(), Error> {
        if let Some(d) = self.missing().first() {
            return Err(Error::failed(format!(
                "{d} is not a disk of this node: lspv does not list it"
            )));
        }
        if let Some((disk, vg)) = self.foreign().first() {
            let why = if *vg == ROOTVG {
                " (the running system's)".to_owned()
            } else if *vg == OLD_ROOTVG {
                " (the former rootvg, kept after booting an alternate disk)".to_owned()
            } else {
                String::new()
            };
            return Err(Error::failed(format!(
                "{disk} belongs to volume group {vg}{why}: alt_disk_copy needs target disks in volume group None \
                 (or the altinst_rootvg this resource made), refusing to touch it"
            )));
        }
        let others = self.foreign_altinst();
        if !others.is_empty() && !self.in_vg(ALTINST).is_empty() {
            return Err(Error::failed(format!(
                "altinst_rootvg also spans {}, which is not in 'disks': it was not made by this resource",
                others.join(" ")
            )));
        }
        Ok(())
    }
}

pub(crate) fn is_disk_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
