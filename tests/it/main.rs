//! End-to-end tests of the doppel binary: one test binary, one module per area.

mod alt_disk;
mod commands;
mod config;
mod daemon;
mod docs;
mod drd;
mod drivers;
mod edit;
mod engine;
mod ha;
mod input;
mod isolation;
mod lab;
mod nimadm;
mod packaging;
mod replica;
mod safety;
mod schedule;
mod script;
mod selection;
mod ssh;
mod symclone;
mod tidy;
