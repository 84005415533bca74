//! `drdsim`: set up and inspect the simulated DRD system. See tests/sim-drd/README.md.

fn main() {
    doppel_sim::common::run_main("drdsim", doppel_sim_drd::admin::main);
}
