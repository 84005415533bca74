//! Simulators of the vendor tools doppel drives. Test equipment: installed
//! under the real tools' names and pointed at by the node config, never used
//! implicitly. State lives under `$DOPPEL_SIM_ROOT`.
//!
//! - [`common`]: state directory, locking, atomic writes, simulated clock,
//!   fault injection — shared by every simulator.
//! - [`symcli`]: `symclone`, `symdev`, `symdg`, `symld` and the `symsim` admin tool.
//! - [`testing`]: the run result and checks of the simulators' integration tests.

pub mod common;
pub mod symcli;
pub mod testing;
