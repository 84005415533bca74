//! `alt_disk_copy` (doppel AIX simulator). See tests/sim-aix/README.md.

fn main() {
    doppel_sim::common::run_main("alt_disk_copy", doppel_sim_aix::altcopy::main);
}
