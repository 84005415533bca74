//! `drd status`: its fields, its dates, and the resource status they make.

use std::collections::BTreeMap;

use doppel_plugin_api::{ResourceConfig, Status, StatusReport};
use jiff::tz::TimeZone;

use crate::DATE_FORMAT;

/// The fields of `drd status`, by label (`Clone Disk` → `/dev/disk/disk2`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DrdStatus {
    pub fields: BTreeMap<String, String>,
}

impl DrdStatus {
    /// Reads `  Label:   value` lines (an optional `* ` before the label is
    /// accepted); the value is everything after the first `:`.
    pub fn parse(text: &str) -> DrdStatus {
        let mut fields = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("=======") {
                continue;
            }
            let line = line.strip_prefix("* ").unwrap_or(line).trim_start();
            let Some((label, value)) = line.split_once(':') else {
                continue;
            };
            let label = label.trim();
            let known = [
                "Original Disk",
                "Original EFI Partition",
                "Clone Disk",
                "Clone EFI Partition",
                "Clone Creation Date",
                "Last Sync Date",
                "Clone Mirror Disk",
                "Mirror EFI Partition",
                "Booted Disk",
                "Activated Disk",
                "Clone Rehost Status",
                "Original Rehost Status",
            ];
            if known.contains(&label) {
                fields.insert(label.to_owned(), value.trim().to_owned());
            }
        }
        DrdStatus { fields }
    }

    /// A field's value; `None` when absent, empty or `None`.
    pub fn value(&self, label: &str) -> Option<&str> {
        self.fields
            .get(label)
            .map(String::as_str)
            .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("none"))
    }

    /// The device inside the parentheses of `Booted Disk` / `Activated Disk`.
    pub fn device(&self, label: &str) -> Option<&str> {
        let v = self.value(label)?;
        let inner = v.split_once('(')?.1.split_once(')')?.0.trim();
        (!inner.is_empty()).then_some(inner)
    }

    /// True when `Booted Disk` / `Activated Disk` names the clone.
    pub fn is_clone(&self, label: &str) -> bool {
        self.value(label)
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("clone"))
    }

    pub fn has_clone(&self) -> bool {
        self.value("Clone Disk").is_some() && self.value("Clone Creation Date").is_some()
    }
}

/// Reads a DRD date (`05/10/18 16:52:21 METDST`) in `tz`.
pub fn parse_drd_date(text: &str, tz: &TimeZone) -> Option<jiff::Zoned> {
    let mut parts = text.split_whitespace();
    let day = parts.next()?;
    let time = parts.next()?;
    let dt = jiff::civil::DateTime::strptime(DATE_FORMAT, format!("{day} {time}")).ok()?;
    dt.to_zoned(tz.clone()).ok()
}

/// The status report for a parsed `drd status`, dates read in `tz`.
pub(crate) fn report(info: &DrdStatus, config: &ResourceConfig, tz: &TimeZone) -> StatusReport {
    if !info.has_clone() {
        return StatusReport::new(Status::Down)
            .info("no clone of the root disk (drd status: Clone Disk None); provision creates it");
    }
    let clone_disk = info.value("Clone Disk").unwrap_or("?");
    let mut warnings: Vec<String> = Vec::new();
    let mut infos: Vec<String> = Vec::new();
    let created = info.value("Clone Creation Date").unwrap_or("");
    let (label, date) = match info.value("Last Sync Date") {
        Some(d) => ("last synced", d),
        None => ("created, never synced", created),
    };
    let mut last_sync = None;
    match parse_drd_date(date, tz) {
        Some(when) => {
            infos.push(format!(
                "clone on {clone_disk}, {label} {}",
                when.strftime("%Y-%m-%d %H:%M:%S")
            ));
            last_sync = Some(when.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string());
        }
        None => warnings.push(format!(
            "clone on {clone_disk}: cannot read the date '{date}' of drd status"
        )),
    }
    let booted = info.device("Booted Disk").unwrap_or("?");
    let activated = info.device("Activated Disk").unwrap_or("?");
    if info.is_clone("Booted Disk") {
        warnings.push(format!(
            "the system is booted from the clone ({booted}): the original is the inactive image, and drd sync only runs from the booted original"
        ));
        if !info.is_clone("Activated Disk") {
            infos.push(format!(
                "the original ({activated}) is activated: the next boot returns to it"
            ));
        }
    } else if info.is_clone("Activated Disk") {
        warnings.push(format!(
            "the clone ({activated}) is activated: the next boot starts from it ('deactivate' undoes this)"
        ));
    }
    if let Some(efi) = info.value("Clone EFI Partition")
        && !efi.to_ascii_lowercase().contains("boot loader present")
    {
        warnings.push(format!(
            "clone EFI partition: {efi}: the clone may not boot"
        ));
    }
    if let Some(target) = config
        .get("target")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        && target != clone_disk
        && !info.is_clone("Booted Disk")
    {
        warnings.push(format!(
            "the clone is on {clone_disk}, not on the configured target {target}"
        ));
    }
    if let Some(mirror) = config
        .get("mirror_disk")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        && info.value("Clone Mirror Disk") != Some(mirror)
    {
        let current = info.value("Clone Mirror Disk").unwrap_or("None");
        warnings.push(format!(
            "the clone mirror disk is {current}, not the configured mirror_disk {mirror}"
        ));
    }
    let mut report = StatusReport::new(if warnings.is_empty() {
        Status::Up
    } else {
        Status::Warn
    });
    for w in warnings {
        report = report.warn(w);
    }
    for i in infos {
        report = report.info(i);
    }
    if let Some(t) = last_sync {
        report = report.last_sync(t);
    }
    report
}
