//! `multiutil` (doppel MultiSite simulator, ClearQuest flavour). See tests/sim-mts/README.md.

fn main() {
    doppel_sim::common::run_main("multiutil", |args| {
        doppel_sim_mts::multitool::main(doppel_sim_mts::multitool::Flavour::MultiUtil, args)
    });
}
