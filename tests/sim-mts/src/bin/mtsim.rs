//! `mtsim`: admin tool of the doppel MultiSite simulator (not a MultiSite command).

fn main() {
    doppel_sim::common::run_main("mtsim", doppel_sim_mts::admin::main);
}
