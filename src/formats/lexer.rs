//! A byte cursor for the fast paths that read a chunk as one known encoder writes it, byte for
//! byte, without the general parser. Each method either reads what it expects and moves on, or
//! returns `None` and the caller gives the chunk to the general path, which reads everything
//! the fast path accepts the same way (each format's tests hold both to its reference).

use serde_json::value::RawValue;

use crate::plain::next_special;

pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.text.len()
    }

    /// Whether the rest of the text is exactly `tail` (and if so, moves to the end).
    #[inline]
    pub(crate) fn rest_is(&mut self, tail: &str) -> bool {
        let whole = self.text.as_bytes().get(self.pos..) == Some(tail.as_bytes());
        if whole {
            self.pos = self.text.len();
        }
        whole
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The text from `start` to where the cursor is.
    pub(crate) fn since(&self, start: usize) -> &'a str {
        &self.text[start..self.pos]
    }

    #[inline]
    pub(crate) fn literal(&mut self, expected: &str) -> Option<()> {
        let rest = self.text.as_bytes().get(self.pos..)?;
        rest.starts_with(expected.as_bytes())
            .then(|| self.pos += expected.len())
    }

    /// A JSON string's text, quotes included, and whether it has an escape; `None` at a
    /// control character (not allowed raw in JSON) or without the closing quote.
    #[inline]
    fn raw_string(&mut self) -> Option<(&'a str, bool)> {
        let start = self.pos;
        let escaped = self.skip_string()?;
        // Both ends are ASCII quotes, so the slice is whole characters.
        Some((&self.text[start..self.pos], escaped))
    }

    /// Moves past a JSON string; whether it has an escape (`None` as for `raw_string`).
    #[inline]
    fn skip_string(&mut self) -> Option<bool> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.pos) != Some(&b'"') {
            return None;
        }
        let mut i = self.pos + 1;
        let mut escaped = false;
        loop {
            i = next_special(bytes, i)?;
            match bytes[i] {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                _ => return None,
            }
        }
        self.pos = i + 1;
        Some(escaped)
    }

    /// An object key without escapes, and its colon (the opening quote is read).
    pub(crate) fn key(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let end = next_special(bytes, self.pos)?;
        if bytes[end] != b'"' || bytes.get(end + 1) != Some(&b':') {
            return None;
        }
        let key = &self.text[self.pos..end];
        self.pos = end + 2;
        Some(key)
    }

    /// A JSON number, as its raw value.
    pub(crate) fn number(&mut self) -> Option<&'a RawValue> {
        // Valid by construction (checked by `number_text`); serde_json only wraps it.
        serde_json::from_str::<&RawValue>(self.number_text()?).ok()
    }

    /// A JSON number's text (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`).
    pub(crate) fn number_text(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        if bytes.get(i) == Some(&b'0') {
            i += 1;
        } else if !digits(&mut i) {
            return None;
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        self.pos = i;
        Some(&self.text[start..i])
    }

    /// A string whose escapes are valid JSON escapes (`\uXXXX` not checked for surrogates, as
    /// serde_json skips a value it does not keep).
    fn checked_string(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.pos) != Some(&b'"') {
            return None;
        }
        let mut i = self.pos + 1;
        loop {
            i = next_special(bytes, i)?;
            match bytes[i] {
                b'"' => break,
                b'\\' => match *bytes.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' if bytes.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) => i += 6,
                    _ => return None,
                },
                _ => return None,
            }
        }
        self.pos = i + 1;
        Some(())
    }

    /// A JSON value written without whitespace, as Go's encoder (Ollama) writes one, nested at
    /// most `depth` deep; its text. `None` for anything else (whitespace, deeper nesting, an
    /// invalid value): the caller's general path reads those.
    pub(crate) fn compact_value(&mut self, depth: usize) -> Option<&'a str> {
        let start = self.pos;
        self.skip_compact(depth)?;
        Some(&self.text[start..self.pos])
    }

    fn skip_compact(&mut self, depth: usize) -> Option<()> {
        let close = match *self.text.as_bytes().get(self.pos)? {
            b'"' => return self.checked_string(),
            b'{' => b'}',
            b'[' => b']',
            b't' => return self.literal("true"),
            b'f' => return self.literal("false"),
            b'n' => return self.literal("null"),
            _ => return self.number_text().map(|_| ()),
        };
        let depth = depth.checked_sub(1)?;
        self.pos += 1;
        if self.text.as_bytes().get(self.pos) == Some(&close) {
            self.pos += 1;
            return Some(());
        }
        loop {
            if close == b'}' {
                self.checked_string()?;
                self.literal(":")?;
            }
            self.skip_compact(depth)?;
            match *self.text.as_bytes().get(self.pos)? {
                b',' => self.pos += 1,
                c if c == close => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string that is ignored: one without escapes (an escape could be invalid JSON).
    pub(crate) fn plain_string(&mut self) -> Option<()> {
        let escaped = self.skip_string()?;
        (!escaped).then_some(())
    }

    /// The text of a string without escapes (one with escapes is left to the general path).
    pub(crate) fn plain_text(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.plain_string()?;
        Some(&self.text[start + 1..self.pos - 1])
    }

    /// A string's value; escapes are decoded (and checked) by serde_json.
    pub(crate) fn string(&mut self) -> Option<std::borrow::Cow<'a, str>> {
        let (quoted, escaped) = self.raw_string()?;
        if escaped {
            serde_json::from_str::<String>(quoted).ok().map(std::borrow::Cow::Owned)
        } else {
            Some(std::borrow::Cow::Borrowed(&quoted[1..quoted.len() - 1]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_values_as_serde_json_reads_them() {
        let accepted = [
            r#"{"a":[1,-2.5e+3,0,true,false,null],"b":{},"c":[],"d":"x\"\\\/\b\f\n\r\t\u00e9\ud800"}"#,
            r#""plain""#,
            "0",
            "-0.0E-7",
            "[[[]]]",
            r#"{"é東🚀":"é東🚀"}"#,
        ];
        for text in accepted {
            let mut c = Cursor::new(text);
            assert_eq!(c.compact_value(8), Some(text), "{text}");
            assert!(serde_json::from_str::<&RawValue>(text).is_ok(), "{text}");
        }
        // Whitespace, invalid JSON, or deeper than allowed: not read here (the first two are
        // valid JSON that the general path reads).
        let refused = [
            r#"{"a": 1}"#,
            "[1, 2]",
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            r#"{"a":tru}"#,
            r#"{"a":1,}"#,
            "[1,]",
            r#"{"a"}"#,
            "{1:2}",
            "\"a\tb\"",
            r#"{"a":[1}"#,
            "[[[[]]]]",
        ];
        for text in refused {
            let mut c = Cursor::new(text);
            let whole = c.compact_value(3).is_some_and(|_| c.at_end());
            assert!(!whole, "{text}");
        }
    }

    #[test]
    fn strings() {
        let mut c = Cursor::new(r#""a\"b" "x\u00e9" "cut"#);
        assert_eq!(c.raw_string(), Some((r#""a\"b""#, true)));
        assert_eq!(c.literal(" "), Some(()));
        assert_eq!(c.string().as_deref(), Some("x\u{e9}"));
        assert_eq!(c.literal(" "), Some(()));
        assert_eq!(c.raw_string(), None);
        assert_eq!(Cursor::new("\"a\tb\"").raw_string(), None);
        assert_eq!(Cursor::new(r#""a\""#).raw_string(), None);
        assert_eq!(Cursor::new(r#""a\q""#).string(), None);
        let mut k = Cursor::new(r#"done":true"#);
        assert_eq!(k.key(), Some("done"));
        assert_eq!(k.literal("true"), Some(()));
        assert!(k.at_end());
        assert_eq!(Cursor::new(r#"do\ne":1"#).key(), None);
        assert_eq!(Cursor::new(r#"done" :1"#).key(), None);
    }
}
