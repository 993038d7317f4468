//! Anthropic Messages streams: the event shapes, borrowed from the event data, and the adapter
//! that turns them into operations on the format-neutral message state.
//!
//! The rules are A1-A11 of the pure-Python reference (`tests/reference/anthropic.py`), which
//! the differential tests hold this adapter to: the data's `type` names the event (else the SSE
//! `event:` name); content blocks are keyed by `index`; text and thinking blocks stream text
//! and reasoning; `tool_use` blocks are the client calls (server-side tool blocks stay out of
//! `tool_calls`); `input_json_delta` fragments are the arguments, and the start's `input`
//! counts only when no fragment came; `content_block_stop` finishes a call; `message_delta`
//! merges cumulative usage and carries the stop reason; `message_stop` is the end marker.
//! Not read yet: the native message (thinking signatures, citations, server tool blocks).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::chat::provider_error_event;
use super::lexer::{Cursor, Escapes, COMPACT_DEPTH};
use super::native::{arguments_value, joined, object, partial_value, record, string, value_of, Pieces};
use super::{event_object, minify, object as read_object, object_entries, LenientIndex, LenientStr, Raw};
use crate::accumulate::outcome::{object_text, ReasonClass, UsageKeys};
use crate::accumulate::{EventSink, MessageState, TextField};
use crate::error::{CoreError, ErrorSlot, ParseKind};
use crate::partial_json::Value;
use crate::sse::SseEvent;

/// Every field any Anthropic stream event carries; which ones count depends on `type`.
#[derive(Debug, Deserialize)]
struct AnthropicEvent<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: LenientStr<'a>,
    #[serde(default)]
    index: Option<LenientIndex>,
    #[serde(borrow, default)]
    content_block: Option<&'a RawValue>,
    #[serde(borrow, default)]
    delta: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
}

/// A `content_block_delta` as the API writes it, byte for byte:
/// `{"type":"content_block_delta","index":N,"delta":{"type":"…","<field>":"…"}}` with one of
/// `text`, `thinking`, `partial_json` or `signature`; its index and delta. `None` for anything
/// else (other spacing or keys, a citation, an escape in the type, an index that is not a plain
/// integer below 2^32, a lone surrogate), which serde then reads to the same result.
fn block_delta(data: &str) -> Option<(u32, Delta<'_>, DeltaHead)> {
    let mut at = Cursor::new(data);
    at.literal(r#"{"type":"content_block_delta","index":"#)?;
    let index = at.index()?;
    at.literal(r#","delta":{"type":"#)?;
    let kind_start = at.pos() + 1;
    let mut delta = Delta {
        kind: LenientStr(Some(Cow::Borrowed(at.plain_text()?))),
        ..Delta::default()
    };
    let kind = kind_start..at.pos() - 1;
    at.literal(",\"")?;
    let field = match at.key()? {
        "text" => DeltaField::Text,
        "thinking" => DeltaField::Thinking,
        "partial_json" => DeltaField::PartialJson,
        "signature" => DeltaField::Signature,
        _ => return None,
    };
    let head = DeltaHead {
        len: at.pos(),
        index,
        kind,
        field,
    };
    delta_string(data, &mut at, field, &mut delta)?;
    Some((index, delta, head))
}

/// Which string a `content_block_delta`'s delta carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeltaField {
    Text,
    Thinking,
    PartialJson,
    Signature,
}

/// Where a delta's string starts (its opening quote) in the text `block_delta` read, and what
/// the text before it says: the block index and the delta's type (its place in the text).
#[derive(Debug, Clone)]
struct DeltaHead {
    len: usize,
    index: u32,
    kind: std::ops::Range<usize>,
    field: DeltaField,
}

/// The delta's string at `at`, then the `}}` that ends the event, as `block_delta` reads them.
fn delta_string<'a>(data: &'a str, at: &mut Cursor<'a>, field: DeltaField, delta: &mut Delta<'a>) -> Option<()> {
    let slot = match field {
        DeltaField::Text => &mut delta.text,
        DeltaField::Thinking => &mut delta.thinking,
        DeltaField::Signature => &mut delta.signature,
        DeltaField::PartialJson => {
            // Decoded only where it goes: into the call's arguments (see `Delta`).
            let start = at.pos();
            let (escaped, escapes) = at.escaped_string()?;
            if escapes != Escapes::Unicode {
                delta.partial_json_escaped = Some(escaped);
                return at.rest_is("}}").then_some(());
            }
            *at = Cursor::at(data, start);
            &mut delta.partial_json
        }
    };
    *slot = LenientStr(Some(at.string()?));
    at.rest_is("}}").then_some(())
}

/// The last `content_block_delta` up to its string's opening quote, and what that says
/// (`DeltaHead`). A block's deltas all begin with the same bytes: the next one that does is
/// read from its string on, without reading its index, type and key again.
#[derive(Debug, Default)]
struct LastDelta {
    text: String,
    head: Option<DeltaHead>,
}

impl LastDelta {
    /// `data` as `block_delta` reads it.
    fn read<'a>(&mut self, data: &'a str) -> Option<(u32, Delta<'a>)> {
        if let Some(head) = self
            .head
            .as_ref()
            .filter(|_| data.as_bytes().starts_with(self.text.as_bytes()))
        {
            let mut delta = Delta {
                kind: LenientStr(Some(Cow::Borrowed(&data[head.kind.clone()]))),
                ..Delta::default()
            };
            let mut at = Cursor::at(data, head.len);
            // The same bytes before the string: what `block_delta` reads after them decides.
            delta_string(data, &mut at, head.field, &mut delta)?;
            return Some((head.index, delta));
        }
        let (index, delta, head) = block_delta(data)?;
        self.text.clear();
        self.text.push_str(&data[..head.len]);
        self.head = Some(head);
        Some((index, delta))
    }
}

/// The structural events as the API writes them, byte for byte: a block's start (its
/// `content_block` an object whose fields serde reads), a block's stop, the message's start,
/// delta and stop, a ping. `None` for any other text (other spacing or keys, an index that is
/// not a plain integer below 2^32, a block or message that is not one object, values with
/// whitespace), which the general path reads to the same result: these are a tenth of a
/// stream's events, and reading each whole with serde first cost more than all its deltas'
/// reads.
#[derive(Debug)]
enum Fixed<'a> {
    BlockStart(u32, BlockStart<'a>, &'a str),
    BlockStop(u32),
    MessageStart(Message<'a>),
    /// Its delta as serde reads it (`None` for one that is no `Delta`), its usage's text.
    MessageDelta(Option<Delta<'a>>, Option<&'a str>),
    MessageStop,
    Ping,
}

impl<'a> Fixed<'a> {
    fn read(data: &'a str) -> Option<Self> {
        match data {
            r#"{"type":"message_stop"}"# => return Some(Self::MessageStop),
            r#"{"type": "ping"}"# | r#"{"type":"ping"}"# => return Some(Self::Ping),
            _ => {}
        }
        let mut at = Cursor::new(data);
        if at.literal(r#"{"type":"content_block_stop","index":"#).is_some() {
            let index = at.index()?;
            return at.rest_is("}").then_some(Self::BlockStop(index));
        }
        if at.literal(r#"{"type":"message_delta","delta":"#).is_some() {
            // Values written without whitespace, checked as serde checks them; the API pads
            // the event with spaces before its closing brace.
            let delta = at.compact_value(COMPACT_DEPTH)?;
            at.literal(r#","usage":"#)?;
            let usage = at.compact_value(COMPACT_DEPTH)?;
            if data[at.pos()..].trim_start_matches(' ') != "}" {
                return None;
            }
            return Some(Self::MessageDelta(Raw(delta).object(), Some(usage)));
        }
        if at.literal(r#"{"type":"message_start","message":"#).is_some() {
            let message = at.compact_value(COMPACT_DEPTH)?;
            return at.rest_is("}").then(|| Raw(message).object().map(Self::MessageStart))?;
        }
        at.literal(r#"{"type":"content_block_start","index":"#)?;
        let index = at.index()?;
        at.literal(r#","content_block":{"#)?;
        // The block is the rest but the event's closing brace, and an object if serde reads it
        // as one with nothing after it.
        let block = data
            .get(at.pos() - 1..data.len() - 1)
            .filter(|_| data.ends_with("}}"))?;
        let start = Raw(block).object::<BlockStart<'_>>()?;
        Some(Self::BlockStart(index, start, block))
    }
}

/// A content block as `content_block_start` (or `message_start`'s content) carries it.
#[derive(Debug, Default, Deserialize)]
struct BlockStart<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: LenientStr<'a>,
    #[serde(borrow, default)]
    id: LenientStr<'a>,
    #[serde(borrow, default)]
    name: LenientStr<'a>,
    #[serde(borrow, default)]
    text: LenientStr<'a>,
    #[serde(borrow, default)]
    thinking: LenientStr<'a>,
    #[serde(borrow, default)]
    signature: LenientStr<'a>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

/// The `delta` of a `content_block_delta` or of a `message_delta`.
#[derive(Debug, Default, Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: LenientStr<'a>,
    #[serde(borrow, default)]
    text: LenientStr<'a>,
    #[serde(borrow, default)]
    thinking: LenientStr<'a>,
    #[serde(borrow, default)]
    partial_json: LenientStr<'a>,
    /// `partial_json` as sent between its quotes, when the fast reader left it to be decoded
    /// straight into the call's arguments (it holds no `\u` escape, so it is text).
    #[serde(skip)]
    partial_json_escaped: Option<&'a str>,
    #[serde(borrow, default)]
    signature: LenientStr<'a>,
    #[serde(borrow, default)]
    citation: Option<&'a RawValue>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    encrypted_content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stop_reason: LenientStr<'a>,
}

impl<'a> Delta<'a> {
    /// The text of `partial_json`, decoded.
    fn partial_json(&self) -> Option<Cow<'a, str>> {
        match self.partial_json_escaped {
            Some(escaped) => crate::partial_json::decode_escaped(escaped).map(Cow::Owned),
            None => self.partial_json.0.clone(),
        }
    }
}

/// `message_start`'s message.
#[derive(Debug, Default, Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stop_reason: LenientStr<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
    /// A `tool_use` block: a client call (its ordinal when the call limit let it open).
    ToolUse(Option<usize>),
    /// A `server_tool_use` or `mcp_tool_use` block: run by the provider, its input assembled
    /// for the native message only.
    ServerTool,
    /// A `compaction` block: its `compaction_delta`s replace its content.
    Compaction,
    /// Everything else (redacted thinking, tool results): native message only, as started.
    Other,
}

#[derive(Debug)]
struct Block {
    index: u32,
    kind: BlockKind,
    /// A non-empty `input_json_delta` arrived: the start's `input` no longer counts.
    fragmented: bool,
    stopped: bool,
    /// The start's `input` when a non-empty object, compact.
    start_input: Option<String>,
    /// The block as its start carried it.
    raw: String,
    /// Where its text or thinking sits in the choice's content or reasoning.
    pieces: Pieces<()>,
    /// The last `signature_delta` (or the start's signature) of a thinking block.
    signature: Option<String>,
    /// `citations_delta` citations, raw, in order.
    citations: Vec<String>,
    /// `compaction_delta` fields (`content`, `encrypted_content`), raw; the last of each wins.
    compaction: Vec<(String, String)>,
    /// A server tool block's `partial_json` fragments, bounded by `max_arguments_bytes`.
    server_input: String,
    server_over_limit: bool,
}

/// The Anthropic Messages adapter.
#[derive(Debug, Default)]
pub struct AnthropicAdapter {
    blocks: Vec<Block>,
    started: bool,
    last_delta: LastDelta,
}

/// Where Anthropic's usage keeps its counts: cached input is counted apart from `input_tokens`.
pub const USAGE_KEYS: UsageKeys = UsageKeys {
    input: &["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"],
    output: &["output_tokens"],
    total: None,
};

/// What Anthropic's stop reasons mean.
#[must_use]
pub fn reason_class(reason: Option<&str>) -> ReasonClass {
    match reason {
        Some("end_turn" | "stop_sequence" | "tool_use") => ReasonClass::Normal,
        Some("max_tokens" | "model_context_window_exceeded") => ReasonClass::Length,
        Some("refusal") => ReasonClass::ContentFilter,
        _ => ReasonClass::Other,
    }
}

/// The slot of the one choice an Anthropic message has.
const SLOT: usize = 0;

impl AnthropicAdapter {
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
        let data = super::trim_data(ev.data);
        if data.is_empty() {
            return;
        }
        let at = ev.data_offset;
        if ev.event == "error" && !data.starts_with('{') {
            provider_error_event(data, state, sink);
            return;
        }
        if let Some((index, delta)) = self.last_delta.read(data) {
            // Nearly every event: read without serde, and without reading its delta twice.
            if state.single_choice(at, errors) {
                self.delta(index, &delta, state, at, errors, sink);
            }
            return;
        }
        if let Some(fixed) = Fixed::read(data) {
            if state.single_choice(at, errors) {
                self.fixed(fixed, state, at, errors, sink);
            }
            return;
        }
        let Some(event) = event_object::<AnthropicEvent<'_>>(data, at, state.at_eof, errors) else {
            return;
        };
        if !state.single_choice(at, errors) {
            return;
        }
        let kind = event.kind.0.as_deref().unwrap_or(ev.event);
        match kind {
            "content_block_start" | "content_block_delta" | "content_block_stop" => {
                let Some(LenientIndex(Some(index))) = event.index else {
                    errors.note(CoreError::parse(
                        ParseKind::InvalidChunk,
                        at,
                        "invalid chunk: block index missing",
                    ));
                    return;
                };
                match kind {
                    "content_block_start" => {
                        let start = event
                            .content_block
                            .and_then(read_object::<BlockStart<'_>>)
                            .unwrap_or_default();
                        let raw = event.content_block.map_or("{}", RawValue::get);
                        self.fixed(Fixed::BlockStart(index, start, raw), state, at, errors, sink);
                    }
                    "content_block_delta" => {
                        if let Some(delta) = event.delta.and_then(read_object::<Delta<'_>>) {
                            self.delta(index, &delta, state, at, errors, sink);
                        }
                    }
                    _ => self.fixed(Fixed::BlockStop(index), state, at, errors, sink),
                }
            }
            "message_start" => {
                if let Some(message) = event.message.and_then(read_object::<Message<'_>>) {
                    self.fixed(Fixed::MessageStart(message), state, at, errors, sink);
                }
            }
            "message_delta" => {
                let delta = event.delta.and_then(read_object::<Delta<'_>>);
                let usage = event.usage.map(RawValue::get);
                self.fixed(Fixed::MessageDelta(delta, usage), state, at, errors, sink);
            }
            "message_stop" => self.fixed(Fixed::MessageStop, state, at, errors, sink),
            "error" => provider_error_event(data, state, sink),
            _ => {}
        }
    }

    /// A structural event, read by `Fixed` or by serde.
    fn fixed<S: EventSink>(
        &mut self,
        fixed: Fixed<'_>,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        match fixed {
            Fixed::BlockStart(index, start, raw) => {
                self.start_block(index, &start, raw.to_owned(), state, at, errors, sink);
            }
            Fixed::BlockStop(index) => {
                if let Some(pos) = self.find(index) {
                    self.stop_block(pos, state, at, errors, sink);
                }
            }
            Fixed::MessageStart(message) => self.message_start(&message, state, at, errors, sink),
            Fixed::MessageDelta(delta, usage) => {
                if let Some(usage) = usage.filter(|u| u.starts_with('{')) {
                    merge_usage(state, usage, at, errors, sink);
                }
                if let Some(delta) = delta {
                    stop_reason(state, &delta.stop_reason, sink);
                }
            }
            Fixed::MessageStop => {
                state.done = true;
                self.stop_all(state, at, errors, sink);
            }
            Fixed::Ping => {}
        }
    }

    /// End of input: blocks never stopped are finished, in index order.
    pub fn on_end<S: EventSink>(&mut self, state: &mut MessageState, errors: &mut ErrorSlot, sink: &mut S) {
        self.stop_all(state, 0, errors, sink);
    }

    /// Whether a finished stream ended before `message_stop`.
    #[must_use]
    pub fn truncated(&self, state: &MessageState) -> bool {
        !state.done
    }

    fn find(&self, index: u32) -> Option<usize> {
        self.blocks.iter().position(|b| b.index == index)
    }

    fn message_start<S: EventSink>(
        &mut self,
        message: &Message<'_>,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        if self.started {
            return;
        }
        self.started = true;
        if let Some(usage) = message.usage.filter(|u| u.get().starts_with('{')) {
            merge_usage(state, usage.get(), at, errors, sink);
        }
        // Whole turns inside message_start: blocks 0..n-1, each started and stopped at once.
        if let Some(list) = message
            .content
            .and_then(|raw| serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok())
        {
            for (i, raw) in list.into_iter().enumerate() {
                let Some(start) = read_object::<BlockStart<'_>>(raw) else {
                    continue;
                };
                let index = u32::try_from(i).unwrap_or(u32::MAX);
                if self.find(index).is_none() {
                    self.start_block(index, &start, raw.get().to_owned(), state, at, errors, sink);
                    if let Some(pos) = self.find(index) {
                        self.stop_block(pos, state, at, errors, sink);
                    }
                }
            }
        }
        stop_reason(state, &message.stop_reason, sink);
    }

    #[allow(clippy::too_many_arguments)]
    fn start_block<S: EventSink>(
        &mut self,
        mut index: u32,
        start: &BlockStart<'_>,
        raw: String,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        if self.find(index).is_some() {
            // A repeated index reads as the next position, as the SDK's positional list does.
            index = u32::try_from(self.blocks.len()).unwrap_or(u32::MAX);
            if self.find(index).is_some() {
                return;
            }
        }
        let mut pieces = Pieces::new();
        let kind = match start.kind.0.as_deref() {
            Some("text") => {
                if let Some(text) = &start.text.0 {
                    record(
                        &mut pieces,
                        (),
                        state.text(SLOT, TextField::Content, text, at, errors, sink),
                    );
                }
                BlockKind::Text
            }
            Some("thinking") => {
                if let Some(text) = &start.thinking.0 {
                    record(
                        &mut pieces,
                        (),
                        state.text(SLOT, TextField::Reasoning, text, at, errors, sink),
                    );
                }
                BlockKind::Thinking
            }
            Some("tool_use") => {
                let call = state.open_call(SLOT, Some(index), false, at, errors);
                if let Some(call) = call {
                    state.call_fields(
                        SLOT,
                        call,
                        start.id.non_empty(),
                        Some("function"),
                        start.name.non_empty(),
                    );
                    state.call_started(SLOT, call, sink);
                }
                BlockKind::ToolUse(call)
            }
            Some("server_tool_use" | "mcp_tool_use") => BlockKind::ServerTool,
            Some("compaction") => BlockKind::Compaction,
            _ => BlockKind::Other,
        };
        let start_input = start
            .input
            .map(RawValue::get)
            .filter(|raw| raw.starts_with('{') && minify(raw) != "{}")
            .map(minify);
        self.blocks.push(Block {
            index,
            kind,
            fragmented: false,
            stopped: false,
            start_input,
            raw,
            pieces,
            signature: start.signature.0.as_deref().map(str::to_owned),
            citations: Vec::new(),
            compaction: Vec::new(),
            server_input: String::new(),
            server_over_limit: false,
        });
    }

    fn delta<S: EventSink>(
        &mut self,
        index: u32,
        delta: &Delta<'_>,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let Some(pos) = self.find(index) else { return };
        let block = &mut self.blocks[pos];
        if block.stopped {
            return;
        }
        match (delta.kind.0.as_deref(), block.kind) {
            (Some("text_delta"), BlockKind::Text) => {
                if let Some(text) = &delta.text.0 {
                    let kept = state.text(SLOT, TextField::Content, text, at, errors, sink);
                    record(&mut block.pieces, (), kept);
                }
            }
            (Some("thinking_delta"), BlockKind::Thinking) => {
                if let Some(text) = &delta.thinking.0 {
                    let kept = state.text(SLOT, TextField::Reasoning, text, at, errors, sink);
                    record(&mut block.pieces, (), kept);
                }
            }
            (Some("signature_delta"), BlockKind::Thinking) => {
                if let Some(signature) = &delta.signature.0 {
                    block.signature = Some(signature.to_string());
                }
            }
            (Some("citations_delta"), BlockKind::Text) => {
                if let Some(citation) = delta.citation {
                    block.citations.push(citation.get().to_owned());
                }
            }
            (Some("compaction_delta"), BlockKind::Compaction) => {
                for (key, value) in [
                    ("content", delta.content),
                    ("encrypted_content", delta.encrypted_content),
                ] {
                    if let Some(value) = value {
                        block.compaction.retain(|(k, _)| k != key);
                        block.compaction.push((key.to_owned(), value.get().to_owned()));
                    }
                }
            }
            (Some("input_json_delta"), BlockKind::ToolUse(Some(call))) => {
                if let Some(escaped) = delta.partial_json_escaped.filter(|e| !e.is_empty()) {
                    block.fragmented = true;
                    // No `\u` escape, so no lone surrogate: always taken.
                    state.call_escaped_arguments(SLOT, call, escaped, at, errors, sink);
                } else if let Some(fragment) = delta.partial_json.non_empty() {
                    block.fragmented = true;
                    state.call_arguments(SLOT, call, fragment, at, errors, sink);
                }
            }
            (Some("input_json_delta"), BlockKind::ServerTool) => {
                let fragment = delta.partial_json();
                if let Some(fragment) = fragment.as_deref().filter(|f| !f.is_empty()) {
                    block.fragmented = true;
                    let max = state.limits().max_arguments_bytes;
                    if block.server_over_limit {
                        // Dropped like a client call's: what follows would not continue the text.
                    } else if block.server_input.len() + fragment.len() > max {
                        block.server_over_limit = true;
                        errors.note(CoreError::limit("max_arguments_bytes", max, at));
                    } else {
                        block.server_input.push_str(fragment);
                    }
                }
            }
            _ => {}
        }
    }

    fn stop_block<S: EventSink>(
        &mut self,
        pos: usize,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let block = &mut self.blocks[pos];
        if block.stopped {
            return;
        }
        block.stopped = true;
        let BlockKind::ToolUse(Some(call)) = block.kind else {
            return;
        };
        if state.calls(SLOT)[call].finished {
            return;
        }
        if !block.fragmented {
            if let Some(input) = &block.start_input {
                state.call_arguments(SLOT, call, input, at, errors, sink);
            }
        }
        state.finish_call(SLOT, call, sink);
    }

    /// The turn as Anthropic's assistant message: `{"role": "assistant", "content": [blocks]}`,
    /// each block as its start carried it with the text, thinking and signature, citations,
    /// compaction content and tool input accumulated since.
    #[must_use]
    pub fn native(&self, state: &MessageState, slot: Option<usize>) -> Value {
        let mut order: Vec<&Block> = self.blocks.iter().filter(|_| slot.is_some()).collect();
        order.sort_by_key(|b| b.index);
        let choice = slot.map(|slot| &state.choices()[slot]);
        let field = |f: TextField| choice.map_or("", |c| c.field(f));
        let blocks = order
            .into_iter()
            .map(|block| {
                let mut out = value_of(&block.raw);
                match block.kind {
                    BlockKind::Text => {
                        out.set("text", string(joined(&block.pieces, &(), field(TextField::Content))));
                        if !block.citations.is_empty() {
                            let mut list = match out.get("citations") {
                                Some(Value::Array(items)) => items.clone(),
                                _ => Vec::new(),
                            };
                            list.extend(block.citations.iter().map(|c| value_of(c)));
                            out.set("citations", Value::Array(list));
                        }
                    }
                    BlockKind::Thinking => {
                        out.set(
                            "thinking",
                            string(joined(&block.pieces, &(), field(TextField::Reasoning))),
                        );
                        if let Some(signature) = &block.signature {
                            out.set("signature", string(signature.as_str()));
                        }
                    }
                    BlockKind::Compaction => {
                        for (key, raw) in &block.compaction {
                            out.set(key, value_of(raw));
                        }
                    }
                    BlockKind::ToolUse(call) => {
                        let input = call
                            .filter(|_| block.fragmented)
                            .and_then(|call| choice.and_then(|c| arguments_value(&c.calls[call])));
                        out.set("input", input.unwrap_or_else(|| start_input(&out)));
                    }
                    BlockKind::ServerTool => {
                        let input = partial_value(&block.server_input).filter(|_| block.fragmented);
                        out.set("input", input.unwrap_or_else(|| start_input(&out)));
                    }
                    BlockKind::Other => {}
                }
                out
            })
            .collect();
        object(vec![("role", string("assistant")), ("content", Value::Array(blocks))])
    }

    fn stop_all<S: EventSink>(&mut self, state: &mut MessageState, at: u64, errors: &mut ErrorSlot, sink: &mut S) {
        let mut order: Vec<(u32, usize)> = self.blocks.iter().enumerate().map(|(pos, b)| (b.index, pos)).collect();
        order.sort_unstable();
        for (_, pos) in order {
            self.stop_block(pos, state, at, errors, sink);
        }
    }
}

/// A tool block's `input` when it is an object, else `{}`.
fn start_input(block: &Value) -> Value {
    match block.get("input") {
        Some(input @ Value::Object(_)) => input.clone(),
        _ => Value::Object(Vec::new()),
    }
}

/// The first non-empty stop reason is the finish reason, as sent; calls end at their blocks'
/// stops, not here.
fn stop_reason<S: EventSink>(state: &mut MessageState, reason: &LenientStr<'_>, sink: &mut S) {
    if let Some(reason) = reason.non_empty() {
        state.set_finish_reason(SLOT, reason, false, sink);
    }
}

/// Usage counts are cumulative: keys with a non-null value overwrite the last usage's, the
/// others keep theirs (as the SDK merges them); the merged object is reported.
fn merge_usage<S: EventSink>(state: &mut MessageState, update: &str, at: u64, errors: &mut ErrorSlot, sink: &mut S) {
    let merged = match state.usage().0 {
        Some((base, _)) => merge_objects(base, update),
        None => merge_objects("{}", update),
    };
    if let Some(merged) = merged {
        state.usage_object(&merged, at, errors, sink);
    }
}

/// `base` with `update`'s non-null entries set (a key given twice: the last wins), as JSON text
/// with every value's tokens as sent; `None` when either is not an object.
fn merge_objects(base: &str, update: &str) -> Option<String> {
    let mut merged = object_entries(base)?;
    for (key, value) in object_entries(update)? {
        if value == "null" {
            continue;
        }
        match merged.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => merged.push((key, value)),
        }
    }
    object_text(merged.iter().map(|(k, v)| (k.as_ref(), *v)))
}

#[cfg(test)]
mod tests {
    use super::super::lexer::one_edit;
    use super::*;

    /// What the serde path makes of an event, when it is a block delta with an index.
    fn by_serde(data: &str) -> Option<String> {
        let event = serde_json::from_str::<super::super::Obj<AnthropicEvent<'_>>>(data)
            .ok()?
            .0;
        if event.kind.0.as_deref() != Some("content_block_delta") {
            return None;
        }
        let Some(LenientIndex(Some(index))) = event.index else {
            return None;
        };
        let delta = event.delta.and_then(read_object::<Delta<'_>>)?;
        Some(format!("{index} {delta:?}"))
    }

    /// The fast reader's delta, its `partial_json` decoded as serde decodes it.
    fn fast(data: &str) -> Option<String> {
        shown(block_delta(data).map(|(index, delta, _)| (index, delta)))
    }

    fn shown(read: Option<(u32, Delta<'_>)>) -> Option<String> {
        read.map(|(index, mut delta)| {
            delta.partial_json = LenientStr(delta.partial_json());
            delta.partial_json_escaped = None;
            format!("{index} {delta:?}")
        })
    }

    const DELTAS: [&str; 6] = [
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi \"x\"\n\u00e9"}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"thinking_delta","thinking":"hm"}}"#,
        r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}"#,
        r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"signature_delta","signature":"EqQB"}}"#,
        r#"{"type":"content_block_delta","index":4294967295,"delta":{"type":"text_delta","text":""}}"#,
    ];

    #[test]
    fn block_deltas_as_serde_reads_them() {
        for data in DELTAS {
            assert!(fast(data).is_some(), "{data}");
            assert_eq!(fast(data), by_serde(data), "{data}");
        }
        for data in [
            r#"{"type": "content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}"#,
            r#"{"type":"content_block_delta","index":4294967296,"delta":{"type":"text_delta","text":"a"}}"#,
            r#"{"type":"content_block_delta","index":1.0,"delta":{"type":"text_delta","text":"a"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","text":"b"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\ud800"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}x"#,
        ] {
            assert_eq!(fast(data), None, "{data}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Block deltas with one character replaced, inserted or removed: read as serde reads
        /// them, or left to it.
        #[test]
        fn block_deltas_never_read_otherwise(
            which in 0usize..DELTAS.len(),
            edit in (0usize..4, 0usize..120, proptest::sample::select(vec!['{', '}', ',', ':', '"', '1', ' ', '\\', 'n', 'é', 'x'])),
        ) {
            let data = one_edit(DELTAS[which], edit);
            if let Some(read) = fast(&data) {
                proptest::prop_assert_eq!(Some(read), by_serde(&data), "{}", data);
            }
        }

        /// After a delta, the next one (an edit of any of them) is read by the last one's head
        /// exactly as `block_delta` reads it alone.
        #[test]
        fn a_delta_after_another_reads_as_alone(
            first in 0usize..DELTAS.len(),
            which in 0usize..DELTAS.len(),
            edit in (0usize..4, 0usize..120, proptest::sample::select(vec!['{', '}', ',', ':', '"', '1', ' ', '\\', 'u', 'é', 'x'])),
        ) {
            let mut last = LastDelta::default();
            proptest::prop_assert!(last.read(DELTAS[first]).is_some());
            let data = one_edit(DELTAS[which], edit);
            proptest::prop_assert_eq!(shown(last.read(&data)), fast(&data), "{}", data);
            proptest::prop_assert_eq!(shown(last.read(DELTAS[which])), fast(DELTAS[which]));
        }
    }

    /// What the general path makes of a structural event (`Fixed`'s kinds), shown.
    fn structural_by_serde(data: &str) -> Option<String> {
        let event = serde_json::from_str::<super::super::Obj<AnthropicEvent<'_>>>(data)
            .ok()?
            .0;
        let index = event.index.and_then(|LenientIndex(index)| index);
        Some(match (event.kind.0.as_deref()?, index) {
            ("content_block_start", Some(index)) => {
                let start = event
                    .content_block
                    .and_then(read_object::<BlockStart<'_>>)
                    .unwrap_or_default();
                let raw = event.content_block.map_or("{}", RawValue::get);
                format!("start {index} {start:?} {raw}")
            }
            ("content_block_stop", Some(index)) => format!("stop {index}"),
            ("message_start", _) => format!("message_start {:?}", event.message.and_then(read_object::<Message<'_>>)),
            ("message_delta", _) => format!(
                "message_delta {:?} {:?}",
                event.delta.and_then(read_object::<Delta<'_>>),
                event.usage.map(RawValue::get)
            ),
            ("message_stop", _) => "message_stop".to_owned(),
            ("ping", _) => "ping".to_owned(),
            _ => return None,
        })
    }

    fn structural_fast(data: &str) -> Option<String> {
        Some(match Fixed::read(data)? {
            Fixed::BlockStart(index, start, raw) => format!("start {index} {start:?} {raw}"),
            Fixed::BlockStop(index) => format!("stop {index}"),
            Fixed::MessageStart(message) => format!("message_start {:?}", Some(message)),
            Fixed::MessageDelta(delta, usage) => format!("message_delta {delta:?} {usage:?}"),
            Fixed::MessageStop => "message_stop".to_owned(),
            Fixed::Ping => "ping".to_owned(),
        })
    }

    const STRUCTURAL: [&str; 10] = [
        r#"{"type":"message_start","message":{"model":"m","id":"msg_1","type":"message","role":"assistant","content":[],"stop_reason":null,"usage":{"input_tokens":3,"cache_creation":{"x":0},"service_tier":"standard"}}}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":7,"x":[1.5e3,true]}}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}       }"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}}"#,
        r#"{"type":"content_block_start","index":2,"content_block":{"type":"text","text":"\u00e9 \"x\""}}"#,
        r#"{"type":"content_block_stop","index":4294967295}"#,
        r#"{"type":"message_stop"}"#,
        r#"{"type": "ping"}"#,
        r#"{"type":"ping"}"#,
    ];

    #[test]
    fn structural_events_as_serde_reads_them() {
        for data in STRUCTURAL {
            assert!(structural_fast(data).is_some(), "{data}");
            assert_eq!(structural_fast(data), structural_by_serde(data), "{data}");
        }
        for data in [
            r#"{"type":"content_block_stop","index":0} "#,
            r#"{"type":"content_block_stop","index":01}"#,
            r#"{"type":"content_block_stop","index":4294967296}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""} }"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text"},"x":{}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","type":"x"}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"\ud800"}}"#,
            r#"{"type":"message_stop","x":1}"#,
            r#"{"type":"message_delta","delta":{"stop_reason": "end_turn"},"usage":{}}"#,
            r#"{"type":"message_delta","delta":{},"usage":{"output_tokens":1},"x":0}"#,
            r#"{"type":"message_delta","delta":{},"usage":{"a":1,"a":2}} x"#,
            r#"{"type":"message_start","message":[]}"#,
            r#"{"type":"message_start","message":{"content":[],"content":[]}}"#,
        ] {
            assert_eq!(structural_fast(data), None, "{data}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Structural events with one character replaced, inserted or removed: read as the
        /// general path reads them, or left to it.
        #[test]
        fn structural_events_never_read_otherwise(
            which in 0usize..STRUCTURAL.len(),
            edit in (0usize..4, 0usize..220, proptest::sample::select(vec!['{', '}', ',', ':', '"', '1', ' ', '\\', 'n', 'é', 'x'])),
        ) {
            let data = one_edit(STRUCTURAL[which], edit);
            if let Some(read) = structural_fast(&data) {
                proptest::prop_assert_eq!(Some(read), structural_by_serde(&data), "{}", data);
            }
        }
    }

    #[test]
    fn usage_merge_keeps_order_and_tokens() {
        assert_eq!(
            merge_objects(
                r#"{"input_tokens": 5, "output_tokens": 1, "x": {"a": 1}}"#,
                r#"{"output_tokens": 1.50, "input_tokens": null, "y": "é"}"#
            )
            .as_deref(),
            Some(r#"{"input_tokens":5,"output_tokens":1.50,"x":{"a": 1},"y":"é"}"#)
        );
        assert_eq!(merge_objects("{}", "[1]"), None);
    }
}
