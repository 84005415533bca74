//! Test driver `sync.test`: see the doppel-test-driver crate.
doppel_test_driver::test_driver!("sync");
