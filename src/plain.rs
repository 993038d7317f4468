//! The plain runs of JSON strings, sixteen or eight bytes at a time: where a string's text next needs a
//! look (its closing quote, an escape, or a control character, which JSON does not allow raw).
//! Shared by the formats' fast paths and the partial-JSON scanner, whose strings (tokens,
//! arguments) are where the bytes of a stream are.

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// The bytes of `word` (8 bytes in memory order) that end or interrupt a JSON string's plain
/// run: `"`, `\` or a control character, as the high bit of each such byte. Only the first
/// (lowest-addressed) marked byte is exact: a borrow may mark bytes after it, never before.
#[inline]
fn specials(word: u64) -> u64 {
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    // A byte below 0x20 borrows through its high bit; a byte of 0x80 or more has it set in
    // `word`, and is excluded by `!word`.
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    (zero_byte(quote) | zero_byte(backslash) | control) & HIGHS
}

/// The index of the first `"`, `\` or control character at or after `from`, if any.
#[inline]
pub(crate) fn next_special(bytes: &[u8], mut from: usize) -> Option<usize> {
    // Sixteen bytes at a time where SSE2 is (every x86-64), then eight: a token or a timestamp
    // is a few words, where setting up a wider search (memchr's) costs more than it saves.
    #[cfg(target_arch = "x86_64")]
    while from + 16 <= bytes.len() {
        let marks = sse2::specials(&bytes[from..from + 16]);
        if marks != 0 {
            return Some(from + marks.trailing_zeros() as usize);
        }
        from += 16;
    }
    while let Some(chunk) = bytes.get(from..from + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let marks = specials(word);
        if marks != 0 {
            return Some(from + (marks.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    let rest = bytes.get(from..)?;
    rest.iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|n| from + n)
}

/// A bit per byte of `chunk` (its first 16 bytes) that is `a` or `b` (SSE2, part of x86-64).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn either16(chunk: &[u8], a: u8, b: u8) -> u32 {
    sse2::either(chunk, a, b)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// A bit per byte of `chunk` (16 bytes) that is `"`, `\` or a control character.
    #[inline]
    #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
    pub(super) fn specials(chunk: &[u8]) -> u32 {
        assert!(chunk.len() >= 16);
        // SAFETY: SSE2 is part of x86-64, so these intrinsics are always available; the load
        // reads 16 bytes of `chunk`, which holds at least that many (checked above), and
        // `_mm_loadu_si128` takes any alignment.
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Unsigned `byte <= 0x1f`, as `max(byte, 0x1f) == 0x1f`.
            let low = _mm_set1_epi8(0x1f);
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        }
    }

    /// A bit per byte of `chunk` (16 bytes) that is `a` or `b`.
    #[inline]
    #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
    pub(super) fn either(chunk: &[u8], a: u8, b: u8) -> u32 {
        assert!(chunk.len() >= 16);
        // SAFETY: as in `specials`.
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let a = _mm_cmpeq_epi8(v, _mm_set1_epi8(a as i8));
            let b = _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
            _mm_movemask_epi8(_mm_or_si128(a, b)) as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_special_matches_a_byte_loop() {
        // Every position of every special byte among plain ASCII and multi-byte characters,
        // at every alignment, against the obvious loop.
        let fillers: [&[u8]; 4] = [
            b"abcdefghijklmnopqrstuvwxyz",
            "é東🚀xyzé東🚀".as_bytes(),
            b"\x7f ~}!",
            b"\x80\xff\x20\x21\x7f\x9f\xa0\xe0 !#[]^_`{|}~\x81\xfe",
        ];
        for filler in fillers {
            for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                for at in 0..filler.len() {
                    let mut bytes = filler.to_vec();
                    bytes[at] = special;
                    for from in 0..=bytes.len() {
                        let want = bytes[from..]
                            .iter()
                            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                            .map(|n| from + n);
                        assert_eq!(next_special(&bytes, from), want, "{bytes:?} from {from}");
                    }
                }
            }
            assert_eq!(next_special(filler, 0), None);
        }
    }
}
