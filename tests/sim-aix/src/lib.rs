//! Simulators of the AIX tools the `disk.alt_disk` driver runs: `lspv`,
//! `bootlist`, `alt_disk_copy` and `alt_rootvg_op`, plus the `aixsim` admin
//! tool. Test equipment: installed under the real tools' names and pointed at
//! by the node config, never used implicitly. State lives under
//! `$DOPPEL_SIM_ROOT/aix` (see README.md).
//!
//! - [`machine`]: the disk table, volume groups, bootlists and file trees of a
//!   simulated machine (reusable: a NIM simulator keeps one per client);
//! - [`tree`]: backup lists, grep exclude patterns, copies;
//! - [`altcopy`], [`rootvg_op`], [`bootlist`], [`lspv`]: the tools;
//! - the `aixsim` tool: [`admin`].

pub mod admin;
pub mod altcopy;
pub mod bootlist;
pub mod getopt;
pub mod lspv;
pub mod machine;
pub mod rootvg_op;
pub mod tree;
