//! OpenAI Chat Completions (also Azure, vLLM, Ollama, DeepSeek, Mistral, OpenRouter, Groq and
//! Gemini's OpenAI-compatible endpoint): the chunk shapes, borrowed from the event data, and the
//! adapter that turns each chunk into operations on the format-neutral message state.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::chat_reader::{Leaf, LeafValue};
use super::{event_object, minify, LenientIndex, LenientStr, List, Obj, Raw};
use crate::accumulate::outcome::{ReasonClass, UsageKeys};
use crate::accumulate::{Call, EventSink, MessageState, ProviderError, TextField};
use crate::error::ErrorSlot;
use crate::sse::SseEvent;

/// One `chat.completion.chunk`, or an error object sent in its place.
#[derive(Debug, Deserialize)]
pub struct Chunk<'a> {
    #[serde(borrow, default)]
    pub choices: Option<List<Obj<Choice<'a>>>>,
    #[serde(borrow, default)]
    pub usage: Option<Raw<'a>>,
    /// Groq's extension object: older Groq streams report usage only in `x_groq.usage`.
    #[serde(borrow, default)]
    pub x_groq: Option<Raw<'a>>,
    #[serde(borrow, default)]
    pub error: Option<Raw<'a>>,
    #[serde(borrow, default)]
    pub object: LenientStr<'a>,
    #[serde(borrow, default)]
    pub message: LenientStr<'a>,
    #[serde(borrow, default, rename = "type")]
    pub kind: LenientStr<'a>,
    #[serde(borrow, default)]
    pub code: Option<Raw<'a>>,
}

/// One choice of a chunk.
#[derive(Debug, Deserialize)]
pub struct Choice<'a> {
    #[serde(default)]
    pub index: LenientIndex,
    #[serde(borrow, default)]
    pub delta: Option<Obj<Delta<'a>>>,
    #[serde(borrow, default)]
    pub finish_reason: LenientStr<'a>,
}

/// The increment carried by a choice.
#[derive(Debug, Default, Deserialize)]
pub struct Delta<'a> {
    #[serde(borrow, default)]
    pub content: Content<'a>,
    #[serde(borrow, default)]
    pub reasoning_content: LenientStr<'a>,
    /// OpenRouter and newer vLLM name the reasoning text `reasoning`.
    #[serde(borrow, default)]
    pub reasoning: LenientStr<'a>,
    #[serde(borrow, default)]
    pub refusal: LenientStr<'a>,
    #[serde(borrow, default)]
    pub tool_calls: Option<List<Obj<ToolCallDelta<'a>>>>,
    /// The pre-tools API.
    #[serde(borrow, default)]
    pub function_call: Option<Obj<FunctionDelta<'a>>>,
}

/// A fragment of one tool call.
#[derive(Debug, Deserialize)]
pub struct ToolCallDelta<'a> {
    #[serde(default)]
    pub index: LenientIndex,
    #[serde(borrow, default)]
    pub id: LenientStr<'a>,
    #[serde(borrow, default, rename = "type")]
    pub kind: LenientStr<'a>,
    #[serde(borrow, default)]
    pub function: Option<Obj<FunctionDelta<'a>>>,
}

/// The function part of a tool-call fragment.
#[derive(Debug, Default, Deserialize)]
pub struct FunctionDelta<'a> {
    #[serde(borrow, default)]
    pub name: LenientStr<'a>,
    /// A string fragment, `null`, or (some servers) the whole arguments as a JSON value.
    #[serde(borrow, default)]
    pub arguments: Option<Raw<'a>>,
}

/// A delta's `content`: a string, or (Mistral's thinking models) a list of typed parts,
/// `{"type": "text", "text"}` and `{"type": "thinking", "thinking": [{"type": "text", "text"}]}`.
/// Any other JSON type counts as absent.
#[derive(Debug, Default)]
pub enum Content<'a> {
    #[default]
    Absent,
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
}

/// One typed part of a list `content`.
#[derive(Debug, Default, Deserialize)]
pub struct Part<'a> {
    #[serde(borrow, default, rename = "type")]
    pub kind: LenientStr<'a>,
    #[serde(borrow, default)]
    pub text: LenientStr<'a>,
    #[serde(borrow, default)]
    pub thinking: Thinking<'a>,
}

/// The text of a thinking part: a string, or the texts of a list of text parts.
#[derive(Debug, Default)]
pub struct Thinking<'a>(pub Vec<Cow<'a, str>>);

/// A list element that is an object read as a `T`; anything else is skipped (`None`).
struct MaybeObj<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MaybeObj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = MaybeObj<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(|t| MaybeObj(Some(t)))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeObj(None))
            }

            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }

            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }

            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }

            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }

            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

/// What a string-or-list field reads: its string, or its list's elements.
trait FromStrOrList<'de>: Sized + Default {
    fn from_str(text: Cow<'de, str>) -> Self;
    fn from_list<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error>;
}

struct StrOrList<T>(std::marker::PhantomData<T>);

impl<'de, T: FromStrOrList<'de>> Visitor<'de> for StrOrList<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<T, E> {
        Ok(T::from_str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        Ok(T::from_str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<T, E> {
        Ok(T::from_str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::from_list(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(T::default())
    }

    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> FromStrOrList<'de> for Content<'de> {
    fn from_str(text: Cow<'de, str>) -> Self {
        Content::Text(text)
    }

    fn from_list<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut parts = Vec::new();
        while let Some(MaybeObj(part)) = seq.next_element::<MaybeObj<Part<'de>>>()? {
            parts.extend(part);
        }
        Ok(Content::Parts(parts))
    }
}

impl<'de> FromStrOrList<'de> for Thinking<'de> {
    fn from_str(text: Cow<'de, str>) -> Self {
        Thinking(vec![text])
    }

    fn from_list<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut texts = Vec::new();
        while let Some(MaybeObj(part)) = seq.next_element::<MaybeObj<Part<'de>>>()? {
            texts.extend(part.and_then(|p| p.text.0));
        }
        Ok(Thinking(texts))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrOrList::<Content<'de>>(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Thinking<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrOrList::<Thinking<'de>>(std::marker::PhantomData))
    }
}

/// The Chat Completions adapter: chunks in, operations on the message state out.
///
/// Chat is the one format that guesses: fragments without an index or id are routed by
/// `locate` (semantics.md section 3), `[DONE]` is its end marker, and error objects come in
/// several shapes.
#[derive(Debug, Default)]
pub struct ChatAdapter {
    head: super::chat_reader::ChunkHead,
}

/// Where chat usage keeps its counts.
pub const USAGE_KEYS: UsageKeys = UsageKeys {
    input: &["prompt_tokens"],
    output: &["completion_tokens"],
    total: Some("total_tokens"),
};

/// What chat finish reasons mean; no reason with `[DONE]` is a normal end.
#[must_use]
pub fn reason_class(reason: Option<&str>) -> ReasonClass {
    match reason {
        None | Some("stop" | "tool_calls" | "function_call") => ReasonClass::Normal,
        Some("length") => ReasonClass::Length,
        Some("content_filter") => ReasonClass::ContentFilter,
        Some(_) => ReasonClass::Other,
    }
}

impl ChatAdapter {
    /// Whether a chunk shape is remembered (`event_from` may read the next chunk).
    #[inline]
    #[must_use]
    pub fn replays_leaf(&self) -> bool {
        self.head.replays_leaf()
    }

    /// A chunk of the last chunk's shape around another string (`ChunkHead::replay_leaf`)
    /// that starts `text` and is followed by the blank line that ends its event, read as
    /// `on_event` reads it there; the bytes taken (see `EventHandler::event_from`).
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
        if state.done {
            return None;
        }
        let (index, leaf, end) = self.head.replay_leaf_from(text)?;
        if end > max || !text[end..].starts_with("\n\n") {
            return None;
        }
        leaf_choice(state, index, leaf, at, errors, sink);
        Some(end + 2)
    }

    /// One dispatched SSE event.
    pub fn on_event<S: EventSink>(
        &mut self,
        ev: SseEvent<'_>,
        state: &mut MessageState,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        if state.done {
            return;
        }
        match ev.event {
            "message" => {}
            "error" => {
                provider_error_event(ev.data, state, sink);
                return;
            }
            _ => return,
        }
        let data = super::trim_data(ev.data);
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            state.done = true;
            state.finish_all_calls(sink);
            return;
        }
        // Most chunks are the last one around another delta; nearly all the rest are read by
        // the fast reader; the others as before.
        if let Some((index, leaf)) = self.head.replay_leaf(data) {
            leaf_choice(state, index, leaf, ev.data_offset, errors, sink);
            return;
        }
        let mut delta = Delta::default();
        if let Some((index, present)) = self.head.replay(data, &mut delta) {
            choice(
                state,
                index,
                present.then_some(&delta),
                None,
                ev.data_offset,
                errors,
                sink,
            );
            return;
        }
        let chunk = match super::chat_reader::read_chunk(data, &mut self.head) {
            Some(chunk) => chunk,
            None => match event_object::<Chunk<'_>>(data, ev.data_offset, state.at_eof, errors) {
                Some(chunk) => chunk,
                None => return,
            },
        };
        if chunk.error.is_some() || chunk.object.0.as_deref() == Some("error") {
            provider_error_chunk(&chunk, data, state, sink);
            return;
        }
        let usage = chunk.usage.filter(|u| u.get().starts_with('{')).or_else(|| {
            #[derive(Deserialize)]
            struct XGroq<'a> {
                #[serde(borrow, default)]
                usage: Option<Raw<'a>>,
            }
            let x_groq = chunk.x_groq?;
            serde_json::from_str::<Obj<XGroq<'_>>>(x_groq.get()).ok()?.0.usage
        });
        if let Some(usage) = usage {
            state.usage_object(usage.get(), ev.data_offset, errors, sink);
        }
        // By reference: a choice is a few hundred bytes, moving it out cost more than reading it.
        for Obj(c) in chunk.choices.iter().flat_map(List::iter) {
            let delta = c.delta.as_ref().map(|Obj(d)| d);
            choice(
                state,
                c.index,
                delta,
                c.finish_reason.non_empty(),
                ev.data_offset,
                errors,
                sink,
            );
        }
    }

    /// Whether a finished stream ended before its end: no `[DONE]`, and no choice at all or a
    /// choice without a finish reason.
    #[must_use]
    pub fn truncated(&self, state: &MessageState) -> bool {
        !state.done && (state.choices().is_empty() || state.choices().iter().any(|c| c.finish_reason.is_none()))
    }
}

/// An error event or chunk (Anthropic's `error` events share the shapes).
pub(crate) fn provider_error_event<S: EventSink>(data: &str, state: &mut MessageState, sink: &mut S) {
    match serde_json::from_str::<Obj<Chunk<'_>>>(data) {
        Ok(Obj(chunk)) => provider_error_chunk(&chunk, data, state, sink),
        Err(_) => state.provider_error(
            ProviderError {
                message: data.to_owned(),
                code: None,
                kind: None,
                body: data.to_owned(),
            },
            sink,
        ),
    }
}

fn provider_error_chunk<S: EventSink>(chunk: &Chunk<'_>, data: &str, state: &mut MessageState, sink: &mut S) {
    #[derive(serde::Deserialize, Default)]
    struct Inner<'a> {
        #[serde(borrow, default)]
        message: LenientStr<'a>,
        #[serde(borrow, default, rename = "type")]
        kind: LenientStr<'a>,
        #[serde(borrow, default)]
        code: Option<Raw<'a>>,
    }
    let (message, kind, code) = match chunk.error {
        Some(raw) => match serde_json::from_str::<Obj<Inner<'_>>>(raw.get()) {
            Ok(Obj(inner)) => (
                inner.message.0.or_else(|| chunk.message.0.clone()).map(Cow::into_owned),
                inner.kind.0.map(Cow::into_owned),
                inner.code.map(|c| c.get().to_owned()),
            ),
            // `"error": "text"` and other shapes: the text, or the raw JSON, is the message.
            Err(_) => (
                serde_json::from_str::<String>(raw.get())
                    .ok()
                    .or_else(|| Some(raw.get().to_owned())),
                None,
                None,
            ),
        },
        None => (
            chunk.message.0.as_ref().map(|m| m.clone().into_owned()),
            chunk.kind.0.as_ref().map(|k| k.clone().into_owned()),
            chunk.code.map(|c| c.get().to_owned()),
        ),
    };
    state.provider_error(
        ProviderError {
            message: message.unwrap_or_else(|| data.to_owned()),
            code,
            kind,
            body: data.to_owned(),
        },
        sink,
    );
}

/// One choice of a chunk whose delta is one string of a remembered shape: what `merge` does
/// with that delta, without building it.
fn leaf_choice<S: EventSink>(
    state: &mut MessageState,
    index: LenientIndex,
    leaf: LeafValue<'_>,
    at: u64,
    errors: &mut ErrorSlot,
    sink: &mut S,
) {
    let Some(slot) = state.choice_slot(index.0.unwrap_or(0), at, errors) else {
        return;
    };
    match leaf {
        LeafValue::Text { field, text } => {
            let field = match field {
                Leaf::Content => TextField::Content,
                _ => TextField::Reasoning,
            };
            state.text(slot, field, &text, at, errors, sink);
        }
        LeafValue::Arguments { index, quoted } => {
            let existing = locate(state.calls(slot), index.0, None);
            let function = FunctionDelta {
                arguments: Some(Raw(quoted)),
                ..FunctionDelta::default()
            };
            fragment(
                state, slot, existing, index.0, None, None, &function, false, at, errors, sink,
            );
        }
    }
}

/// One choice of a chunk: its delta, then its finish reason.
fn choice<S: EventSink>(
    state: &mut MessageState,
    index: LenientIndex,
    delta: Option<&Delta<'_>>,
    finish_reason: Option<&str>,
    at: u64,
    errors: &mut ErrorSlot,
    sink: &mut S,
) {
    let Some(slot) = state.choice_slot(index.0.unwrap_or(0), at, errors) else {
        return;
    };
    if let Some(delta) = delta {
        merge(state, slot, delta, at, errors, sink);
    }
    if let Some(reason) = finish_reason {
        state.finish_reason(slot, reason, sink);
    }
}

/// Merges one choice's delta: reasoning, content (a string or typed parts), refusal, the legacy
/// `function_call`, then `tool_calls` in list order.
fn merge<S: EventSink>(
    state: &mut MessageState,
    slot: usize,
    delta: &Delta<'_>,
    at: u64,
    errors: &mut ErrorSlot,
    sink: &mut S,
) {
    let reasoning = match &delta.reasoning_content.0 {
        Some(text) => Some(text),
        None => delta.reasoning.0.as_ref(),
    };
    if let Some(text) = reasoning {
        state.text(slot, TextField::Reasoning, text, at, errors, sink);
    }
    match &delta.content {
        Content::Absent => {}
        Content::Text(text) => {
            state.text(slot, TextField::Content, text, at, errors, sink);
        }
        // Mistral's typed parts, in order: thinking is reasoning, text is content.
        Content::Parts(parts) => {
            for part in parts {
                match part.kind.0.as_deref() {
                    Some("thinking") => {
                        for text in &part.thinking.0 {
                            state.text(slot, TextField::Reasoning, text, at, errors, sink);
                        }
                    }
                    Some("text") | None => {
                        if let Some(text) = &part.text.0 {
                            state.text(slot, TextField::Content, text, at, errors, sink);
                        }
                    }
                    Some(_) => {}
                }
            }
        }
    }
    if let Some(text) = delta.refusal.non_empty() {
        state.text(slot, TextField::Refusal, text, at, errors, sink);
    }
    if let Some(Obj(function)) = &delta.function_call {
        let existing = state.calls(slot).iter().position(|c| c.legacy);
        fragment(
            state, slot, existing, None, None, None, function, true, at, errors, sink,
        );
    }
    let none = FunctionDelta::default();
    for Obj(frag) in delta.tool_calls.iter().flat_map(List::iter) {
        let ToolCallDelta {
            index,
            id,
            kind,
            function,
        } = frag;
        let existing = locate(state.calls(slot), index.0, id.non_empty());
        let function = function.as_ref().map_or(&none, |Obj(f)| f);
        fragment(
            state,
            slot,
            existing,
            index.0,
            id.non_empty(),
            kind.non_empty(),
            function,
            false,
            at,
            errors,
            sink,
        );
    }
}

/// Applies one tool-call (or legacy function-call) fragment to its call, opening it if new.
#[allow(clippy::too_many_arguments)]
fn fragment<S: EventSink>(
    state: &mut MessageState,
    slot: usize,
    existing: Option<usize>,
    provider_index: Option<u32>,
    id: Option<&str>,
    kind: Option<&str>,
    function: &FunctionDelta<'_>,
    legacy: bool,
    at: u64,
    errors: &mut ErrorSlot,
    sink: &mut S,
) {
    let (call, started) = match existing {
        Some(call) => (call, false),
        None => match state.open_call(slot, provider_index, legacy, at, errors) {
            Some(call) => (call, true),
            None => return,
        },
    };
    if state.calls(slot)[call].finished {
        return;
    }
    state.call_fields(slot, call, id, kind, function.name.non_empty());
    if started {
        state.call_started(slot, call, sink);
    }
    let Some(raw) = function.arguments else { return };
    let raw = raw.get();
    // A string is a fragment; any other JSON value (some servers send the whole arguments as an
    // object) counts only as the call's first text, in its compact form.
    if let Some(escaped) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        // The text is valid JSON (checked by the reader), so this is a string's inside.
        if !state.call_escaped_arguments(slot, call, escaped, at, errors, sink) {
            // A lone surrogate escape: serde_json's reading decides.
            if let Ok(LenientStr(Some(text))) = serde_json::from_str::<LenientStr<'_>>(raw) {
                state.call_arguments(slot, call, &text, at, errors, sink);
            }
        }
    } else if state.calls(slot)[call].arguments().is_empty() {
        state.call_arguments(slot, call, &minify(raw), at, errors, sink);
    }
}

/// Which existing call a fragment continues (`docs/semantics.md` §3), or `None` for a new one.
fn locate(calls: &[Call], index: Option<u32>, id: Option<&str>) -> Option<usize> {
    if let Some(id) = id {
        if let Some(pos) = calls.iter().position(|c| !c.legacy && c.id == id) {
            return Some(pos);
        }
        let p = index?;
        return calls
            .iter()
            .rposition(|c| !c.legacy && c.provider_index == Some(p) && c.id.is_empty());
    }
    if let Some(p) = index {
        return calls.iter().rposition(|c| !c.legacy && c.provider_index == Some(p));
    }
    calls.iter().rposition(|c| !c.legacy)
}
