//! The keyword registry: which keywords a section accepts, with their metadata.
//!
//! Resource sections accept the generic keywords every resource has (the ones of
//! the symclone seed: restart, tags, subset, ..., triggers, `<action>_depends`,
//! schedule, sync_max_delay), applied by driver group as OpenSVC does, followed by
//! the driver's own keywords from its manifest. `[DEFAULT]` accepts the service
//! keywords. The order of [`generic_resource_keywords`] is the seed template's.

use std::sync::OnceLock;

use doppel_plugin_api::{KeywordSpec, KeywordType, Manifest};

/// Actions with trigger and `_depends` keywords on every resource group.
const COMMON_ACTIONS: &[&str] = &["unprovision", "provision", "start", "stop"];

/// Trigger actions of the sync group, in the seed's order; `sync_restore` is
/// doppel's addition (after the seed's, so the seed's blocks keep their order).
const SYNC_TRIGGER_ACTIONS: &[&str] = &[
    "sync_nodes",
    "sync_drp",
    "sync_resync",
    "sync_update",
    "sync_restore",
];

/// `_depends` actions of the sync group, in the seed's order (`sync_break` has
/// conditions but no triggers, as in OpenSVC).
const SYNC_DEPENDS_ACTIONS: &[&str] = &[
    "sync_nodes",
    "sync_drp",
    "sync_update",
    "sync_break",
    "sync_resync",
    "sync_restore",
];

/// The actions that have triggers for resources of `group`.
pub fn trigger_actions(group: &str) -> Vec<&'static str> {
    let mut actions = COMMON_ACTIONS.to_vec();
    match group {
        "sync" => actions.extend_from_slice(SYNC_TRIGGER_ACTIONS),
        "task" => actions.push("run"),
        _ => {}
    }
    actions
}

/// The actions that have `<action>_depends` conditions for resources of `group`.
pub fn depends_actions(group: &str) -> Vec<&'static str> {
    let mut actions = COMMON_ACTIONS.to_vec();
    match group {
        "sync" => actions.extend_from_slice(SYNC_DEPENDS_ACTIONS),
        "task" => actions.push("run"),
        _ => {}
    }
    actions
}

fn boolean(name: &str, desc: &str) -> KeywordSpec {
    KeywordSpec::new(name, KeywordType::Boolean)
        .default_value("False")
        .candidates(&["True", "False"])
        .desc(desc)
}

fn trigger(kind: &str, action: &str) -> KeywordSpec {
    let (when, effect) = match kind {
        "pre" => ("before", "Errors do not interrupt the action."),
        "post" => ("after", "Errors do not interrupt the action."),
        "blocking_pre" => ("before", "Errors interrupt the action."),
        _ => ("after", "Errors interrupt the action."),
    };
    KeywordSpec::new(&format!("{kind}_{action}"), KeywordType::String).desc(&format!(
        "A command or script to execute {when} the resource {action} action. {effect}"
    ))
}

fn depends(action: &str) -> KeywordSpec {
    KeywordSpec::new(&format!("{action}_depends"), KeywordType::String).default_value("").desc(&format!(
        "A whitespace-separated list of conditions to meet to accept running a '{action}' action. A condition is \
         expressed as <rid>(<state>,...). If states are ommited, 'up,stdby up' is used as the default expected \
         states."
    ))
}

/// The generic keywords of a resource section of `group`, in template order.
pub fn generic_resource_keywords(group: &str) -> Vec<KeywordSpec> {
    let mut k = vec![
        KeywordSpec::new("restart", KeywordType::Integer)
            .default_value("0")
            .desc("The agent will try to restart a resource n times before falling back to the monitor action."),
        KeywordSpec::new("tags", KeywordType::List).desc(
            "A list of tags. Arbitrary tags can be used to limit action scope to resources with a specific tag. Some \
             tags can influence the driver behaviour. For example the 'encap' tag assigns the resource to the \
             encapsulated service, 'noaction' avoids any state changing action from the driver, 'nostatus' forces \
             the status to n/a.",
        ),
        KeywordSpec::new("subset", KeywordType::String).desc("Assign the resource to a specific subset."),
        boolean(
            "monitor",
            "A monitored resource will trigger a node suicide if the service has a heartbeat resource in up state",
        ),
        boolean("disable", "A disabled resource will be ignored on service startup and shutdown."),
        boolean(
            "optional",
            "Possible values are 'true' or 'false'. Actions on resource will be tried upon service startup and \
             shutdown, but action failures will be logged and passed over. Useful for resources like dump \
             filesystems for example.",
        ),
        KeywordSpec::new("always_on", KeywordType::List)
            .suggestions(&["nodes", "drpnodes", "nodes drpnodes"])
            .not_scopable()
            .desc(
                "Possible values are 'nodes', 'drpnodes' or 'nodes drpnodes', or a list of nodes. Sets the nodes on \
                 which the resource is always kept up. Primary usage is file synchronization receiving on non-shared \
                 disks. Don't set this on shared disk !! danger !!",
            ),
    ];
    // The seed renders always_on's candidates without the non-strict " ..." suffix.
    if let Some(a) = k.last_mut() {
        a.strict_candidates = true;
    }
    k.push(KeywordSpec::new("status_timeout", KeywordType::Duration).example("30s").desc(
        "Kill the resource's driver process (and every process it started) when a status call runs longer than \
         this; the resource is then undef. Default: the driver's own limit, else 120s.",
    ));
    k.push(KeywordSpec::new("action_timeout", KeywordType::Duration).example("2h").desc(
        "Kill the resource's driver process (and every process it started) when an action call runs longer than \
         this; the action then fails. Default: the driver's own limit, else none.",
    ));
    k.push(KeywordSpec::new("ssh", KeywordType::String).example("root@hpux01").desc(
        "Run the resource's commands (driver tools, triggers) on this host through OpenSSH: user@host, host or \
         ssh://user@host:port. Options come from the node config's [ssh] table.",
    ));
    let actions = trigger_actions(group);
    for action in &actions {
        k.push(trigger("pre", action));
        k.push(trigger("post", action));
    }
    for action in &actions {
        k.push(trigger("blocking_pre", action));
        k.push(trigger("blocking_post", action));
    }
    for action in depends_actions(group) {
        k.push(depends(action));
    }
    if group == "sync" || group == "task" {
        k.push(
            KeywordSpec::new("schedule", KeywordType::String)
                .example("[\"00:00-01:00@61 mon\", \"02:00-03:00@61 tue-sun\"]")
                .desc(
                    "Set the this resource synchronization schedule. See usr/share/doc/node.conf for the schedule \
                     syntax reference.",
                ),
        );
    }
    if group == "sync" {
        k.push(
            KeywordSpec::new("sync_max_delay", KeywordType::DurationMinutes).default_value("1440").not_scopable().desc(
                "Unit is minutes. This sets to delay above which the sync status of the resource is to be considered \
                 down. Should be set according to your application service level agreement. The cron job frequency \
                 should be set between 'sync_min_delay' and 'sync_max_delay'.",
            ),
        );
    }
    k
}

/// Keywords of the `[DEFAULT]` section.
pub fn default_section_keywords() -> Vec<KeywordSpec> {
    let mut k = vec![
        KeywordSpec::new("nodes", KeywordType::List)
            .default_text("<this node>")
            .not_scopable()
            .desc("The nodes the service runs on. Scoped keywords kw@nodes apply on these nodes."),
        KeywordSpec::new("drpnodes", KeywordType::List)
            .not_scopable()
            .desc("The disaster recovery nodes of the service. Scoped keywords kw@drpnodes apply on these nodes."),
        KeywordSpec::new("lock_timeout", KeywordType::Duration)
            .default_value("60s")
            .desc("How long an action waits for the service lock held by another action (overridden by --waitlock)."),
        KeywordSpec::new("trigger_timeout", KeywordType::Duration)
            .default_value("300s")
            .desc("Kill a trigger (pre_*, post_*, blocking_*) still running after this long; a killed trigger failed."),
        KeywordSpec::new("orchestrate", KeywordType::String)
            .default_value("no")
            .candidates(&["no", "ha"])
            .not_scopable()
            .desc(
                "Who recovers the service. no: doppel daemon restarts its resources as their restart keyword says. \
                 ha: a cluster manager (Pacemaker, with the ocf:doppel:service agent) starts, stops, monitors and \
                 moves the service, so the daemon never restarts its resources; it still runs the scheduled syncs, \
                 tasks and status refreshes.",
            ),
        KeywordSpec::new("status_schedule", KeywordType::String)
            .default_value("@10")
            .desc("When the daemon refreshes the service status."),
        boolean("disable", "A disabled service ignores every action, which succeeds without doing anything."),
        KeywordSpec::new("sync_max_delay", KeywordType::DurationMinutes)
            .desc("Default sync_max_delay of the service's sync resources (bare integer = minutes)."),
        KeywordSpec::new("comment", KeywordType::String).desc("Free text describing the service."),
        KeywordSpec::new("ssh", KeywordType::String)
            .example("root@hpux01")
            .desc("Default ssh destination of the service's resources (see the resource keyword ssh)."),
    ];
    for action in [
        "start",
        "stop",
        "provision",
        "unprovision",
        "sync_update",
        "sync_resync",
        "sync_restore",
        "run",
    ] {
        for kind in ["pre", "post", "blocking_pre", "blocking_post"] {
            let mut t = trigger(kind, action);
            t.desc = t.desc.replace("the resource", "the service");
            k.push(t);
        }
    }
    k
}

/// Keywords of `[subset#...]` sections.
pub fn subset_keywords() -> Vec<KeywordSpec> {
    // Not scopable: a resource set runs the same way on every node, and the
    // engine reads it unscoped, so `parallel@node` must be refused, not ignored.
    vec![
        boolean(
            "parallel",
            "Run the actions of this subset's resources concurrently.",
        )
        .not_scopable(),
    ]
}

/// [`generic_resource_keywords`], built once per process: loading thousands of
/// resources must not rebuild (and allocate) the same table for each. Groups
/// differ only as `sync`, `task` and the others.
pub fn shared_generic_resource_keywords(group: &str) -> &'static [KeywordSpec] {
    static SYNC: OnceLock<Vec<KeywordSpec>> = OnceLock::new();
    static TASK: OnceLock<Vec<KeywordSpec>> = OnceLock::new();
    static OTHER: OnceLock<Vec<KeywordSpec>> = OnceLock::new();
    let cell = match group {
        "sync" => &SYNC,
        "task" => &TASK,
        _ => &OTHER,
    };
    cell.get_or_init(|| generic_resource_keywords(group))
}

/// [`default_section_keywords`], built once per process.
pub fn shared_default_section_keywords() -> &'static [KeywordSpec] {
    static TABLE: OnceLock<Vec<KeywordSpec>> = OnceLock::new();
    TABLE.get_or_init(default_section_keywords)
}

/// [`subset_keywords`], built once per process.
pub fn shared_subset_keywords() -> &'static [KeywordSpec] {
    static TABLE: OnceLock<Vec<KeywordSpec>> = OnceLock::new();
    TABLE.get_or_init(subset_keywords)
}

/// [`resource_keywords`] without copying a keyword: the manifest's and the
/// shared generic table's, by reference.
pub fn resource_keyword_refs(manifest: &Manifest) -> Vec<&KeywordSpec> {
    let own = &manifest.keywords;
    let mut all: Vec<&KeywordSpec> = own.iter().collect();
    all.extend(
        shared_generic_resource_keywords(&manifest.group)
            .iter()
            .filter(|k| !own.iter().any(|d| d.name == k.name)),
    );
    all
}

/// Every keyword of a resource of driver `manifest`: the driver's own first (as
/// the template shows them), then the generic ones it does not override.
pub fn resource_keywords(manifest: &Manifest) -> Vec<KeywordSpec> {
    let mut all = manifest.keywords.clone();
    for k in generic_resource_keywords(&manifest.group) {
        if !all.iter().any(|d| d.name == k.name) {
            all.push(k);
        }
    }
    all
}

/// True for the keywords whose value is a schedule expression (`schedule`,
/// `status_schedule`, and OpenSVC's `*_schedule` spellings such as
/// `sync_schedule`): `validate` parses them as the daemon will.
pub fn holds_schedule(name: &str) -> bool {
    name == "schedule" || name.ends_with("_schedule")
}

/// `type` is accepted in every resource section (it selects the driver).
pub fn type_keyword() -> KeywordSpec {
    KeywordSpec::new("type", KeywordType::String)
        .not_scopable()
        .desc("The driver of the resource, e.g. symclone.")
}

/// The driver-independent generic keyword named `name` for `group`, accepting
/// `<action>_requires` as an alias of `<action>_depends`.
pub fn canonical_name(name: &str) -> std::borrow::Cow<'_, str> {
    match name.strip_suffix("_requires") {
        Some(action) => std::borrow::Cow::Owned(format!("{action}_depends")),
        None => std::borrow::Cow::Borrowed(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_tables_are_the_tables() {
        for group in ["sync", "task", "app", "fs", "disk", "ip", "container"] {
            assert_eq!(
                shared_generic_resource_keywords(group),
                &generic_resource_keywords(group)[..],
                "{group}"
            );
        }
        assert_eq!(
            shared_default_section_keywords(),
            &default_section_keywords()[..]
        );
        assert_eq!(shared_subset_keywords(), &subset_keywords()[..]);
        let m = Manifest::new("sync", "x", "1.0.0")
            .keyword(KeywordSpec::new("mode", KeywordType::String))
            .keyword(KeywordSpec::new("tags", KeywordType::String).desc("overridden"));
        let refs: Vec<KeywordSpec> = resource_keyword_refs(&m).into_iter().cloned().collect();
        assert_eq!(refs, resource_keywords(&m));
    }

    #[test]
    fn sync_keywords_follow_the_seed_order() {
        let names: Vec<String> = generic_resource_keywords("sync")
            .into_iter()
            .map(|k| k.name)
            .collect();
        let seed = "restart tags subset monitor disable optional always_on pre_unprovision post_unprovision \
            pre_provision post_provision pre_start post_start pre_stop post_stop pre_sync_nodes post_sync_nodes \
            pre_sync_drp post_sync_drp pre_sync_resync post_sync_resync pre_sync_update post_sync_update \
            blocking_pre_unprovision blocking_post_unprovision blocking_pre_provision blocking_post_provision \
            blocking_pre_start blocking_post_start blocking_pre_stop blocking_post_stop blocking_pre_sync_nodes \
            blocking_post_sync_nodes blocking_pre_sync_drp blocking_post_sync_drp blocking_pre_sync_resync \
            blocking_post_sync_resync blocking_pre_sync_update blocking_post_sync_update unprovision_depends \
            provision_depends start_depends stop_depends sync_nodes_depends sync_drp_depends sync_update_depends \
            sync_break_depends sync_resync_depends schedule sync_max_delay";
        let mut pos = 0;
        for kw in seed.split_whitespace() {
            let found = names[pos..]
                .iter()
                .position(|n| n == kw)
                .unwrap_or_else(|| panic!("{kw} missing or out of order"));
            pos += found + 1;
        }
        assert!(names.contains(&"sync_restore_depends".to_owned()));
        assert!(
            !names.contains(&"pre_sync_break".to_owned()),
            "sync_break has no triggers"
        );
    }

    #[test]
    fn task_has_run_and_fs_has_no_sync_keywords() {
        let task: Vec<String> = generic_resource_keywords("task")
            .into_iter()
            .map(|k| k.name)
            .collect();
        assert!(
            task.contains(&"blocking_pre_run".to_owned())
                && task.contains(&"run_depends".to_owned())
        );
        let fs: Vec<String> = generic_resource_keywords("fs")
            .into_iter()
            .map(|k| k.name)
            .collect();
        assert!(!fs.iter().any(|n| n.contains("sync")));
        assert!(!fs.contains(&"schedule".to_owned()));
    }

    #[test]
    fn requires_is_an_alias_of_depends() {
        assert_eq!(
            canonical_name("sync_update_requires"),
            "sync_update_depends"
        );
        assert_eq!(canonical_name("start_depends"), "start_depends");
    }
}
