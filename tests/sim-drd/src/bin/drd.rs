//! `drd` (doppel's HP-UX Dynamic Root Disk simulator). See tests/sim-drd/README.md.

fn main() {
    doppel_sim::common::run_main("drd", doppel_sim_drd::cli::main);
}
