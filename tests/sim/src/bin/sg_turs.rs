//! `sg_turs` (doppel simulator of sg3_utils' TEST UNIT READY). See tests/sim/README.md.

fn main() {
    doppel_sim::common::run_main("sg_turs", doppel_sim::symcli::host::sg_turs_main);
}
