//! String decoding: the contents of a JSON string span to bytes.
//!
//! Consumes a [`StrSpan`] the scanner closed (or cut at a complete character); emits its
//! decoded bytes, borrowed when the span holds no escape. Invariant: the output is UTF-8 except
//! for lone surrogates, which are written in WTF-8 and flagged so callers can replace them.

use std::borrow::Cow;

use super::node::StrSpan;

#[inline]
pub(super) fn hex(b: u8) -> Option<u16> {
    (b as char).to_digit(16).map(|d| d as u16)
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
    let lone = decode_into(raw, &mut out);
    (Cow::Owned(out), lone)
}

/// Appends the decoded contents of a JSON string (`raw`, between its quotes) to `out`; whether
/// a lone surrogate was written (WTF-8, as `decode_str`).
pub fn decode_into(raw: &[u8], out: &mut Vec<u8>) -> bool {
    // The decoded text is never longer than the escaped one.
    out.reserve(raw.len());
    let mut lone = false;
    let mut i = 0;
    while i < raw.len() {
        // The text up to the next escape, copied as one slice: in tool-call arguments (JSON in
        // a JSON string) every quote is escaped, and a byte pushed at a time cost ~6
        // instructions a byte.
        let end = raw[i..].iter().position(|&b| b == b'\\').map_or(raw.len(), |n| i + n);
        out.extend_from_slice(&raw[i..end]);
        i = end;
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
        push_wtf8(out, code, &mut lone);
    }
    lone
}

/// The decoded text of a JSON string's inside (`escaped`, valid string text); `None` when it
/// holds a lone surrogate escape, which is no `str`.
#[must_use]
pub fn decode_escaped(escaped: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(escaped.len());
    if decode_into(escaped.as_bytes(), &mut bytes) {
        return None;
    }
    // SAFETY: the input is a `str` and every escape is written as its character's UTF-8; only
    // a lone surrogate (refused above) would not be.
    Some(unsafe { String::from_utf8_unchecked(bytes) })
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
