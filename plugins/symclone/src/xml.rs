//! Just enough XML for `symclone query -output xml_e`.

/// A minimal element tree: enough for the symdev XML.
#[derive(Debug, Default)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) children: Vec<Node>,
}

impl Node {
    pub(crate) fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub(crate) fn path(&self, path: &str) -> Option<&Node> {
        path.split('/').try_fold(self, |node, part| {
            node.children.iter().find(|c| c.name == part)
        })
    }

    /// The trimmed text at `path`, if present and not empty.
    pub(crate) fn text_at(&self, path: &str) -> Option<&str> {
        self.path(path)
            .map(|n| n.text.trim())
            .filter(|t| !t.is_empty())
    }
}

/// Parses a SYMCLI XML document and returns its `SymCLI_ML` root.
pub(crate) fn parse_xml(text: &str) -> Result<Node, String> {
    use quick_xml::Reader;
    use quick_xml::events::Event;

    if text.trim().is_empty() {
        return Err("empty output".into());
    }
    let mut reader = Reader::from_str(text);
    let element = |raw: &[u8]| Node {
        name: String::from_utf8_lossy(raw).into_owned(),
        ..Node::default()
    };
    let mut stack = vec![Node {
        name: "#document".into(),
        ..Node::default()
    }];
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} at byte {}", reader.error_position()))?;
        match event {
            Event::Start(e) => stack.push(element(e.name().as_ref())),
            Event::Empty(e) => {
                let node = element(e.name().as_ref());
                stack.last_mut().expect("document node").children.push(node);
            }
            Event::End(_) => {
                let node = stack.pop().expect("open element");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Err("unbalanced end tag".into()),
                }
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?;
                stack
                    .last_mut()
                    .expect("document node")
                    .text
                    .push_str(&text);
            }
            Event::CData(c) => {
                let text = String::from_utf8_lossy(&c).into_owned();
                stack
                    .last_mut()
                    .expect("document node")
                    .text
                    .push_str(&text);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() > 1 {
        let open = stack.last().map(|n| n.name.clone()).unwrap_or_default();
        return Err(format!("document ends inside <{open}> (truncated output?)"));
    }
    let mut doc = stack.pop().expect("document node");
    if !doc.text.trim().is_empty() {
        return Err("text outside the root element".into());
    }
    match doc.children.len() {
        0 => Err("no root element".into()),
        1 => {
            let root = doc.children.pop().expect("one root");
            if root.name == "SymCLI_ML" {
                Ok(root)
            } else {
                Err(format!(
                    "root element is <{}>, expected <SymCLI_ML>",
                    root.name
                ))
            }
        }
        _ => Err("several root elements".into()),
    }
}
