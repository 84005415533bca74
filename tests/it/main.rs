//! End-to-end tests of the doppel binary: one test binary, one module per area.

mod docs;
mod drivers;
mod lab;
mod config;
mod schedule;
mod engine;
mod packaging;
mod daemon;
mod symclone;
mod drd;
mod alt_disk;
mod nimadm;
mod replica;
