//! `lspv` (doppel AIX simulator). See tests/sim-aix/README.md.

fn main() {
    doppel_sim::common::run_main("lspv", doppel_sim_aix::lspv::main);
}
