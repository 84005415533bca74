//! `multipath` (doppel simulator of `multipath -r`). See tests/sim/README.md.

fn main() {
    doppel_sim::common::run_main("multipath", doppel_sim::symcli::host::multipath_main);
}
