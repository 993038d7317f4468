//! Incremental partial JSON: a resumable scanner that keeps the structure of a growing JSON text.
//!
//! Consumes text fragments; keeps a stack of open containers whose closed children are stored as
//! [`Node`]s (byte spans into the text, no copies), so that `feed` costs O(fragment) whatever
//! came before and the value of the prefix can be built on demand. Invariants: every byte is
//! scanned once; at any moment the parser knows whether the text is a complete value
//! ([`PartialJson::is_complete`]), a prefix of one, or malformed (the first error is kept with its
//! byte offset and nothing after it is scanned).
//!
//! Value semantics of a prefix (DESIGN §5): strings are cut at the last complete character (an
//! escape split mid-way waits, a high surrogate waits for its low half), keys whose value has
//! not started are left out, numbers and literals appear only once complete (except a whole
//! document that is only a number), open containers are closed.

use std::borrow::Cow;

use crate::error::ParseKind;

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

/// Why and where a JSON text is not (or not yet) valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub kind: ParseKind,
    pub position: usize,
    pub message: &'static str,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.message, self.position)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

impl Num {
    fn complete(self) -> bool {
        matches!(self, Self::Zero | Self::Int | Self::Frac | Self::Exp)
    }

    fn step(self, b: u8) -> Option<Self> {
        Some(match (self, b) {
            (Self::Minus, b'0') => Self::Zero,
            (Self::Minus, b'1'..=b'9') | (Self::Int, b'0'..=b'9') => Self::Int,
            (Self::Zero | Self::Int, b'.') => Self::Dot,
            (Self::Dot | Self::Frac, b'0'..=b'9') => Self::Frac,
            (Self::Zero | Self::Int | Self::Frac, b'e' | b'E') => Self::E,
            (Self::E, b'+' | b'-') => Self::ESign,
            (Self::E | Self::ESign | Self::Exp, b'0'..=b'9') => Self::Exp,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Esc {
    /// Plain characters.
    None,
    /// Just after a backslash.
    Backslash,
    /// Inside `\uXXXX` with `n` hex digits read; `pair` when it follows a high surrogate.
    Hex { n: u8, value: u16, pair: bool },
    /// After a complete high surrogate escape, waiting to see whether a low one follows.
    AfterHigh,
    /// After a high surrogate and a backslash.
    AfterHighBackslash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// A value must start (top level, after `:` or after `,` in an array).
    Value,
    ArrayFirst,
    ObjectFirst,
    ObjectKey,
    Colon,
    AfterValue,
    /// The top-level value is complete; only whitespace may follow.
    End,
    Str {
        start: u32,
        /// The end of the last complete character.
        safe: u32,
        escaped: bool,
        key: bool,
        esc: Esc,
    },
    Number {
        start: u32,
        state: Num,
    },
    Literal {
        start: u32,
        word: &'static [u8],
        matched: u8,
    },
}

/// A resumable JSON parser over a growing text it owns.
#[derive(Debug, Clone)]
pub struct PartialJson {
    text: String,
    utf8_tail: Vec<u8>,
    scan: Scan,
}

/// The scanning state over a text kept elsewhere: how far it has read and what it found.
///
/// Several `Scan`s may read one text at different speeds; the Python binding keeps a second one
/// per tool call that advances only as far as the `.partial` value asked for, so reading the
/// value of every fragment in order costs O(fragment) even when one network read holds many.
#[derive(Debug, Clone)]
pub struct Scan {
    pos: usize,
    /// Whether closed values are kept (needed to build values); a validating scan only tracks
    /// completeness and errors, in O(depth) memory.
    keep: bool,
    stack: Vec<Frame>,
    lex: Lex,
    root: Option<Node>,
    error: Option<JsonError>,
    next_id: u32,
    max_depth: usize,
}

impl Default for Scan {
    fn default() -> Self {
        Self::new()
    }
}

impl Default for PartialJson {
    fn default() -> Self {
        Self::new()
    }
}

/// Default deepest nesting (`max_depth`); `json.loads` stops near 1000.
pub const DEFAULT_MAX_DEPTH: usize = 512;

/// Largest `max_depth` accepted, as deep as `json.loads` goes: Python values are built
/// recursively, and 1,000 levels fit a 512 KiB thread stack (2,000 did not, measured).
pub const MAX_DEPTH_CAP: usize = 1_000;

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[inline]
fn hex(b: u8) -> Option<u16> {
    (b as char).to_digit(16).map(|d| d as u16)
}

#[allow(clippy::cast_possible_truncation)]
#[inline]
fn at(i: usize) -> u32 {
    i as u32
}

impl PartialJson {
    /// An empty parser.
    #[must_use]
    pub fn new() -> Self {
        Self {
            text: String::new(),
            utf8_tail: Vec::new(),
            scan: Scan::new(),
        }
    }

    /// A parser that checks the text (complete, incomplete, malformed) without keeping its
    /// structure: memory O(depth) beyond the text. `value()` then re-reads the text.
    #[must_use]
    pub fn validating() -> Self {
        Self {
            text: String::new(),
            utf8_tail: Vec::new(),
            scan: Scan::validating(),
        }
    }

    /// The same parser with another nesting limit (clamped to `1..=MAX_DEPTH_CAP`); use it
    /// before feeding.
    #[must_use]
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.scan = self.scan.with_max_depth(max_depth);
        self
    }

    /// Drops spare capacity of the text (once no more input is expected).
    pub fn shrink(&mut self) {
        self.text.shrink_to_fit();
    }

    /// Parses a whole text at once (a prefix is fine).
    #[must_use]
    pub fn from_text(text: &str) -> Self {
        let mut p = Self::new();
        // A malformed text stays readable through `error()` and `value()`.
        let _ = p.feed(text);
        p
    }

    /// All text fed so far.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Feeds a text fragment. Returns the error if the text became (or already was) malformed.
    pub fn feed(&mut self, fragment: &str) -> Result<(), JsonError> {
        if !self.utf8_tail.is_empty() {
            // A character split across byte feeds cannot be followed by a str fragment.
            return Err(self
                .scan
                .fail(ParseKind::InvalidUtf8, self.text.len(), "invalid utf-8 sequence"));
        }
        if self.text.len() + fragment.len() >= u32::MAX as usize {
            return Err(self.scan.fail(ParseKind::Malformed, self.text.len(), "text too long"));
        }
        self.text.push_str(fragment);
        self.scan.advance(&self.text, self.text.len())
    }

    /// Feeds bytes; a UTF-8 sequence split across feeds waits for its end.
    pub fn feed_bytes(&mut self, bytes: &[u8]) -> Result<(), JsonError> {
        if self.utf8_tail.is_empty() {
            return self.feed_bytes_inner(bytes);
        }
        let mut joined = std::mem::take(&mut self.utf8_tail);
        joined.extend_from_slice(bytes);
        self.feed_bytes_inner(&joined)
    }

    fn feed_bytes_inner(&mut self, data: &[u8]) -> Result<(), JsonError> {
        let (valid, tail) = match std::str::from_utf8(data) {
            Ok(s) => (s, &[][..]),
            Err(e) if e.error_len().is_none() => {
                let (head, tail) = data.split_at(e.valid_up_to());
                (std::str::from_utf8(head).unwrap_or_default(), tail)
            }
            Err(e) => {
                let at = self.text.len() + e.valid_up_to();
                let (head, _) = data.split_at(e.valid_up_to());
                let head = std::str::from_utf8(head).unwrap_or_default().to_owned();
                self.feed(&head)?;
                // Outside a string any non-ASCII byte is malformed JSON, however the bytes were
                // split; only inside a string is the encoding itself at fault.
                if !self.scan.in_string() {
                    return Err(self.fail_at_non_ascii());
                }
                return Err(self.scan.fail(ParseKind::InvalidUtf8, at, "invalid utf-8 sequence"));
            }
        };
        self.feed(valid)?;
        if !tail.is_empty() && !self.scan.in_string() {
            // Outside a string only ASCII is valid JSON: no byte that follows can save this one.
            return Err(self.fail_at_non_ascii());
        }
        self.utf8_tail.extend_from_slice(tail);
        Ok(())
    }

    /// The error the scanner gives for a non-ASCII character at the end of the text.
    #[cold]
    fn fail_at_non_ascii(&mut self) -> JsonError {
        let mut probe = self.text.clone();
        probe.push('\u{FFFD}');
        match self.scan.advance(&probe, probe.len()) {
            Err(err) => err,
            Ok(()) => self.scan.fail(ParseKind::Malformed, self.text.len(), "expected value"),
        }
    }

    /// Whether the text so far is exactly one complete JSON value (plus whitespace).
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.utf8_tail.is_empty() && self.scan.is_complete()
    }

    /// The first error, if the text can never become valid JSON.
    #[must_use]
    pub fn error(&self) -> Option<&JsonError> {
        self.scan.error()
    }

    /// The state at end of input: `Ok` if complete, else why not (incomplete or malformed).
    /// A document that is only a number is complete here once its token is.
    pub fn end(&self) -> Result<(), JsonError> {
        self.scan.end(self.text.len() + self.utf8_tail.len())
    }

    /// The scanning state (structure found so far).
    #[must_use]
    pub fn scan(&self) -> &Scan {
        &self.scan
    }

    /// The open containers, outermost first.
    #[must_use]
    pub fn frames(&self) -> &[Frame] {
        self.scan.frames()
    }

    /// The innermost value being read, as it shows in the partial value.
    #[must_use]
    pub fn leaf(&self) -> Leaf {
        self.scan.leaf()
    }
}

impl Scan {
    /// A scan at the start of a text, keeping the structure it reads.
    #[must_use]
    pub fn new() -> Self {
        Self {
            keep: true,
            pos: 0,
            stack: Vec::new(),
            lex: Lex::Value,
            root: None,
            error: None,
            next_id: 0,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }

    /// A scan that only tracks completeness and errors, not the structure.
    #[must_use]
    pub fn validating() -> Self {
        Self {
            keep: false,
            ..Self::new()
        }
    }

    /// The same scan with another nesting limit (clamped to `1..=MAX_DEPTH_CAP`).
    #[must_use]
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth.clamp(1, MAX_DEPTH_CAP);
        self
    }

    /// The nesting limit.
    #[must_use]
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Whether the scan stopped inside a string (where any character may come next).
    #[must_use]
    pub fn in_string(&self) -> bool {
        matches!(self.lex, Lex::Str { .. })
    }

    /// How far the text has been read.
    #[must_use]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Whether what was read is exactly one complete JSON value (plus whitespace).
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.error.is_none() && self.root.is_some()
    }

    /// The first error, if the text can never become valid JSON.
    #[must_use]
    pub fn error(&self) -> Option<&JsonError> {
        self.error.as_ref()
    }

    /// `Ok` if what was read is complete at end of input, else why not; `len` is the input size.
    pub fn end(&self, len: usize) -> Result<(), JsonError> {
        if let Some(err) = &self.error {
            return Err(err.clone());
        }
        if self.is_complete() || matches!(self.top_number(), Some((_, _, true))) {
            return Ok(());
        }
        Err(JsonError {
            kind: ParseKind::Incomplete,
            position: len,
            message: "eof while parsing a value",
        })
    }

    /// The complete top-level value, once there is one.
    #[must_use]
    pub fn root(&self) -> Option<&Node> {
        self.root.as_ref()
    }

    /// The open containers, outermost first.
    #[must_use]
    pub fn frames(&self) -> &[Frame] {
        &self.stack
    }

    /// The innermost value being read, as it shows in the partial value.
    #[must_use]
    pub fn leaf(&self) -> Leaf {
        match self.lex {
            Lex::Str {
                start,
                safe,
                escaped,
                key: false,
                ..
            } => Leaf::Str(StrSpan {
                start,
                end: safe,
                escaped,
            }),
            _ => match self.top_number() {
                Some((start, end, true)) => Leaf::Num { start, end },
                _ => Leaf::None,
            },
        }
    }

    /// A top-level number token being read: (start, end, complete so far).
    fn top_number(&self) -> Option<(u32, u32, bool)> {
        match self.lex {
            Lex::Number { start, state } if self.stack.is_empty() => Some((start, at(self.pos), state.complete())),
            _ => None,
        }
    }

    #[cold]
    fn fail(&mut self, kind: ParseKind, position: usize, message: &'static str) -> JsonError {
        let err = JsonError {
            kind,
            position,
            message,
        };
        if self.error.is_none() {
            self.error = Some(err.clone());
        }
        self.error.clone().unwrap_or(err)
    }

    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                self.lex = Lex::End;
            }
            Some(frame) if !self.keep => {
                frame.key = None;
                self.lex = Lex::AfterValue;
            }
            Some(frame) => {
                match frame.kind {
                    Kind::Array => frame.items.push(node),
                    Kind::Object => {
                        let key = frame.key.take().unwrap_or(StrSpan {
                            start: 0,
                            end: 0,
                            escaped: false,
                        });
                        frame.entries.push((key, node));
                    }
                }
                self.lex = Lex::AfterValue;
            }
        }
    }

    fn open(&mut self, kind: Kind, i: usize) -> Result<(), JsonError> {
        if self.stack.len() >= self.max_depth {
            return Err(self.fail(ParseKind::TooDeep, i, "nesting deeper than max_depth"));
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.stack.push(Frame {
            id,
            kind,
            items: Vec::new(),
            entries: Vec::new(),
            key: None,
        });
        self.lex = match kind {
            Kind::Array => Lex::ArrayFirst,
            Kind::Object => Lex::ObjectFirst,
        };
        Ok(())
    }

    fn close(&mut self) {
        if let Some(frame) = self.stack.pop() {
            let node = match frame.kind {
                Kind::Array => Node::Arr {
                    id: frame.id,
                    items: frame.items.into_boxed_slice(),
                },
                Kind::Object => Node::Obj {
                    id: frame.id,
                    entries: frame.entries.into_boxed_slice(),
                },
            };
            self.push_value(node);
        }
    }

    /// Starts a value at byte `i` (a non-whitespace byte `b`).
    fn start_value(&mut self, i: usize, b: u8) -> Result<(), JsonError> {
        match b {
            b'{' => self.open(Kind::Object, i)?,
            b'[' => self.open(Kind::Array, i)?,
            b'"' => self.lex = Self::new_str(i + 1, false),
            b'-' => {
                self.lex = Lex::Number {
                    start: at(i),
                    state: Num::Minus,
                }
            }
            b'0' => {
                self.lex = Lex::Number {
                    start: at(i),
                    state: Num::Zero,
                }
            }
            b'1'..=b'9' => {
                self.lex = Lex::Number {
                    start: at(i),
                    state: Num::Int,
                }
            }
            b't' | b'f' | b'n' => {
                let word: &'static [u8] = match b {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                self.lex = Lex::Literal {
                    start: at(i),
                    word,
                    matched: 1,
                };
            }
            _ => return Err(self.fail(ParseKind::Malformed, i, "expected value")),
        }
        Ok(())
    }

    fn new_str(start: usize, key: bool) -> Lex {
        Lex::Str {
            start: at(start),
            safe: at(start),
            escaped: false,
            key,
            esc: Esc::None,
        }
    }

    /// Reads `text[self.pos()..to]` (`to` on a character boundary, `text` the same text as before).
    pub fn advance(&mut self, text: &str, to: usize) -> Result<(), JsonError> {
        if let Some(err) = &self.error {
            return Err(err.clone());
        }
        let mut i = self.pos;
        let len = to.min(text.len());
        while i < len {
            let b = text.as_bytes()[i];
            match self.lex {
                Lex::Str { .. } => {
                    i = self.scan_str(text, i, len)?;
                    continue;
                }
                Lex::Number { start, state } => match state.step(b) {
                    Some(next) => {
                        self.lex = Lex::Number { start, state: next };
                    }
                    None if state.complete() => {
                        self.push_value(Node::Num { start, end: at(i) });
                        continue;
                    }
                    None => return Err(self.fail(ParseKind::Malformed, i, "invalid number")),
                },
                Lex::Literal { start, word, matched } => {
                    if word[matched as usize] != b {
                        return Err(self.fail(ParseKind::Malformed, i, "expected ident"));
                    }
                    if matched as usize + 1 == word.len() {
                        let node = match word[0] {
                            b't' => Node::Bool(true),
                            b'f' => Node::Bool(false),
                            _ => Node::Null,
                        };
                        self.push_value(node);
                    } else {
                        self.lex = Lex::Literal {
                            start,
                            word,
                            matched: matched + 1,
                        };
                    }
                }
                _ if is_ws(b) => {}
                Lex::Value => self.start_value(i, b)?,
                Lex::ArrayFirst => {
                    if b == b']' {
                        self.close();
                    } else {
                        self.start_value(i, b)?;
                    }
                }
                Lex::ObjectFirst | Lex::ObjectKey => {
                    if b == b'"' {
                        self.lex = Self::new_str(i + 1, true);
                    } else if b == b'}' && self.lex == Lex::ObjectFirst {
                        self.close();
                    } else {
                        return Err(self.fail(ParseKind::Malformed, i, "key must be a string"));
                    }
                }
                Lex::Colon => {
                    if b == b':' {
                        self.lex = Lex::Value;
                    } else {
                        return Err(self.fail(ParseKind::Malformed, i, "expected `:`"));
                    }
                }
                Lex::AfterValue => {
                    let kind = self.stack.last().map(|f| f.kind);
                    match (b, kind) {
                        (b',', Some(Kind::Array)) => self.lex = Lex::Value,
                        (b',', Some(Kind::Object)) => self.lex = Lex::ObjectKey,
                        (b']', Some(Kind::Array)) | (b'}', Some(Kind::Object)) => self.close(),
                        (_, Some(Kind::Array)) => {
                            return Err(self.fail(ParseKind::Malformed, i, "expected `,` or `]`"))
                        }
                        _ => return Err(self.fail(ParseKind::Malformed, i, "expected `,` or `}`")),
                    }
                }
                Lex::End => return Err(self.fail(ParseKind::Malformed, i, "trailing characters")),
            }
            i += 1;
        }
        self.pos = len;
        Ok(())
    }

    /// Scans string bytes from `i`; returns where scanning should go on.
    fn scan_str(&mut self, text: &str, mut i: usize, len: usize) -> Result<usize, JsonError> {
        let Lex::Str {
            start,
            mut safe,
            mut escaped,
            key,
            mut esc,
        } = self.lex
        else {
            return Ok(i);
        };
        let bytes = text.as_bytes();
        while i < len {
            let b = bytes[i];
            match esc {
                Esc::None => {
                    // Fast path over plain characters: the common case by far.
                    let mut j = i;
                    while j < len && bytes[j] >= 0x20 && bytes[j] != b'"' && bytes[j] != b'\\' {
                        j += 1;
                    }
                    if j > i {
                        i = j;
                        safe = at(i);
                        continue;
                    }
                    match b {
                        b'"' => {
                            let span = StrSpan {
                                start,
                                end: at(i),
                                escaped,
                            };
                            if key {
                                if let Some(frame) = self.stack.last_mut() {
                                    frame.key = Some(span);
                                }
                                self.lex = Lex::Colon;
                            } else {
                                self.push_value(Node::Str(span));
                            }
                            return Ok(i + 1);
                        }
                        b'\\' => {
                            escaped = true;
                            esc = Esc::Backslash;
                        }
                        _ => {
                            return Err(self.fail(
                                ParseKind::Malformed,
                                i,
                                "control character (\\u0000-\\u001F) found while parsing a string",
                            ))
                        }
                    }
                }
                Esc::Backslash | Esc::AfterHighBackslash | Esc::Hex { .. } => match escape_step(esc, b, i, safe) {
                    Ok((next, new_safe)) => (esc, safe) = (next, new_safe),
                    Err(()) => return Err(self.fail(ParseKind::Malformed, i, "invalid escape")),
                },
                Esc::AfterHigh => {
                    if b == b'\\' {
                        esc = Esc::AfterHighBackslash;
                    } else {
                        // A lone high surrogate, complete; `b` is read again as a plain character.
                        esc = Esc::None;
                        safe = at(i);
                        continue;
                    }
                }
            }
            i += 1;
        }
        self.lex = Lex::Str {
            start,
            safe,
            escaped,
            key,
            esc,
        };
        Ok(i)
    }
}

/// One byte `b` (at `i`) inside an escape: the next escape state and the new end of the last
/// complete character (`safe`), or `Err` for an invalid escape.
fn escape_step(esc: Esc, b: u8, i: usize, safe: u32) -> Result<(Esc, u32), ()> {
    match esc {
        Esc::Backslash | Esc::AfterHighBackslash => match b {
            b'u' => Ok((
                Esc::Hex {
                    n: 0,
                    value: 0,
                    pair: esc == Esc::AfterHighBackslash,
                },
                safe,
            )),
            // Also completes a lone high surrogate that came before it.
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok((Esc::None, at(i + 1))),
            _ => Err(()),
        },
        Esc::Hex { n, value, pair } => {
            let value = (value << 4) | hex(b).ok_or(())?;
            if n < 3 {
                Ok((Esc::Hex { n: n + 1, value, pair }, safe))
            } else if pair && (0xDC00..=0xDFFF).contains(&value) {
                Ok((Esc::None, at(i + 1)))
            } else if (0xD800..=0xDBFF).contains(&value) {
                // After a high surrogate, the earlier one stays lone; this one waits in its place.
                Ok((Esc::AfterHigh, if pair { at(i - 5) } else { safe }))
            } else {
                Ok((Esc::None, at(i + 1)))
            }
        }
        Esc::None | Esc::AfterHigh => Ok((esc, safe)),
    }
}

/// Decodes the contents of a JSON string span. Lone surrogates (which `json.loads` accepts) are
/// written in generalized UTF-8 (WTF-8); the flag says whether any were written.
#[must_use]
pub fn decode_str(text: &str, span: StrSpan) -> (Cow<'_, [u8]>, bool) {
    let raw = &text.as_bytes()[span.start as usize..span.end as usize];
    if !span.escaped {
        return (Cow::Borrowed(raw), false);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut lone = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&e) = raw.get(i + 1) else { break };
        i += 2;
        let simple = match e {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            _ => 0,
        };
        if e != b'u' {
            out.push(simple);
            continue;
        }
        let Some(unit) = read_hex4(raw, i) else { break };
        i += 4;
        let mut code = u32::from(unit);
        if (0xD800..=0xDBFF).contains(&unit) && raw.get(i) == Some(&b'\\') && raw.get(i + 1) == Some(&b'u') {
            if let Some(low) = read_hex4(raw, i + 2) {
                if (0xDC00..=0xDFFF).contains(&low) {
                    code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    i += 6;
                }
            }
        }
        push_wtf8(&mut out, code, &mut lone);
    }
    (Cow::Owned(out), lone)
}

fn read_hex4(raw: &[u8], i: usize) -> Option<u16> {
    let digits = raw.get(i..i + 4)?;
    let mut v = 0u16;
    for &d in digits {
        v = (v << 4) | hex(d)?;
    }
    Some(v)
}

#[allow(clippy::cast_possible_truncation)]
fn push_wtf8(out: &mut Vec<u8>, code: u32, lone: &mut bool) {
    if let Some(c) = char::from_u32(code) {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    } else {
        *lone = true;
        out.extend_from_slice(&[
            0xE0 | (code >> 12) as u8,
            0x80 | ((code >> 6) & 0x3F) as u8,
            0x80 | (code & 0x3F) as u8,
        ]);
    }
}

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

#[cfg(test)]
mod tests;
