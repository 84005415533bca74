//! Status aggregation, exactly as OpenSVC does it (reference §6).
//!
//! Operators read `avail` and `overall` the way OpenSVC prints them, and monitoring
//! built for OpenSVC alerts on those values, so the merge table and the G2
//! `Svc.group_status` rules are reproduced to the letter, including the two internal
//! "standby up with ..." values that only exist while merging.

use std::collections::BTreeMap;

use doppel_plugin_api::Status;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A status while merging: the public values plus OpenSVC's two intermediate ones.
///
/// `StdbyUpWithUp` ("a standby resource is up, and so is a normal one") and
/// `StdbyUpWithDown` ("a standby resource is up, the normal ones are down") are needed
/// so that merging is order independent and the standby promotion of
/// [`aggregate`] can tell the two cases apart. They print as `up` and `stdby up`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agg {
    Up,
    Down,
    Warn,
    Na,
    Undef,
    StdbyUp,
    StdbyDown,
    StdbyUpWithUp,
    StdbyUpWithDown,
}

impl From<Status> for Agg {
    fn from(s: Status) -> Agg {
        match s {
            Status::Up => Agg::Up,
            Status::Down => Agg::Down,
            Status::Warn => Agg::Warn,
            Status::NotApplicable => Agg::Na,
            Status::Undef => Agg::Undef,
            Status::StdbyUp => Agg::StdbyUp,
            Status::StdbyDown => Agg::StdbyDown,
        }
    }
}

impl Agg {
    /// The public value, as OpenSVC prints the intermediate ones.
    fn finish(self) -> Status {
        match self {
            Agg::Up | Agg::StdbyUpWithUp => Status::Up,
            Agg::Down => Status::Down,
            Agg::Warn => Status::Warn,
            Agg::Na => Status::NotApplicable,
            Agg::Undef => Status::Undef,
            Agg::StdbyUp | Agg::StdbyUpWithDown => Status::StdbyUp,
            Agg::StdbyDown => Status::StdbyDown,
        }
    }

    /// `self + other`, OpenSVC's merge table (reference §6.1). Commutative.
    fn merge(self, other: Agg) -> Agg {
        use Agg::*;
        match (self, other) {
            // undef is the identity.
            (Undef, x) | (x, Undef) => x,
            // n/a is the identity too (so n/a + n/a = n/a).
            (Na, x) | (x, Na) => x,
            // warn absorbs everything.
            (Warn, _) | (_, Warn) => Warn,
            // x + x = x for every remaining value.
            (a, b) if a == b => a,
            (a, b) => Agg::pair(a, b).or_else(|| Agg::pair(b, a)).unwrap_or(Warn),
        }
    }

    /// The rows of the table between two distinct values among up, down, stdby up,
    /// stdby down and the two intermediate ones, written in one direction only.
    fn pair(a: Agg, b: Agg) -> Option<Agg> {
        use Agg::*;
        Some(match (a, b) {
            (Up, Down) => Warn,
            (Up, StdbyUp) => StdbyUpWithUp,
            (Up, StdbyDown) => Warn,
            (Up, StdbyUpWithUp) => StdbyUpWithUp,
            (Up, StdbyUpWithDown) => Warn,
            (Down, StdbyUp) => StdbyUpWithDown,
            (Down, StdbyDown) => StdbyDown,
            (Down, StdbyUpWithUp) => Warn,
            (Down, StdbyUpWithDown) => StdbyUpWithDown,
            (StdbyUp, StdbyDown) => Warn,
            (StdbyUp, StdbyUpWithUp) => StdbyUpWithUp,
            (StdbyUp, StdbyUpWithDown) => StdbyUpWithDown,
            (StdbyDown, StdbyUpWithUp) => Warn,
            (StdbyDown, StdbyUpWithDown) => Warn,
            (StdbyUpWithUp, StdbyUpWithDown) => Warn,
            _ => return None,
        })
    }
}

/// Merges statuses with OpenSVC's table, starting from `undef`.
///
/// For callers that combine statuses outside a service instance (several services of a
/// selector, a cluster view): the intermediate standby values are kept while folding so
/// the result does not depend on the order, and only the final value is made public.
pub fn merge_all(statuses: impl IntoIterator<Item = Status>) -> Status {
    statuses
        .into_iter()
        .fold(Agg::Undef, |acc, s| acc.merge(s.into()))
        .finish()
}

/// What a driver declares as a standby resource reports `stdby up`/`stdby down`
/// instead of `up`/`down`, so that a passive node shows its standby part is ready
/// without claiming the service is up (reference §6.2).
pub fn standby(status: Status) -> Status {
    match status {
        Status::Up => Status::StdbyUp,
        Status::Down => Status::StdbyDown,
        other => other,
    }
}

/// The statuses of one service instance: what `print status` shows at the top and what
/// the JSON status carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    /// Whether the service is usable: the merge of its non-optional resources.
    pub avail: Status,
    /// Everything an operator should look at: avail, optional and any warning.
    pub overall: Status,
    /// The merge of the resources flagged `optional`, which never affect `avail`.
    pub optional: Status,
    /// One status per driver group (`sync`, `fs`, `app`...), for the status display.
    pub groups: BTreeMap<String, Status>,
}

/// One resource as the aggregation needs to see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceStatusInput<'a> {
    /// The driver group (`sync` for `sync.symclone`). The `sync` group gets the sync
    /// rules of [`aggregate`], as OpenSVC does for every `sync.*` driver.
    pub group: &'a str,
    /// The evaluated status, standby mapping already applied (see [`standby`]).
    pub status: Status,
    /// `optional = true`: the resource counts in `optional`, not in `avail` (sync
    /// and task resources always do).
    pub optional: bool,
    /// `disable = true`: the resource takes no part in the aggregation.
    pub disabled: bool,
    /// The resource logged a warning or an error while its status was evaluated.
    pub has_warnings: bool,
}

/// Computes `avail`, `overall`, `optional` and the group statuses of an instance,
/// following G2 `Svc.group_status` (reference §6.3).
pub fn aggregate<'a>(resources: impl IntoIterator<Item = ResourceStatusInput<'a>>) -> Aggregate {
    // Every top-level and group status starts at n/a.
    let mut overall = Agg::Na;
    let mut avail = Agg::Na;
    let mut optional = Agg::Na;
    let mut groups: BTreeMap<String, Agg> = BTreeMap::new();

    for r in resources {
        // A group shows up (as n/a) even when all its resources are disabled.
        let group = groups.entry(r.group.to_owned()).or_insert(Agg::Na);
        // Disabled resources are skipped.
        if r.disabled {
            continue;
        }
        // Sync: a healthy sync never makes a service up (up→n/a), a failed one only warns
        // (down→warn); other values are kept.
        let status = match (r.group == "sync", r.status) {
            (true, Status::Up) => Agg::Na,
            (true, Status::Down) => Agg::Warn,
            (_, s) => Agg::from(s),
        };
        // The status goes to its group...
        *group = group.merge(status);
        // ...then to optional for optional resources, to avail for the others.
        // Sync and task resources never make the service available or not, as in
        // OpenSVC om3: their `optional` (false by default) governs only whether a
        // failed action stops the others.
        if r.optional || matches!(r.group, "sync" | "task") {
            optional = optional.merge(status);
        } else {
            avail = avail.merge(status);
        }
        // Any warning or error message of the resource makes overall warn.
        if r.has_warnings {
            overall = overall.merge(Agg::Warn);
        }
    }

    if avail == Agg::StdbyUpWithUp {
        // Standby and normal resources up: the instance is up, and so is every group
        // (optional included) that only had standby resources up.
        avail = Agg::Up;
        for g in groups.values_mut() {
            if *g == Agg::StdbyUp {
                *g = Agg::Up;
            }
        }
        if optional == Agg::StdbyUp {
            optional = Agg::Up;
        }
    } else if avail == Agg::StdbyUpWithDown {
        // Standby resources up, normal ones down: a passive node, "stdby up".
        avail = Agg::StdbyUp;
    }
    // The same resolution for optional, without promoting the groups.
    if optional == Agg::StdbyUpWithUp {
        optional = Agg::Up;
    } else if optional == Agg::StdbyUpWithDown {
        optional = Agg::StdbyUp;
    }

    // overall += avail; overall += optional.
    overall = overall.merge(avail).merge(optional);

    Aggregate {
        avail: avail.finish(),
        overall: overall.finish(),
        optional: optional.finish(),
        groups: groups.into_iter().map(|(g, s)| (g, s.finish())).collect(),
    }
}

/// Turns a sync resource's `up` into `warn` when its last sync is older than
/// `sync_max_delay`, so that a replication that silently stopped running gets noticed
/// even though the array still reports the pairs as healthy (reference §6.4).
///
/// Returns the status to report and, when it was degraded, the message to log at warn
/// level. Only `up` is checked: a sync that is already down or warn says enough, and
/// one that never synced (`last_sync` is `None`) is left alone because the driver alone
/// knows whether that is expected. `max_delay_secs` 0 means any age is too old
/// (configuration validation rejects it earlier).
pub fn apply_sync_max_delay(
    status: Status,
    last_sync: Option<Timestamp>,
    now: Timestamp,
    max_delay_secs: u64,
) -> (Status, Option<String>) {
    let Some(last) = last_sync else {
        return (status, None);
    };
    if status != Status::Up {
        return (status, None);
    }
    let age = now.as_second().saturating_sub(last.as_second());
    if age > 0 && age.unsigned_abs() > max_delay_secs {
        let message = format!(
            "last sync on {} is older than sync_max_delay ({})",
            last.strftime("%Y-%m-%d %H:%M:%S UTC"),
            human_secs(max_delay_secs),
        );
        (Status::Warn, Some(message))
    } else {
        (status, None)
    }
}

/// `97200` → `1d3h`, `90` → `1m30s`, `0` → `0s`: the duration syntax of the
/// configuration, so a message quotes durations the way the operator wrote them.
pub(crate) fn human_secs(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        let n = rest / len;
        rest %= len;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Agg::*;

    const ALL: [Agg; 9] = [
        Up,
        Down,
        Warn,
        Na,
        Undef,
        StdbyUp,
        StdbyDown,
        StdbyUpWithUp,
        StdbyUpWithDown,
    ];

    fn check(a: Agg, b: Agg, want: Agg) {
        assert_eq!(a.merge(b), want, "{a:?} + {b:?}");
        assert_eq!(b.merge(a), want, "{b:?} + {a:?}");
    }

    #[test]
    fn merge_table_rows() {
        // Every row of reference §6.1, in both orders.
        check(Up, Up, Up);
        check(Up, Down, Warn);
        check(Up, Warn, Warn);
        check(Up, StdbyUp, StdbyUpWithUp);
        check(Up, StdbyDown, Warn);
        check(Up, StdbyUpWithUp, StdbyUpWithUp);
        check(Up, StdbyUpWithDown, Warn);
        check(Down, Down, Down);
        check(Down, Warn, Warn);
        check(Down, StdbyUp, StdbyUpWithDown);
        check(Down, StdbyDown, StdbyDown);
        check(Down, StdbyUpWithUp, Warn);
        check(Down, StdbyUpWithDown, StdbyUpWithDown);
        check(StdbyUp, StdbyUp, StdbyUp);
        check(StdbyUp, StdbyDown, Warn);
        check(StdbyUp, StdbyUpWithUp, StdbyUpWithUp);
        check(StdbyUp, StdbyUpWithDown, StdbyUpWithDown);
        check(StdbyDown, StdbyDown, StdbyDown);
        check(StdbyDown, StdbyUpWithUp, Warn);
        check(StdbyDown, StdbyUpWithDown, Warn);
        check(StdbyUpWithUp, StdbyUpWithDown, Warn);
        check(StdbyUpWithUp, StdbyUpWithUp, StdbyUpWithUp);
        check(StdbyUpWithDown, StdbyUpWithDown, StdbyUpWithDown);
    }

    #[test]
    fn warn_absorbs_everything() {
        for x in ALL {
            check(Warn, x, Warn);
        }
    }

    #[test]
    fn undef_is_the_identity() {
        for x in ALL {
            check(Undef, x, x);
        }
    }

    #[test]
    fn na_is_the_identity_except_with_itself() {
        for x in ALL {
            let want = if x == Undef { Na } else { x };
            check(Na, x, want);
        }
        check(Na, Na, Na);
    }

    #[test]
    fn merge_is_total_and_commutative() {
        for a in ALL {
            for b in ALL {
                assert_eq!(a.merge(b), b.merge(a), "{a:?} + {b:?}");
            }
        }
    }

    #[test]
    fn intermediate_values_print_like_opensvc() {
        assert_eq!(StdbyUpWithUp.finish().as_str(), "up");
        assert_eq!(StdbyUpWithDown.finish().as_str(), "stdby up");
        assert_eq!(Na.finish().as_str(), "n/a");
        for s in [
            Status::Up,
            Status::Down,
            Status::Warn,
            Status::NotApplicable,
            Status::Undef,
            Status::StdbyUp,
            Status::StdbyDown,
        ] {
            assert_eq!(Agg::from(s).finish(), s);
        }
    }

    #[test]
    fn merge_all_keeps_intermediate_values_while_folding() {
        use Status as S;
        assert_eq!(merge_all([]), S::Undef);
        assert_eq!(merge_all([S::NotApplicable]), S::NotApplicable);
        // stdby up + up = "stdby up with up", then + stdby up stays it: prints up.
        assert_eq!(merge_all([S::StdbyUp, S::Up, S::StdbyUp]), S::Up);
        // Folding public values would give up + stdby up + down = up + down = warn;
        // the intermediate value gives the same answer whatever the order.
        assert_eq!(merge_all([S::StdbyUp, S::Up, S::Down]), S::Warn);
        assert_eq!(merge_all([S::Down, S::StdbyUp]), S::StdbyUp);
        assert_eq!(merge_all([S::Down, S::StdbyUp, S::Down]), S::StdbyUp);
        assert_eq!(merge_all([S::Up, S::Undef, S::NotApplicable]), S::Up);
    }

    #[test]
    fn standby_mapping() {
        assert_eq!(standby(Status::Up), Status::StdbyUp);
        assert_eq!(standby(Status::Down), Status::StdbyDown);
        for s in [
            Status::Warn,
            Status::NotApplicable,
            Status::Undef,
            Status::StdbyUp,
            Status::StdbyDown,
        ] {
            assert_eq!(standby(s), s);
        }
    }

    fn res(group: &str, status: Status) -> ResourceStatusInput<'_> {
        ResourceStatusInput {
            group,
            status,
            optional: false,
            disabled: false,
            has_warnings: false,
        }
    }

    fn groups(agg: &Aggregate) -> Vec<(&str, &str)> {
        agg.groups
            .iter()
            .map(|(g, s)| (g.as_str(), s.as_str()))
            .collect()
    }

    #[test]
    fn nothing_at_all_is_na() {
        let agg = aggregate([]);
        assert_eq!(agg.avail, Status::NotApplicable);
        assert_eq!(agg.overall, Status::NotApplicable);
        assert_eq!(agg.optional, Status::NotApplicable);
        assert!(agg.groups.is_empty());
    }

    #[test]
    fn all_up() {
        let agg = aggregate([
            res("disk", Status::Up),
            res("fs", Status::Up),
            res("app", Status::Up),
            res("sync", Status::Up),
        ]);
        assert_eq!(agg.avail, Status::Up);
        assert_eq!(agg.overall, Status::Up);
        assert_eq!(agg.optional, Status::NotApplicable);
        // A healthy sync counts as n/a.
        assert_eq!(
            groups(&agg),
            [("app", "up"), ("disk", "up"), ("fs", "up"), ("sync", "n/a")]
        );
    }

    #[test]
    fn a_service_of_only_healthy_syncs_is_not_up() {
        let agg = aggregate([res("sync", Status::Up), res("sync", Status::Up)]);
        assert_eq!(agg.avail, Status::NotApplicable);
        assert_eq!(agg.overall, Status::NotApplicable);
    }

    #[test]
    fn sync_down_warns_overall_never_avail() {
        // om3: sync and task statuses never enter avail, optional or not (their
        // default is not optional since the seed's `optional = false` is in force);
        // a failed sync makes overall warn, never down.
        for task_or_sync in ["sync", "task"] {
            let agg = aggregate([res("fs", Status::Up), res(task_or_sync, Status::Down)]);
            assert_eq!(agg.groups["fs"], Status::Up);
            assert_eq!(agg.avail, Status::Up, "{task_or_sync}");
            assert_eq!(agg.overall, Status::Warn, "{task_or_sync}");
        }
        let agg = aggregate([res("fs", Status::Up), res("sync", Status::Down)]);
        assert_eq!(agg.groups["sync"], Status::Warn);
    }

    #[test]
    fn optional_sync_down_leaves_avail_alone() {
        let mut sync = res("sync", Status::Down);
        sync.optional = true;
        let agg = aggregate([res("fs", Status::Up), sync]);
        assert_eq!(agg.avail, Status::Up);
        assert_eq!(agg.optional, Status::Warn);
        assert_eq!(agg.overall, Status::Warn);
    }

    #[test]
    fn sync_other_values_are_kept() {
        for (s, want) in [
            (Status::Warn, Status::Warn),
            (Status::NotApplicable, Status::NotApplicable),
            (Status::Undef, Status::NotApplicable), // n/a start + undef
            (Status::StdbyUp, Status::StdbyUp),
            (Status::StdbyDown, Status::StdbyDown),
        ] {
            let agg = aggregate([res("sync", s)]);
            assert_eq!(agg.groups["sync"], want, "sync {s}");
        }
    }

    #[test]
    fn optional_down() {
        let mut app = res("app", Status::Down);
        app.optional = true;
        let agg = aggregate([res("fs", Status::Up), app]);
        assert_eq!(agg.avail, Status::Up);
        assert_eq!(agg.optional, Status::Down);
        // overall = up + down.
        assert_eq!(agg.overall, Status::Warn);
        assert_eq!(groups(&agg), [("app", "down"), ("fs", "up")]);
    }

    #[test]
    fn disabled_resources_are_skipped() {
        let mut app = res("app", Status::Down);
        app.disabled = true;
        app.has_warnings = true;
        let agg = aggregate([res("fs", Status::Up), app]);
        assert_eq!(agg.avail, Status::Up);
        assert_eq!(agg.overall, Status::Up);
        assert_eq!(groups(&agg), [("app", "n/a"), ("fs", "up")]);
    }

    #[test]
    fn warning_messages_make_overall_warn_only() {
        let mut fs = res("fs", Status::Up);
        fs.has_warnings = true;
        let agg = aggregate([fs, res("app", Status::Up)]);
        assert_eq!(agg.avail, Status::Up);
        assert_eq!(agg.groups["fs"], Status::Up);
        assert_eq!(agg.overall, Status::Warn);
    }

    #[test]
    fn standby_up_with_up_promotes_groups() {
        // The active node: a standby disk up, the rest up too.
        let agg = aggregate([
            res("disk", Status::StdbyUp),
            res("fs", Status::Up),
            res("app", Status::Up),
        ]);
        assert_eq!(agg.avail, Status::Up);
        assert_eq!(agg.overall, Status::Up);
        assert_eq!(groups(&agg), [("app", "up"), ("disk", "up"), ("fs", "up")]);
    }

    #[test]
    fn standby_up_with_down_is_a_passive_node() {
        let agg = aggregate([
            res("disk", Status::StdbyUp),
            res("fs", Status::Down),
            res("app", Status::Down),
        ]);
        assert_eq!(agg.avail, Status::StdbyUp);
        assert_eq!(agg.overall, Status::StdbyUp);
        // Groups are not promoted when the node is passive.
        assert_eq!(
            groups(&agg),
            [("app", "down"), ("disk", "stdby up"), ("fs", "down")]
        );
    }

    #[test]
    fn standby_promotion_reaches_optional() {
        let mut opt = res("app", Status::StdbyUp);
        opt.optional = true;
        let agg = aggregate([res("disk", Status::StdbyUp), res("fs", Status::Up), opt]);
        assert_eq!(agg.avail, Status::Up);
        assert_eq!(agg.optional, Status::Up);
        assert_eq!(agg.overall, Status::Up);
    }

    #[test]
    fn optional_intermediate_values_are_resolved() {
        let mut a = res("app", Status::StdbyUp);
        a.optional = true;
        let mut b = res("app", Status::Down);
        b.optional = true;
        let agg = aggregate([res("fs", Status::Down), a, b]);
        assert_eq!(agg.avail, Status::Down);
        assert_eq!(agg.optional, Status::StdbyUp);
        // down + stdby up = "stdby up with down", printed stdby up.
        assert_eq!(agg.overall, Status::StdbyUp);
    }

    #[test]
    fn standby_down_with_up_warns() {
        let agg = aggregate([res("disk", Status::StdbyDown), res("fs", Status::Up)]);
        assert_eq!(agg.avail, Status::Warn);
        assert_eq!(agg.overall, Status::Warn);
    }

    #[test]
    fn all_na() {
        let agg = aggregate([
            res("app", Status::NotApplicable),
            res("fs", Status::NotApplicable),
            res("sync", Status::NotApplicable),
        ]);
        assert_eq!(agg.avail, Status::NotApplicable);
        assert_eq!(agg.overall, Status::NotApplicable);
        assert_eq!(agg.optional, Status::NotApplicable);
    }

    #[test]
    fn all_down() {
        let agg = aggregate([res("fs", Status::Down), res("app", Status::Down)]);
        assert_eq!(agg.avail, Status::Down);
        assert_eq!(agg.overall, Status::Down);
    }

    #[test]
    fn undef_resource_does_not_hide_others() {
        let agg = aggregate([res("fs", Status::Undef), res("app", Status::Up)]);
        assert_eq!(agg.avail, Status::Up);
        assert_eq!(agg.groups["fs"], Status::NotApplicable);
    }

    #[test]
    fn aggregate_serializes_with_opensvc_strings() {
        let agg = aggregate([res("disk", Status::StdbyUp), res("fs", Status::Down)]);
        let json = serde_json::to_value(&agg).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "avail": "stdby up",
                "overall": "stdby up",
                "optional": "n/a",
                "groups": {"disk": "stdby up", "fs": "down"},
            })
        );
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn sync_max_delay_degrades_old_syncs() {
        let now = ts("2026-11-21T12:00:00Z");
        let (s, msg) =
            apply_sync_max_delay(Status::Up, Some(ts("2026-11-20T10:00:00Z")), now, 86_400);
        assert_eq!(s, Status::Warn);
        assert_eq!(
            msg.as_deref(),
            Some("last sync on 2026-11-20 10:00:00 UTC is older than sync_max_delay (1d)")
        );
        let (s, msg) =
            apply_sync_max_delay(Status::Up, Some(ts("2026-11-20T08:00:00Z")), now, 97_200);
        assert_eq!(s, Status::Warn);
        assert!(msg.unwrap().ends_with("(1d3h)"));
    }

    #[test]
    fn sync_max_delay_keeps_recent_syncs() {
        let now = ts("2026-11-21T12:00:00Z");
        // Exactly at the limit is still fine.
        let at_limit = ts("2026-11-20T12:00:00Z");
        assert_eq!(
            apply_sync_max_delay(Status::Up, Some(at_limit), now, 86_400),
            (Status::Up, None)
        );
        assert_eq!(
            apply_sync_max_delay(Status::Up, Some(now), now, 86_400),
            (Status::Up, None)
        );
        // A clock skew (last sync in the future) is not a stale sync.
        let future = ts("2026-11-22T12:00:00Z");
        assert_eq!(
            apply_sync_max_delay(Status::Up, Some(future), now, 60),
            (Status::Up, None)
        );
    }

    #[test]
    fn sync_max_delay_leaves_other_cases_alone() {
        let now = ts("2026-11-21T12:00:00Z");
        let old = Some(ts("2020-01-01T00:00:00Z"));
        assert_eq!(
            apply_sync_max_delay(Status::Up, None, now, 60),
            (Status::Up, None)
        );
        for s in [
            Status::Down,
            Status::Warn,
            Status::NotApplicable,
            Status::Undef,
            Status::StdbyUp,
            Status::StdbyDown,
        ] {
            assert_eq!(apply_sync_max_delay(s, old, now, 60), (s, None));
        }
    }

    #[test]
    fn human_secs_formats() {
        assert_eq!(human_secs(0), "0s");
        assert_eq!(human_secs(5), "5s");
        assert_eq!(human_secs(90), "1m30s");
        assert_eq!(human_secs(3_600), "1h");
        assert_eq!(human_secs(86_400), "1d");
        assert_eq!(human_secs(97_200), "1d3h");
        assert_eq!(human_secs(90_061), "1d1h1m1s");
    }
}
