//! The daemon's restart decision (the `restart` keyword), as a pure function: what
//! the resource's cached status, the service's intent and the restart count say to
//! do. The daemon (host/src/cmd_daemon.rs) does the I/O around it.

use doppel_plugin_api::Status;

/// What the decision looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartInputs<'a> {
    /// The resource's cached status.
    pub status: Status,
    /// `always_on` on this node: restarted whatever the service's intent.
    pub standby: bool,
    /// The intent recorded by the last unscoped start/stop (`started`, `stopped`).
    pub intent: Option<&'a str>,
    /// The service's cached availability (for a service doppel never started).
    pub service_avail: Status,
    /// Restarts since the resource was last seen up.
    pub count: u32,
    /// The `restart` keyword.
    pub max: u32,
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestartDecision {
    /// Up again: forget the restarts counted so far.
    ResetCount,
    /// Nothing to do, and why (for a trace line).
    Skip(String),
    /// Start the resource; this is restart number `attempt` of `max`.
    Restart { attempt: u32 },
}

/// The restart rule (reference/opensvc.md §7.3, doppel's intent rule):
/// a resource that is down, warn or stdby down is started again, at most `max`
/// times until seen up, and only when the service is meant to run (the last
/// unscoped start recorded `started`; with no record, while something of the
/// service is up) or the resource is standby.
pub fn decide(i: RestartInputs<'_>) -> RestartDecision {
    match i.status {
        Status::Down | Status::Warn | Status::StdbyDown => {}
        Status::Up | Status::StdbyUp if i.count > 0 => return RestartDecision::ResetCount,
        other => return RestartDecision::Skip(format!("{other}: nothing to restart")),
    }
    let intended = match i.intent {
        Some(intent) => intent == "started",
        None => matches!(i.service_avail, Status::Up | Status::Warn | Status::StdbyUp),
    };
    if !i.standby && !intended {
        return RestartDecision::Skip(format!(
            "{} but the service is {}: no restart",
            i.status, i.service_avail
        ));
    }
    if i.count >= i.max {
        return RestartDecision::Skip(format!(
            "{}: no restart left ({}/{})",
            i.status, i.count, i.max
        ));
    }
    RestartDecision::Restart {
        attempt: i.count + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(status: Status) -> RestartInputs<'static> {
        RestartInputs {
            status,
            standby: false,
            intent: Some("started"),
            service_avail: Status::Warn,
            count: 0,
            max: 2,
        }
    }

    #[test]
    fn a_down_resource_of_a_started_service_is_restarted_at_most_max_times() {
        for status in [Status::Down, Status::Warn, Status::StdbyDown] {
            assert_eq!(
                decide(inputs(status)),
                RestartDecision::Restart { attempt: 1 }
            );
        }
        let second = RestartInputs {
            count: 1,
            ..inputs(Status::Down)
        };
        assert_eq!(decide(second), RestartDecision::Restart { attempt: 2 });
        let spent = RestartInputs {
            count: 2,
            ..inputs(Status::Down)
        };
        assert_eq!(
            decide(spent),
            RestartDecision::Skip("down: no restart left (2/2)".into())
        );
    }

    #[test]
    fn up_again_resets_the_count_and_other_statuses_do_nothing() {
        let up = RestartInputs {
            count: 1,
            ..inputs(Status::Up)
        };
        assert_eq!(decide(up), RestartDecision::ResetCount);
        let stdby = RestartInputs {
            count: 2,
            ..inputs(Status::StdbyUp)
        };
        assert_eq!(decide(stdby), RestartDecision::ResetCount);
        for status in [Status::Up, Status::NotApplicable, Status::Undef] {
            assert!(
                matches!(decide(inputs(status)), RestartDecision::Skip(_)),
                "{status}"
            );
        }
    }

    #[test]
    fn a_stopped_service_is_not_restarted_unless_the_resource_is_standby() {
        let stopped = RestartInputs {
            intent: Some("stopped"),
            ..inputs(Status::Down)
        };
        assert_eq!(
            decide(stopped),
            RestartDecision::Skip("down but the service is warn: no restart".into())
        );
        let standby = RestartInputs {
            standby: true,
            ..stopped
        };
        assert_eq!(decide(standby), RestartDecision::Restart { attempt: 1 });
    }

    #[test]
    fn without_an_intent_the_service_must_be_partly_up() {
        let never = RestartInputs {
            intent: None,
            service_avail: Status::Down,
            ..inputs(Status::Down)
        };
        assert!(matches!(decide(never), RestartDecision::Skip(_)));
        for avail in [Status::Up, Status::Warn, Status::StdbyUp] {
            let partly = RestartInputs {
                service_avail: avail,
                ..never
            };
            assert_eq!(
                decide(partly),
                RestartDecision::Restart { attempt: 1 },
                "{avail}"
            );
        }
    }
}
