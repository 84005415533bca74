//! `aixsim` (doppel AIX simulator). See tests/sim-aix/README.md.

fn main() {
    doppel_sim::common::run_main("aixsim", doppel_sim_aix::admin::main);
}
