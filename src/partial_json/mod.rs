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
//!
//! Layout, one job a file: this file owns the growing text and its UTF-8 handling
//! ([`PartialJson`]); `scan` is the resumable state machine ([`Scan`]); `node` holds the spans,
//! nodes and frames it finds; `decode` turns a string span into bytes; `value` builds an owned
//! [`Value`] for Rust callers and tests. Every item is re-exported here, so callers name
//! `crate::partial_json::X` whatever file `X` lives in.
//!
//! [`PartialJson`] keeps `text` valid UTF-8 at all times: a character split across
//! [`PartialJson::feed_bytes`] calls waits in a byte tail until its last byte comes.

mod decode;
mod node;
mod scan;
mod value;

use crate::error::ParseKind;

pub use decode::{decode_escaped, decode_into, decode_str};
pub use node::{Frame, Kind, Leaf, Node, StrSpan};
pub use scan::{JsonError, Scan, DEFAULT_MAX_DEPTH, MAX_DEPTH_CAP};
pub use value::Value;

/// What the text takes at its first fragment (see `PartialJson::reserve_first`).
const FIRST_CAPACITY: usize = 256;

/// A resumable JSON parser over a growing text it owns.
#[derive(Debug, Clone)]
pub struct PartialJson {
    text: String,
    utf8_tail: Vec<u8>,
    scan: Scan,
}

impl Default for PartialJson {
    fn default() -> Self {
        Self::new()
    }
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
        self.reserve_first(fragment.len());
        self.text.push_str(fragment);
        self.scan.advance(&self.text, self.text.len())
    }

    /// Room for the first fragment, and then some: a doubling from a few bytes took eight
    /// reallocations for arguments of 2 KB.
    #[inline]
    fn reserve_first(&mut self, len: usize) {
        if self.text.capacity() == 0 {
            self.text.reserve(len.max(FIRST_CAPACITY));
        }
    }

    /// Feeds a first fragment that the caller has already checked is one complete JSON value
    /// nested at most `depth` deep (a whole object Ollama or Gemini sends), without scanning
    /// it again; any other fragment, or a parser that cannot take it so, is fed as usual.
    pub fn feed_checked(&mut self, fragment: &str, depth: usize) -> Result<(), JsonError> {
        let fresh = self.text.is_empty() && self.utf8_tail.is_empty() && fragment.len() < u32::MAX as usize;
        if fresh && self.scan.assume_complete(fragment.len(), depth) {
            self.text.push_str(fragment);
            return Ok(());
        }
        self.feed(fragment)
    }

    /// Feeds the decoded contents of a JSON string: `escaped` is what stands between its quotes,
    /// valid JSON string text. As `feed` of the decoded text, without building it apart; `None`
    /// (nothing fed) when it holds a lone surrogate escape, which is no `str`.
    pub fn feed_escaped(&mut self, escaped: &str) -> Option<Result<(), JsonError>> {
        if !self.utf8_tail.is_empty() || self.text.len() + escaped.len() >= u32::MAX as usize {
            // `feed` says what is wrong.
            return decode_escaped(escaped).map(|text| self.feed(&text));
        }
        let len = self.text.len();
        self.reserve_first(escaped.len());
        // SAFETY: `decode_into` appends UTF-8 but for a lone surrogate, which it reports; the
        // text is cut back to where it was before anything else can see it.
        let text = unsafe { self.text.as_mut_vec() };
        if decode::decode_into(escaped.as_bytes(), text) {
            text.truncate(len);
            return None;
        }
        Some(self.scan.advance(&self.text, self.text.len()))
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

#[cfg(test)]
mod tests;
