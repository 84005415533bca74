//! Test driver `app.test`: see the doppel-test-driver crate.
doppel_test_driver::test_driver!("app");
