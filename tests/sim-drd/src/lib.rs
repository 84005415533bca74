//! Simulator of HP-UX Dynamic Root Disk (`drd`) for doppel's tests and lab.
//! Test equipment: installed under the real tool's name, pointed at by the
//! node config, never used implicitly. See README.md.
//!
//! - [`cli`]: the `drd` command (clone, sync, status, activate, deactivate, mount, umount).
//! - [`sync`]: the file selection of `drd sync`, done for real on two trees.
//! - [`tree`]: walking and copying trees like `pax -rw -pe`.
//! - [`output`]: banners, verbosity, drd.log.
//! - [`model`]: the simulated system and where its state lives.
//! - [`admin`]: the `drdsim` setup and fault-injection tool.

pub mod admin;
pub mod cli;
pub mod model;
pub mod output;
pub mod sync;
pub mod tree;
