//! An event as the last one of its kind was written, with the values that change from one event
//! to the next cut out: the next event that matches it byte for byte around those values is read
//! with a few comparisons, not parsed key by key.
//!
//! The Responses API writes each text or arguments delta as one compact object whose keys, order
//! and every other value repeat for the whole item: only the delta, the sequence number and the
//! `obfuscation` padding change. A shape keeps the event's text; its holes are those values,
//! checked as the lexer checks them (a number's grammar, a string's escapes); the literal text
//! between them must come back unchanged. Whatever else the event says is the same as what the
//! shape's own event said, which the caller read once, the usual way, when it made the shape.

use std::borrow::Cow;

use super::lexer::{self, Cursor};

/// What a hole holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hole {
    /// A number, passed over.
    Number,
    /// A string, passed over.
    Str,
    /// The string the caller reads: its value is what `Shape::replay` returns.
    Wanted,
}

/// A compact JSON object's text with holes (see the module).
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    text: String,
    /// Each hole: where it starts in `text`, what it holds, where the text after it starts.
    holes: Vec<(usize, Hole, usize)>,
}

impl Shape {
    /// The shape of `data`, one compact JSON object (as `lexer::object` reads one) whose key
    /// `wanted` is a string exactly once; every other key that `passed` names whose value is a
    /// number or a string is a hole too. `None` for anything else.
    pub(crate) fn of(data: &str, wanted: &str, passed: &[&str]) -> Option<Self> {
        let mut at = Cursor::new(data);
        let mut holes = Vec::new();
        let mut found = 0;
        lexer::object(&mut at, |at, key| {
            let start = at.pos();
            let hole = if key == wanted {
                found += 1;
                at.string()?;
                Hole::Wanted
            } else if !passed.contains(&key) {
                return lexer::skip(at);
            } else if at.peek() == Some(b'"') {
                at.escaped_string()?;
                Hole::Str
            } else if at.number_text().is_some() {
                Hole::Number
            } else {
                return lexer::skip(at);
            };
            holes.push((start, hole, at.pos()));
            Some(())
        })?;
        (at.at_end() && found == 1).then(|| Self {
            text: data.to_owned(),
            holes,
        })
    }

    /// The wanted string of `data` if `data` is this shape with other values in its holes;
    /// `None` if it is not (or the string holds a lone surrogate escape, which is no `str`).
    pub(crate) fn replay<'d>(&self, data: &'d str) -> Option<Cow<'d, str>> {
        let (new, old) = (data.as_bytes(), self.text.as_bytes());
        let (mut at, mut from) = (0, 0);
        let mut wanted = None;
        for &(start, hole, next) in &self.holes {
            let literal = &old[from..start];
            if new.get(at..at + literal.len())? != literal {
                return None;
            }
            // After a literal that ends in the key's colon: a character boundary.
            let mut cursor = Cursor::at(data, at + literal.len());
            match hole {
                Hole::Number => {
                    cursor.number_text()?;
                }
                Hole::Str => {
                    cursor.escaped_string()?;
                }
                Hole::Wanted => wanted = Some(cursor.string()?),
            }
            at = cursor.pos();
            from = next;
        }
        (new.get(at..)? == &old[from..]).then_some(())?;
        wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSED: &[&str] = &["sequence_number", "obfuscation"];

    fn shape(data: &str) -> Shape {
        Shape::of(data, "delta", PASSED).unwrap()
    }

    #[test]
    fn the_values_in_the_holes_change_and_nothing_else() {
        let s = shape(r#"{"type":"d","sequence_number":7,"delta":"ab","item_id":"x","obfuscation":"q1","i":1}"#);
        let replay = |data: &str| s.replay(data).map(Cow::into_owned);
        let ok = [
            (
                r#"{"type":"d","sequence_number":8,"delta":"c","item_id":"x","obfuscation":"zz9","i":1}"#,
                "c",
            ),
            (
                r#"{"type":"d","sequence_number":-1.5e3,"delta":"","item_id":"x","obfuscation":"","i":1}"#,
                "",
            ),
            (
                r#"{"type":"d","sequence_number":10,"delta":"\u00e9\n\"","item_id":"x","obfuscation":"\\","i":1}"#,
                "é\n\"",
            ),
            (
                r#"{"type":"d","sequence_number":10,"delta":"é🚀","item_id":"x","obfuscation":"a","i":1}"#,
                "é🚀",
            ),
        ];
        for (data, want) in ok {
            assert_eq!(replay(data).as_deref(), Some(want), "{data}");
        }
        for data in [
            // another literal value, key, order, spacing, or more or less text
            r#"{"type":"d","sequence_number":8,"delta":"c","item_id":"y","obfuscation":"z","i":1}"#,
            r#"{"type":"d","sequence_number":8,"delta":"c","item_id":"x","obfuscation":"z","i":2}"#,
            r#"{"type":"d","sequence_number":8,"delta":"c","item_id":"x","obfuscation":"z","j":1}"#,
            r#"{"type":"d","delta":"c","sequence_number":8,"item_id":"x","obfuscation":"z","i":1}"#,
            r#"{"type":"d","sequence_number":8,"delta": "c","item_id":"x","obfuscation":"z","i":1}"#,
            r#"{"type":"d","sequence_number":8,"delta":"c","item_id":"x","obfuscation":"z","i":1} "#,
            r#"{"type":"d","sequence_number":8,"delta":"c","item_id":"x","obfuscation":"z","i":1"#,
            // a hole holding another kind of value, or an invalid one
            r#"{"type":"d","sequence_number":"8","delta":"c","item_id":"x","obfuscation":"z","i":1}"#,
            r#"{"type":"d","sequence_number":08,"delta":"c","item_id":"x","obfuscation":"z","i":1}"#,
            r#"{"type":"d","sequence_number":8,"delta":null,"item_id":"x","obfuscation":"z","i":1}"#,
            r#"{"type":"d","sequence_number":8,"delta":"c","item_id":"x","obfuscation":null,"i":1}"#,
            r#"{"type":"d","sequence_number":8,"delta":"\x","item_id":"x","obfuscation":"z","i":1}"#,
            r#"{"type":"d","sequence_number":8,"delta":"c","item_id":"x","obfuscation":"\q","i":1}"#,
            // a lone surrogate is no str
            r#"{"type":"d","sequence_number":8,"delta":"\ud800","item_id":"x","obfuscation":"z","i":1}"#,
        ] {
            assert_eq!(replay(data), None, "{data}");
        }
    }

    #[test]
    fn what_makes_no_shape() {
        for data in [
            r#"{"type":"d","sequence_number":1}"#, // no wanted key
            r#"{"delta":"a","delta":"b"}"#,        // twice
            r#"{"delta":1}"#,                      // not a string
            r#"{"delta":"a"} "#,                   // not compact
            r#"{"delta":"a","x":{"y": 1}}"#,       // not compact inside
            r#"{"delta":"\ud800"}"#,               // no str
        ] {
            assert!(Shape::of(data, "delta", PASSED).is_none(), "{data}");
        }
        // A passed key whose value is neither a number nor a string is part of the literal.
        let s = shape(r#"{"delta":"a","obfuscation":[1],"sequence_number":{}}"#);
        assert_eq!(s.holes.len(), 1);
        assert_eq!(
            s.replay(r#"{"delta":"b","obfuscation":[1],"sequence_number":{}}"#)
                .as_deref(),
            Some("b")
        );
        assert_eq!(
            s.replay(r#"{"delta":"b","obfuscation":[2],"sequence_number":{}}"#),
            None
        );
    }
}
