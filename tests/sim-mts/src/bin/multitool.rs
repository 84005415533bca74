//! `multitool` (doppel MultiSite simulator). See tests/sim-mts/README.md.

fn main() {
    doppel_sim::common::run_main("multitool", |args| {
        doppel_sim_mts::multitool::main(doppel_sim_mts::multitool::Flavour::MultiTool, args)
    });
}
