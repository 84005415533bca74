//! `symld` (doppel SYMCLI simulator). See tests/sim/README.md.

fn main() {
    doppel_sim::common::run_main("symld", doppel_sim::symcli::dg::symld_main);
}
