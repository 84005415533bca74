//! `bootlist` (doppel AIX simulator). See tests/sim-aix/README.md.

fn main() {
    doppel_sim::common::run_main("bootlist", doppel_sim_aix::bootlist::main);
}
