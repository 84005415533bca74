//! doppel-core: the service model.
//!
//! Everything doppel knows about services that does not need a command line or a
//! loaded library: configuration files, the keyword registry, value conversion,
//! dependency conditions, triggers, status aggregation, ordering, locks, the state
//! store and schedule expressions.
//!
//! Architecture invariant: this crate never loads libraries and never parses argv.
//! It sees drivers only through the plain serde types of `doppel_plugin_api`
//! (built without its `abi` feature).

pub mod action;
pub mod convert;
pub mod edit;
pub mod ini;
pub mod keywords;
pub mod lock;
pub mod node;
pub mod opensvc;
pub mod paths;
pub mod plan;
pub mod restart;
pub mod schedule;
pub mod service;
pub mod state;
pub mod status;
pub mod template;
pub mod trust;
