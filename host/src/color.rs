//! Colours for status words on a terminal: `--color auto` (the default) colours
//! only when stdout is a terminal and `NO_COLOR` is unset (https://no-color.org).

use std::io::IsTerminal as _;

use doppel_plugin_api::Status;

use crate::cli::ColorChoice;

/// Should output be coloured?
pub fn enabled(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// `text` in the colour of `status` (green up, red down, yellow warn, cyan
/// standby, magenta undef), or as is.
pub fn status(text: &str, status: Status, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match status {
        Status::Up => "32",
        Status::Down => "31",
        Status::Warn => "33",
        Status::StdbyUp | Status::StdbyDown => "36",
        Status::Undef => "35",
        _ => return text.to_owned(),
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}
