//! Simulator of ClearCase / VersionVault MultiSite replica synchronisation
//! (reference/vendor-tools.md §5): `multitool` (`syncreplica`, `lspacket`,
//! `lsepoch`, `chepoch`, `recoverpacket`, `lsreplica`), its ClearQuest flavour
//! `multiutil`, `shipping_server`, and the admin tool `mtsim`.
//!
//! One simulated MultiSite world lives under `$DOPPEL_SIM_ROOT/mts/`. Several
//! simulated hosts ("sites") share it; a command runs as the host named by
//! `$MTS_SITE` (see README.md).
//!
//! - [`world`]: VOB families, replicas, hosts and their storage bays; each
//!   replica's versioned store, oplog and epoch matrix.
//! - [`packet`]: the update packet file format (header, body, checksums),
//!   splitting by `-maxsize`.
//! - [`sync`]: export and import (ordering, holding, skipping applied operations).
//! - [`shipping`]: shipping orders, delivery between bays, `shipping_server`.
//! - [`multitool`]: the command line of `multitool` / `multiutil`.
//! - [`admin`]: the admin tool `mtsim`.
//! - [`dates`]: packet-name dates, ClearCase date-times, sizes.

pub mod admin;
pub mod dates;
pub mod multitool;
pub mod packet;
pub mod shipping;
pub mod sync;
pub mod world;
