//! Gemini native streams (`streamGenerateContent?alt=sse`): each event a whole
//! `GenerateContentResponse`; the adapter turns its candidates' parts into operations on the
//! format-neutral message state.
//!
//! The rules are G1-G13 of the pure-Python reference (`tests/reference/gemini.py`,
//! `docs/semantics.md` section 13), which `tests/test_gemini.py` holds this adapter to: a
//! candidate's `index` is its choice; text parts are content, `thought: true` ones reasoning; a
//! named `functionCall` part is a whole call, or opens a streamed one (Vertex `partialArgs`,
//! written into one JSON text by [`ArgsWriter`]) that nameless parts continue; `usageMetadata`
//! replaces the usage when it changes; `finishReason` ends its candidate (reading goes on: usage
//! may follow); a blocked prompt ends choice 0. There is no end marker: the turn is done while
//! every candidate seen has its finish reason.
//!
//! Nearly every chunk is read by the byte cursor of [`reader`], which builds the same `Chunk`
//! serde would; the rest (other spacing, streamed calls, errors...) by serde.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::ops::Range;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::lexer::{spaced_object, Cursor, COMPACT_DEPTH};
use super::native::{object as json_object, string, value_of};
use super::{event_object, minify, object_entries, trim_data, LenientIndex, LenientStr, Obj, Raw, WithRaw};
use crate::accumulate::outcome::{Entries, ReasonClass, UsageKeys};
use crate::accumulate::{Call, EventSink, MessageState, ProviderError, TextField};
use crate::error::{CoreError, ErrorSlot, ParseKind};
use crate::partial_json::{PartialJson, Value};
use crate::sse::SseEvent;

mod reader;

/// Where Gemini's `usageMetadata` keeps its counts: tool-use prompts are input, thoughts output.
pub const USAGE_KEYS: UsageKeys = UsageKeys {
    input: &["promptTokenCount", "toolUsePromptTokenCount"],
    output: &["candidatesTokenCount", "thoughtsTokenCount"],
    total: Some("totalTokenCount"),
};

/// What Gemini's finish reasons (and prompt block reasons) mean.
#[must_use]
pub fn reason_class(reason: Option<&str>) -> ReasonClass {
    match reason {
        Some("STOP") => ReasonClass::Normal,
        Some("MAX_TOKENS") => ReasonClass::Length,
        Some(
            "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION"
            | "MODEL_ARMOR"
            | "JAILBREAK",
        ) => ReasonClass::ContentFilter,
        _ => ReasonClass::Other,
    }
}

// The chunk shapes. A known field of the wrong JSON type, or given twice, fails the whole chunk
// (G2): an invalid chunk is skipped as one, never half read.

#[derive(Debug, Default, PartialEq, Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    candidates: Option<Vec<Obj<Candidate<'a>>>>,
    #[serde(borrow, default, rename = "usageMetadata")]
    usage_metadata: Option<Raw<'a>>,
    #[serde(borrow, default, rename = "promptFeedback")]
    prompt_feedback: Option<Obj<PromptFeedback<'a>>>,
    #[serde(borrow, default)]
    error: Option<Raw<'a>>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
struct Candidate<'a> {
    #[serde(default)]
    index: LenientIndex,
    #[serde(borrow, default)]
    content: Option<Obj<Content<'a>>>,
    #[serde(borrow, default, rename = "finishReason")]
    finish_reason: LenientStr<'a>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
struct Content<'a> {
    #[serde(borrow, default)]
    parts: Option<Vec<WithRaw<'a, Part<'a>>>>,
}

/// One part, read by hand: the native message needs to know whether it has keys besides its
/// text (only "plain" text parts merge).
#[derive(Debug, Default, PartialEq)]
struct Part<'a> {
    /// `text` when it is a string.
    text: Option<Cow<'a, str>>,
    /// `thought` is the JSON `true`.
    thought: bool,
    /// `functionCall` when it is an object.
    function_call: Option<FunctionCall<'a>>,
    /// Some key besides `text` and `thought`.
    not_plain: bool,
    /// Some key besides `functionCall`.
    not_only_call: bool,
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum PartKey {
    #[serde(rename = "text")]
    Text,
    #[serde(rename = "thought")]
    Thought,
    #[serde(rename = "thoughtSignature")]
    ThoughtSignature,
    #[serde(rename = "functionCall")]
    FunctionCall,
    #[serde(other)]
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Part<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Part<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a part object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Part<'de>, A::Error> {
                const NAMES: [&str; 4] = ["text", "thought", "thoughtSignature", "functionCall"];
                let mut part = Part::default();
                let mut seen = [false; 4];
                while let Some(key) = map.next_key::<PartKey>()? {
                    let known = match key {
                        PartKey::Text => 0,
                        PartKey::Thought => 1,
                        PartKey::ThoughtSignature => 2,
                        PartKey::FunctionCall => 3,
                        PartKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                            part.not_plain = true;
                            part.not_only_call = true;
                            continue;
                        }
                    };
                    if std::mem::replace(&mut seen[known], true) {
                        return Err(serde::de::Error::duplicate_field(NAMES[known]));
                    }
                    part.not_plain |= known >= 2;
                    part.not_only_call |= known != 3;
                    match key {
                        PartKey::Text => part.text = map.next_value::<LenientStr<'de>>()?.0,
                        PartKey::Thought => part.thought = is_true(map.next_value::<Option<Raw<'de>>>()?),
                        PartKey::FunctionCall => {
                            part.function_call = map.next_value::<Option<Obj<FunctionCall<'de>>>>()?.map(|Obj(f)| f);
                        }
                        PartKey::ThoughtSignature | PartKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(part)
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[derive(Debug, Default, PartialEq, Deserialize)]
struct FunctionCall<'a> {
    #[serde(borrow, default)]
    id: LenientStr<'a>,
    #[serde(borrow, default)]
    name: LenientStr<'a>,
    #[serde(borrow, default)]
    args: Option<Raw<'a>>,
    #[serde(borrow, default, rename = "partialArgs")]
    partial_args: Option<Vec<Obj<Piece<'a>>>>,
    #[serde(borrow, default, rename = "willContinue")]
    will_continue: Option<Raw<'a>>,
}

/// One `partialArgs` element: a value at a JSON path.
#[derive(Debug, PartialEq, Deserialize)]
struct Piece<'a> {
    #[serde(borrow, default, rename = "jsonPath")]
    json_path: LenientStr<'a>,
    #[serde(borrow, default, rename = "stringValue")]
    string_value: LenientStr<'a>,
    #[serde(borrow, default, rename = "numberValue")]
    number_value: Option<Raw<'a>>,
    #[serde(borrow, default, rename = "boolValue")]
    bool_value: Option<Raw<'a>>,
    #[serde(default, rename = "nullValue")]
    null_value: Present,
    #[serde(borrow, default, rename = "willContinue")]
    will_continue: Option<Raw<'a>>,
}

/// Whether a field is there at all, whatever its value (`"nullValue": null` counts).
#[derive(Debug, Default, PartialEq)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer)?;
        Ok(Self(true))
    }
}

#[derive(Debug, PartialEq, Deserialize)]
struct PromptFeedback<'a> {
    #[serde(borrow, default, rename = "blockReason")]
    block_reason: LenientStr<'a>,
}

/// The fields of an error chunk (`{"error": {"code", "message", "status"}}`).
#[derive(Debug, Deserialize)]
struct ErrorChunk<'a> {
    #[serde(borrow, default)]
    error: Option<Raw<'a>>,
    #[serde(borrow, default)]
    message: LenientStr<'a>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorObject<'a> {
    #[serde(borrow, default)]
    message: LenientStr<'a>,
    #[serde(borrow, default)]
    status: LenientStr<'a>,
    #[serde(borrow, default, rename = "type")]
    kind: LenientStr<'a>,
    #[serde(borrow, default)]
    code: Option<&'a RawValue>,
}

fn is_true(value: Option<Raw<'_>>) -> bool {
    value.is_some_and(|v| v.get() == "true")
}

/// One part of a candidate's native content (G13).
#[derive(Debug)]
enum NativePart {
    /// A part kept as sent.
    Sent(String),
    /// A text part as sent, its text the range kept in `field`; a `plain` one (no key but `text`
    /// and `thought`) takes in the plain text parts of its field that follow it.
    Text {
        raw: String,
        field: TextField,
        range: Range<usize>,
        plain: bool,
    },
    /// A streamed call: its opening part as sent, the keys its continuation parts added, and
    /// the call whose arguments become its `args`.
    Streamed {
        raw: String,
        extra: Vec<(String, String)>,
        call: usize,
        id: Option<String>,
        name: String,
    },
}

/// A streamed call still being written.
#[derive(Debug)]
struct OpenCall {
    call: usize,
    writer: ArgsWriter,
    /// Where its native part sits.
    part: usize,
}

/// What the adapter keeps per choice.
#[derive(Debug, Default)]
struct ChoiceParts {
    parts: Vec<NativePart>,
    open: Option<OpenCall>,
}

/// The Gemini adapter.
#[derive(Debug, Default)]
pub struct GeminiAdapter {
    /// Per choice slot.
    choices: Vec<ChoiceParts>,
    /// The reason of a blocked prompt, once it ended choice 0: the outcome is then
    /// `content_filter` whatever the word (G10).
    blocked: Option<String>,
    /// The fragment a piece writes, reused.
    scratch: String,
    /// The members of the usage object kept in the state, when the lexer read them, and
    /// whether its keys are distinct.
    last_usage: Option<(Members, bool)>,
}

impl GeminiAdapter {
    /// One dispatched SSE event.
    pub fn on_event<S: EventSink>(
        &mut self,
        ev: SseEvent<'_>,
        state: &mut MessageState,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        match ev.event {
            "message" => {}
            "error" => {
                error_event(ev.data, state, sink);
                return;
            }
            _ => return,
        }
        let data = trim_data(ev.data);
        if data.is_empty() {
            return;
        }
        let at = ev.data_offset;
        // The fast reader checks whole calls' `args` no deeper than `max_depth` (else it leaves
        // the chunk to the general path, which reports it): they are not scanned again.
        let depth = COMPACT_DEPTH.min(state.limits().max_depth);
        let (chunk, checked, usage_members) = match reader::fast_chunk(data, depth) {
            Some((chunk, members)) => (chunk, Some(depth), members),
            None => match event_object::<Chunk<'_>>(data, at, state.at_eof, errors) {
                Some(chunk) => (chunk, None, None),
                None => return,
            },
        };
        if chunk.error.is_some() {
            error_event(data, state, sink);
            return;
        }
        if let Some(usage) = chunk.usage_metadata {
            self.usage_metadata(usage.get(), usage_members.as_ref(), state, at, errors, sink);
        }
        let candidates = chunk.candidates.unwrap_or_default();
        if candidates.is_empty() {
            let block = chunk
                .prompt_feedback
                .as_ref()
                .and_then(|Obj(f)| f.block_reason.non_empty());
            if let Some(reason) = block {
                if let Some(slot) = self.slot(0, state, at, errors) {
                    if state.choices()[slot].finish_reason.is_none() {
                        self.blocked = Some(reason.to_owned());
                        self.end_choice(slot, reason, state, sink);
                    }
                }
            }
        }
        for Obj(candidate) in candidates {
            let Some(slot) = self.slot(candidate.index.0.unwrap_or(0), state, at, errors) else {
                continue;
            };
            // A finished candidate reads nothing more (G4).
            if state.choices()[slot].finish_reason.is_some() {
                continue;
            }
            let parts = candidate.content.and_then(|Obj(c)| c.parts).unwrap_or_default();
            for part in parts {
                self.part(slot, part, checked, state, at, errors, sink);
            }
            if let Some(reason) = candidate.finish_reason.non_empty() {
                self.end_choice(slot, reason, state, sink);
            }
        }
        // G12: the end is known while every choice seen has its finish reason; a later
        // candidate may reopen it.
        state.done = !state.choices().is_empty() && state.choices().iter().all(|c| c.finish_reason.is_some());
    }

    /// What a finish reason means here: the reason of a blocked prompt is a content filter
    /// whatever its word.
    #[must_use]
    pub fn reason_class(&self, reason: Option<&str>) -> ReasonClass {
        if reason.is_some() && self.blocked.as_deref() == reason {
            ReasonClass::ContentFilter
        } else {
            reason_class(reason)
        }
    }

    /// The candidate's content in Gemini's shape, `{"role": "model", "parts": [...]}` (G13).
    #[must_use]
    pub fn native(&self, state: &MessageState, slot: Option<usize>) -> Value {
        let max_depth = state.limits().max_depth;
        let mut parts = Vec::new();
        if let Some((choice, kept)) = slot.and_then(|s| Some((&state.choices()[s], self.choices.get(s)?))) {
            for part in &kept.parts {
                parts.push(match part {
                    NativePart::Sent(raw) => value_of(raw),
                    NativePart::Text { raw, field, range, .. } => {
                        let mut out = value_of(raw);
                        out.set("text", string(&choice.field(*field)[range.clone()]));
                        out
                    }
                    NativePart::Streamed {
                        raw,
                        extra,
                        call,
                        id,
                        name,
                    } => {
                        let mut out = value_of(raw);
                        for (key, value) in extra {
                            out.set(key, value_of(value));
                        }
                        let mut call_out = Vec::with_capacity(3);
                        if let Some(id) = id {
                            call_out.push(("id", string(id.as_str())));
                        }
                        call_out.push(("name", string(name.as_str())));
                        call_out.push(("args", native_args(&choice.calls[*call], max_depth)));
                        out.set("functionCall", json_object(call_out));
                        out
                    }
                });
            }
        }
        json_object(vec![("role", string("model")), ("parts", Value::Array(parts))])
    }

    /// G11: a usage object replaces the last one only when it differs from it as a JSON value
    /// (Gemini repeats the same object on most chunks, or the same keys with new counts);
    /// another JSON type counts as absent.
    /// `members`: the reader's reading of `raw`, if it made one.
    fn usage_metadata<S: EventSink>(
        &mut self,
        raw: &str,
        members: Option<&Members>,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        if !raw.starts_with('{') {
            return;
        }
        let members = members.copied().or_else(|| Members::read(raw));
        // The last object's keys are known distinct or not: the same keys are too.
        let mut distinct = None;
        if let Some((last, _)) = state.usage().0 {
            if last == raw {
                return;
            }
            let mut in_order = None;
            if let (Some((x, x_distinct)), Some(y)) = (&self.last_usage, &members) {
                if x.same_keys(last, y, raw) {
                    distinct = Some(*x_distinct);
                    if *x_distinct {
                        in_order = same_values_in_order(last, x, raw, y, 0);
                    }
                }
            }
            if in_order.unwrap_or_else(|| same_json(last, raw)) {
                return;
            }
        }
        let count = state.usage().1;
        state.usage_object(raw, at, errors, sink);
        if state.usage().1 != count {
            self.last_usage = members.map(|y| (y, distinct.unwrap_or_else(|| y.keys_distinct(raw))));
        }
    }

    /// Whether a finished stream ended before every choice had its finish reason.
    #[must_use]
    pub fn truncated(&self, state: &MessageState) -> bool {
        !state.done
    }

    /// The slot of a candidate's choice (`max_choices`), with room for its native parts.
    fn slot(&mut self, index: u32, state: &mut MessageState, at: u64, errors: &mut ErrorSlot) -> Option<usize> {
        let slot = state.choice_slot(index, at, errors)?;
        if self.choices.len() <= slot {
            self.choices.resize_with(slot + 1, ChoiceParts::default);
        }
        Some(slot)
    }

    /// G9: the finish reason; an open call is finished as it stands (unclosed), then `Finish`.
    fn end_choice<S: EventSink>(&mut self, slot: usize, reason: &str, state: &mut MessageState, sink: &mut S) {
        self.choices[slot].open = None;
        state.set_finish_reason(slot, reason, true, sink);
    }

    /// G5: a text part, a call part, or another part kept for the native message. `checked`:
    /// how deep the reader checked a whole call's `args`, if it did.
    #[allow(clippy::too_many_arguments)]
    fn part<S: EventSink>(
        &mut self,
        slot: usize,
        part: WithRaw<'_, Part<'_>>,
        checked: Option<usize>,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let WithRaw { raw, value: mut part } = part;
        if let Some(call) = part.function_call.take() {
            self.call_part(slot, raw, &part, call, checked, state, at, errors, sink);
            return;
        }
        let parts = &mut self.choices[slot].parts;
        let Some(text) = part.text else {
            parts.push(NativePart::Sent(raw.get().to_owned()));
            return;
        };
        let field = if part.thought {
            TextField::Reasoning
        } else {
            TextField::Content
        };
        let kept = state.text(slot, field, &text, at, errors, sink);
        if part.not_plain {
            parts.push(NativePart::Text {
                raw: raw.get().to_owned(),
                field,
                range: kept.unwrap_or(0..0),
                plain: false,
            });
            return;
        }
        // An empty plain text is dropped: Vertex rejects it.
        let Some(kept) = kept else { return };
        if let Some(NativePart::Text {
            field: last_field,
            range,
            plain: true,
            ..
        }) = parts.last_mut()
        {
            if *last_field == field && range.end == kept.start {
                range.end = kept.end;
                return;
            }
        }
        parts.push(NativePart::Text {
            raw: raw.get().to_owned(),
            field,
            range: kept,
            plain: true,
        });
    }

    /// G6-G7: a whole call, the opening of a streamed one, or a continuation of the open one.
    #[allow(clippy::too_many_arguments)]
    fn call_part<S: EventSink>(
        &mut self,
        slot: usize,
        raw: Raw<'_>,
        part: &Part<'_>,
        call: FunctionCall<'_>,
        checked: Option<usize>,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let name = call.name.non_empty();
        let more = is_true(call.will_continue);
        let streamed = call.partial_args.is_some() || more;
        if let Some(open) = &self.choices[slot].open {
            if name.is_none() {
                if part.not_only_call {
                    let at_part = open.part;
                    self.add_part_keys(slot, at_part, raw);
                }
                self.pieces(slot, call.partial_args, state, at, errors, sink);
                if !more {
                    self.end_streamed(slot, state, at, errors, sink);
                }
                return;
            }
            self.end_streamed(slot, state, at, errors, sink);
        }
        // A nameless part that continues nothing (the `{}` end marker) is not a call.
        let Some(name) = name else { return };
        let ordinal = state.open_call(slot, None, false, at, errors);
        if let Some(ordinal) = ordinal {
            let generated = format!("call_{ordinal}");
            let id = call.id.non_empty().unwrap_or(&generated);
            state.call_fields(slot, ordinal, Some(id), Some("function"), Some(name));
            state.call_started(slot, ordinal, sink);
        }
        let parts = &mut self.choices[slot].parts;
        let Some(ordinal) = ordinal.filter(|_| streamed) else {
            // A whole call, or a call past `max_tool_calls`: the part as sent.
            parts.push(NativePart::Sent(raw.get().to_owned()));
            if let Some(ordinal) = ordinal {
                if let Some(args) = call.args.map(Raw::get) {
                    whole_arguments(state, slot, ordinal, args, checked, at, errors, sink);
                }
                state.finish_call(slot, ordinal, sink);
            }
            return;
        };
        parts.push(NativePart::Streamed {
            raw: raw.get().to_owned(),
            extra: Vec::new(),
            call: ordinal,
            id: call.id.non_empty().map(str::to_owned),
            name: name.to_owned(),
        });
        self.choices[slot].open = Some(OpenCall {
            call: ordinal,
            writer: ArgsWriter::default(),
            part: parts.len() - 1,
        });
        self.pieces(slot, call.partial_args, state, at, errors, sink);
        if !more {
            self.end_streamed(slot, state, at, errors, sink);
        }
    }

    /// G13 c: the keys of a continuation part that its call's part lacks join it.
    fn add_part_keys(&mut self, slot: usize, at_part: usize, raw: Raw<'_>) {
        let Some(NativePart::Streamed { raw: first, extra, .. }) = self.choices[slot].parts.get_mut(at_part) else {
            return;
        };
        let (Ok(Entries(first)), Ok(Entries(entries))) = (
            serde_json::from_str::<Entries<'_>>(first),
            serde_json::from_str::<Entries<'_>>(raw.get()),
        ) else {
            return;
        };
        for (key, value) in entries {
            if key != "functionCall" && !first.iter().any(|(k, _)| *k == key) && !extra.iter().any(|(k, _)| *k == key) {
                extra.push((key.into_owned(), value.get().to_owned()));
            }
        }
    }

    /// G8: the pieces of a part, each written as one fragment of the open call's arguments.
    fn pieces<S: EventSink>(
        &mut self,
        slot: usize,
        pieces: Option<Vec<Obj<Piece<'_>>>>,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let Self { choices, scratch, .. } = self;
        let Some(open) = choices[slot].open.as_mut() else {
            return;
        };
        for Obj(piece) in pieces.into_iter().flatten() {
            if open.writer.stuck {
                return;
            }
            scratch.clear();
            let path = piece.json_path.0.as_deref();
            let more = is_true(piece.will_continue);
            if !open.writer.piece(path, piece_value(&piece), more, scratch) {
                // Out of order: the arguments stop here, as when cut by max_arguments_bytes.
                open.writer.stuck = true;
                state.stop_arguments(
                    slot,
                    open.call,
                    "arguments stopped: a partialArgs piece could not be written in order",
                );
                errors.note(CoreError::parse(
                    ParseKind::InvalidChunk,
                    at,
                    format!("invalid chunk: partialArgs piece at {path:?} cannot be written in order"),
                ));
                return;
            }
            state.call_arguments(slot, open.call, scratch, at, errors, sink);
        }
    }

    /// Ends the open streamed call: the closing fragment, then `ToolCallFinished`.
    fn end_streamed<S: EventSink>(
        &mut self,
        slot: usize,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let Some(mut open) = self.choices[slot].open.take() else {
            return;
        };
        self.scratch.clear();
        open.writer.close(&mut self.scratch);
        state.call_arguments(slot, open.call, &self.scratch, at, errors, sink);
        state.finish_call(slot, open.call, sink);
    }
}

/// A whole call's `args`: a string is the arguments text itself, any other value its compact
/// JSON (tokens as sent), not scanned again when `checked` says how deep a reader checked it.
#[allow(clippy::too_many_arguments)]
fn whole_arguments<S: EventSink>(
    state: &mut MessageState,
    slot: usize,
    call: usize,
    args: &str,
    checked: Option<usize>,
    at: u64,
    errors: &mut ErrorSlot,
    sink: &mut S,
) {
    if args.starts_with('"') {
        if let Ok(LenientStr(Some(text))) = serde_json::from_str::<LenientStr<'_>>(args) {
            state.call_arguments(slot, call, &text, at, errors, sink);
        }
    } else if let Some(depth) = checked.filter(|_| args.starts_with(['{', '['])) {
        // A container only: a bare number is not ready at its last digit (more could follow).
        state.call_checked_arguments(slot, call, &minify(args), depth, at, errors, sink);
    } else {
        state.call_arguments(slot, call, &minify(args), at, errors, sink);
    }
}

/// Whether two JSON texts hold the same value as Python compares them: key order aside (the
/// last of a key given twice counts), an integer never equals a float, nor a bool a number.
/// The same text, the usual case, is not parsed; a value that differs is told apart as soon as
/// one member does, without building either tree (usage changes on most of some streams'
/// chunks). Values nested deeper than serde_json reads (128) count as different.
fn same_json(a: &str, b: &str) -> bool {
    same_value(a, b, 0).unwrap_or(false)
}

/// `None` when a text cannot be read (too deep): the values count as different.
fn same_value(a: &str, b: &str, depth: usize) -> Option<bool> {
    if a == b {
        return Some(true);
    }
    if depth > 128 {
        return None;
    }
    match (a.as_bytes().first()?, b.as_bytes().first()?) {
        (b'{', b'{') => same_ordered_members(a, b, depth).or_else(|| same_members(a, b, depth)),
        (b'[', b'[') => {
            let x = serde_json::from_str::<Vec<&RawValue>>(a).ok()?;
            let y = serde_json::from_str::<Vec<&RawValue>>(b).ok()?;
            if x.len() != y.len() {
                return Some(false);
            }
            for (va, vb) in x.iter().zip(&y) {
                if !same_value(va.get(), vb.get(), depth + 1)? {
                    return Some(false);
                }
            }
            Some(true)
        }
        (b'"', b'"') => {
            let x = serde_json::from_str::<LenientStr<'_>>(a).ok()?;
            let y = serde_json::from_str::<LenientStr<'_>>(b).ok()?;
            Some(x == y)
        }
        (b'-' | b'0'..=b'9', b'-' | b'0'..=b'9') => {
            let float = |t: &str| t.contains(['.', 'e', 'E']);
            Some(match (float(a), float(b)) {
                (true, true) => a.parse::<f64>().ok() == b.parse::<f64>().ok(),
                // Integers of any size, as Python holds them: equal tokens, or zero.
                (false, false) => a.trim_start_matches('-') == "0" && b.trim_start_matches('-') == "0",
                _ => false,
            })
        }
        // Literals: equal only as the same text.
        _ => Some(false),
    }
}

/// Two objects compared member by member, keys sorted.
fn same_members(a: &str, b: &str, depth: usize) -> Option<bool> {
    let (x, y) = (members(a)?, members(b)?);
    if x.len() != y.len() {
        return Some(false);
    }
    for ((ka, va), (kb, vb)) in x.iter().zip(&y) {
        if ka != kb || !same_value(va, vb, depth + 1)? {
            return Some(false);
        }
    }
    Some(true)
}

/// How many members `same_ordered_members` compares without allocating (usage objects have
/// 3-8).
const FEW: usize = 16;

/// An object's members in order, as spans of its text (key, value), when the lexer reads it:
/// at most `FEW`, keys without escapes. Kept for the last usage object, so that the next one
/// is compared with it without reading it again.
#[derive(Debug, Clone, Copy)]
struct Members {
    spans: [[u32; 4]; FEW],
    len: usize,
}

impl Members {
    fn read(text: &str) -> Option<Self> {
        let mut at = Cursor::new(text);
        let members = Self::read_from(&mut at)?;
        at.at_end().then_some(members)
    }

    /// The object at the cursor, spans from its `{`.
    fn read_from(at: &mut Cursor<'_>) -> Option<Self> {
        let mut members = Self {
            spans: [[0; 4]; FEW],
            len: 0,
        };
        let start = at.pos();
        let base = at.since(start).as_ptr() as usize;
        spaced_object(at, |at, key| {
            let key_start = key.as_ptr() as usize - base;
            let value_start = at.pos() - start;
            at.spaced_value(COMPACT_DEPTH)?;
            #[allow(clippy::cast_possible_truncation)] // chunks are far shorter than 4 GiB
            let span = [key_start, key_start + key.len(), value_start, at.pos() - start].map(|i| i as u32);
            *members.spans.get_mut(members.len)? = span;
            members.len += 1;
            Some(())
        })?;
        Some(members)
    }

    fn key<'a>(&self, text: &'a str, i: usize) -> &'a str {
        let [k0, k1, _, _] = self.spans[i];
        &text[k0 as usize..k1 as usize]
    }

    fn value<'a>(&self, text: &'a str, i: usize) -> &'a str {
        let [_, _, v0, v1] = self.spans[i];
        &text[v0 as usize..v1 as usize]
    }

    /// Whether `other` (read from `b`) has the same keys in the same order as these (of `a`).
    fn same_keys(&self, a: &str, other: &Self, b: &str) -> bool {
        self.len == other.len && (0..self.len).all(|i| self.key(a, i) == other.key(b, i))
    }

    /// Whether no key is given twice.
    fn keys_distinct(&self, text: &str) -> bool {
        (0..self.len).all(|i| (0..i).all(|j| self.key(text, i) != self.key(text, j)))
    }
}

/// Two objects with the same distinct keys in the same order, compared value by value.
fn same_values_in_order(a: &str, x: &Members, b: &str, y: &Members, depth: usize) -> Option<bool> {
    for i in 0..x.len {
        if !same_value(x.value(a, i), y.value(b, i), depth + 1)? {
            return Some(false);
        }
    }
    Some(true)
}

/// Two objects of at most `FEW` members compared in order without allocating, when the lexer
/// reads both and they have the same keys in the same order, none twice (a usage object resent
/// with new counts); `None` for anything else, which `same_members` sorts out.
fn same_ordered_members(a: &str, b: &str, depth: usize) -> Option<bool> {
    let (x, y) = (Members::read(a)?, Members::read(b)?);
    if !x.same_keys(a, &y, b) || !x.keys_distinct(a) {
        return None;
    }
    same_values_in_order(a, &x, b, &y, depth)
}

/// An object's members by key, the last of a key given twice only (as `json.loads` keeps it).
fn members(text: &str) -> Option<Vec<(Cow<'_, str>, &str)>> {
    let mut entries = object_entries(text)?;
    // A stable sort keeps each key's members in order; the last one of each run stays.
    entries.sort_by(|x, y| x.0.cmp(&y.0));
    let mut out: Vec<(Cow<'_, str>, &str)> = Vec::with_capacity(entries.len());
    for entry in entries {
        match out.last_mut() {
            Some(last) if last.0 == entry.0 => *last = entry,
            _ => out.push(entry),
        }
    }
    Some(out)
}

/// An `error` event or chunk: its data as an error object when it is one, else the text is the
/// message.
fn error_event<S: EventSink>(data: &str, state: &mut MessageState, sink: &mut S) {
    match serde_json::from_str::<Obj<ErrorChunk<'_>>>(data) {
        Ok(Obj(error)) => provider_error(&error, data, state, sink),
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

/// G2: `message` = `error.message` (else the top-level `message`, else `error` when a string,
/// else its JSON text, else the whole text), `code` = `error.code`, `type` = `error.status`
/// (else `error.type`). Unlike chat, Google's `status` is the error's kind.
fn provider_error<S: EventSink>(chunk: &ErrorChunk<'_>, text: &str, state: &mut MessageState, sink: &mut S) {
    let (message, code, kind) = match chunk.error.map(Raw::get) {
        Some(raw) if raw.starts_with('{') => {
            let inner = serde_json::from_str::<ErrorObject<'_>>(raw).unwrap_or_default();
            (
                inner.message.0.or_else(|| chunk.message.0.clone()).map(Cow::into_owned),
                inner.code.map(|c| c.get().to_owned()),
                inner.status.0.or(inner.kind.0).map(Cow::into_owned),
            )
        }
        Some(raw) if raw.starts_with('"') => (serde_json::from_str::<String>(raw).ok(), None, None),
        Some(raw) => (Some(raw.to_owned()), None, None),
        None => (chunk.message.0.clone().map(Cow::into_owned), None, None),
    };
    state.provider_error(
        ProviderError {
            message: message.unwrap_or_else(|| text.to_owned()),
            code,
            kind,
            body: text.to_owned(),
        },
        sink,
    );
}

/// A streamed call's `args` in the native message: the arguments' value, the partial value while
/// incomplete, `{}` when nothing shows (or past `max_depth`).
fn native_args(call: &Call, max_depth: usize) -> Value {
    let empty = || Value::Object(Vec::new());
    if call.args.error().is_some_and(|e| e.kind == ParseKind::TooDeep) {
        return empty();
    }
    let mut parsed = PartialJson::new().with_max_depth(max_depth);
    if parsed.feed(call.arguments()).is_err() {
        return empty();
    }
    parsed.value().unwrap_or_else(empty)
}

// -- Streamed arguments (G8) ------------------------------------------------------------------

/// One segment of a `jsonPath`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Name(String),
    Index(u64),
}

/// `$.a.b[0]['c']` as its segments; `None` when not in G8's grammar, or `$` alone.
fn parse_json_path(path: &str) -> Option<Vec<Segment>> {
    let rest = path.strip_prefix('$')?;
    let bytes = rest.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        match bytes[i] {
            b'.' => {
                let end = rest[i + 1..].find(['.', '[']).map_or(rest.len(), |j| i + 1 + j);
                if end == i + 1 {
                    return None;
                }
                segments.push(Segment::Name(rest[i + 1..end].to_owned()));
                i = end;
            }
            b'[' => {
                if let Some(&quote @ (b'\'' | b'"')) = bytes.get(i + 1) {
                    let mut name = String::new();
                    let mut j = i + 2;
                    loop {
                        let c = rest[j..].chars().next()?;
                        if c == char::from(quote) {
                            break;
                        }
                        if c == '\\' {
                            let escaped = rest[j + 1..]
                                .chars()
                                .next()
                                .filter(|e| matches!(e, '\\' | '\'' | '"'))?;
                            name.push(escaped);
                            j += 2;
                        } else {
                            name.push(c);
                            j += c.len_utf8();
                        }
                    }
                    if bytes.get(j + 1) != Some(&b']') {
                        return None;
                    }
                    segments.push(Segment::Name(name));
                    i = j + 2;
                } else {
                    let close = i + rest[i..].find(']')?;
                    let digits = &rest[i + 1..close];
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    // An index past u64 can never be the next one: as unwritable as a bad path.
                    segments.push(Segment::Index(digits.parse().ok()?));
                    i = close + 1;
                }
            }
            _ => return None,
        }
    }
    (!segments.is_empty()).then_some(segments)
}

/// A piece's value: the string, or the JSON text of a number (as sent), bool or null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PieceValue<'a> {
    Str(&'a str),
    Json(&'a str),
}

fn piece_value<'a>(piece: &'a Piece<'_>) -> Option<PieceValue<'a>> {
    if let Some(text) = piece.string_value.0.as_deref() {
        return Some(PieceValue::Str(text));
    }
    let number = piece.number_value.map(Raw::get);
    if let Some(token) = number.filter(|t| t.starts_with(|c: char| c == '-' || c.is_ascii_digit())) {
        return Some(PieceValue::Json(token));
    }
    if let Some(b @ ("true" | "false")) = piece.bool_value.map(Raw::get) {
        return Some(PieceValue::Json(b));
    }
    piece.null_value.0.then_some(PieceValue::Json("null"))
}

/// An open container of the arguments being written.
#[derive(Debug, Default)]
struct Frame {
    /// Its segment in its parent (`None` for the root object).
    segment: Option<Segment>,
    is_array: bool,
    /// Members written so far.
    count: u64,
    /// The keys written (objects only): a key twice cannot be written.
    keys: HashSet<String>,
}

/// Writes one call's JSON text from its `partialArgs` pieces, in order (G8): each piece closes
/// the containers off its path, opens the missing ones, and writes its value; a string with
/// `willContinue` stays open for the pieces that extend it.
#[derive(Debug, Default)]
struct ArgsWriter {
    /// Open containers, root first.
    stack: Vec<Frame>,
    /// The path of the string left open.
    open_string: Option<Vec<Segment>>,
    /// A piece could not be written: nothing more is.
    stuck: bool,
}

impl ArgsWriter {
    /// Writes one piece's fragment into `out` (nothing for a piece without a value); `false`
    /// when it cannot be written where the text stands.
    fn piece(&mut self, path: Option<&str>, value: Option<PieceValue<'_>>, more: bool, out: &mut String) -> bool {
        let Some(value) = value else { return true };
        let Some(segments) = path.and_then(parse_json_path) else {
            return false;
        };
        if self.open_string.as_ref() == Some(&segments) {
            let PieceValue::Str(text) = value else { return false };
            escape_into(text, out);
            if !more {
                out.push('"');
                self.open_string = None;
            }
            return true;
        }
        if !self.fits(&segments) {
            return false;
        }
        if self.open_string.take().is_some() {
            out.push('"');
        }
        if self.stack.is_empty() {
            out.push('{');
            self.stack.push(Frame::default());
        }
        let (leaf, containers) = segments.split_last().expect("a path has a segment");
        let common = self.common(containers);
        while self.stack.len() > common + 1 {
            out.push(closer(self.stack.pop().as_ref()));
        }
        for (i, segment) in containers.iter().enumerate().skip(common) {
            let next = containers.get(i + 1).unwrap_or(leaf);
            self.member(segment, out);
            let is_array = matches!(next, Segment::Index(_));
            out.push(if is_array { '[' } else { '{' });
            self.stack.push(Frame {
                segment: Some(segment.clone()),
                is_array,
                ..Frame::default()
            });
        }
        self.member(leaf, out);
        match value {
            PieceValue::Json(token) => out.push_str(token),
            PieceValue::Str(text) => {
                out.push('"');
                escape_into(text, out);
                if more {
                    self.open_string = Some(segments);
                } else {
                    out.push('"');
                }
            }
        }
        true
    }

    /// The closing fragment at the call's end: the open string, then every container.
    fn close(&mut self, out: &mut String) {
        if self.stuck || self.stack.is_empty() {
            return;
        }
        if self.open_string.take().is_some() {
            out.push('"');
        }
        while let Some(frame) = self.stack.pop() {
            out.push(closer(Some(&frame)));
        }
    }

    /// How many of `containers` are the open containers below the root, in order.
    fn common(&self, containers: &[Segment]) -> usize {
        self.stack
            .iter()
            .skip(1)
            .zip(containers)
            .take_while(|(frame, segment)| frame.segment.as_ref() == Some(*segment))
            .count()
    }

    /// Whether the segments not open yet can be added: the first to its open container (a new
    /// key, or the array's next index), every later index to a new array (index 0).
    fn fits(&self, segments: &[Segment]) -> bool {
        let containers = &segments[..segments.len() - 1];
        let common = if self.stack.is_empty() {
            0
        } else {
            self.common(containers)
        };
        let first = &segments[common];
        let fits = match self.stack.get(common) {
            Some(parent) if parent.is_array => matches!(first, Segment::Index(i) if *i == parent.count),
            Some(parent) => matches!(first, Segment::Name(n) if !parent.keys.contains(n)),
            // The root object, still to be written.
            None => matches!(first, Segment::Name(_)),
        };
        fits && segments[common + 1..]
            .iter()
            .all(|s| !matches!(s, Segment::Index(i) if *i != 0))
    }

    /// A member of the innermost container: the comma, and the key of an object's.
    fn member(&mut self, segment: &Segment, out: &mut String) {
        let parent = self.stack.last_mut().expect("the root is open");
        if parent.count > 0 {
            out.push(',');
        }
        parent.count += 1;
        if let Segment::Name(name) = segment {
            out.push('"');
            escape_into(name, out);
            out.push_str("\":");
            parent.keys.insert(name.clone());
        }
    }
}

fn closer(frame: Option<&Frame>) -> char {
    if frame.is_some_and(|f| f.is_array) {
        ']'
    } else {
        '}'
    }
}

/// JSON string content as Python's `json.dumps(ensure_ascii=False)` writes it (the reference's
/// spelling): the two-character escapes, other control characters as `\u00xx`.
fn escape_into(text: &str, out: &mut String) {
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let escaped = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            c if c < ' ' => "",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push_str(escaped);
        }
        start = i + c.len_utf8();
    }
    out.push_str(&text[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A piece as Vertex sends it.
    fn piece(path: &str, value: &str, more: bool) -> String {
        let more = if more { r#","willContinue":true"# } else { "" };
        format!(
            r#"{{"jsonPath":{},{value}{more}}}"#,
            serde_json::to_string(path).unwrap()
        )
    }

    /// The fragments the pieces write, then the closing one; `None` where one is unwritable.
    fn write(pieces: &[String]) -> Vec<Option<String>> {
        let mut writer = ArgsWriter::default();
        let mut out = Vec::new();
        for raw in pieces {
            let Obj(p) = serde_json::from_str::<Obj<Piece<'_>>>(raw).unwrap();
            let mut text = String::new();
            let ok = writer.piece(
                p.json_path.0.as_deref(),
                piece_value(&p),
                is_true(p.will_continue),
                &mut text,
            );
            if !ok {
                writer.stuck = true;
            }
            out.push(ok.then_some(text));
        }
        let mut text = String::new();
        writer.close(&mut text);
        out.push(Some(text));
        out
    }

    fn all(pieces: &[String]) -> String {
        write(pieces).into_iter().map(Option::unwrap).collect()
    }

    #[test]
    fn json_paths() {
        use Segment::{Index, Name};
        let name = |s: &str| Name(s.to_owned());
        assert_eq!(
            parse_json_path("$.a.b[0].c"),
            Some(vec![name("a"), name("b"), Index(0), name("c")])
        );
        assert_eq!(
            parse_json_path(r#"$['a.b'][12]["c\"d"]"#),
            Some(vec![name("a.b"), Index(12), name("c\"d")])
        );
        assert_eq!(parse_json_path("$.é x"), Some(vec![name("é x")]));
        assert_eq!(parse_json_path(r"$['it\'s']"), Some(vec![name("it's")]));
        for bad in [
            "$",
            "a.b",
            "$.",
            "$..a",
            "$[x]",
            "$[]",
            "$['a'",
            r"$['a\n']",
            "$[-1]",
            "$[99999999999999999999999]",
            "$['a']x",
        ] {
            assert_eq!(parse_json_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn fragments_nest_and_close() {
        let pieces = [
            piece("$.recipe.items[0].name", r#""stringValue":"egg""#, false),
            piece("$.recipe.items[0].qty", r#""numberValue":2"#, false),
            piece("$.recipe.items[1].name", r#""stringValue":"milk""#, true),
            piece("$.recipe.items[1].name", r#""stringValue":"""#, false),
            piece("$.recipe.items[1].qty", r#""numberValue":0.50"#, false),
            piece("$.recipe.vegan", r#""boolValue":false"#, false),
            piece("$.recipe.note", r#""nullValue":"NULL_VALUE""#, false),
            piece("$.recipe.steps[0]", r#""stringValue":"mix""#, false),
            piece("$.recipe.steps[1]", r#""stringValue":"bake""#, false),
            piece("$['odd key']", r#""stringValue":"x\n\u0001é\"""#, false),
            r#"{"jsonPath":"$.ignored"}"#.to_owned(),
        ];
        let got: Vec<String> = write(&pieces).into_iter().map(Option::unwrap).collect();
        assert_eq!(
            got,
            [
                r#"{"recipe":{"items":[{"name":"egg""#,
                r#","qty":2"#,
                r#"},{"name":"milk"#,
                r#"""#,
                r#","qty":0.50"#,
                r#"}],"vegan":false"#,
                r#","note":null"#,
                r#","steps":["mix""#,
                r#","bake""#,
                r#"]},"odd key":"x\n\u0001é\"""#,
                "",
                "}",
            ]
        );
        let text: String = got.concat();
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "{text}");
    }

    #[test]
    fn open_strings() {
        // Continued, then closed by a piece elsewhere, by the end, or extended by "".
        let bos = |more| piece("$.location", r#""stringValue":"Bos""#, more);
        assert_eq!(
            all(&[bos(true), piece("$.location", r#""stringValue":"ton""#, false)]),
            r#"{"location":"Boston"}"#
        );
        assert_eq!(
            all(&[bos(true), piece("$.unit", r#""stringValue":"C""#, false)]),
            r#"{"location":"Bos","unit":"C"}"#
        );
        assert_eq!(all(&[bos(true)]), r#"{"location":"Bos"}"#);
        assert_eq!(all(&[]), "");
    }

    #[test]
    fn pieces_out_of_order_are_refused() {
        let n = |path: &str, v: u32| piece(path, &format!(r#""numberValue":{v}"#), false);
        let cases: Vec<Vec<String>> = vec![
            vec![n("$.a", 1), n("$.a", 2)],
            vec![n("$.a.b", 1), n("$.c", 2), n("$.a.d", 3)],
            vec![n("$.list[1]", 1)],
            vec![n("$.list[0]", 1), n("$.list.x", 2)],
            vec![n("$[0]", 1)],
            vec![n("$", 1)],
            vec![n("no dollar", 1)],
            vec![piece("$.s", r#""stringValue":"ab""#, true), n("$.s", 5)],
            vec![r#"{"stringValue":"x"}"#.to_owned()],
            vec![n("$.a", 1), n("$.a.b", 2)],
            vec![n("$.a[0][1]", 1)],
        ];
        for pieces in cases {
            let got = write(&pieces);
            let bad = got.iter().position(Option::is_none);
            assert_eq!(bad, Some(pieces.len() - 1), "{pieces:?}: {got:?}");
            // A stuck writer closes nothing.
            assert_eq!(got.last(), Some(&Some(String::new())), "{pieces:?}");
        }
    }

    #[test]
    fn escapes_as_python_does() {
        let mut out = String::new();
        escape_into("a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é😀", &mut out);
        assert_eq!(out, r#"a\"b\\c\n\r\t\b\f\u0001\u001f"#.to_owned() + "\u{7f}é😀");
    }

    #[test]
    fn reason_words() {
        assert_eq!(reason_class(Some("STOP")), ReasonClass::Normal);
        assert_eq!(reason_class(Some("MAX_TOKENS")), ReasonClass::Length);
        assert_eq!(reason_class(Some("MODEL_ARMOR")), ReasonClass::ContentFilter);
        assert_eq!(reason_class(Some("MALFORMED_FUNCTION_CALL")), ReasonClass::Other);
        let blocked = GeminiAdapter {
            blocked: Some("OTHER".to_owned()),
            ..GeminiAdapter::default()
        };
        assert_eq!(blocked.reason_class(Some("OTHER")), ReasonClass::ContentFilter);
        assert_eq!(blocked.reason_class(None), ReasonClass::Other);
    }

    #[test]
    fn usage_reported_when_it_changes_as_a_value() {
        use crate::accumulate::{Accumulator, Event};
        use crate::formats::Adapter;
        use crate::limits::Limits;
        let chunk = |usage: &str| format!("data: {{\"candidates\": [],\"usageMetadata\": {usage}}}\r\n\r\n");
        // Each usage after the first, and whether it is a new value: new counts, the same text,
        // the same value written otherwise (float, escape, order, a key twice), new keys.
        let steps = [
            (r#"{"a": 1,"b": 2}"#, true),
            (r#"{"a": 1,"b": 3}"#, true),
            (r#"{"a": 1,"b": 3}"#, false),
            (r#"{"a": 1,"b": 3.0}"#, true),
            (r#"{"a": 1,"b": 3.00}"#, false),
            (r#"{"b": 3.0,"a": 1}"#, false),
            (r#"{"b": 3.0,"a": 2,"a": 1}"#, false),
            (r#"{"b": 3.0,"\u0061": 1}"#, false),
            (r#"{"a": 1,"b": 3.0,"c": [1, {"d": "x"}]}"#, true),
            (r#"{"a": 1,"b": 3.0,"c": [1, {"d": "\u0078"}]}"#, false),
            (r#"{"a": 1,"b": 3.0,"c": [1, {"d": "y"}]}"#, true),
        ];
        let mut acc = Accumulator::with_adapter(Limits::default(), Adapter::named("gemini").unwrap());
        for (n, (usage, new)) in steps.iter().enumerate() {
            let mut events = Vec::new();
            acc.feed(chunk(usage).as_bytes(), &mut events).unwrap();
            let reported = events.iter().any(|e| matches!(e, Event::Usage { .. }));
            assert_eq!(reported, n == 0 || *new, "{usage}");
        }
        assert_eq!(acc.usage(), Some(steps[10].0));
    }

    #[test]
    fn usage_equality() {
        assert!(same_json(r#"{"a":1,"b":[2]}"#, r#"{ "b": [2], "a": 1 }"#));
        assert!(!same_json(r#"{"a":1}"#, r#"{"a":1.0}"#));
        assert!(!same_json(r#"{"a":1}"#, r#"{"a":true}"#));
        assert!(same_json(r#"{"a":1.0}"#, r#"{"a":1.00}"#));
        assert!(same_json(r#"{"a":1,"a":2,"b":"\u0078"}"#, r#"{"b":"x","a":2}"#));
        assert!(!same_json(r#"{"a":1,"a":2}"#, r#"{"a":1}"#));
        assert!(!same_json(r#"{"a":1}"#, r#"{"a":1,"b":1}"#));
        assert!(same_json("[1, {\"x\": -0}]", r#"[1,{"x":0}]"#));
        assert!(!same_json("[1, 2]", "[1]"));
        assert!(same_json("-0.0", "0e0"));
        assert!(!same_json("null", "false"));
        assert!(same_json(
            "123456789012345678901234567890",
            "123456789012345678901234567890"
        ));
        assert!(!same_json(
            "123456789012345678901234567890",
            "123456789012345678901234567891"
        ));
        // Usage resent with new counts, in Google's spacing (compared in order, no allocation).
        let usage = r#"{"promptTokenCount": 15,"candidatesTokenCount": 8,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 15}]}"#;
        assert_eq!(
            same_ordered_members(usage, &usage.replace(": 8", ": 9"), 0),
            Some(false)
        );
        assert_eq!(
            same_ordered_members(usage, &usage.replace(": 8", ": 8.0"), 0),
            Some(false)
        );
        assert_eq!(
            same_ordered_members(usage, &usage.replace(": 15,", ": 15.0,"), 0),
            Some(false)
        );
        assert_eq!(
            same_ordered_members(r#"{"a": 1.0,"b": "x"}"#, r#"{"a": 1.00,"b": "\u0078"}"#, 0),
            Some(true)
        );
        // Left to the sorting path: a key twice, another order, another spacing, too many.
        assert_eq!(
            same_ordered_members(r#"{"a": 1,"a": 2}"#, r#"{"a": 3,"a": 2}"#, 0),
            None
        );
        assert!(same_json(r#"{"a": 1,"a": 2}"#, r#"{"a": 3,"a": 2}"#));
        assert_eq!(
            same_ordered_members(r#"{"a": 1,"b": 2}"#, r#"{"b": 2,"a": 1}"#, 0),
            None
        );
        assert_eq!(same_ordered_members(r#"{"a":  1}"#, r#"{"a": 1}"#, 0), None);
        let many = |v: u32| {
            format!(
                "{{{}}}",
                (0..17).map(|k| format!(r#""k{k}": {v}"#)).collect::<Vec<_>>().join(",")
            )
        };
        assert_eq!(same_ordered_members(&many(1), &many(2), 0), None);
        assert!(!same_json(&many(1), &many(2)));
        let deep = |n: usize, open: &str| format!("{}1{}", open.repeat(n), "]".repeat(n));
        assert!(same_json(&deep(100, "["), &deep(100, "[ ")));
        assert!(!same_json(&deep(300, "["), &deep(300, "[ ")));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Objects of a few members (keys repeated, values equal as JSON in other texts):
        /// compared in order, when that path answers, as the sorting path compares them.
        #[test]
        fn ordered_members_compare_as_sorted_ones(
            a in proptest::collection::vec((0usize..3, 0usize..8), 0..5),
            b in proptest::collection::vec((0usize..3, 0usize..8), 0..5),
        ) {
            const VALUES: [&str; 8] = ["1", "1.0", "1.00", "-0", "0", r#""x""#, r#""\u0078""#, r#"[1, {"a": 2}]"#];
            let text = |members: &[(usize, usize)]| {
                let inner: Vec<String> = members.iter().map(|&(k, v)| format!(r#""k{k}": {}"#, VALUES[v])).collect();
                format!("{{{}}}", inner.join(","))
            };
            let (a, b) = (text(&a), text(&b));
            if let Some(same) = same_ordered_members(&a, &b, 0) {
                proptest::prop_assert_eq!(Some(same), same_members(&a, &b, 0), "{} {}", a, b);
            }
        }
    }
}
