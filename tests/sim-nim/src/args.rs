//! nimadm's command line: AIX getopt style. Flags may be grouped (`-YB`),
//! values attached (`-P6`, `-clpar1`) or separate (`-P 6`), options and operands
//! in any order; `--` ends the options.

use std::collections::{BTreeMap, BTreeSet};

use doppel_sim::common::SimError;

/// Options that take a value.
const WITH_VALUE: &str = "lcsdabzeijmoPTON";
/// Options without a value.
const FLAGS: &str = "YUFADEVBrCWSM";

pub const USAGE: &str = "\
Usage: nimadm -l lpp_source -c NIMClient -s SPOT -d TargetDisks [-a PreMigrationScript]
              [-b installp_bundle] [-z PostMigrationScript] [-e exclude_files] [-i image_data]
              [-j VGname] [-m NFSMountOptions] [-o bosinst_data] [-P Phase] [-Y] [-U] [-F]
              [-A] [-D] [-E] [-V] [{-B | -r}]
       nimadm -C -c NIMClient -s SPOT [-F] [-D] [-E]
       nimadm -W -c NIMClient -s SPOT -d TargetDisks [-m NFSMountOptions]
              [-z PostMigrationScript] [-F] [-D] [-E]
       nimadm -S -c NIMClient -s SPOT [-F] [-D] [-E]
       nimadm -M -s SPOT -l lpp_source [-d device] [-P] [-F]
";

/// A parsed command line.
#[derive(Debug, Default, PartialEq)]
pub struct Opts {
    values: BTreeMap<char, String>,
    flags: BTreeSet<char>,
    pub operands: Vec<String>,
}

/// A usage error: the message, then the usage text, exit 1.
pub fn usage_error(message: &str) -> SimError {
    SimError::new(1, format!("nimadm: {message}\n{USAGE}"))
}

impl Opts {
    pub fn parse(args: &[String]) -> Result<Opts, SimError> {
        let mut o = Opts::default();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if arg == "--" {
                o.operands.extend(args[i..].iter().cloned());
                break;
            }
            if !arg.starts_with('-') || arg == "-" {
                o.operands.push(arg.clone());
                continue;
            }
            let chars: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                if WITH_VALUE.contains(c) {
                    let rest: String = chars[j..].iter().collect();
                    let value = if !rest.is_empty() {
                        rest
                    } else if c == 'P' && args.get(i).is_none_or(|next| next.starts_with('-')) {
                        // `nimadm -M ... [-P]`: a bare -P.
                        String::new()
                    } else if let Some(next) = args.get(i) {
                        i += 1;
                        next.clone()
                    } else {
                        return Err(usage_error(&format!("Flag -{c} requires a parameter.")));
                    };
                    o.values.insert(c, value);
                    break;
                } else if FLAGS.contains(c) {
                    o.flags.insert(c);
                } else {
                    return Err(usage_error(&format!("Not a recognized flag: {c}")));
                }
            }
        }
        Ok(o)
    }

    pub fn flag(&self, c: char) -> bool {
        self.flags.contains(&c)
    }

    pub fn value(&self, c: char) -> Option<&str> {
        self.values.get(&c).map(String::as_str)
    }

    pub fn has(&self, c: char) -> bool {
        self.values.contains_key(&c)
    }

    /// A required option's value (not empty).
    pub fn require(&self, c: char, what: &str) -> Result<&str, SimError> {
        match self.value(c) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(usage_error(&format!("The -{c} flag ({what}) is required."))),
        }
    }
}

/// `-d "hdisk1 hdisk2"` (commas accepted too).
pub fn split_disks(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Opts, SimError> {
        Opts::parse(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn getopt_forms() {
        let o = p(&[
            "-c",
            "lpar1",
            "-l",
            "lpp",
            "-s",
            "spot",
            "-P6",
            "-YB",
            "-d",
            "hdisk1 hdisk2",
        ])
        .unwrap();
        assert_eq!(o.value('c'), Some("lpar1"));
        assert_eq!(o.value('P'), Some("6"));
        assert!(o.flag('Y') && o.flag('B') && !o.flag('r'));
        assert_eq!(split_disks(o.value('d').unwrap()), ["hdisk1", "hdisk2"]);
        let o = p(&["-C", "lpar1", "-s", "spot"]).unwrap();
        assert!(o.flag('C'));
        assert_eq!(o.operands, ["lpar1"]);
        assert_eq!(o.value('s'), Some("spot"));
        let o = p(&["-M", "-s", "spot", "-l", "lpp", "-P"]).unwrap();
        assert_eq!(o.value('P'), Some(""));
        assert!(
            p(&["-H"])
                .unwrap_err()
                .message
                .contains("Not a recognized flag: H")
        );
        assert!(
            p(&["-c"])
                .unwrap_err()
                .message
                .contains("requires a parameter")
        );
        let o = p(&["-clpar2", "--", "-x"]).unwrap();
        assert_eq!(o.value('c'), Some("lpar2"));
        assert_eq!(o.operands, ["-x"]);
    }
}
