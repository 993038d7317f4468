//! The resumable scanner: a byte-level state machine over a text kept elsewhere.
//!
//! Consumes `text[pos..to]` of a text that only grows; emits the structure found (closed
//! [`Node`]s, open [`Frame`]s, the [`Leaf`] being read) or the first [`JsonError`]. Invariants:
//! a call resumes at `pos` from the state kept in [`Lex`], [`Num`] and [`Esc`], so no earlier
//! byte is read again; after the first error nothing more is read and that error is returned.

use super::decode::hex;
use super::node::{Frame, Kind, Leaf, Node, StrSpan};
use crate::error::ParseKind;
use crate::plain::next_special;

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
    pub(super) keep: bool,
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

/// Default deepest nesting (`max_depth`); `json.loads` stops near 1000.
pub const DEFAULT_MAX_DEPTH: usize = 512;

/// Largest `max_depth` accepted, as deep as `json.loads` goes: Python values are built
/// recursively, and 1,000 levels fit a 512 KiB thread stack (2,000 did not, measured).
pub const MAX_DEPTH_CAP: usize = 1_000;

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[allow(clippy::cast_possible_truncation)]
#[inline]
fn at(i: usize) -> u32 {
    i as u32
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
            Lex::Number { start, state } if self.stack.is_empty() && start <= at(self.pos) => {
                Some((start, at(self.pos), state.complete()))
            }
            _ => None,
        }
    }

    /// Takes the first `len` bytes of the text as one complete value nested at most `depth`
    /// deep, which the caller's own reader has already checked, instead of reading them again.
    /// Only a validating scan that has read nothing can take them (a keeping scan needs the
    /// structure, a started one its place in it); `false` when this one cannot, or when `depth`
    /// is past its limit, and the caller then advances as usual.
    pub(crate) fn assume_complete(&mut self, len: usize, depth: usize) -> bool {
        let fresh = !self.keep && self.pos == 0 && self.lex == Lex::Value && self.error.is_none();
        if !fresh || depth > self.max_depth || len == 0 {
            return false;
        }
        self.pos = len;
        self.lex = Lex::End;
        // A validating scan's root is only ever asked whether it is there.
        self.root = Some(Node::Null);
        true
    }

    #[cold]
    pub(super) fn fail(&mut self, kind: ParseKind, position: usize, message: &'static str) -> JsonError {
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
                Lex::Number { start, mut state } => {
                    // The number's bytes in one go (a number is many bytes of the arguments).
                    let bytes = text.as_bytes();
                    while i < len {
                        match state.step(bytes[i]) {
                            Some(next) => state = next,
                            None => break,
                        }
                        i += 1;
                    }
                    if i == len {
                        self.lex = Lex::Number { start, state };
                    } else if state.complete() {
                        self.push_value(Node::Num { start, end: at(i) });
                    } else {
                        // The state the fault was found in: the number is not complete, so it
                        // shows in no value (`pos` is not moved on an error).
                        self.lex = Lex::Number { start, state };
                        return Err(self.fail(ParseKind::Malformed, i, "invalid number"));
                    }
                    continue;
                }
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
                    let j = next_special(&bytes[..len], i).unwrap_or(len);
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
