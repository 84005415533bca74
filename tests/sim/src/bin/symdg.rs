//! `symdg` (doppel SYMCLI simulator). See tests/sim/README.md.

fn main() {
    doppel_sim::common::run_main("symdg", doppel_sim::symcli::dg::symdg_main);
}
