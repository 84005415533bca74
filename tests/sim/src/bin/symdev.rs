//! `symdev` (doppel SYMCLI simulator). See tests/sim/README.md.

fn main() {
    doppel_sim::common::run_main("symdev", doppel_sim::symcli::dev::main);
}
