//! A tiny element-style XML writer for the `SymCLI_ML` documents.

pub struct Xml {
    buf: String,
    stack: Vec<String>,
}

impl Default for Xml {
    fn default() -> Self {
        Self::new()
    }
}

pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

impl Xml {
    /// Starts with the declaration SYMCLI prints and opens `<SymCLI_ML>`.
    pub fn new() -> Xml {
        let mut x = Xml {
            buf: String::from("<?xml version=\"1.0\" standalone=\"yes\" ?>\n"),
            stack: Vec::new(),
        };
        x.open("SymCLI_ML");
        x
    }

    fn indent(&mut self) {
        for _ in 0..self.stack.len() {
            self.buf.push_str("  ");
        }
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.indent();
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push_str(">\n");
        self.stack.push(name.to_string());
        self
    }

    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.stack.pop() {
            self.indent();
            self.buf.push_str("</");
            self.buf.push_str(&name);
            self.buf.push_str(">\n");
        }
        self
    }

    pub fn leaf(&mut self, name: &str, text: impl AsRef<str>) -> &mut Self {
        self.indent();
        self.buf
            .push_str(&format!("<{name}>{}</{name}>\n", escape(text.as_ref())));
        self
    }

    /// Close everything still open and return the document.
    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.buf
    }
}

/// A malformed rendition of `doc` (fault `xml`): cut in the middle of an element.
pub fn corrupt(doc: &str) -> String {
    let cut = doc.len() * 2 / 3;
    let mut end = cut;
    while end > 0 && !doc.is_char_boundary(end) {
        end -= 1;
    }
    let mut s = doc[..end].to_string();
    s.push_str("<state>Cop\n");
    s
}
