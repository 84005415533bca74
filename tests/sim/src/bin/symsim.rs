//! `symsim` (doppel SYMCLI simulator). See tests/sim/README.md.

fn main() {
    doppel_sim::common::run_main("symsim", doppel_sim::symcli::admin::main);
}
