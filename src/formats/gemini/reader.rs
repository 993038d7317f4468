//! Gemini chunks as Google's encoder writes nearly all of them (one space after each colon,
//! none anywhere else), read with the byte cursor instead of serde: the chunk envelope, the
//! usage object and the thought signatures are checked and passed over in one scan, strings are
//! borrowed, and each part's text as sent is a slice of the chunk (serde read every part twice,
//! once for its text as sent and once for its fields).
//!
//! `fast_chunk` builds the same `Chunk` the general path deserializes, or gives up (`None`) on
//! anything it does not read exactly as serde would: another spacing, an escape in a key, a
//! known field given twice or of an unexpected JSON type, streamed calls (`partialArgs`,
//! `willContinue`), `promptFeedback`, `error`, anything invalid. The tests below hold the two
//! readers to the same result on every chunk this one accepts.

use std::mem::replace;

use super::{Candidate, Chunk, Content, FunctionCall, Members, Part};
use crate::formats::lexer::{spaced_object, Cursor, COMPACT_DEPTH};
use crate::formats::{LenientIndex, LenientStr, Obj, Raw, WithRaw};

/// The chunk `data` (trimmed) as the general path would deserialize it, if this reader can tell;
/// whole calls' `args` are valid JSON nested at most `args_depth` deep (at most
/// `COMPACT_DEPTH`), or the chunk is the general path's.
///
/// A usage object of at most `FEW` members is read as `Members` too (given back beside the
/// chunk), so that it is not read again to be compared with the last one.
pub(super) fn fast_chunk(data: &str, args_depth: usize) -> Option<(Chunk<'_>, Option<Members>)> {
    let mut at = Cursor::new(data);
    let mut chunk = Chunk::default();
    let mut usage_members = None;
    // `promptFeedback` and `error` are the general path's.
    let names = ["candidates", "usageMetadata", "promptFeedback", "error"];
    fields(&mut at, names, |at, known| {
        match known {
            Some(0) => chunk.candidates = Some(list(at, |at| candidate(at, args_depth).map(Obj))?),
            Some(1) => {
                let start = at.pos();
                if let Some(members) = Members::read_from(at) {
                    usage_members = Some(members);
                    chunk.usage_metadata = Some(Raw(at.since(start)));
                } else {
                    *at = Cursor::at(data, start);
                    chunk.usage_metadata = nullable_value(at, COMPACT_DEPTH)?;
                }
            }
            Some(_) => return None,
            None => skip(at)?,
        }
        Some(())
    })?;
    at.at_end().then_some((chunk, usage_members))
}

/// An object whose keys in `names` are each handed to `entry` with their index, once (serde
/// refuses a known field given twice, so the general path reads that), and any other key with
/// `None`.
fn fields<'a, const N: usize>(
    at: &mut Cursor<'a>,
    names: [&str; N],
    mut entry: impl FnMut(&mut Cursor<'a>, Option<usize>) -> Option<()>,
) -> Option<()> {
    let mut seen = [false; N];
    spaced_object(at, |at, key| match names.iter().position(|name| *name == key) {
        Some(i) if replace(&mut seen[i], true) => None,
        known => entry(at, known),
    })
}

/// `[`, the items `item` reads, comma-separated, `]`.
fn list<'a, T>(at: &mut Cursor<'a>, mut item: impl FnMut(&mut Cursor<'a>) -> Option<T>) -> Option<Vec<T>> {
    at.literal("[")?;
    let mut items = Vec::with_capacity(1);
    if at.literal("]").is_some() {
        return Some(items);
    }
    loop {
        items.push(item(at)?);
        if at.literal("]").is_some() {
            return Some(items);
        }
        at.literal(",")?;
    }
}

fn candidate<'a>(at: &mut Cursor<'a>, args_depth: usize) -> Option<Candidate<'a>> {
    let mut candidate = Candidate::default();
    fields(at, ["index", "content", "finishReason"], |at, known| {
        match known {
            Some(0) => candidate.index = LenientIndex(Some(at.index()?)),
            Some(1) => candidate.content = Some(Obj(content(at, args_depth)?)),
            Some(_) => candidate.finish_reason = LenientStr(Some(at.string()?)),
            None => skip(at)?,
        }
        Some(())
    })?;
    Some(candidate)
}

fn content<'a>(at: &mut Cursor<'a>, args_depth: usize) -> Option<Content<'a>> {
    let mut parts = None;
    fields(at, ["parts"], |at, known| {
        if known.is_none() {
            return skip(at);
        }
        parts = Some(list(at, |at| {
            let start = at.pos();
            let value = part(at, args_depth)?;
            Some(WithRaw {
                raw: Raw(at.since(start)),
                value,
            })
        })?);
        Some(())
    })?;
    Some(Content { parts })
}

/// A part, as `Part`'s own deserializer reads one.
fn part<'a>(at: &mut Cursor<'a>, args_depth: usize) -> Option<Part<'a>> {
    let mut part = Part::default();
    fields(
        at,
        ["text", "thought", "thoughtSignature", "functionCall"],
        |at, known| {
            let Some(known) = known else {
                part.not_plain = true;
                part.not_only_call = true;
                return skip(at);
            };
            part.not_plain |= known >= 2;
            part.not_only_call |= known != 3;
            match known {
                0 => part.text = Some(at.string()?),
                1 => {
                    part.thought = match at.literal("true") {
                        Some(()) => true,
                        None => at.literal("false").map(|()| false)?,
                    };
                }
                2 => skip(at)?,
                _ => part.function_call = Some(function_call(at, args_depth)?),
            }
            Some(())
        },
    )?;
    Some(part)
}

/// A whole call; a streamed one (`partialArgs`, `willContinue`) is the general path's.
fn function_call<'a>(at: &mut Cursor<'a>, args_depth: usize) -> Option<FunctionCall<'a>> {
    let mut call = FunctionCall::default();
    let names = ["id", "name", "args", "partialArgs", "willContinue"];
    fields(at, names, |at, known| {
        match known {
            Some(0) => call.id = LenientStr(Some(at.string()?)),
            Some(1) => call.name = LenientStr(Some(at.string()?)),
            Some(2) => call.args = nullable_value(at, args_depth)?,
            Some(_) => return None,
            None => skip(at)?,
        }
        Some(())
    })?;
    Some(call)
}

/// `null` as absent (an `Option<Raw>` field), else the value's text.
#[allow(clippy::option_option)]
fn nullable_value<'a>(at: &mut Cursor<'a>, depth: usize) -> Option<Option<Raw<'a>>> {
    if at.literal("null").is_some() {
        return Some(None);
    }
    at.spaced_value(depth).map(|text| Some(Raw(text)))
}

fn skip(at: &mut Cursor<'_>) -> Option<()> {
    at.spaced_value(COMPACT_DEPTH).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::lexer::one_edit;

    /// Chunks in the shapes the API sends (spacing as Google's encoder writes it).
    const CHUNKS: [&str; 9] = [
        r#"{"candidates": [{"content": {"parts": [{"text": "The"}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 15,"totalTokenCount": 15,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 15}]},"modelVersion": "gemini-2.0-flash","responseId": "w1peaMz6INOvnvgPgYfPiQY"}"#,
        r#"{"candidates": [{"content": {"parts": [{"text": "Let me think\n\"é\u00e9\"","thought": true}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 70,"totalTokenCount": 171,"thoughtsTokenCount": 61},"modelVersion": "gemini-2.5-flash"}"#,
        r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "lookup","args": {"password": "mellon","n": [1,-2.5e3,{"x": null}]}},"thoughtSignature": "CikB0e2Kbw5t/+J9=="},{"functionCall": {"id": "c2","name": "lookup","args": {}}}],"role": "model"},"finishReason": "STOP","index": 0,"finishMessage": "Model generated function call(s)."}],"usageMetadata": {"promptTokenCount": 70,"candidatesTokenCount": 40},"modelVersion": "gemini-2.5-flash","responseId": "G5nyaJuGE"}"#,
        r#"{"candidates": [{"content": {"parts": [{"text": "","thoughtSignature": "abc"}],"role": "model"},"finishReason": "MAX_TOKENS","safetyRatings": [{"category": "HARM_CATEGORY_HATE_SPEECH","probability": "NEGLIGIBLE"}]}],"usageMetadata": null,"createTime": "2025-06-01T00:00:00Z"}"#,
        r#"{"candidates": [{"content": {"parts": [{"text": "a"}]},"index": 1},{"content": {"parts": [{"text": "b","thought": false}],"role": "model"},"index": 0,"avgLogprobs": -0.25}]}"#,
        r#"{"candidates": [{"content": {"role": "model","parts": [{"inlineData": {"mimeType": "image/png","data": "iVBOR"}},{"executableCode": {"language": "PYTHON","code": "print(1)"}}]}}]}"#,
        r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "f","args": null}}]},"finishReason": 7}]}"#,
        r#"{"usageMetadata": {"promptTokenCount": 5},"candidates": []}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"compact"}],"role":"model"},"index":0}],"modelVersion":"m"}"#,
    ];

    /// The chunk the fast reader makes of `data`, its usage members checked against a reading
    /// of the usage text alone.
    fn fast(data: &str, args_depth: usize) -> Option<Chunk<'_>> {
        let (chunk, members) = fast_chunk(data, args_depth)?;
        if let (Some(Raw(usage)), Some(members)) = (chunk.usage_metadata, members) {
            let alone = Members::read(usage).expect("the usage object reads alone");
            assert_eq!(format!("{members:?}"), format!("{alone:?}"), "{data}");
        }
        Some(chunk)
    }

    fn by_serde(data: &str) -> Option<Chunk<'_>> {
        serde_json::from_str::<Obj<Chunk<'_>>>(data)
            .ok()
            .map(|Obj(chunk)| chunk)
    }

    #[test]
    fn chunks_as_serde_reads_them() {
        for data in CHUNKS {
            if data.contains("\"finishReason\": 7") {
                assert_eq!(fast(data, COMPACT_DEPTH), None, "{data}");
                continue;
            }
            assert!(fast(data, COMPACT_DEPTH).is_some(), "{data}");
            assert_eq!(fast(data, COMPACT_DEPTH), by_serde(data), "{data}");
        }
        // The general path's chunks: other spacing, a key given twice (known or not), an
        // escaped key, streamed calls, prompt feedback, errors, a lone surrogate, deep values,
        // trailing bytes.
        for data in [
            r#"{"candidates": [{"content": {"parts": [{"text": "a"}]}}], "modelVersion": "m"}"#,
            r#"{"candidates": [{"content": {"parts": [{"text":  "a"}]}}]}"#,
            r#"{"candidates": [],"candidates": []}"#,
            r#"{"candidates": [{"index": 0,"index": 0}]}"#,
            r#"{"candidates": [{"content": {"parts": [{"text": "a","text": "b"}]}}]}"#,
            r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "f","name": "g"}}]}}]}"#,
            r#"{"candidates": [{"content": {"parts": [{"t\u0065xt": "a"}]}}]}"#,
            r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "f","partialArgs": []}}]}}]}"#,
            r#"{"candidates": [{"content": {"parts": [{"functionCall": {"willContinue": true}}]}}]}"#,
            r#"{"candidates": [],"promptFeedback": {"blockReason": "SAFETY"}}"#,
            r#"{"error": {"code": 429,"message": "busy"}}"#,
            r#"{"candidates": [{"content": {"parts": [{"text": "\ud800"}]}}]}"#,
            r#"{"candidates": [{"index": -1}]}"#,
            r#"{"candidates": [{"content": null}]}"#,
            r#"{"candidates": [{"content": {"parts": [{"text": null}]}}]}"#,
            r#"{"candidates": []} "#,
            r#"{"candidates": []}x"#,
        ] {
            assert_eq!(fast(data, COMPACT_DEPTH), None, "{data}");
        }
        let deep = format!(r#"{{"x": {}{}}}"#, "[".repeat(65), "]".repeat(65));
        assert_eq!(fast(&deep, COMPACT_DEPTH), None);
        let deep = format!(r#"{{"x": {}{}}}"#, "[".repeat(64), "]".repeat(64));
        assert_eq!(fast(&deep, COMPACT_DEPTH), by_serde(&deep));
    }

    #[test]
    fn args_deeper_than_asked_are_the_general_paths() {
        let data = r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "f","args": {"a": [[1]]}}}]}}],"usageMetadata": {"d": [[[1]]]}}"#;
        assert_eq!(fast(data, 2), None);
        assert_eq!(fast(data, 3), by_serde(data));
    }

    #[test]
    fn parts_keep_their_text_as_sent() {
        let chunk = fast(CHUNKS[2], COMPACT_DEPTH).unwrap();
        let Obj(candidate) = &chunk.candidates.as_ref().unwrap()[0];
        let parts = candidate.content.as_ref().unwrap().0.parts.as_ref().unwrap();
        assert_eq!(
            parts[1].raw.get(),
            r#"{"functionCall": {"id": "c2","name": "lookup","args": {}}}"#
        );
        assert!(!parts[1].value.not_only_call && parts[0].value.not_only_call);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// Chunks with one character replaced, inserted or removed: read as the general path
        /// reads them, or left to it.
        #[test]
        fn chunks_never_read_otherwise(
            which in 0usize..CHUNKS.len(),
            edit in (0usize..4, 0usize..520, proptest::sample::select(vec!['{', '}', '[', ']', ',', ':', '"', '1', ' ', '\\', 'n', 'é', 'x', 't'])),
        ) {
            let data = one_edit(CHUNKS[which], edit);
            if let Some(read) = fast(&data, COMPACT_DEPTH) {
                proptest::prop_assert_eq!(Some(read), by_serde(&data), "{}", data);
            }
        }
    }
}
