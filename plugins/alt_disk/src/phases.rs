//! The phases of alt_disk_copy (`-P 1`, `-P 12`, ...) asked for and recorded.

use std::collections::BTreeSet;

use doppel_plugin_api::{ActionRequest, Error};

/// A `-P` value: which of phases 1, 2, 3 run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Phases {
    pub(crate) set: BTreeSet<u8>,
    /// As passed to `-P` (`None`: all phases, no `-P`).
    pub(crate) arg: Option<String>,
}

impl Phases {
    pub(crate) fn all() -> Phases {
        Phases {
            set: [1, 2, 3].into(),
            arg: None,
        }
    }

    /// Parses the `--phase` option: 1, 2, 3, 12, 23 or all (123 reads as all).
    pub(crate) fn parse(text: &str) -> Result<Phases, Error> {
        let set: BTreeSet<u8> = match text.trim() {
            "1" => [1].into(),
            "2" => [2].into(),
            "3" => [3].into(),
            "12" => [1, 2].into(),
            "23" => [2, 3].into(),
            "all" | "123" => [1, 2, 3].into(),
            other => {
                return Err(Error::invalid(format!(
                    "--phase {other}: alt_disk_copy -P accepts 1, 2, 3, 12, 23 or all"
                )));
            }
        };
        let arg = if set.len() == 3 {
            "all".to_owned()
        } else {
            text.trim().to_owned()
        };
        Ok(Phases {
            set,
            arg: Some(arg),
        })
    }

    pub(crate) fn from_request(request: &ActionRequest) -> Result<Phases, Error> {
        match request
            .options
            .get("phase")
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
        {
            Some(p) => Phases::parse(p),
            None => Ok(Phases::all()),
        }
    }

    pub(crate) fn has(&self, phase: u8) -> bool {
        self.set.contains(&phase)
    }

    pub(crate) fn label(&self) -> String {
        match &self.arg {
            None => "all phases".to_owned(),
            Some(a) if a == "all" => "all phases".to_owned(),
            Some(a) if a.len() == 1 => format!("phase {a}"),
            Some(a) => format!(
                "phases {}",
                a.chars()
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        }
    }
}

/// `"12"` ↔ {1, 2}.
pub(crate) fn phases_text(set: &BTreeSet<u8>) -> String {
    set.iter().map(u8::to_string).collect()
}

pub(crate) fn phases_from_text(text: &str) -> BTreeSet<u8> {
    text.chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| d as u8)
        .filter(|d| (1..=3).contains(d))
        .collect()
}
