//! `nimadm` (doppel NIM simulator). See tests/sim-nim/README.md.

fn main() {
    doppel_sim::common::run_main("nimadm", doppel_sim_nim::nimadm::main);
}
