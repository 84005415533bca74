//! `symclone` (doppel SYMCLI simulator). See tests/sim/README.md.

fn main() {
    doppel_sim::common::run_main("symclone", doppel_sim::symcli::clone::main);
}
