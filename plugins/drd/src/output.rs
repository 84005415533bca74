//! What a drd run printed: its END banner's verdict and its messages.

use doppel_plugin_api::CommandOutput;

/// What the END banner of a drd run says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `END <Operation> succeeded.`
    Succeeded,
    /// `END <Operation> failed.` (or anything but succeeded).
    Failed,
    /// No END banner: the output was cut, or drd died.
    Missing,
}

/// The verdict of the last `=======  <date>  END ...` banner in `text`.
pub fn verdict(text: &str) -> Verdict {
    // `=======  <date>  END <Operation> succeeded. (user=..)  (jobid=..)`: the first
    // BEGIN or END word after the date says which banner it is.
    let end = text.lines().rev().map(str::trim).find_map(|l| {
        let rest = l.strip_prefix("=======")?;
        let mut words = rest
            .split_whitespace()
            .skip_while(|w| *w != "BEGIN" && *w != "END");
        (words.next()? == "END").then(|| words.collect::<Vec<_>>())
    });
    match end {
        None => Verdict::Missing,
        Some(words) if words.iter().any(|w| w.trim_end_matches('.') == "succeeded") => {
            Verdict::Succeeded
        }
        Some(_) => Verdict::Failed,
    }
}

/// The messages of the lines starting with `prefix` (`ERROR:`, `WARNING:`), each
/// joined with its indented continuation lines.
pub fn messages(text: &str, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix(prefix) {
            out.extend(current.take());
            current = Some(rest.trim().to_owned());
        } else if current.is_some()
            && line.starts_with(' ')
            && !trimmed.is_empty()
            && !trimmed.starts_with('*')
        {
            if let Some(c) = current.as_mut() {
                c.push(' ');
                c.push_str(trimmed);
            }
        } else {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

/// Both streams of a drd run: stdout first, then stderr (where drd writes).
pub(crate) fn combined(out: &CommandOutput) -> String {
    match (out.stdout.trim().is_empty(), out.stderr.trim().is_empty()) {
        (true, _) => out.stderr.clone(),
        (false, true) => out.stdout.clone(),
        (false, false) => format!("{}\n{}", out.stdout.trim_end(), out.stderr),
    }
}
