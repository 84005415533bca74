//! The `pairs` keyword: source and target devices, and the device file
//! SYMCLI reads them from.

/// One configured `<src>:<dst>` pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pair {
    pub(crate) src: String,
    pub(crate) dst: String,
}

impl Pair {
    pub(crate) fn label(&self) -> String {
        format!("{}:{}", self.src, self.dst)
    }
}

pub(crate) fn is_devid(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// Parses the `pairs` list; on failure, one message per bad pair.
pub(crate) fn parse_pairs(items: &[String]) -> Result<Vec<Pair>, Vec<String>> {
    let mut pairs: Vec<Pair> = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        let parsed = item
            .split_once(':')
            .filter(|(src, dst)| is_devid(src) && is_devid(dst));
        let Some((src, dst)) = parsed else {
            errors.push(format!(
                "pair '{item}' is malformed: expected <src>:<dst> with hexadecimal device ids, e.g. 00B60:00B61"
            ));
            continue;
        };
        if src.eq_ignore_ascii_case(dst) {
            errors.push(format!(
                "pair '{item}' uses device {src} as both source and target"
            ));
            continue;
        }
        if let Some(prev) = pairs.iter().find(|p| p.dst.eq_ignore_ascii_case(dst)) {
            errors.push(format!(
                "pair '{item}' reuses target {dst} of pair '{}': a device can be the target of one pair only",
                prev.label()
            ));
            continue;
        }
        pairs.push(Pair {
            src: src.to_owned(),
            dst: dst.to_owned(),
        });
    }
    if errors.is_empty() {
        Ok(pairs)
    } else {
        Err(errors)
    }
}

/// The pairs file content: one `<src> <dst>` line per pair, no trailing newline
/// (as OpenSVC writes it).
pub(crate) fn pairs_file_content(pairs: &[Pair]) -> String {
    pairs
        .iter()
        .map(|p| format!("{} {}", p.src, p.dst))
        .collect::<Vec<_>>()
        .join("\n")
}
