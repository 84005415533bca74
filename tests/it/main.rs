//! End-to-end tests of the doppel binary: one test binary, one module per area.

mod alt_disk;
mod config;
mod daemon;
mod docs;
mod drd;
mod drivers;
mod engine;
mod isolation;
mod lab;
mod nimadm;
mod packaging;
mod replica;
mod schedule;
mod symclone;
