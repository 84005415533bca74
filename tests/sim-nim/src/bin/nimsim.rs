//! `nimsim`: set up the doppel NIM simulator and inject faults (not an AIX command).

fn main() {
    doppel_sim::common::run_main("nimsim", doppel_sim_nim::admin::main);
}
