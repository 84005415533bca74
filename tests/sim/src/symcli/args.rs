//! SYMCLI-style argument parsing: single-dash options that may come before or
//! after the action keyword, options with a value, flags and positionals.

use super::rc;
use crate::common::SimError;

pub struct Spec {
    /// Options taking a value (canonical spelling).
    pub with_value: &'static [&'static str],
    /// Flags (canonical spelling).
    pub flags: &'static [&'static str],
    /// Alternative spellings: (alias, canonical).
    pub aliases: &'static [(&'static str, &'static str)],
}

#[derive(Debug, Default, Clone)]
pub struct Parsed {
    pub values: Vec<(String, String)>,
    /// Flags in command-line order.
    pub flags: Vec<String>,
    pub positionals: Vec<String>,
}

impl Parsed {
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
    pub fn any_flag(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.flag(n))
    }
}

pub fn usage_error(tool: &str, text: impl std::fmt::Display) -> SimError {
    SimError::new(
        rc::FAIL,
        format!("{text}\n\nType '{tool} -h' for usage information."),
    )
}

pub fn parse(tool: &str, args: &[String], spec: &Spec) -> Result<Parsed, SimError> {
    let mut p = Parsed::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg.len() > 1
            && arg.starts_with('-')
            && !arg[1..].starts_with(|c: char| c.is_ascii_digit())
        {
            let lower = arg.to_ascii_lowercase();
            let canon = spec
                .aliases
                .iter()
                .find(|(a, _)| *a == lower)
                .map(|(_, c)| c.to_string())
                .unwrap_or(lower);
            if spec.with_value.contains(&canon.as_str()) {
                match it.next() {
                    Some(v) => p.values.push((canon, v.clone())),
                    None => {
                        return Err(usage_error(
                            tool,
                            format!("Missing value for option '{arg}'"),
                        ));
                    }
                }
            } else if spec.flags.contains(&canon.as_str()) {
                p.flags.push(canon);
            } else {
                return Err(usage_error(tool, format!("Unrecognized option '{arg}'")));
            }
        } else {
            p.positionals.push(arg.clone());
        }
    }
    Ok(p)
}

/// Parse a positive number option (`-i`, `-c`).
pub fn number(tool: &str, p: &Parsed, name: &str) -> Result<Option<f64>, SimError> {
    match p.value(name) {
        None => Ok(None),
        Some(v) => match v.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
            _ => Err(usage_error(
                tool,
                format!("Invalid value '{v}' for option '{name}'"),
            )),
        },
    }
}
