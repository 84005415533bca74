//! The SYMCLI (Solutions Enabler) simulator: `symclone`, `symdev`, `symdg`,
//! `symld`, and the `symsim` admin tool.

pub mod admin;
pub mod args;
pub mod clone;
pub mod db;
pub mod dev;
pub mod dg;
pub mod host;
pub mod model;
pub mod xml;

use crate::common::{self, SimError};

/// Exit codes. 0, 1 and 2 follow SYMCLI (CLI_C_SUCCESS, CLI_C_FAIL,
/// CLI_C_DB_FILE_IS_LOCKED); the verify codes are provisional because the real
/// CLI_C_NOT_ALL_* / CLI_C_NONE_* values are not documented in our sources.
pub mod rc {
    pub const SUCCESS: i32 = 0;
    /// Any failure, including usage errors and refused state transitions.
    pub const FAIL: i32 = 1;
    /// The SYMAPI database (or the array) is locked by another process.
    pub const DB_LOCKED: i32 = 2;
    /// `verify`: some, but not all, of the pairs are in the requested state.
    pub const VERIFY_NOT_ALL: i32 = 4;
    /// `verify`: none of the pairs is in the requested state.
    pub const VERIFY_NONE: i32 = 5;
}

/// Message texts in one place. Those marked [S] are quoted by the reference;
/// the others are the simulator's wording (provisional).
pub mod msg {
    /// Lock contention (exit 2). Scripts retry on "locked by another process" [S].
    pub const DB_LOCKED: &str = "The SYMAPI database file is locked by another process";
    /// Terminate on a pair without session [S].
    pub const NO_SESSION_CREATED: &str =
        "A Copy session has not been created for the specified device";
    /// Query/actions on devices without a session [S].
    pub const NOT_A_SESSION: &str =
        "The Source device and the Target device do not form a Copy session";
    /// First line of a refused transition.
    pub const INVALID_STATE: &str = "The device(s) is not in a valid state for this operation";

    pub fn no_source_in_group(dg: &str) -> String {
        format!("Device group '{dg}' does not have any devices that are Clone source devices")
    }
    pub fn unknown_sid(sid: &str) -> String {
        format!("The specified Symmetrix ID ('{sid}') is not known to this host")
    }
    pub fn unknown_dg(dg: &str) -> String {
        format!("The device group '{dg}' does not exist")
    }
    pub fn unknown_dev(dev: &str, sid: &str) -> String {
        format!("Symmetrix device '{dev}' was not found on Symmetrix '{sid}'")
    }
}

/// Print a SYMCLI-style error (blank line, message, blank line) on stderr.
pub fn print_error(e: &SimError) {
    common::err(&format!("\n{}\n\n", e.message.trim_end()));
}

/// Run a tool body: errors are printed and become the exit code.
pub fn finish(r: Result<i32, SimError>) -> i32 {
    match r {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            e.code
        }
    }
}

/// The output mode asked for by `-output` or `$SYMCLI_OUTPUT_MODE`.
pub fn xml_requested(output: Option<&str>) -> Result<bool, SimError> {
    let mode = match output {
        Some(o) => o.to_string(),
        None => std::env::var("SYMCLI_OUTPUT_MODE").unwrap_or_default(),
    };
    match mode.to_ascii_lowercase().as_str() {
        "" | "standard" | "std" => Ok(false),
        "xml" | "xml_e" | "xml_a" | "xml_element" | "xml_attribute" => Ok(true),
        other => Err(SimError::new(
            rc::FAIL,
            format!("Invalid output mode '{other}' (expected xml, xml_e or xml_a)"),
        )),
    }
}
