//! The owned [`Value`] tree, for Rust callers and tests (Python callers build Python objects).
//!
//! Consumes the text and the structure a scan found; emits a [`Value`] that owns its strings.
//! Invariant: the value of a prefix follows the rules in the parent module's doc (DESIGN §5);
//! duplicate keys resolve as `json.loads` does and lone surrogates become U+FFFD.

use super::decode::decode_str;
use super::node::{Kind, Leaf, Node, StrSpan};
use super::PartialJson;

/// An owned JSON value, for Rust callers and tests (Python callers build Python objects).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number token as written.
    Number(String),
    /// Lone surrogates are replaced by U+FFFD here.
    Str(String),
    Array(Vec<Value>),
    /// Entries in order; duplicate keys resolved as `json.loads` does (last wins, first place).
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The value as compact JSON text (numbers as their tokens, strings escaped as serde_json
    /// escapes them).
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::Number(token) => out.push_str(token),
            Self::Str(s) => write_str(s, out),
            Self::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Self::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(key, out);
                    out.push(':');
                    value.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// Sets `key` of an object (in place when present, else appended); other values are left.
    pub fn set(&mut self, key: &str, value: Value) {
        if let Self::Object(entries) = self {
            insert(entries, key.to_owned(), value);
        }
    }

    /// The value of `key` of an object.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Self::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

fn str_value(text: &str, span: StrSpan) -> String {
    let (bytes, lone) = decode_str(text, span);
    if lone {
        // One U+FFFD per lone surrogate (a 3-byte ED A0..BF xx sequence in the WTF-8 text).
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == 0xED && bytes.get(i + 1).is_some_and(|b| *b >= 0xA0) {
                out.extend_from_slice("\u{FFFD}".as_bytes());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap_or_default()
    } else {
        String::from_utf8(bytes.into_owned()).unwrap_or_default()
    }
}

fn insert(entries: &mut Vec<(String, Value)>, key: String, value: Value) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => entries.push((key, value)),
    }
}

fn node_value(text: &str, node: &Node) -> Value {
    match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Num { start, end } => Value::Number(text[*start as usize..*end as usize].to_owned()),
        Node::Str(span) => Value::Str(str_value(text, *span)),
        Node::Arr { items, .. } => Value::Array(items.iter().map(|n| node_value(text, n)).collect()),
        Node::Obj { entries, .. } => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                insert(&mut out, str_value(text, *k), node_value(text, v));
            }
            Value::Object(out)
        }
    }
}

impl PartialJson {
    /// The value the text so far proves (`None` when nothing shows yet).
    #[must_use]
    pub fn value(&self) -> Option<Value> {
        if !self.scan.keep {
            return Self::from_text(&self.text).value();
        }
        if let Some(root) = self.scan.root() {
            return Some(node_value(&self.text, root));
        }
        let mut child = match self.leaf() {
            Leaf::None => None,
            Leaf::Str(span) => Some(Value::Str(str_value(&self.text, span))),
            Leaf::Num { start, end } => Some(Value::Number(self.text[start as usize..end as usize].to_owned())),
        };
        for frame in self.scan.frames().iter().rev() {
            child = Some(match frame.kind {
                Kind::Array => {
                    let mut items: Vec<Value> = frame.items.iter().map(|n| node_value(&self.text, n)).collect();
                    items.extend(child);
                    Value::Array(items)
                }
                Kind::Object => {
                    let mut out = Vec::new();
                    for (k, v) in &frame.entries {
                        insert(&mut out, str_value(&self.text, *k), node_value(&self.text, v));
                    }
                    if let (Some(key), Some(v)) = (frame.key, child) {
                        insert(&mut out, str_value(&self.text, key), v);
                    }
                    Value::Object(out)
                }
            });
        }
        child
    }
}
