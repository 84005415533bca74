//! `shipping_server` (doppel MultiSite simulator). See tests/sim-mts/README.md.

fn main() {
    doppel_sim::common::run_main("shipping_server", doppel_sim_mts::shipping::main);
}
