//! `lsnim` (doppel NIM simulator). See tests/sim-nim/README.md.

fn main() {
    doppel_sim::common::run_main("lsnim", doppel_sim_nim::lsnim::main);
}
