//! `<action>_depends` conditions: parsing and cycle detection.

use super::*;

pub(super) fn find_cycle<'a>(edges: &HashMap<&'a str, Vec<&'a str>>) -> Option<Vec<String>> {
    pub(super) fn visit<'a>(
        node: &'a str,
        edges: &HashMap<&'a str, Vec<&'a str>>,
        state: &mut HashMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(node, 1);
        stack.push(node);
        for &next in edges.get(node).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|n| *n == next).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(next.to_owned());
                    return Some(cycle);
                }
                0 if edges.contains_key(next) => {
                    if let Some(c) = visit(next, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node, 2);
        None
    }
    let mut nodes: Vec<&&str> = edges.keys().collect();
    nodes.sort();
    let mut state = HashMap::new();
    for n in nodes {
        if state.get(*n).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, edges, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Parses `rid(state,...) rid2 ...`. Spaces are allowed inside parentheses
/// (`fs#1(down, stdby down)`), `stdby_up` is read as `stdby up`, and a rid without
/// states means `up, stdby up`.
pub fn parse_conditions(text: &str) -> Result<Vec<Condition>, String> {
    let mut out = Vec::new();
    let mut elements = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth -= 1;
                current.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !current.is_empty() {
                    elements.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
        if depth < 0 {
            return Err(format!("malformed condition {text:?}: unbalanced ')'"));
        }
    }
    if depth != 0 {
        return Err(format!("malformed condition {text:?}: unbalanced '('"));
    }
    if !current.is_empty() {
        elements.push(current);
    }
    for element in elements {
        let (rid, states) = match element.split_once('(') {
            Some((rid, rest)) => {
                let inner = rest
                    .strip_suffix(')')
                    .ok_or_else(|| format!("malformed condition {element:?}: text after ')'"))?;
                let mut states = Vec::new();
                for s in inner.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let status = Status::parse(s).ok_or_else(|| {
                        format!("malformed condition {element:?}: unknown state {s:?} (expected up, down, warn, n/a, undef, stdby up, stdby down)")
                    })?;
                    states.push(status);
                }
                if states.is_empty() {
                    states = vec![Status::Up, Status::StdbyUp];
                }
                (rid.to_owned(), states)
            }
            None => (element.clone(), vec![Status::Up, Status::StdbyUp]),
        };
        if !is_rid(&rid) {
            return Err(format!(
                "malformed condition {element:?}: {rid:?} is not a resource id like fs#1"
            ));
        }
        out.push(Condition { rid, states });
    }
    Ok(out)
}

/// `<group>#<index>`, both parts non-empty word characters.
pub fn is_rid(text: &str) -> bool {
    match text.split_once('#') {
        Some((g, i)) => {
            !g.is_empty()
                && !i.is_empty()
                && g.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && i.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
        }
        None => false,
    }
}
