//! The structure a scan finds, as byte spans into the text (no copies).
//!
//! Data types only: [`Scan`](super::Scan) fills them and callers read them (string spans, closed
//! [`Node`]s, open [`Frame`]s, the innermost [`Leaf`]). Invariant: every span lies inside the
//! text the scan read and starts and ends on character boundaries.

/// A byte span of a JSON string's contents (between the quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrSpan {
    pub start: u32,
    pub end: u32,
    /// Whether the span holds backslash escapes (decoding is then needed).
    pub escaped: bool,
}

/// A closed (complete) JSON value, as spans into the text.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    /// A number token, `start..end` in the text.
    Num {
        start: u32,
        end: u32,
    },
    Str(StrSpan),
    /// `id` is the id of the frame the array had while it was open.
    Arr {
        id: u32,
        items: Box<[Node]>,
    },
    Obj {
        id: u32,
        entries: Box<[(StrSpan, Node)]>,
    },
}

/// Whether an open container is an array or an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Array,
    Object,
}

/// An open container on the parser's stack.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Unique per parser: lets callers cache what they built for this container.
    pub id: u32,
    pub kind: Kind,
    /// Closed items (arrays).
    pub items: Vec<Node>,
    /// Closed entries (objects).
    pub entries: Vec<(StrSpan, Node)>,
    /// The key whose value is being read (objects).
    pub key: Option<StrSpan>,
}

impl Frame {
    /// Number of closed children.
    #[must_use]
    pub fn len(&self) -> usize {
        match self.kind {
            Kind::Array => self.items.len(),
            Kind::Object => self.entries.len(),
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The value being read at the innermost position, if it shows in the partial value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    /// Nothing shows: no value started, a key, a literal or a number still being read.
    None,
    /// A string value cut at its last complete character.
    Str(StrSpan),
    /// A whole document that is only a number, complete so far (it may still grow).
    Num { start: u32, end: u32 },
}
