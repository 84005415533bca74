//! Keywords of OpenSVC 2 service files that doppel does not implement.
//!
//! A file copied from an OpenSVC node carries keywords that make no sense for a
//! single-node service manager (`DEFAULT.id`, written into every file by OpenSVC,
//! `cluster_type`, `orchestrate`, ...) and a few whose behaviour doppel provides
//! another way (`sync_min_delay` is the `@interval` of `schedule`). The first kind is
//! accepted and ignored (`validate -v` lists them); the second kind is an error that
//! says what to write instead, never a bare "unknown keyword". Both are documented
//! in docs/opensvc-migration.md.

use crate::ini::{Ini, SectionKind};
use crate::service::Diagnostic;

/// What doppel does with an OpenSVC keyword it does not implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Legacy {
    /// No behaviour for doppel: accepted, ignored, noted under `validate -v`. The
    /// text says what the keyword was for.
    Ignored(&'static str),
    /// doppel does this another way: an error whose text says how.
    Instead(&'static str),
}

/// Where the migration guide is, for the error messages.
pub const GUIDE: &str = "docs/opensvc-migration.md";

/// `[DEFAULT]` keywords of OpenSVC 2 (and the G1/G3 spellings found in migrated files).
const DEFAULT_KEYWORDS: &[(&str, Legacy)] = &[
    (
        "id",
        Legacy::Ignored("OpenSVC's object id; doppel names a service by its file"),
    ),
    (
        "env",
        Legacy::Ignored("the service's environment label (PRD, DEV, ...)"),
    ),
    (
        "service_type",
        Legacy::Ignored("the service's environment label (old name of env)"),
    ),
    (
        "app",
        Legacy::Ignored("the application code used by OpenSVC's collector"),
    ),
    (
        "cluster_type",
        Legacy::Ignored("cluster topology (doppel manages one node's services)"),
    ),
    (
        "topology",
        Legacy::Ignored("cluster topology (doppel manages one node's services)"),
    ),
    (
        "orchestrate",
        Legacy::Ignored("cluster orchestration (doppel manages one node's services)"),
    ),
    ("placement", Legacy::Ignored("cluster placement policy")),
    ("priority", Legacy::Ignored("cluster placement priority")),
    ("flex_min", Legacy::Ignored("flex topology instance count")),
    ("flex_max", Legacy::Ignored("flex topology instance count")),
    (
        "flex_target",
        Legacy::Ignored("flex topology instance count"),
    ),
    (
        "flex_min_nodes",
        Legacy::Ignored("flex topology instance count"),
    ),
    (
        "flex_max_nodes",
        Legacy::Ignored("flex topology instance count"),
    ),
    (
        "hard_affinity",
        Legacy::Ignored("cluster placement constraint"),
    ),
    (
        "soft_affinity",
        Legacy::Ignored("cluster placement constraint"),
    ),
    (
        "hard_anti_affinity",
        Legacy::Ignored("cluster placement constraint"),
    ),
    (
        "soft_anti_affinity",
        Legacy::Ignored("cluster placement constraint"),
    ),
    ("affinity", Legacy::Ignored("cluster placement constraint")),
    (
        "anti_affinity",
        Legacy::Ignored("cluster placement constraint"),
    ),
    (
        "constraints",
        Legacy::Ignored("cluster placement constraint"),
    ),
    (
        "parents",
        Legacy::Ignored("cluster-wide dependencies between services"),
    ),
    (
        "children",
        Legacy::Ignored("cluster-wide dependencies between services"),
    ),
    (
        "slaves",
        Legacy::Ignored("cluster-wide dependencies between services"),
    ),
    (
        "autostart_node",
        Legacy::Ignored("the node a cluster starts the service on"),
    ),
    (
        "drpnode",
        Legacy::Ignored("the single DRP node of OpenSVC 1 (doppel reads drpnodes)"),
    ),
    ("scale", Legacy::Ignored("scaler services")),
    ("scaler_slave", Legacy::Ignored("scaler services")),
    ("stonith", Legacy::Ignored("cluster fencing")),
    (
        "monitor_action",
        Legacy::Ignored("what the cluster does when a monitored resource fails"),
    ),
    (
        "pre_monitor_action",
        Legacy::Ignored("what the cluster does when a monitored resource fails"),
    ),
    (
        "create_pg",
        Legacy::Ignored("process groups (cgroups), not managed by doppel"),
    ),
    (
        "show_disabled",
        Legacy::Ignored("display of disabled resources (doppel shows them, flagged D)"),
    ),
    (
        "comp_schedule",
        Legacy::Ignored("compliance runs of OpenSVC's collector"),
    ),
    (
        "resinfo_schedule",
        Legacy::Ignored("resource information pushed to OpenSVC's collector"),
    ),
    (
        "push_schedule",
        Legacy::Ignored("configuration pushed to OpenSVC's collector"),
    ),
    (
        "aws",
        Legacy::Ignored("cloud credentials of OpenSVC's cloud drivers"),
    ),
    (
        "aws_profile",
        Legacy::Ignored("cloud credentials of OpenSVC's cloud drivers"),
    ),
    (
        "docker_daemon_args",
        Legacy::Ignored("OpenSVC's private docker daemon"),
    ),
    (
        "docker_data_dir",
        Legacy::Ignored("OpenSVC's private docker daemon"),
    ),
    (
        "docker_exe",
        Legacy::Ignored("OpenSVC's private docker daemon"),
    ),
    ("mode", Legacy::Ignored("OpenSVC 1 service mode (hosted)")),
    ("cluster", Legacy::Ignored("cluster name")),
    (
        "sync_min_delay",
        Legacy::Instead(
            "the minimum delay between syncs is the @interval of each sync resource's schedule \
             (schedule = 00:00-06:00@121)",
        ),
    ),
    (
        "sync_interval",
        Legacy::Instead(
            "the minimum delay between syncs is the @interval of each sync resource's schedule \
             (schedule = 00:00-06:00@121)",
        ),
    ),
    (
        "sync_schedule",
        Legacy::Instead(
            "doppel reads the schedule of each sync resource: set schedule = ... in its section",
        ),
    ),
    (
        "sync_days",
        Legacy::Instead("write a schedule = ... in each sync resource (days are its second field)"),
    ),
    (
        "sync_period",
        Legacy::Instead("write a schedule = ... in each sync resource (a time range)"),
    ),
    (
        "monitor_schedule",
        Legacy::Instead(
            "doppel's daemon checks resources with restart > 0 at each status_schedule run",
        ),
    ),
    (
        "presnap_trigger",
        Legacy::Instead(
            "doppel takes no snapshot before syncs: use pre_sync_update / post_sync_update triggers",
        ),
    ),
    (
        "postsnap_trigger",
        Legacy::Instead(
            "doppel takes no snapshot before syncs: use pre_sync_update / post_sync_update triggers",
        ),
    ),
    (
        "encapnodes",
        Legacy::Instead(
            "doppel has no encapsulated agents: run doppel inside the container for its resources",
        ),
    ),
    (
        "rollback",
        Legacy::Instead(
            "doppel never rolls back a failed start (OpenSVC's rollback = false): stop the service to undo it",
        ),
    ),
];

/// Keywords of any resource section.
const RESOURCE_KEYWORDS: &[(&str, Legacy)] = &[
    (
        "shared",
        Legacy::Ignored("provisioning by the cluster's placement leader only"),
    ),
    ("comment", Legacy::Ignored("free text")),
    (
        "info",
        Legacy::Ignored("the command OpenSVC's collector ran for resource information"),
    ),
    (
        "pg_cpus",
        Legacy::Ignored("process group limits (cgroups), not managed by doppel"),
    ),
    (
        "pg_mems",
        Legacy::Ignored("process group limits (cgroups), not managed by doppel"),
    ),
    (
        "pg_cpu_shares",
        Legacy::Ignored("process group limits (cgroups), not managed by doppel"),
    ),
    (
        "pg_cpu_quota",
        Legacy::Ignored("process group limits (cgroups), not managed by doppel"),
    ),
    (
        "pg_mem_limit",
        Legacy::Ignored("process group limits (cgroups), not managed by doppel"),
    ),
    (
        "pg_vmem_limit",
        Legacy::Ignored("process group limits (cgroups), not managed by doppel"),
    ),
    (
        "pg_mem_oom_control",
        Legacy::Ignored("process group limits (cgroups), not managed by doppel"),
    ),
    (
        "pg_blkio_weight",
        Legacy::Ignored("process group limits (cgroups), not managed by doppel"),
    ),
    (
        "pg_mem_swappiness",
        Legacy::Ignored("process group limits (cgroups), not managed by doppel"),
    ),
    (
        "sync_min_delay",
        Legacy::Instead(
            "the minimum delay between syncs is the @interval of schedule (schedule = 00:00-06:00@121)",
        ),
    ),
    (
        "sync_interval",
        Legacy::Instead(
            "the minimum delay between syncs is the @interval of schedule (schedule = 00:00-06:00@121)",
        ),
    ),
    (
        "sync_days",
        Legacy::Instead("write schedule = ... (days are its second field)"),
    ),
    (
        "sync_period",
        Legacy::Instead("write schedule = ... (a time range)"),
    ),
    (
        "sync_schedule",
        Legacy::Instead("doppel's keyword is schedule"),
    ),
    (
        "encap",
        Legacy::Instead(
            "doppel has no encapsulated agents: run doppel inside the container for this resource",
        ),
    ),
    (
        "restart_delay",
        Legacy::Instead("doppel's daemon retries a restart at each status_schedule run"),
    ),
];

/// The OpenSVC keyword `name` of a `[DEFAULT]` section (`resource` false) or of a
/// resource section, when doppel knows it as one it does not implement.
pub fn keyword(name: &str, resource: bool) -> Option<Legacy> {
    let table = if resource {
        RESOURCE_KEYWORDS
    } else {
        DEFAULT_KEYWORDS
    };
    table.iter().find(|(k, _)| *k == name).map(|(_, l)| *l)
}

/// What to write instead of the OpenSVC driver `<group>.<basename>`, when doppel
/// knows it (`type = simple` in an app section).
pub fn driver_type(group: &str, basename: &str) -> Option<&'static str> {
    match (group, basename) {
        ("app", "simple") => Some(
            "OpenSVC's app.simple keeps its command running in the background; doppel's app driver is script, \
             whose start command must return: write type = script and make start daemonize the application",
        ),
        ("app", "forking") => Some(
            "OpenSVC's app.forking is doppel's app.script (start, stop and check commands): write type = script",
        ),
        ("task", "host") => Some(
            "OpenSVC's task.host runs a command on demand; doppel runs tasks through drivers (task.nimadm): \
             use an app.script resource or a trigger for a command",
        ),
        ("sync", "rsync") => {
            Some("doppel has no rsync driver: copy files with a trigger or an app.script resource")
        }
        _ => None,
    }
}

/// The keywords of `ini` that doppel accepts and ignores, one note each with the
/// section, keyword and what it was for: what `validate -v` prints.
pub fn ignored_notes(ini: &Ini) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for section in ini.sections() {
        let resource = match section.kind() {
            SectionKind::Default => false,
            SectionKind::Resource { .. } => true,
            _ => continue,
        };
        for e in section.entries() {
            let key = e.key.split('@').next().unwrap_or(&e.key);
            if let Some(Legacy::Ignored(what)) = keyword(key, resource) {
                out.push(Diagnostic {
                    location: Some(e.location.clone()),
                    section: Some(section.name().to_owned()),
                    keyword: Some(e.key.clone()),
                    message: format!("OpenSVC keyword accepted and ignored: {what}"),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_by_section_kind() {
        assert!(matches!(keyword("id", false), Some(Legacy::Ignored(_))));
        // `id` means nothing special in a resource section: it stays unknown there.
        assert_eq!(keyword("id", true), None);
        assert!(matches!(
            keyword("sync_min_delay", false),
            Some(Legacy::Instead(_))
        ));
        assert!(matches!(
            keyword("sync_min_delay", true),
            Some(Legacy::Instead(_))
        ));
        assert!(matches!(keyword("shared", true), Some(Legacy::Ignored(_))));
        assert_eq!(keyword("lock_timout", false), None);
        assert!(driver_type("app", "simple").is_some());
        assert_eq!(driver_type("sync", "symclone"), None);
    }

    #[test]
    fn notes_name_the_line_and_skip_what_is_not_ignored() {
        let text = b"[DEFAULT]\nid = 1\nnodes = n1\nsync_min_delay = 3\n\n[app#0]\ntype = x\nshared@n1 = true\n";
        let parsed = crate::ini::parse(std::path::Path::new("svc.conf"), text);
        let notes: Vec<String> = ignored_notes(&parsed.ini)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].starts_with("svc.conf:2: DEFAULT.id: OpenSVC keyword accepted and ignored"),
            "{notes:?}"
        );
        assert!(
            notes[1].starts_with("svc.conf:8: app#0.shared@n1:"),
            "{notes:?}"
        );
    }
}
