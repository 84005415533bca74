//! `doppel template <group.type>`: the keyword template in the seed's (OpenSVC
//! G1) layout: a 78-column banner, the section header, `;type = <name>`, then one
//! commented block per keyword and a `;keyword = value` line to uncomment.

use doppel_plugin_api::{KeywordSpec, Manifest};

use crate::keywords::generic_resource_keywords;

const WIDTH: usize = 78;

/// Renders the template of driver `manifest`: its keywords, then its provisioning
/// keywords, then the generic keywords of its group.
pub fn render(manifest: &Manifest) -> String {
    let mut out = String::new();
    let rule = "#".repeat(WIDTH);
    out.push_str(&rule);
    out.push('\n');
    for field in [
        "",
        &format!("{}, type {}", manifest.group, manifest.name),
        "",
    ] {
        out.push_str(&format!("# {field:<74} #\n"));
    }
    out.push_str(&rule);
    out.push_str("\n\n");
    out.push_str(&format!(
        "[{}#0]\n;type = {}\n\n",
        manifest.group, manifest.name
    ));
    let own = manifest.keywords.iter().filter(|k| !k.provisioning);
    let provisioning = manifest.keywords.iter().filter(|k| k.provisioning);
    let generic = generic_resource_keywords(&manifest.group);
    let generic = generic
        .iter()
        .filter(|g| !manifest.keywords.iter().any(|k| k.name == g.name));
    for k in own.chain(provisioning).chain(generic) {
        out.push_str(&block(k));
    }
    out
}

fn python_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// One keyword block, ending with its blank line.
pub fn block(k: &KeywordSpec) -> String {
    let default = k.default_text.as_deref().or(k.default.as_deref());
    let candidates = match &k.candidates {
        Some(c) if !c.is_empty() => {
            let mut text = c.join(" | ");
            if !k.strict_candidates {
                text.push_str(" ...");
            }
            text
        }
        _ => "None".to_owned(),
    };
    let depends = if k.depends.is_empty() {
        "None".to_owned()
    } else {
        k.depends
            .iter()
            .map(|d| format!("{} in [{}]", d.keyword, d.values.join(", ")))
            .collect::<Vec<_>>()
            .join(" && ")
    };
    let mut s = String::new();
    s.push_str("#\n");
    s.push_str(&format!("# {:<15}{}\n", "keyword:", k.name));
    s.push_str(&format!("# {}\n", "-".repeat(WIDTH - 2)));
    s.push_str(&format!(
        "#  {:<14}{}\n",
        "required:",
        python_bool(k.required)
    ));
    s.push_str(&format!(
        "#  {:<14}{}\n",
        "provisioning:",
        python_bool(k.provisioning)
    ));
    s.push_str(&format!(
        "#  {:<14}{}\n",
        "default:",
        default.unwrap_or("None")
    ));
    s.push_str(&format!("#  {:<14}{}\n", "candidates:", candidates));
    s.push_str(&format!("#  {:<14}{}\n", "depends:", depends));
    s.push_str(&format!(
        "#  {:<14}{}\n",
        "scopable:",
        python_bool(k.scopable)
    ));
    s.push_str("#\n");
    for line in wrap(&k.desc, WIDTH, "#  desc:  ", "#         ") {
        s.push_str(&line);
        s.push('\n');
    }
    s.push_str("#\n");
    let value = default
        .map(str::to_owned)
        .or_else(|| k.candidates.as_ref().and_then(|c| c.first().cloned()))
        .or_else(|| k.example.clone())
        .unwrap_or_else(|| "foo".to_owned());
    s.push_str(&format!(";{} = {}\n\n", k.name, value));
    s
}

/// Greedy wrapping like Python's `textwrap.TextWrapper(width)`: words may break
/// after a hyphen between letters; whitespace is collapsed.
pub fn wrap(text: &str, width: usize, first_indent: &str, indent: &str) -> Vec<String> {
    let mut chunks: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let mut rest = word;
        while let Some(pos) = rest.char_indices().position(|(i, c)| {
            c == '-'
                && i > 0
                && rest[..i].chars().last().is_some_and(char::is_alphabetic)
                && rest[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphabetic)
        }) {
            let (i, _) = rest.char_indices().nth(pos).unwrap_or((0, '-'));
            chunks.push(rest[..=i].to_owned());
            rest = &rest[i + 1..];
        }
        chunks.push(rest.to_owned());
        chunks.push(" ".to_owned());
    }
    chunks.pop();
    let mut lines = Vec::new();
    let mut current = first_indent.to_owned();
    let mut empty = true;
    for chunk in chunks {
        if chunk == " " {
            if !empty {
                current.push(' ');
            }
            continue;
        }
        let trimmed_len = current.trim_end().len();
        if !empty && trimmed_len + chunk.len() + usize::from(current.ends_with(' ')) > width {
            lines.push(current.trim_end().to_owned());
            current = indent.to_owned();
        }
        current.push_str(&chunk);
        empty = false;
    }
    if !empty {
        lines.push(current.trim_end().to_owned());
    }
    lines
}

/// The keyword reference of driver `manifest` in Markdown: what
/// `docs/keywords/<group>.<type>.md` holds (`doppel template <type> --markdown`).
pub fn render_markdown(manifest: &Manifest) -> String {
    let mut out = String::new();
    out.push_str(&format!("# `{}`\n\n", manifest.type_name()));
    out.push_str("<!-- Generated by scripts/gen-keyword-docs from the driver's manifest and doppel's registry: do not edit. -->\n\n");
    if !manifest.description.is_empty() {
        out.push_str(&format!(
            "{}.\n\n",
            manifest.description.trim_end_matches('.')
        ));
    }
    out.push_str(&format!(
        "A resource section `[{}#<index>]` with `type = {}` accepts the keywords below: the driver's own first, then \
         the generic keywords of the `{}` group. `kw@<node>`, `kw@nodes` and `kw@drpnodes` scope a scopable keyword; \
         `<action>_requires` is accepted for `<action>_depends`.\n\n",
        manifest.group, manifest.name, manifest.group
    ));
    if !manifest.actions.is_empty() {
        out.push_str("Actions: ");
        let names: Vec<String> = manifest
            .actions
            .iter()
            .map(|a| format!("`{}`", a.name.replace('_', " ")))
            .collect();
        out.push_str(&names.join(", "));
        out.push_str(".\n\n");
    }
    let generic = generic_resource_keywords(&manifest.group);
    let sections: [(&str, Vec<&KeywordSpec>); 2] = [
        ("Driver keywords", manifest.keywords.iter().collect()),
        (
            "Generic keywords",
            generic
                .iter()
                .filter(|g| !manifest.keywords.iter().any(|k| k.name == g.name))
                .collect(),
        ),
    ];
    for (title, keywords) in sections {
        if keywords.is_empty() {
            continue;
        }
        out.push_str(&format!("## {title}\n\n"));
        out.push_str(
            "| keyword | type | required | default | candidates | scopable | description |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|\n");
        for k in keywords {
            let mut required = if k.required { "yes" } else { "no" }.to_owned();
            if k.provisioning {
                required.push_str(" (provision)");
            }
            let default = k
                .default_text
                .as_deref()
                .or(k.default.as_deref())
                .map(|d| format!("`{d}`"))
                .unwrap_or_default();
            let candidates = k
                .candidates
                .as_ref()
                .map(|c| {
                    let mut t = c
                        .iter()
                        .map(|x| format!("`{x}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    if !k.strict_candidates {
                        t.push_str(", ...");
                    }
                    t
                })
                .unwrap_or_default();
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} | {} |\n",
                k.name,
                k.kind,
                required,
                default.replace('|', "\\|"),
                candidates.replace('|', "\\|"),
                if k.scopable { "yes" } else { "no" },
                k.desc.replace('|', "\\|").replace('\n', " ")
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use doppel_plugin_api::KeywordType;

    /// The symclone keywords exactly as the seed documents them; the real driver
    /// is tested against the same oracle end to end.
    fn seed_symclone() -> Manifest {
        Manifest::new("sync", "symclone", "0")
            .keyword(KeywordSpec::new("consistent", KeywordType::Boolean).default_value("True").desc("Use -consistent in symclone commands."))
            .keyword(
                KeywordSpec::new("symid", KeywordType::String)
                    .required()
                    .not_scopable()
                    .desc("Identifier of the symmetrix array hosting the source and target devices pairs pointed by 'pairs'."),
            )
            .keyword(
                KeywordSpec::new("pairs", KeywordType::List)
                    .required()
                    .example("00B60:00B61 00B62:00B63")
                    .desc("Whitespace-separated list of devices <src>:<dst> devid pairs to drive with this resource."),
            )
            .keyword(KeywordSpec::new("precopy", KeywordType::Boolean).default_value("True").desc("Use -precopy on recreate."))
    }

    #[test]
    fn seed_symclone_template_is_reproduced() {
        let seed = include_str!("../tests/data/seed-symclone-template.txt");
        let ours = render(&seed_symclone());
        // Every seed block appears, byte for byte and in order; doppel may add blocks.
        let seed_blocks: Vec<&str> = seed.split("\n#\n# keyword:").collect();
        let mut pos = 0;
        for (i, b) in seed_blocks.iter().enumerate() {
            let needle = if i == 0 {
                b.to_string()
            } else {
                format!("\n#\n# keyword:{b}")
            };
            let needle = needle.trim_end_matches('\n');
            let found = ours[pos..]
                .find(needle)
                .unwrap_or_else(|| panic!("seed block {i} missing or out of order:\n{needle}"));
            pos += found + needle.len();
        }
    }

    /// Whole outputs, each line as Python's textwrap gives it
    /// (`textwrap.TextWrapper(width, initial_indent, subsequent_indent).wrap`).
    #[test]
    fn wrap_matches_textwrap() {
        let lines = wrap(
            "A whitespace-separated list of conditions to meet to accept running a 'sync_break' action. A condition is expressed as <rid>(<state>,...). If states are ommited, 'up,stdby up' is used as the default expected states.",
            78,
            "#  desc:  ",
            "#         ",
        );
        assert_eq!(
            lines,
            [
                "#  desc:  A whitespace-separated list of conditions to meet to accept running",
                "#         a 'sync_break' action. A condition is expressed as",
                "#         <rid>(<state>,...). If states are ommited, 'up,stdby up' is used as",
                "#         the default expected states.",
            ]
        );
        // Breaks after a hyphen between letters, never after one next to a digit.
        let lines = wrap(
            "Run a re-provisioning of the clone set once the long-running copy-on-first-write session ended, nonhyphenated-words and x-1 kept",
            30,
            "",
            "  ",
        );
        assert_eq!(
            lines,
            [
                "Run a re-provisioning of the",
                "  clone set once the long-",
                "  running copy-on-first-write",
                "  session ended,",
                "  nonhyphenated-words and x-1",
                "  kept",
            ]
        );
    }
}
