//! AIX `getopt(3)` argument parsing: single-letter flags that can be grouped
//! (`-Bd hdisk1`), values attached (`-P1`) or separate (`-P 1`), errors worded
//! as AIX's getopt words them.

/// Parsed options, in command-line order, and operands.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Opts {
    pub opts: Vec<(char, Option<String>)>,
    pub operands: Vec<String>,
}

impl Opts {
    /// True when flag `c` was given.
    pub fn has(&self, c: char) -> bool {
        self.opts.iter().any(|(o, _)| *o == c)
    }

    /// The last value given to `c`.
    pub fn value(&self, c: char) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(o, _)| *o == c)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// Parses `args` with `spec` (`"d:i:nB"`: a letter followed by `:` takes a value).
/// With `permute`, operands may be mixed with options (the rest is still parsed);
/// otherwise parsing stops at the first operand. `--` ends the options.
pub fn getopt(args: &[String], spec: &str, permute: bool) -> Result<Opts, String> {
    let takes_value = |c: char| -> Option<bool> {
        let idx = spec.find(c)?;
        Some(spec[idx + c.len_utf8()..].starts_with(':'))
    };
    let mut out = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            out.operands.extend(args[i..].iter().cloned());
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            out.operands.push(arg.clone());
            if !permute {
                out.operands.extend(args[i..].iter().cloned());
                break;
            }
            continue;
        }
        let letters: Vec<char> = arg[1..].chars().collect();
        let mut k = 0;
        while k < letters.len() {
            let c = letters[k];
            k += 1;
            if c == ':' {
                return Err(format!("Not a recognized flag: {c}"));
            }
            match takes_value(c) {
                None => return Err(format!("Not a recognized flag: {c}")),
                Some(false) => out.opts.push((c, None)),
                Some(true) => {
                    let rest: String = letters[k..].iter().collect();
                    let value = if !rest.is_empty() {
                        rest
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        return Err(format!("Flag requires a parameter: {c}"));
                    };
                    out.opts.push((c, Some(value)));
                    break;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn forms() {
        let o = getopt(
            &v(&["-Bd", "hdisk1 hdisk2", "-P1", "-z", ""]),
            "d:P:Bz:",
            false,
        )
        .unwrap();
        assert!(o.has('B'));
        assert_eq!(o.value('d'), Some("hdisk1 hdisk2"));
        assert_eq!(o.value('P'), Some("1"));
        assert_eq!(o.value('z'), Some(""));
        assert_eq!(
            getopt(&v(&["-k"]), "d:", false).unwrap_err(),
            "Not a recognized flag: k"
        );
        assert_eq!(
            getopt(&v(&["-d"]), "d:", false).unwrap_err(),
            "Flag requires a parameter: d"
        );
        let o = getopt(&v(&["-X", "old_rootvg", "-D"]), "XD", true).unwrap();
        assert!(o.has('D'));
        assert_eq!(o.operands, ["old_rootvg"]);
        let o = getopt(&v(&["-m", "normal", "hdisk0", "-x"]), "m:o", false).unwrap();
        assert_eq!(o.operands, ["hdisk0", "-x"]);
    }
}
