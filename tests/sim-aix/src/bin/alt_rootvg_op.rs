//! `alt_rootvg_op` (doppel AIX simulator). See tests/sim-aix/README.md.

fn main() {
    doppel_sim::common::run_main("alt_rootvg_op", doppel_sim_aix::rootvg_op::main);
}
