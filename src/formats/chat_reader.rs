//! Chat chunks read without the general parser, as OpenAI and most compatible servers write
//! them: compact JSON, keys in any order, the fields the adapter reads parsed and every other
//! value skipped (checked, not built).
//!
//! Anything else returns `None` and the adapter reads that chunk with serde as before:
//! whitespace between tokens, an escape in a key, a field the adapter reads given twice (serde
//! rejects the chunk), a field of a type the lenient serde shapes must judge (a non-integer
//! index, a non-string content), values nested deeper than `COMPACT_DEPTH`, and the rare
//! fields (error objects, Groq's `x_groq`, the legacy `function_call`). Whatever this accepts,
//! serde reads to the same `Chunk` (the tests below hold the two to that, and every chat test
//! runs through both).

use std::borrow::Cow;

use super::chat::{Choice, Chunk, Content, Delta, FunctionDelta, ToolCallDelta};
use super::lexer::{lenient_str, nullable, object, raw, skip, Cursor};
use super::{LenientIndex, LenientStr, List, Obj};

/// What the last chunks read had in common, to read the next one faster.
///
/// Every chunk of a stream starts with the same bytes up to its first field the adapter reads
/// (`id`, `object`, `created`, `model`, `system_fingerprint`): a chunk that starts the same is
/// read from there. Most chunks are more alike still: one choice whose `delta` is all that
/// differs (`{"index":0,"delta":` … `,"logprobs":null,"finish_reason":null}],"usage":null}`):
/// a chunk with the same bytes around its delta is that delta and what the last one had.
/// Splicing one valid value for another leaves the rest of a JSON text reading the same.
#[derive(Debug, Default)]
pub(crate) struct ChunkHead {
    text: String,
    /// Where the text of `object` is in `text` (a string without escapes), if it is there.
    object: Option<(usize, usize)>,
    template: Option<Template>,
}

/// The bytes around the delta of a one-choice chunk without finish reason or usage.
#[derive(Debug)]
struct Template {
    prefix: String,
    suffix: String,
    index: LenientIndex,
    /// The last delta's shape, when it was one string and nothing else the adapter reads.
    leaf: Option<LeafShape>,
}

/// A delta that is one string the adapter reads (a token of content or reasoning, a fragment
/// of one call's arguments) and nothing else it reads: the bytes around that string. A delta
/// with the same bytes around another string is the same delta with that string: most deltas
/// of a stream are read as one string scan and two comparisons.
#[derive(Debug)]
struct LeafShape {
    /// The chunk's bytes up to the string's opening quote (included): the template's prefix,
    /// then the delta's bytes before the string.
    head: String,
    /// Its bytes from the string's closing quote (included): the rest of the delta, then the
    /// template's suffix.
    tail: String,
    field: Leaf,
}

/// Which field of the delta the string is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Leaf {
    Content,
    ReasoningContent,
    Reasoning,
    /// The `arguments` of the one tool call, which has this index and no id, type or name.
    Arguments(LenientIndex),
}

impl LeafShape {
    /// The shape of `delta`, read from `text` (the delta's JSON), if it is one string, in a
    /// chunk of `template`.
    fn of(template: &Template, text: &str, delta: &Delta<'_>) -> Option<Self> {
        fn borrowed<'s>(s: &LenientStr<'s>) -> Option<&'s str> {
            match &s.0 {
                Some(Cow::Borrowed(inner)) => Some(inner),
                _ => None,
            }
        }
        let span = |inner: &str| -> Option<(usize, usize)> {
            // The string's contents as sent (borrowed, so without escapes): where in `text`.
            let start = (inner.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
            (start > 0 && start + inner.len() < text.len()).then(|| (start - 1, start + inner.len()))
        };
        let plain = delta.refusal.0.is_none() && delta.function_call.is_none();
        let no_text = matches!(delta.content, Content::Absent);
        let (field, (open, close)) = match (&delta.content, &delta.tool_calls) {
            _ if !plain => return None,
            (Content::Text(Cow::Borrowed(inner)), None)
                if delta.reasoning_content.0.is_none() && delta.reasoning.0.is_none() =>
            {
                (Leaf::Content, span(inner)?)
            }
            (_, None) if no_text && delta.reasoning.0.is_none() => {
                (Leaf::ReasoningContent, span(borrowed(&delta.reasoning_content)?)?)
            }
            (_, None) if no_text && delta.reasoning_content.0.is_none() => {
                (Leaf::Reasoning, span(borrowed(&delta.reasoning)?)?)
            }
            (_, Some(calls)) if no_text && delta.reasoning_content.0.is_none() && delta.reasoning.0.is_none() => {
                let Obj(call) = calls.only()?;
                let Obj(function) = call.function.as_ref()?;
                let quoted = function.arguments?.get();
                let only_arguments = call.id.0.is_none() && call.kind.0.is_none() && function.name.0.is_none();
                if !only_arguments || !quoted.starts_with('"') {
                    return None;
                }
                let (open, close) = span(&quoted[1..quoted.len() - 1])?;
                (Leaf::Arguments(call.index), (open, close))
            }
            _ => return None,
        };
        Some(Self {
            head: [template.prefix.as_str(), &text[..=open]].concat(),
            tail: [&text[close..], template.suffix.as_str()].concat(),
            field,
        })
    }

    /// The value of the chunk `data` if it has this shape around another string.
    #[inline]
    fn read<'a>(&self, data: &'a str) -> Option<LeafValue<'a>> {
        let (value, end) = self.read_from(data)?;
        (end == data.len()).then_some(value)
    }

    /// The value of a chunk of this shape that starts `text` (and may be followed by anything),
    /// and where the chunk ends.
    #[inline]
    fn read_from<'a>(&self, text: &'a str) -> Option<(LeafValue<'a>, usize)> {
        if !text.starts_with(&self.head) {
            return None;
        }
        let open = self.head.len() - 1;
        let mut at = Cursor::at(text, open);
        let value = match self.field {
            Leaf::Arguments(index) => {
                at.escaped_string()?;
                LeafValue::Arguments {
                    index,
                    quoted: &text[open..at.pos()],
                }
            }
            field => LeafValue::Text {
                field,
                text: at.string()?,
            },
        };
        let close = at.pos() - 1;
        text[close..]
            .starts_with(&self.tail)
            .then_some((value, close + self.tail.len()))
    }
}

/// What a delta of a remembered shape carries (`ChunkHead::replay_leaf`).
#[derive(Debug)]
pub(crate) enum LeafValue<'a> {
    /// Content or reasoning text (`field` says which; never `Arguments`).
    Text { field: Leaf, text: Cow<'a, str> },
    /// A fragment of the arguments of the delta's one tool call, which has this index and no
    /// id, type or name: the JSON string as sent.
    Arguments { index: LenientIndex, quoted: &'a str },
}

#[cfg(test)]
impl<'a> LeafValue<'a> {
    /// The delta it stands for (the tests hold it to what serde reads).
    fn into_delta(self) -> Delta<'a> {
        let mut delta = Delta::default();
        match self {
            LeafValue::Arguments { index, quoted } => {
                let function = FunctionDelta {
                    arguments: Some(super::Raw(quoted)),
                    ..FunctionDelta::default()
                };
                delta.tool_calls = Some(List::one(Obj(ToolCallDelta {
                    index,
                    id: LenientStr(None),
                    kind: LenientStr(None),
                    function: Some(Obj(function)),
                })));
            }
            LeafValue::Text {
                field: Leaf::Content,
                text,
            } => delta.content = Content::Text(text),
            LeafValue::Text {
                field: Leaf::ReasoningContent,
                text,
            } => delta.reasoning_content = LenientStr(Some(text)),
            LeafValue::Text { text, .. } => delta.reasoning = LenientStr(Some(text)),
        }
        delta
    }
}

impl Template {
    /// The delta's text of a chunk that is this template around a delta.
    #[inline]
    fn delta_text<'a>(&self, data: &'a str) -> Option<&'a str> {
        let end = data.len().checked_sub(self.suffix.len())?;
        if end < self.prefix.len() || !data.ends_with(&self.suffix) || !data.starts_with(&self.prefix) {
            return None;
        }
        Some(&data[self.prefix.len()..end])
    }

    /// The choice index of a chunk that is this template around a delta, and whether the delta
    /// is there (not `null`), read into `delta`; the delta's shape is remembered for the next.
    #[inline]
    fn replay<'a>(&mut self, data: &'a str, delta: &mut Delta<'a>) -> Option<(LenientIndex, bool)> {
        let text = self.delta_text(data)?;
        let mut at = Cursor::new(text);
        let present = nullable(&mut at, |at| delta_into(at, delta))?.is_some();
        if !at.at_end() {
            return None;
        }
        self.leaf = if present {
            LeafShape::of(self, text, delta)
        } else {
            None
        };
        Some((self.index, present))
    }
}

impl ChunkHead {
    /// The choice index of a chunk that is the last chunk read around another delta (one
    /// choice, no finish reason, no usage, no error; `read_chunk` reads any other), and whether
    /// its delta is there, read into `delta` (a default one; left as is on `None`).
    #[inline]
    pub(crate) fn replay<'a>(&mut self, data: &'a str, delta: &mut Delta<'a>) -> Option<(LenientIndex, bool)> {
        self.template.as_mut()?.replay(data, delta)
    }

    /// The choice index and value of a chunk that is the last chunk read around a delta of the
    /// last delta's shape, one string (`LeafShape`); `None`: `replay`, then `read_chunk`.
    #[inline]
    pub(crate) fn replay_leaf<'a>(&self, data: &'a str) -> Option<(LenientIndex, LeafValue<'a>)> {
        let template = self.template.as_ref()?;
        let value = template.leaf.as_ref()?.read(data)?;
        Some((template.index, value))
    }

    /// Whether a leaf shape is remembered (`replay_leaf` may read a chunk).
    #[inline]
    pub(crate) fn replays_leaf(&self) -> bool {
        self.template.as_ref().is_some_and(|t| t.leaf.is_some())
    }

    /// As `replay_leaf`, for a chunk that starts `text` and may be followed by anything: also
    /// where it ends.
    #[inline]
    pub(crate) fn replay_leaf_from<'a>(&self, text: &'a str) -> Option<(LenientIndex, LeafValue<'a>, usize)> {
        let template = self.template.as_ref()?;
        let (value, end) = template.leaf.as_ref()?.read_from(text)?;
        Some((template.index, value, end))
    }
}

fn empty_chunk<'a>() -> Chunk<'a> {
    Chunk {
        choices: None,
        usage: None,
        x_groq: None,
        error: None,
        object: LenientStr(None),
        message: LenientStr(None),
        kind: LenientStr(None),
        code: None,
    }
}

/// The chunk in `data` (trimmed event data), or `None` for the general path. A chunk that
/// `ChunkHead::replay` reads need not come here.
pub(crate) fn read_chunk<'a>(data: &'a str, head: &mut ChunkHead) -> Option<Chunk<'a>> {
    let mut at = Cursor::new(data);
    let mut chunk = empty_chunk();
    let mut seen = Seen::default();
    // Where the first field read starts, where `object`'s text is, whether what comes before
    // the first field can be remembered, and the delta's span.
    let mut head_end = None;
    let mut object_at = None;
    let mut plain_head = true;
    let mut delta_at = None;
    let remembered = !head.text.is_empty() && at.literal(&head.text).is_some();
    if remembered {
        if let Some((start, end)) = head.object {
            chunk.object = LenientStr(Some(Cow::Borrowed(&data[start..end])));
            object_at = head.object;
            seen.first(OBJECT);
        }
    } else {
        at.literal("{")?;
        if at.literal("}").is_some() {
            return at.at_end().then_some(chunk);
        }
    }
    loop {
        let key_at = at.pos();
        at.literal("\"")?;
        let key = at.key()?;
        match key {
            "choices" => {
                head_end.get_or_insert(key_at);
                seen.first(CHOICES)?;
                chunk.choices = nullable(&mut at, |at| {
                    let mut choices = List::default();
                    array(at, |at| {
                        choices.push(Obj(choice(at, &mut delta_at)?));
                        Some(())
                    })?;
                    Some(choices)
                })?;
            }
            "usage" => {
                head_end.get_or_insert(key_at);
                seen.first(USAGE)?;
                chunk.usage = nullable(&mut at, raw)?;
            }
            "object" => {
                seen.first(OBJECT)?;
                let start = at.pos();
                chunk.object = lenient_str(&mut at)?;
                match &chunk.object.0 {
                    Some(Cow::Borrowed(_)) => object_at = Some((start + 1, at.pos() - 1)),
                    Some(Cow::Owned(_)) => plain_head = false,
                    None => {}
                }
            }
            "x_groq" | "error" | "message" | "type" | "code" => return None,
            _ => skip(&mut at)?,
        }
        if at.literal("}").is_some() {
            break;
        }
        at.literal(",")?;
    }
    if !at.at_end() {
        return None;
    }
    match head_end {
        Some(end) if !remembered && plain_head && end > 1 => {
            head.text.clear();
            head.text.push_str(&data[..end]);
            head.object = object_at.filter(|&(_, object_end)| object_end < end);
        }
        _ => {}
    }
    head.template = plain_head.then(|| template(data, &chunk, delta_at?)).flatten();
    Some(chunk)
}

/// The template of a chunk just read, if it is one with a single choice, no finish reason, no
/// usage and no `"object":"error"`.
fn template(data: &str, chunk: &Chunk<'_>, (start, end): (usize, usize)) -> Option<Template> {
    let Obj(choice) = chunk.choices.as_ref()?.only()?;
    // A replayed chunk is only its delta: its `object` is the template's, which must not say
    // "error" (the adapter reads such a chunk as an error).
    if chunk.object.0.as_deref() == Some("error") {
        return None;
    }
    let plain = chunk.usage.is_none() && choice.finish_reason.0.is_none();
    plain.then(|| Template {
        prefix: data[..start].to_owned(),
        suffix: data[end..].to_owned(),
        index: choice.index,
        leaf: None,
    })
}

/// The top-level fields `Seen` tracks.
const CHOICES: u8 = 0;
const USAGE: u8 = 1;
const OBJECT: u8 = 2;

/// One choice; `delta_at` is set to its delta's span.
fn choice<'a>(at: &mut Cursor<'a>, delta_at: &mut Option<(usize, usize)>) -> Option<Choice<'a>> {
    let mut choice = Choice {
        index: LenientIndex(None),
        delta: None,
        finish_reason: LenientStr(None),
    };
    let mut seen = Seen::default();
    object(at, |at, key| {
        match key {
            "index" => {
                seen.first(0)?;
                choice.index = index(at)?;
            }
            "delta" => {
                seen.first(1)?;
                let start = at.pos();
                choice.delta = nullable(at, |at| delta(at).map(Obj))?;
                *delta_at = Some((start, at.pos()));
            }
            "finish_reason" => {
                seen.first(2)?;
                choice.finish_reason = lenient_str(at)?;
            }
            _ => skip(at)?,
        }
        Some(())
    })?;
    Some(choice)
}

fn delta<'a>(at: &mut Cursor<'a>) -> Option<Delta<'a>> {
    let mut delta = Delta::default();
    delta_into(at, &mut delta)?;
    Some(delta)
}

/// A delta object read into `delta` (a default one): in place, as the replay reads most
/// chunks' deltas, since returning one (some 260 bytes) cost a copy per chunk.
fn delta_into<'a>(at: &mut Cursor<'a>, delta: &mut Delta<'a>) -> Option<()> {
    let mut seen = Seen::default();
    object(at, |at, key| {
        match key {
            "content" => {
                seen.first(0)?;
                delta.content = if at.peek()? == b'"' {
                    Content::Text(at.string()?)
                } else {
                    at.literal("null")?;
                    Content::Absent
                };
            }
            "reasoning_content" => {
                seen.first(1)?;
                delta.reasoning_content = lenient_str(at)?;
            }
            "reasoning" => {
                seen.first(2)?;
                delta.reasoning = lenient_str(at)?;
            }
            "refusal" => {
                seen.first(3)?;
                delta.refusal = lenient_str(at)?;
            }
            "tool_calls" => {
                seen.first(4)?;
                delta.tool_calls = nullable(at, |at| {
                    let mut calls = List::default();
                    array(at, |at| {
                        calls.push(Obj(tool_call(at)?));
                        Some(())
                    })?;
                    Some(calls)
                })?;
            }
            "function_call" => return None,
            _ => skip(at)?,
        }
        Some(())
    })?;
    Some(())
}

fn tool_call<'a>(at: &mut Cursor<'a>) -> Option<ToolCallDelta<'a>> {
    let mut call = ToolCallDelta {
        index: LenientIndex(None),
        id: LenientStr(None),
        kind: LenientStr(None),
        function: None,
    };
    let mut seen = Seen::default();
    object(at, |at, key| {
        match key {
            "index" => {
                seen.first(0)?;
                call.index = index(at)?;
            }
            "id" => {
                seen.first(1)?;
                call.id = lenient_str(at)?;
            }
            "type" => {
                seen.first(2)?;
                call.kind = lenient_str(at)?;
            }
            "function" => {
                seen.first(3)?;
                call.function = nullable(at, |at| function(at).map(Obj))?;
            }
            _ => skip(at)?,
        }
        Some(())
    })?;
    Some(call)
}

fn function<'a>(at: &mut Cursor<'a>) -> Option<FunctionDelta<'a>> {
    let mut function = FunctionDelta::default();
    let mut seen = Seen::default();
    object(at, |at, key| {
        match key {
            "name" => {
                seen.first(0)?;
                function.name = lenient_str(at)?;
            }
            "arguments" => {
                seen.first(1)?;
                function.arguments = nullable(at, raw)?;
            }
            _ => skip(at)?,
        }
        Some(())
    })?;
    Some(function)
}

/// The fields of one object already read: serde rejects an object that gives one twice.
#[derive(Default)]
struct Seen(u8);

impl Seen {
    fn first(&mut self, field: u8) -> Option<()> {
        let bit = 1 << field;
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first.then_some(())
    }
}

/// `[`, then each element (read by `item`), to `]`.
#[inline]
fn array<'a>(at: &mut Cursor<'a>, mut item: impl FnMut(&mut Cursor<'a>) -> Option<()>) -> Option<()> {
    at.literal("[")?;
    if at.literal("]").is_some() {
        return Some(());
    }
    loop {
        item(at)?;
        if at.literal("]").is_some() {
            return Some(());
        }
        at.literal(",")?;
    }
}

/// An index: a plain integer in `0..2^32`, or `null`; any other value is the general path's
/// to judge (`LenientIndex`).
#[inline]
fn index(at: &mut Cursor<'_>) -> Option<LenientIndex> {
    if at.literal("null").is_some() {
        return Some(LenientIndex(None));
    }
    at.index().map(|i| LenientIndex(Some(i)))
}

#[cfg(test)]
mod tests {
    use super::super::lexer::one_edit;
    use super::*;

    /// What serde reads, in the same words (`Chunk` has no `PartialEq`: its `Debug` says all).
    fn serde(data: &str) -> Option<String> {
        serde_json::from_str::<Obj<Chunk<'_>>>(data)
            .ok()
            .map(|Obj(c)| format!("{c:?}"))
    }

    fn fast(data: &str) -> Option<String> {
        read_chunk(data, &mut ChunkHead::default()).map(|c| format!("{c:?}"))
    }

    /// What the adapter reads of `data` through `head`, and what serde reads of it, in the same
    /// words: a replayed delta as the one choice it stands for (and serde's chunk must be only
    /// that choice: no usage, no error), else `read_chunk`'s chunk; `None` when neither reads it.
    fn through(head: &mut ChunkHead, data: &str) -> Option<(String, Option<String>)> {
        let mut delta = Delta::default();
        let replayed = match head.replay_leaf(data) {
            Some((index, leaf)) => {
                delta = leaf.into_delta();
                Some((index, true))
            }
            None => head.replay(data, &mut delta),
        };
        if let Some((index, present)) = replayed {
            let choice = Choice {
                index,
                delta: present.then_some(Obj(delta)),
                finish_reason: LenientStr(None),
            };
            let ours = format!("{:?}", Some(List::one(Obj(choice))));
            let theirs = serde_json::from_str::<Obj<Chunk<'_>>>(data)
                .ok()
                .filter(|Obj(c)| {
                    c.usage.is_none()
                        && c.x_groq.is_none()
                        && c.error.is_none()
                        && c.object.0.as_deref() != Some("error")
                })
                .map(|Obj(c)| format!("{:?}", c.choices));
            return Some((ours, theirs));
        }
        read_chunk(data, head).map(|c| (format!("{c:?}"), serde(data)))
    }

    const HEAD: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp","choices":["#;

    #[test]
    fn chunks_as_openai_writes_them() {
        for choices in [
            r#"{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}"#,
            r#"{"index":0,"delta":{"content":"Hi \"there\"\n\u00e9"},"logprobs":null,"finish_reason":null}"#,
            r#"{"index":0,"delta":{"content":null,"reasoning_content":"hm"},"finish_reason":null}"#,
            r#"{"index":0,"delta":{"reasoning":"hm","reasoning_content":null}}"#,
            r#"{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}"#,
            r#"{"index":1,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}},{"index":1,"function":{"arguments":{"b":[1]}}}]}}"#,
            r#"{"index":0,"delta":{},"logprobs":{"content":[{"token":"x","logprob":-0.1}]},"finish_reason":"stop"}"#,
            r#"{"index":0,"delta":null,"finish_reason":"length"}"#,
            r#"{"index":0,"delta":{"content":"a","annotations":[]},"native_finish_reason":"STOP"}"#,
        ] {
            let data = format!(r#"{HEAD}{choices}],"usage":null}}"#);
            assert!(fast(&data).is_some(), "{data}");
            assert_eq!(fast(&data), serde(&data), "{data}");
        }
        for data in [
            r#"{"id":"x","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":0}}}"#,
            r#"{"object":"chat.completion.chunk","choices":null}"#,
            r#"{"usage":{"total_tokens":1},"choices":[{"delta":{"content":"x"},"index":0}],"id":"y"}"#,
            "{}",
        ] {
            assert!(fast(data).is_some(), "{data}");
            assert_eq!(fast(data), serde(data), "{data}");
        }
    }

    #[test]
    fn a_stream_s_repeated_head_is_read_once() {
        let mut head = ChunkHead::default();
        let delta = |text: &str| format!(r#"{HEAD}{{"index":0,"delta":{{"content":"{text}"}}}}],"usage":null}}"#);
        for data in [delta("a"), delta("b"), delta("c")] {
            let (ours, theirs) = through(&mut head, &data).expect("read");
            assert_eq!(Some(ours), theirs, "{data}");
        }
        assert!(head.replay(&delta("x"), &mut Delta::default()).is_some());
        // The same head, then `object` again (serde rejects it); another head; `object` after
        // the first field read (not part of the head); an escaped `object` (not remembered).
        let twice = format!(r#"{HEAD}{{"index":0}}],"object":"x"}}"#);
        assert_eq!(through(&mut head, &twice), None);
        let other = delta("d").replace("chatcmpl-1", "chatcmpl-2");
        let late = r#"{"id":"z","choices":[],"object":"late"}"#;
        let escaped = r#"{"id":"z","object":"esc","choices":[]}"#;
        for data in [other.as_str(), &delta("e"), late, late, escaped, escaped, &delta("f")] {
            let (ours, theirs) = through(&mut head, data).expect("read");
            assert_eq!(Some(ours), theirs, "{data}");
        }
        assert_eq!(head.text, HEAD.trim_end_matches(r#""choices":["#));
        assert_eq!(
            &head.text[head.object.unwrap().0..head.object.unwrap().1],
            "chat.completion.chunk"
        );
    }

    #[test]
    fn no_template_from_an_error_object() {
        let mut head = ChunkHead::default();
        let data = r#"{"object":"error","choices":[{"index":0,"delta":{"content":"a"}}]}"#;
        assert!(read_chunk(data, &mut head).is_some());
        assert!(head.replay(data, &mut Delta::default()).is_none());
        let data = data.replace("error", "chat.completion.chunk");
        assert!(read_chunk(&data, &mut head).is_some());
        assert!(head.replay(&data, &mut Delta::default()).is_some());
    }

    #[test]
    fn the_rest_is_left_to_serde() {
        for data in [
            // spacing, an escaped key, a field given twice, the rare fields
            r#"{"choices": []}"#,
            r#"{"choi\u0063es":[]}"#,
            r#"{"choices":[],"choices":[]}"#,
            r#"{"choices":[{"index":0,"index":1}]}"#,
            r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
            r#"{"error":{"message":"x"}}"#,
            r#"{"x_groq":{"usage":{}},"choices":[]}"#,
            r#"{"choices":[{"delta":{"function_call":{"name":"f"}}}]}"#,
            // what the lenient shapes judge: content parts, odd indexes, a non-object choice
            r#"{"choices":[{"delta":{"content":[{"type":"text","text":"a"}]}}]}"#,
            r#"{"choices":[{"index":1.5}]}"#,
            r#"{"choices":[{"index":-1}]}"#,
            r#"{"choices":[{"index":4294967296}]}"#,
            r#"{"choices":[{"index":"0"}]}"#,
            r#"{"choices":[1]}"#,
            r#"{"choices":[{"delta":[]}]}"#,
            // invalid JSON
            r#"{"choices":[{"delta":{"content":"a\q"}}]}"#,
            r#"{"choices":[{"delta":{"content":"a"}}],}"#,
            r#"{"choices":[{"delta":{"content":"a"}}]}x"#,
            r#"{"choices":[{"delta":{"content":"a"}}]"#,
        ] {
            assert_eq!(fast(data), None, "{data}");
        }
    }

    /// A chunk of `parts` (choice fields) and `usage`, with one character replaced, inserted or
    /// removed (`edit` 1, 2, 3; 0 keeps it).
    fn edited(parts: &[&str], usage: &str, edit: (usize, usize, char)) -> String {
        let value = format!(
            r#"{{"id":"x","object":"o","choices":[{{{}}}]{usage}}}"#,
            parts.join(",")
        );
        one_edit(&value, edit)
    }

    fn parts() -> impl proptest::strategy::Strategy<Value = Vec<&'static str>> {
        proptest::collection::vec(
            proptest::sample::select(vec![
                r#""index":0"#,
                r#""index":null"#,
                r#""finish_reason":"stop""#,
                r#""finish_reason":null"#,
                r#""delta":{"content":"c"}"#,
                r#""logprobs":null"#,
                r#""extra":{"a":[1,"é"]}"#,
            ]),
            0..5,
        )
    }

    fn edit() -> impl proptest::strategy::Strategy<Value = (usize, usize, char)> {
        (
            0usize..6,
            0usize..400,
            proptest::sample::select(vec!['{', '}', '[', ']', ',', ':', '"', '1', ' ', '\\', 'n', 'é']),
        )
    }

    const DELTAS: [&str; 11] = [
        r#""delta":{"content":"a\"b"}"#,
        r#""delta":{"content":"c"}"#,
        r#""delta":{"reasoning_content":"r","content":null}"#,
        r#""delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\"x"}}]}"#,
        r#""delta":{"tool_calls":[{"function":{"arguments":{"k":[true,null]}}}]}"#,
        r#""delta":null"#,
        r#""delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x"}}]}"#,
        r#""delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}"#,
        r#""delta":{"reasoning":"th"}"#,
        r#""delta":{"role":"assistant","content":"d"}"#,
        r#""delta":{"content":"e","refusal":null}"#,
    ];

    #[test]
    fn a_delta_of_one_string_is_read_by_its_shape() {
        let mut head = ChunkHead::default();
        let chunk = |delta: &str| format!(r#"{HEAD}{{"index":0,"delta":{delta}}}],"usage":null}}"#);
        for delta in [
            r#"{"content":"a"}"#,
            r#"{"content":"b"}"#,
            r#"{"content":"c\"\u00e9"}"#,
            r#"{"content":"d","x":1}"#,
            r#"{"content":"e","x":1}"#,
            r#"{"content":"f"}"#,
            r#"{"tool_calls":[{"index":1,"function":{"arguments":"{\"a"}}]}"#,
            r#"{"tool_calls":[{"index":1,"function":{"arguments":"\":1}"}}]}"#,
            r#"{"tool_calls":[{"index":1,"function":{"arguments":"x"}}]}"#,
            r#"{"tool_calls":[{"index":1,"function":{"arguments":"x","name":"f"}}]}"#,
            r#"{"reasoning_content":"r"}"#,
            r#"{"reasoning_content":"s"}"#,
            r#"{"reasoning_content":"t","content":"u"}"#,
        ] {
            let data = chunk(delta);
            let (ours, theirs) = through(&mut head, &data).expect("read");
            assert_eq!(Some(ours), theirs, "{data}");
        }
        let leaf = head.template.as_ref().and_then(|t| t.leaf.as_ref());
        assert!(leaf.is_none(), "two strings are no one-string shape");
        for delta in [r#"{"content":"v"}"#, r#"{"content":"w"}"#] {
            through(&mut head, &chunk(delta));
        }
        let leaf = head.template.as_ref().and_then(|t| t.leaf.as_ref()).expect("a shape");
        assert_eq!(
            (leaf.head.as_str(), leaf.tail.as_str()),
            (
                [HEAD, r#"{"index":0,"delta":{"content":""#].concat().as_str(),
                r#""}}],"usage":null}"#
            )
        );
        // A string that ends before the shape's closing quote is not that shape.
        let data = chunk(r#"{"content":"a","b"}"#);
        assert_eq!(through(&mut head, &data), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1500))]

        /// Streams of such chunks, read through one `ChunkHead` (so through the remembered head
        /// and template too): every chunk is left to serde or read as serde reads it. Most
        /// chunks of a stream share the fields around their delta, as real ones do.
        #[test]
        fn never_reads_otherwise_than_serde(
            around in (parts(), parts()),
            usage in proptest::sample::select(vec!["", r#","usage":null"#, r#","usage":{"total_tokens":3}"#]),
            chunks in proptest::collection::vec((0usize..DELTAS.len(), parts(), proptest::bool::ANY, edit()), 1..6),
        ) {
            let mut head = ChunkHead::default();
            for (delta, own, shared, edit) in chunks {
                let parts = if shared {
                    [around.0.clone(), vec![DELTAS[delta]], around.1.clone()].concat()
                } else {
                    own
                };
                let data = edited(&parts, usage, edit);
                if let Some((ours, theirs)) = through(&mut head, &data) {
                    proptest::prop_assert_eq!(Some(ours), theirs, "{}", data);
                }
            }
        }
    }
}
