//! Wire formats: one adapter per format (the serde shapes of its chunks, borrowed from the event
//! data, and their translation into message-state operations), and the enum that dispatches them.
//!
//! Unknown fields are ignored everywhere; fields whose type varies between providers are read
//! leniently (a value of an unexpected type counts as absent) so that one odd field never costs
//! a whole chunk.

pub mod anthropic;
pub mod chat;
mod chat_reader;
pub mod detect;
pub mod gemini;
mod lexer;
mod native;
pub mod ollama;
pub mod responses;
mod shape;

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, Visitor};

use crate::accumulate::outcome::{Entries, ReasonClass, UsageKeys};
use crate::accumulate::{EventSink, MessageState};
use crate::error::{CoreError, ErrorSlot, ParseKind};
use crate::partial_json::PartialJson;
use crate::sse::SseEvent;
use detect::{Format, Verdict};

/// The adapter of the wire format being read, dispatched by variant as pydantic-core dispatches
/// its validators: each turns decoded events into operations on the format-neutral
/// `MessageState`, which owns every merge rule. `Detect` (`format="auto"`) becomes one of the
/// others at the stream's first event.
#[derive(Debug)]
pub enum Adapter {
    Detect(Detect),
    Chat(chat::ChatAdapter),
    Responses(responses::ResponsesAdapter),
    Anthropic(anthropic::AnthropicAdapter),
    Gemini(gemini::GeminiAdapter),
    Ollama(ollama::OllamaAdapter),
}

/// `format="auto"` before the format is known.
#[derive(Debug, Default)]
pub struct Detect {
    /// The framing is NDJSON (only Ollama streams it).
    pub ndjson: bool,
    /// The stream was not recognised: nothing more is read.
    pub failed: bool,
}

/// Every format name `format=` takes, for messages.
pub const FORMAT_NAMES: &str = "\"auto\", \"chat\", \"responses\", \"anthropic\", \"gemini\" or \"ollama\"";

impl Adapter {
    /// The Chat Completions adapter.
    #[must_use]
    pub fn chat() -> Self {
        Self::Chat(chat::ChatAdapter::default())
    }

    /// The Anthropic Messages adapter.
    #[must_use]
    pub fn anthropic() -> Self {
        Self::Anthropic(anthropic::AnthropicAdapter::default())
    }

    /// The adapter of a `format=` name; `None` for a name not read.
    #[must_use]
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "auto" => Self::Detect(Detect::default()),
            "chat" => Self::chat(),
            "responses" => Self::of(Format::Responses),
            "anthropic" => Self::anthropic(),
            "gemini" => Self::of(Format::Gemini),
            "ollama" => Self::of(Format::Ollama),
            _ => return None,
        })
    }

    fn of(format: Format) -> Self {
        match format {
            Format::Chat => Self::chat(),
            Format::Responses => Self::Responses(responses::ResponsesAdapter::default()),
            Format::Anthropic => Self::anthropic(),
            Format::Gemini => Self::Gemini(gemini::GeminiAdapter::default()),
            Format::Ollama => Self::Ollama(ollama::OllamaAdapter::default()),
        }
    }

    /// The format's name, as `acc.format` shows it (`"auto"` until recognised).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Detect(_) => "auto",
            Self::Chat(_) => "chat",
            Self::Responses(_) => "responses",
            Self::Anthropic(_) => "anthropic",
            Self::Gemini(_) => "gemini",
            Self::Ollama(_) => "ollama",
        }
    }

    /// Whether the format's framing is NDJSON rather than SSE.
    #[must_use]
    pub fn ndjson(&self) -> bool {
        match self {
            Self::Detect(detect) => detect.ndjson,
            Self::Ollama(_) => true,
            _ => false,
        }
    }

    /// Whether `auto` met a stream it does not recognise.
    #[must_use]
    pub fn unrecognised(&self) -> bool {
        matches!(self, Self::Detect(Detect { failed: true, .. }))
    }

    /// One dispatched event (an SSE event, or an NDJSON line).
    #[inline]
    pub fn on_event<S: EventSink>(
        &mut self,
        ev: SseEvent<'_>,
        state: &mut MessageState,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        match self {
            Self::Chat(chat) => chat.on_event(ev, state, errors, sink),
            Self::Responses(responses) => responses.on_event(ev, state, errors, sink),
            Self::Anthropic(anthropic) => anthropic.on_event(ev, state, errors, sink),
            Self::Gemini(gemini) => gemini.on_event(ev, state, errors, sink),
            Self::Ollama(ollama) => ollama.on_event(ev, state, errors, sink),
            Self::Detect(detect) => {
                if detect.failed {
                    return;
                }
                if ev.event == crate::sse::INVALID_UTF8 {
                    errors.note(ollama::invalid_utf8(ev.data_offset));
                    return;
                }
                match detect::classify(&ev, detect.ndjson) {
                    Verdict::Wait => {}
                    Verdict::Error => chat::provider_error_event(trim_data(ev.data), state, sink),
                    Verdict::Unknown(seen) => {
                        detect.failed = true;
                        errors.note(unknown_format(&seen, ev.data_offset));
                    }
                    Verdict::Format(format) => {
                        *self = Self::of(format);
                        self.on_event(ev, state, errors, sink);
                    }
                }
            }
        }
    }

    /// An event offered before its line is found (`EventHandler::event_from`): only chat
    /// chunks of a remembered shape are read so; the bytes taken.
    #[allow(clippy::inline_always)]
    #[inline(always)] // as `Route::event_from`
    pub fn event_from<S: EventSink>(
        &mut self,
        text: &str,
        max: usize,
        at: u64,
        state: &mut MessageState,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) -> Option<usize> {
        match self {
            Self::Chat(chat) => chat.event_from(text, max, at, state, errors, sink),
            _ => None,
        }
    }

    /// Whether `event_from` may read an event now: a chat stream with a remembered shape.
    #[inline]
    #[must_use]
    pub fn wants_event_from(&self) -> bool {
        matches!(self, Self::Chat(chat) if chat.replays_leaf())
    }

    /// Whether `wants_event_from` may say yes before the next read: the format is chat, or
    /// not yet known.
    #[inline]
    #[must_use]
    pub fn may_want_event_from(&self) -> bool {
        matches!(self, Self::Chat(_) | Self::Detect(_))
    }

    /// End of input, before every still-open call is finished.
    pub fn on_end<S: EventSink>(&mut self, state: &mut MessageState, errors: &mut ErrorSlot, sink: &mut S) {
        match self {
            Self::Anthropic(anthropic) => anthropic.on_end(state, errors, sink),
            Self::Responses(responses) => responses.on_end(state, errors, sink),
            Self::Detect(_) | Self::Chat(_) | Self::Gemini(_) | Self::Ollama(_) => {}
        }
    }

    /// Whether a finished stream ended before the format's end.
    #[must_use]
    pub fn truncated(&self, state: &MessageState) -> bool {
        match self {
            Self::Detect(_) => true,
            Self::Chat(chat) => chat.truncated(state),
            Self::Responses(responses) => responses.truncated(state),
            Self::Anthropic(anthropic) => anthropic.truncated(state),
            Self::Gemini(gemini) => gemini.truncated(state),
            Self::Ollama(ollama) => ollama.truncated(state),
        }
    }

    /// The turn of the choice in `slot` in the provider's own shape; `None` when that is the
    /// OpenAI-shaped message (chat, or a format not recognised yet).
    #[must_use]
    pub fn native(&self, state: &MessageState, slot: Option<usize>) -> Option<crate::partial_json::Value> {
        match self {
            Self::Detect(_) | Self::Chat(_) => None,
            Self::Responses(responses) => Some(responses.native(state, slot)),
            Self::Anthropic(anthropic) => Some(anthropic.native(state, slot)),
            Self::Gemini(gemini) => Some(gemini.native(state, slot)),
            Self::Ollama(ollama) => Some(ollama.native(state, slot)),
        }
    }

    /// What a finish reason of this format means.
    #[must_use]
    pub fn reason_class(&self, reason: Option<&str>) -> ReasonClass {
        match self {
            Self::Detect(_) => ReasonClass::Other,
            Self::Chat(_) => chat::reason_class(reason),
            Self::Responses(_) => responses::reason_class(reason),
            Self::Anthropic(_) => anthropic::reason_class(reason),
            Self::Gemini(gemini) => gemini.reason_class(reason),
            Self::Ollama(_) => ollama::reason_class(reason),
        }
    }

    /// Where this format's usage object keeps its token counts.
    #[must_use]
    pub fn usage_keys(&self) -> UsageKeys {
        match self {
            Self::Detect(_) | Self::Chat(_) => chat::USAGE_KEYS,
            Self::Responses(_) => responses::USAGE_KEYS,
            Self::Anthropic(_) => anthropic::USAGE_KEYS,
            Self::Gemini(_) => gemini::USAGE_KEYS,
            Self::Ollama(_) => ollama::USAGE_KEYS,
        }
    }
}

/// The error of a stream `auto` does not recognise.
#[cold]
#[must_use]
pub fn unknown_format(seen: &str, at: u64) -> CoreError {
    CoreError::parse(
        ParseKind::UnknownFormat,
        at,
        format!(
            "unknown stream format: saw {seen}; the formats read are chat, responses, anthropic, gemini \
             (alt=sse) and ollama (pass format= to choose one)"
        ),
    )
}

/// An event's data read as the object `T`. `None` when it is not one: noted in `errors` as an
/// invalid chunk at `at`, except at end of input for data cut inside its JSON value (the stream
/// was cut inside its last event: truncation, not a malformed chunk).
pub(crate) fn event_object<'a, T: Deserialize<'a>>(
    data: &'a str,
    at: u64,
    at_eof: bool,
    errors: &mut ErrorSlot,
) -> Option<T> {
    match serde_json::from_str::<Obj<T>>(data) {
        Ok(Obj(value)) => Some(value),
        Err(_)
            if at_eof
                && PartialJson::from_text(data)
                    .end()
                    .is_err_and(|e| e.kind == ParseKind::Incomplete) =>
        {
            None
        }
        Err(err) => {
            errors.note(CoreError::parse(
                ParseKind::InvalidChunk,
                at,
                format!("invalid chunk: {err}"),
            ));
            None
        }
    }
}

/// A JSON object read as `T`; anything else is `None`.
pub(crate) fn object<'a, T: Deserialize<'a>>(raw: &'a serde_json::value::RawValue) -> Option<T> {
    serde_json::from_str::<Obj<T>>(raw.get()).ok().map(|Obj(t)| t)
}

/// An event's data without the JSON whitespace around it.
pub(crate) fn trim_data(data: &str) -> &str {
    // By bytes: every chunk is trimmed, and the cuts are at ASCII bytes.
    let bytes = data.as_bytes();
    let blank = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let start = bytes.iter().position(|c| !blank(c)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|c| !blank(c)).map_or(start, |i| i + 1);
    &data[start..end]
}

/// A string if the JSON value is one, else nothing (null, numbers, objects are all "absent").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LenientStr<'a>(pub Option<Cow<'a, str>>);

impl LenientStr<'_> {
    /// The string, if present and non-empty.
    #[must_use]
    pub fn non_empty(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.is_empty())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for LenientStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientStr<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Cow::Borrowed(v))))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Cow::Owned(v.to_owned()))))
            }

            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Cow::Owned(v))))
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }

            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientStr(None))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientStr(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A JSON value's text as sent (serde_json's `RawValue`, borrowed). A fast reader makes one
/// from text it has checked itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw<'a>(pub &'a str);

impl<'a> Raw<'a> {
    /// The value's JSON text.
    #[must_use]
    pub fn get(self) -> &'a str {
        self.0
    }

    /// The value read as `T` if it is an object; anything else is `None`.
    pub(crate) fn object<T: Deserialize<'a>>(self) -> Option<T> {
        serde_json::from_str::<Obj<T>>(self.0).ok().map(|Obj(t)| t)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'de serde_json::value::RawValue>::deserialize(deserializer).map(|raw| Raw(raw.get()))
    }
}

/// A JSON array whose first element is kept inline: a chunk nearly always carries one choice
/// and at most one tool-call fragment, so reading one allocates nothing.
#[derive(Debug)]
pub struct List<T> {
    first: Option<T>,
    rest: Vec<T>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self {
            first: None,
            rest: Vec::new(),
        }
    }
}

impl<T> List<T> {
    /// A list of one element.
    pub fn one(item: T) -> Self {
        Self {
            first: Some(item),
            rest: Vec::new(),
        }
    }

    /// Appends an element.
    pub fn push(&mut self, item: T) {
        if self.first.is_none() {
            self.first = Some(item);
        } else {
            self.rest.push(item);
        }
    }

    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.first.iter().chain(&self.rest)
    }

    /// The element of a list of exactly one.
    pub fn only(&self) -> Option<&T> {
        self.rest.is_empty().then_some(self.first.as_ref()).flatten()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut list = List::default();
                while let Some(item) = seq.next_element()? {
                    list.push(item);
                }
                Ok(list)
            }
        }
        deserializer.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// A JSON object read as `T`. serde's derived structs also accept an array (fields by position);
/// a chunk field that must be an object rejects that instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        deserializer.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A JSON object read as `T`, with its text as sent: the native messages keep the provider's
/// objects whole, while the chunk is still checked (and rejected) as one.
#[derive(Debug, PartialEq)]
pub(crate) struct WithRaw<'a, T> {
    pub raw: Raw<'a>,
    pub value: T,
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for WithRaw<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Raw::deserialize(deserializer)?;
        let Obj(value) = serde_json::from_str::<Obj<T>>(raw.get()).map_err(serde::de::Error::custom)?;
        Ok(Self { raw, value })
    }
}

/// A non-negative integer if the JSON value is one, else nothing. A number outside `0..2^32` is
/// an error: folding it into "missing" would merge it with index 0 or the last call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LenientIndex(pub Option<u32>);

#[cold]
fn out_of_range<E: serde::de::Error>() -> E {
    E::custom("index out of range (not in 0..2^32)")
}

impl<'de> Deserialize<'de> for LenientIndex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientIndex;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an index")
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                u32::try_from(v)
                    .map(|i| LenientIndex(Some(i)))
                    .map_err(|_| out_of_range())
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u32::try_from(v)
                    .map(|i| LenientIndex(Some(i)))
                    .map_err(|_| out_of_range())
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // Integers past u64 arrive here too; only an in-range fraction is "not an index".
                if (0.0..4_294_967_296.0).contains(&v) {
                    Ok(LenientIndex(None))
                } else {
                    Err(out_of_range())
                }
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(LenientIndex(None))
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(LenientIndex(None))
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }

            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(LenientIndex(None))
            }

            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LenientIndex(None))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientIndex(None))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientIndex(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// An object's entries in order, values as their text as sent: by the lexer when its only
/// whitespace is one space after a colon (as the APIs write usage objects) and its keys have no
/// escapes, else by serde.
pub(crate) fn object_entries(text: &str) -> Option<Vec<(Cow<'_, str>, &str)>> {
    let mut out = Vec::with_capacity(16);
    let mut at = lexer::Cursor::new(text);
    let read = lexer::spaced_object(&mut at, |at, key| {
        out.push((Cow::Borrowed(key), at.spaced_value(lexer::COMPACT_DEPTH)?));
        Some(())
    })
    .is_some()
        && at.at_end();
    if read {
        return Some(out);
    }
    let Entries(entries) = serde_json::from_str::<Entries<'_>>(text).ok()?;
    Some(entries.into_iter().map(|(k, v)| (k, v.get())).collect())
}

/// Removes the whitespace between tokens of a valid JSON text, keeping the tokens as written.
#[must_use]
pub fn minify(json: &str) -> String {
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    // Runs of tokens are copied whole: a string up to its closing quote (found with memchr,
    // skipping escaped characters), anything else up to the next whitespace or string. Every
    // cut is at an ASCII byte, so each run is whole characters.
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        let end = if b == b'"' {
            string_end(bytes, i + 1)
        } else {
            bytes[i..]
                .iter()
                .position(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'"'))
                .map_or(bytes.len(), |n| i + n)
        };
        out.push_str(&json[i..end]);
        i = end;
    }
    out
}

/// The index after the closing quote of the string whose text starts at `from` (the end of
/// `bytes` when it is cut).
fn string_end(bytes: &[u8], mut from: usize) -> usize {
    while let Some(n) = memchr::memchr2(b'"', b'\\', &bytes[from..]) {
        let at = from + n;
        if bytes[at] == b'"' {
            return at + 1;
        }
        from = (at + 2).min(bytes.len());
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_strings() {
        assert_eq!(
            minify("{ \"a b\" : [1, 2.50e1, \"x \\\" y\" ] }"),
            "{\"a b\":[1,2.50e1,\"x \\\" y\"]}"
        );
        assert_eq!(minify("[\"\\\\\", \"é \\\\\" ,true]\n"), "[\"\\\\\",\"é \\\\\",true]");
        assert_eq!(minify("\"cut \\"), "\"cut \\");
        assert_eq!(minify(" {\"a\":\"b c"), "{\"a\":\"b c");
    }

    #[test]
    fn lenient_values() {
        let s: Vec<LenientStr<'_>> = serde_json::from_str(r#"["a", null, 1, {"x": [1]}, [2], "b\n"]"#).unwrap();
        let got: Vec<Option<&str>> = s.iter().map(|x| x.0.as_deref()).collect();
        assert_eq!(got, vec![Some("a"), None, None, None, None, Some("b\n")]);
        assert!(matches!(s[0].0, Some(Cow::Borrowed(_))));
        let i: Vec<LenientIndex> = serde_json::from_str(r#"[0, 7, 4294967295, null, "3", 1.5, true]"#).unwrap();
        let got: Vec<Option<u32>> = i.iter().map(|x| x.0).collect();
        assert_eq!(got, vec![Some(0), Some(7), Some(u32::MAX), None, None, None, None]);
        for bad in ["-1", "4294967296", "18446744073709551616", "1e300", "-0.5"] {
            assert!(serde_json::from_str::<LenientIndex>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn entries_read_by_the_lexer_are_serdes() {
        let by_serde = |text| {
            serde_json::from_str::<Entries<'_>>(text)
                .ok()
                .map(|Entries(e)| e.into_iter().map(|(k, v)| (k, v.get())).collect::<Vec<_>>())
        };
        for text in [
            r#"{"input_tokens":5,"cache_creation":{"a":[1,{"b":null}]},"x":"\u00e9","x":-0.5e+2}"#,
            r#"{"promptTokenCount": 15,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 15}]}"#,
            r"{}",
            r#"{"a\"b":1,"c":2}"#,
            r#"{"a": 1}"#,
            r#"{"a":  1, "b": 2}"#,
            r#"{"a":1}x"#,
            r#"{"a":01}"#,
            r"[1]",
        ] {
            assert_eq!(object_entries(text), by_serde(text), "{text}");
        }
    }
}
