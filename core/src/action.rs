//! The standard actions doppel knows, and what each one is: its spellings, whether
//! it only reads, which lock it takes, how `optional` and node ownership apply.
//! Any other action name is a driver's own (`activate`, `wake`, ...).

use std::fmt;

use crate::lock::LockDomain;

/// A standard action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Start,
    Stop,
    Provision,
    Unprovision,
    Run,
    Status,
    SyncBreak,
    SyncResync,
    SyncUpdate,
    SyncRestore,
    SyncAll,
    SyncNodes,
    SyncDrp,
}

impl Action {
    /// Every standard action, in the order the seed lists them.
    pub const ALL: [Action; 13] = [
        Action::Start,
        Action::Stop,
        Action::Provision,
        Action::Unprovision,
        Action::Run,
        Action::Status,
        Action::SyncBreak,
        Action::SyncResync,
        Action::SyncUpdate,
        Action::SyncRestore,
        Action::SyncAll,
        Action::SyncNodes,
        Action::SyncDrp,
    ];

    /// The name in manifests, keywords (`pre_sync_update`) and logs: `sync_update`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Provision => "provision",
            Action::Unprovision => "unprovision",
            Action::Run => "run",
            Action::Status => "status",
            Action::SyncBreak => "sync_break",
            Action::SyncResync => "sync_resync",
            Action::SyncUpdate => "sync_update",
            Action::SyncRestore => "sync_restore",
            Action::SyncAll => "sync_all",
            Action::SyncNodes => "sync_nodes",
            Action::SyncDrp => "sync_drp",
        }
    }

    /// As the operator types it: `sync update`.
    pub fn spelling(self) -> String {
        self.name().replace('_', " ")
    }

    /// Reads `sync_update`, `sync update` or OpenSVC's `syncupdate`.
    ///
    /// ```
    /// use doppel_core::action::Action;
    /// assert_eq!(Action::parse("syncresync"), Some(Action::SyncResync));
    /// assert_eq!(Action::parse("sync resync"), Some(Action::SyncResync));
    /// assert_eq!(Action::parse("activate"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Action> {
        let flat: String = text
            .split(|c: char| c == '_' || c.is_whitespace())
            .collect();
        Action::ALL
            .into_iter()
            .find(|a| a.name().replace('_', "") == flat)
    }

    /// Only reads: no lock, runs under `--dry-run`.
    pub fn is_read_only(self) -> bool {
        self == Action::Status
    }

    /// The lock it takes: sync actions have their own domain, so a long clone
    /// refresh does not block a stop.
    pub fn lock_domain(self) -> LockDomain {
        if self.name().starts_with("sync_") {
            LockDomain::Sync
        } else {
            LockDomain::Service
        }
    }

    /// A step of the service's lifecycle, where an `optional` resource's failure is
    /// logged and passed over; an action aimed at the resource itself (a resync, a
    /// run) always reports it.
    pub fn is_lifecycle(self) -> bool {
        matches!(
            self,
            Action::Start | Action::Stop | Action::Provision | Action::Unprovision
        )
    }

    /// Means something for every service, even when no resource implements it (a
    /// service with nothing to stop stops); any other action nothing implements is
    /// a usage error.
    pub fn applies_to_every_service(self) -> bool {
        matches!(self, Action::Start | Action::Stop | Action::Status)
    }

    /// Pushes data from a primary node to the others: a DRP node refuses it.
    pub fn runs_on_primary_only(self) -> bool {
        matches!(self, Action::SyncNodes | Action::SyncDrp)
    }

    /// What `sync_all` runs, in order.
    pub fn sub_actions(self) -> Vec<Action> {
        match self {
            Action::SyncAll => vec![Action::SyncNodes, Action::SyncDrp, Action::SyncUpdate],
            other => vec![other],
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_reads_back() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.name()), Some(a));
            assert_eq!(Action::parse(&a.spelling()), Some(a));
            assert_eq!(Action::parse(&a.name().replace('_', "")), Some(a));
        }
        assert_eq!(Action::parse("poke"), None);
    }

    #[test]
    fn properties() {
        assert!(Action::Status.is_read_only());
        assert!(!Action::Start.is_read_only());
        assert_eq!(Action::SyncUpdate.lock_domain(), LockDomain::Sync);
        assert_eq!(Action::Stop.lock_domain(), LockDomain::Service);
        assert!(Action::Provision.is_lifecycle() && !Action::SyncResync.is_lifecycle());
        assert!(
            Action::SyncDrp.runs_on_primary_only() && !Action::SyncUpdate.runs_on_primary_only()
        );
        assert_eq!(
            Action::SyncAll.sub_actions(),
            [Action::SyncNodes, Action::SyncDrp, Action::SyncUpdate]
        );
    }
}
