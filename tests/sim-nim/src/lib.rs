//! Simulator of AIX `nimadm` (NIM alternate disk migration), test equipment for
//! doppel's `task.nimadm` driver. See README.md.
//!
//! - [`model`]: the simulated NIM master (clients, resources, alternate disks,
//!   faults, run history) and the per-client lock.
//! - [`args`]: nimadm's getopt-style command line.
//! - [`nimadm`]: the `nimadm` command.
//! - [`lsnim`]: `lsnim -l <client>` (Cstate, Cstate_result).
//! - [`admin`]: `nimsim`, the setup and fault-injection tool.

pub mod admin;
pub mod args;
pub mod lsnim;
pub mod model;
pub mod nimadm;
