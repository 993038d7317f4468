//! OpenAI Responses streams: the event shapes, borrowed from the event data, and the adapter
//! that turns them into operations on the format-neutral message state.
//!
//! The rules are R1-R14 of the pure-Python reference (`tests/reference/responses.py`, section
//! 12 of `docs/semantics.md`), which `tests/test_responses.py` holds this adapter to: the data's
//! `type` names the event (else the SSE `event:` name); output items are keyed by `output_index`
//! (a taken one reads as the next position) and events find theirs by item id, else by output
//! index; `function_call` items are the client calls, reported with their `call_id`; argument
//! deltas are concatenated exactly, and a done event's full `arguments` (else the added item's)
//! count only when no delta came; a message or reasoning item no text delta reached sends its
//! texts at its first done; `response.completed`, `.incomplete` and `.failed` end the stream,
//! completing undone items from their `response.output`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::lexer::{self, Cursor};
use super::native::{joined, object as json_object, record, string, value_of, Pieces};
use super::shape::Shape;
use super::{event_object, object, trim_data, LenientStr, Raw};
use crate::accumulate::outcome::{ReasonClass, UsageKeys};
use crate::accumulate::{ChoiceState, EventSink, MessageState, ProviderError, TextField};
use crate::error::{CoreError, ErrorSlot, ParseKind};
use crate::partial_json::Value;
use crate::sse::SseEvent;

/// Where Responses usage keeps its counts.
pub const USAGE_KEYS: UsageKeys = UsageKeys {
    input: &["input_tokens"],
    output: &["output_tokens"],
    total: Some("total_tokens"),
};

/// What a Responses finish reason (its terminal status, or the incomplete reason) means.
#[must_use]
pub fn reason_class(reason: Option<&str>) -> ReasonClass {
    match reason {
        Some("completed") => ReasonClass::Normal,
        Some("max_output_tokens") => ReasonClass::Length,
        Some("content_filter") => ReasonClass::ContentFilter,
        _ => ReasonClass::Other,
    }
}

/// A struct read from a JSON object the way `json.loads` reads one (R2): unknown keys are
/// ignored and a key given twice counts with its last value, where serde's derive would reject
/// the whole event. Keys are matched borrowed, so reading allocates nothing.
macro_rules! last_wins {
    ($(#[$meta:meta])* struct $name:ident<$lt:lifetime> {
        $($(#[$fmeta:meta])* $field:ident: $ty:ty = $key:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        struct $name<$lt> {
            $($(#[$fmeta])* $field: $ty,)*
        }

        impl<'de> Deserialize<'de> for $name<'de> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name<'de>;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("an object")
                    }

                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                        let mut out = <$name<'de>>::default();
                        while let Some(LenientStr(key)) = map.next_key::<LenientStr<'de>>()? {
                            match key.as_deref() {
                                $(Some($key) => out.$field = map.next_value()?,)*
                                _ => {
                                    map.next_value::<IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                deserializer.deserialize_map(V)
            }
        }
    };
}

last_wins! {
    /// Every field a Responses stream event carries that the adapter reads.
    struct ResponsesEvent<'a> {
        kind: LenientStr<'a> = "type",
        /// Index fields stay raw: their range is checked only in output events (R2).
        output_index: Option<Raw<'a>> = "output_index",
        content_index: Option<Raw<'a>> = "content_index",
        summary_index: Option<Raw<'a>> = "summary_index",
        item_id: LenientStr<'a> = "item_id",
        delta: LenientStr<'a> = "delta",
        arguments: LenientStr<'a> = "arguments",
        item: Option<Raw<'a>> = "item",
        part: Option<Raw<'a>> = "part",
        response: Option<Raw<'a>> = "response",
        error: Option<Raw<'a>> = "error",
        message: LenientStr<'a> = "message",
        code: Option<Raw<'a>> = "code",
    }
}

last_wins! {
    /// An output item as `output_item.added` / `.done` (or `response.output`) carry it.
    struct Item<'a> {
        kind: LenientStr<'a> = "type",
        id: LenientStr<'a> = "id",
        call_id: LenientStr<'a> = "call_id",
        name: LenientStr<'a> = "name",
        arguments: LenientStr<'a> = "arguments",
        content: Option<Raw<'a>> = "content",
        summary: Option<Raw<'a>> = "summary",
    }
}

last_wins! {
    /// A part of an item's `content` or `summary`, for texts sent whole (R9).
    struct PartFields<'a> {
        kind: LenientStr<'a> = "type",
        text: LenientStr<'a> = "text",
        refusal: LenientStr<'a> = "refusal",
    }
}

last_wins! {
    /// The response object of the terminal events.
    struct Response<'a> {
        output: Option<Raw<'a>> = "output",
        usage: Option<Raw<'a>> = "usage",
        incomplete_details: Option<Raw<'a>> = "incomplete_details",
        error: Option<Raw<'a>> = "error",
    }
}

last_wins! {
    struct Incomplete<'a> {
        reason: LenientStr<'a> = "reason",
    }
}

last_wins! {
    /// An `error` object: of an error event, or of a failed response.
    struct ErrorFields<'a> {
        message: LenientStr<'a> = "message",
        kind: LenientStr<'a> = "type",
        code: Option<Raw<'a>> = "code",
    }
}

/// An index field of an output event (R2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Index {
    /// Missing, or not an integer (a fraction, a string, ...).
    Missing,
    At(u32),
    /// A number outside `0..2^32`: the event is invalid, as folding it into "missing" would
    /// route it to another item or part.
    OutOfRange,
}

impl Index {
    /// Reads the number as `json.loads` types it: an integer token is an int (`-0` is 0), any
    /// other number a float, whose range alone matters.
    fn of(raw: Option<Raw<'_>>) -> Self {
        let Some(text) = raw.map(Raw::get) else {
            return Self::Missing;
        };
        if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return Self::Missing;
        }
        if text.contains(['.', 'e', 'E']) {
            let value = text.parse::<f64>().unwrap_or(f64::NAN);
            return if (0.0..4_294_967_296.0).contains(&value) {
                Self::Missing
            } else {
                Self::OutOfRange
            };
        }
        match text.strip_prefix('-') {
            Some(digits) if digits.bytes().all(|b| b == b'0') => Self::At(0),
            Some(_) => Self::OutOfRange,
            None => text.parse::<u32>().map_or(Self::OutOfRange, Self::At),
        }
    }

    fn at(self) -> Option<u32> {
        match self {
            Self::At(index) => Some(index),
            _ => None,
        }
    }
}

/// The output events (R4-R9): what reading one means for the terminal `response.output` (R10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    ItemAdded,
    ItemDone,
    PartAdded,
    SummaryPartAdded,
    ArgumentsDelta,
    ArgumentsDone,
    Text(TextKind),
}

/// The four text deltas (R6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    OutputText,
    Refusal,
    Summary,
    ReasoningText,
}

impl TextKind {
    /// The choice field the text goes to.
    fn field(self) -> TextField {
        match self {
            Self::OutputText => TextField::Content,
            Self::Refusal => TextField::Refusal,
            Self::Summary | Self::ReasoningText => TextField::Reasoning,
        }
    }

    /// The kind of item whose parts the text extends in the native message.
    fn item_kind(self) -> &'static str {
        match self {
            Self::OutputText | Self::Refusal => "message",
            Self::Summary | Self::ReasoningText => "reasoning",
        }
    }

    /// The part made for a delta whose part never came (R13).
    fn blank(self) -> Value {
        match self {
            Self::OutputText => json_object(vec![
                ("type", string("output_text")),
                ("text", string("")),
                ("annotations", Value::Array(Vec::new())),
            ]),
            Self::Refusal => json_object(vec![("type", string("refusal")), ("refusal", string(""))]),
            Self::Summary => json_object(vec![("type", string("summary_text")), ("text", string(""))]),
            Self::ReasoningText => json_object(vec![("type", string("reasoning_text")), ("text", string(""))]),
        }
    }
}

/// What a part of an item only added starts from.
#[derive(Debug)]
enum PartBase {
    /// The part as sent: raw JSON, of any type in an added item's list.
    Sent(String),
    /// The blank part of the delta that made it.
    Blank(TextKind),
}

/// One part of an item only added, for the native message (R13).
#[derive(Debug)]
struct PartState {
    base: PartBase,
    /// Where the texts appended to its `text` and its `refusal` sit in the choice's fields.
    text: Pieces<()>,
    refusal: Pieces<()>,
}

impl PartState {
    fn sent(raw: &str) -> Self {
        Self {
            base: PartBase::Sent(raw.to_owned()),
            text: Vec::new(),
            refusal: Vec::new(),
        }
    }

    fn blank(kind: TextKind) -> Self {
        Self {
            base: PartBase::Blank(kind),
            text: Vec::new(),
            refusal: Vec::new(),
        }
    }

    fn is_object(&self) -> bool {
        match &self.base {
            PartBase::Sent(raw) => raw.starts_with('{'),
            PartBase::Blank(_) => true,
        }
    }

    /// The part with the texts appended since; `text` is read from `text_field` (content for a
    /// message, reasoning for a reasoning item).
    fn value(&self, choice: &ChoiceState, text_field: TextField) -> Value {
        let mut out = match &self.base {
            PartBase::Sent(raw) => value_of(raw),
            PartBase::Blank(kind) => kind.blank(),
        };
        for (key, pieces, field) in [
            ("text", &self.text, text_field),
            ("refusal", &self.refusal, TextField::Refusal),
        ] {
            if pieces.is_empty() {
                continue;
            }
            let mut text = match out.get(key) {
                Some(Value::Str(before)) => before.clone(),
                _ => String::new(),
            };
            text.push_str(&joined(pieces, &(), choice.field(field)));
            out.set(key, string(text));
        }
        out
    }
}

/// Parts by index; `None` until a part event or a text delta reaches them (`ItemState::parts`).
type Parts = Option<BTreeMap<u32, PartState>>;

#[derive(Debug)]
struct ItemState {
    output_index: u32,
    /// The `type` of the item that created it (`""` when it has none).
    kind: String,
    /// The call's ordinal, for a `function_call` item the call limit let open.
    call: Option<usize>,
    /// A non-empty arguments delta arrived: the full `arguments` of done events no longer count.
    fragmented: bool,
    /// A non-empty text delta was routed here: its done item's texts are not sent again (R9).
    texted: bool,
    /// The item that created it, raw (`{}` when it was not an object).
    added: String,
    /// The last done item, raw: the native message shows it as is.
    done: Option<String>,
    content: Parts,
    summary: Parts,
}

impl ItemState {
    /// The `summary` or `content` parts of an item only added, made on first use from the added
    /// item's list (an item no part event or delta reached shows its added list unchanged).
    fn parts(&mut self, summary: bool) -> &mut BTreeMap<u32, PartState> {
        let parts = if summary { &mut self.summary } else { &mut self.content };
        parts.get_or_insert_with(|| {
            let added = serde_json::from_str::<Item<'_>>(&self.added).unwrap_or_default();
            let list = if summary { added.summary } else { added.content };
            list.and_then(|list| serde_json::from_str::<Vec<&RawValue>>(list.get()).ok())
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .filter_map(|(i, part)| Some((u32::try_from(i).ok()?, PartState::sent(part.get()))))
                .collect()
        })
    }

    /// The item as `response.output` would have it: the done item, else the added item with
    /// what arrived for it since.
    fn native(&self, choice: &ChoiceState) -> Value {
        if let Some(done) = &self.done {
            return value_of(done);
        }
        let mut out = value_of(&self.added);
        let text_field = if self.kind == "message" {
            TextField::Content
        } else {
            TextField::Reasoning
        };
        for (key, parts) in [("content", &self.content), ("summary", &self.summary)] {
            if let Some(parts) = parts {
                let list = parts.values().map(|part| part.value(choice, text_field)).collect();
                out.set(key, Value::Array(list));
            }
        }
        if let Some(call) = self.call {
            let arguments = choice.calls[call].arguments();
            if !arguments.is_empty() {
                out.set("arguments", string(arguments));
            }
        }
        out
    }
}

/// The OpenAI Responses adapter.
#[derive(Debug, Default)]
pub struct ResponsesAdapter {
    items: Vec<ItemState>,
    /// `output_index` -> position in `items`.
    positions: HashMap<u32, usize>,
    /// Item id -> position in `items` (the first item with that id).
    ids: HashMap<String, usize>,
    /// The last id `find` looked up in `ids` and its position (entries never change): the
    /// events of one item come one after another, and hashing each one's id cost more than
    /// the rest of reading a delta.
    last_id: Option<(String, usize)>,
    /// An output event was read: the terminal `response.output` completes items, not makes them.
    output_read: bool,
    /// The last delta event read the usual way, to read the next ones of its item by.
    shape: Option<DeltaShape>,
    /// Shapes made one after another that no event matched: at `FRUITLESS_SHAPES`, a stream
    /// whose deltas vary more than the holes allow stops paying for making them.
    fruitless: u8,
}

/// A delta event's shape and what its literal text says: which output event, its indexes and
/// item id. Every event that matches it says the same, with its own delta.
#[derive(Debug)]
struct DeltaShape {
    shape: Shape,
    output: Output,
    indexes: [Index; 3],
    item_id: Option<String>,
    replayed: bool,
}

/// See `ResponsesAdapter::fruitless`.
const FRUITLESS_SHAPES: u8 = 4;

/// The values of a delta event that change from one to the next, besides the delta: OpenAI's
/// counter and the random padding it adds against length side channels.
const PASSED_KEYS: &[&str] = &["sequence_number", "obfuscation"];

/// The slot of the one choice a response has.
const SLOT: usize = 0;

impl ResponsesAdapter {
    /// One dispatched SSE event.
    pub fn on_event<S: EventSink>(
        &mut self,
        ev: SseEvent<'_>,
        state: &mut MessageState,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let data = trim_data(ev.data);
        // Some gateways end the stream with chat's `[DONE]`: not an error, not the end marker.
        if state.done || data.is_empty() || data == "[DONE]" {
            return;
        }
        let at = ev.data_offset;
        if self.replay(data, state, at, errors, sink) {
            return;
        }
        let Some((event, fast)) = read_event(ev.event, data, at, state, errors, sink) else {
            return;
        };
        if !state.single_choice(at, errors) {
            return;
        }
        let kind = match event.kind.0.as_deref() {
            Some(kind) => kind,
            // A chat-style error object some gateways send in place of an event.
            None if event.error.is_some() => "error",
            None => ev.event,
        };
        let output = match kind {
            "response.output_item.added" => Output::ItemAdded,
            "response.output_item.done" => Output::ItemDone,
            "response.content_part.added" => Output::PartAdded,
            "response.reasoning_summary_part.added" => Output::SummaryPartAdded,
            "response.function_call_arguments.delta" => Output::ArgumentsDelta,
            "response.function_call_arguments.done" => Output::ArgumentsDone,
            "response.output_text.delta" => Output::Text(TextKind::OutputText),
            "response.refusal.delta" => Output::Text(TextKind::Refusal),
            "response.reasoning_summary_text.delta" => Output::Text(TextKind::Summary),
            "response.reasoning_text.delta" => Output::Text(TextKind::ReasoningText),
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.end(kind, &event, data, state, at, errors, sink);
                return;
            }
            "error" => {
                provider_error(&event, data, state, sink);
                return;
            }
            _ => return,
        };
        let output_index = Index::of(event.output_index);
        let content_index = Index::of(event.content_index);
        let summary_index = Index::of(event.summary_index);
        if [output_index, content_index, summary_index].contains(&Index::OutOfRange) {
            errors.note(CoreError::parse(
                ParseKind::InvalidChunk,
                at,
                "invalid chunk: index out of range (not in 0..2^32)",
            ));
            return;
        }
        self.output_read = true;
        let indexes = [output_index, content_index, summary_index];
        if fast && matches!(output, Output::ArgumentsDelta | Output::Text(_)) {
            self.remember(data, output, indexes, &event);
        }
        self.output_event(output, &event, indexes, state, at, errors, sink);
    }

    /// Reads `data` by the last delta event's shape, if it has that shape: what `on_event`
    /// would do with it, without reading it key by key.
    fn replay<S: EventSink>(
        &mut self,
        data: &str,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) -> bool {
        let Some(mut last) = self.shape.take() else {
            return false;
        };
        let replayed = match last.shape.replay(data) {
            Some(delta) => {
                last.replayed = true;
                self.fruitless = 0;
                if state.single_choice(at, errors) {
                    let event = ResponsesEvent {
                        item_id: LenientStr(last.item_id.as_deref().map(Cow::Borrowed)),
                        delta: LenientStr(Some(delta)),
                        ..ResponsesEvent::default()
                    };
                    self.output_read = true;
                    self.output_event(last.output, &event, last.indexes, state, at, errors, sink);
                }
                true
            }
            None => false,
        };
        self.shape = Some(last);
        replayed
    }

    /// Keeps a delta event's shape for the next events (see `DeltaShape`).
    fn remember(&mut self, data: &str, output: Output, indexes: [Index; 3], event: &ResponsesEvent<'_>) {
        if self.shape.as_ref().is_some_and(|last| !last.replayed) {
            self.fruitless = self.fruitless.saturating_add(1);
        }
        if self.fruitless >= FRUITLESS_SHAPES {
            return;
        }
        self.shape = Shape::of(data, "delta", PASSED_KEYS).map(|shape| DeltaShape {
            shape,
            output,
            indexes,
            item_id: event.item_id.0.as_deref().map(str::to_owned),
            replayed: false,
        });
    }

    /// An output event (R4-R9) whose index fields are in range.
    #[allow(clippy::too_many_arguments)]
    fn output_event<S: EventSink>(
        &mut self,
        output: Output,
        event: &ResponsesEvent<'_>,
        [output_index, content_index, summary_index]: [Index; 3],
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let output_index = output_index.at();
        match output {
            Output::ItemAdded => {
                let (item, raw) = item_of(event.item);
                self.add_item(output_index, &item, raw, state, at, errors, sink);
            }
            Output::ItemDone => {
                let (item, raw) = item_of(event.item);
                self.item_done(output_index, &item, raw, state, at, errors, sink);
            }
            Output::ArgumentsDelta => {
                let (Some(pos), Some(fragment)) = (
                    self.find(event.item_id.0.as_deref(), output_index),
                    event.delta.non_empty(),
                ) else {
                    return;
                };
                let item = &mut self.items[pos];
                if let Some(call) = item.call.filter(|&call| !state.calls(SLOT)[call].finished) {
                    item.fragmented = true;
                    state.call_arguments(SLOT, call, fragment, at, errors, sink);
                }
            }
            Output::ArgumentsDone => {
                if let Some(pos) = self.find(event.item_id.0.as_deref(), output_index) {
                    self.finish_call(pos, event.arguments.non_empty(), state, at, errors, sink);
                }
            }
            Output::Text(text_kind) => {
                let index = if text_kind == TextKind::Summary {
                    summary_index
                } else {
                    content_index
                };
                self.text(event, output_index, index, text_kind, state, at, errors, sink);
            }
            Output::PartAdded | Output::SummaryPartAdded => {
                let summary = output == Output::SummaryPartAdded;
                let index = if summary { summary_index } else { content_index };
                self.part_added(event, output_index, index, summary);
            }
        }
    }

    /// Whether a finished stream ended before its terminal event.
    #[must_use]
    pub fn truncated(&self, state: &MessageState) -> bool {
        !state.done
    }

    /// The item an event names (R5): by item id when that is an item's, else by output index.
    fn find(&mut self, item_id: Option<&str>, output_index: Option<u32>) -> Option<usize> {
        if let Some(id) = item_id {
            if let Some((last, pos)) = &self.last_id {
                if last == id {
                    return Some(*pos);
                }
            }
            if let Some(&pos) = self.ids.get(id) {
                let last = self.last_id.get_or_insert_with(|| (String::new(), pos));
                last.0.clear();
                last.0.push_str(id);
                last.1 = pos;
                return Some(pos);
            }
        }
        self.positions.get(&output_index?).copied()
    }

    fn register(&mut self, id: &LenientStr<'_>, pos: usize) {
        if let Some(id) = id.non_empty() {
            if !self.ids.contains_key(id) {
                self.ids.insert(id.to_owned(), pos);
            }
        }
    }

    /// Creates an item (R4) at its output index, or at the number of items so far when that is
    /// missing or taken; `None` when that is taken too.
    #[allow(clippy::too_many_arguments)]
    fn add_item<S: EventSink>(
        &mut self,
        output_index: Option<u32>,
        item: &Item<'_>,
        raw: &str,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) -> Option<usize> {
        let index = match output_index {
            Some(index) if !self.positions.contains_key(&index) => index,
            _ => {
                let next = u32::try_from(self.items.len()).ok()?;
                if self.positions.contains_key(&next) {
                    return None;
                }
                next
            }
        };
        let kind = item.kind.0.as_deref().unwrap_or_default();
        let call = if kind == "function_call" {
            state.open_call(SLOT, Some(index), false, at, errors)
        } else {
            None
        };
        if let Some(call) = call {
            // A call without a call_id is named when it opens, so events and message agree.
            let id = item
                .call_id
                .non_empty()
                .map_or_else(|| Cow::Owned(format!("call_{call}")), Cow::Borrowed);
            state.call_fields(SLOT, call, Some(&id), Some("function"), item.name.non_empty());
            state.call_started(SLOT, call, sink);
        }
        let pos = self.items.len();
        self.items.push(ItemState {
            output_index: index,
            kind: kind.to_owned(),
            call,
            fragmented: false,
            texted: false,
            added: raw.to_owned(),
            done: None,
            content: None,
            summary: None,
        });
        self.positions.insert(index, pos);
        self.register(&item.id, pos);
        Some(pos)
    }

    /// `output_item.done` (R4): the first done of an item completes it, a repeated one only
    /// replaces the native item; an item never added is created (sent whole).
    #[allow(clippy::too_many_arguments)]
    fn item_done<S: EventSink>(
        &mut self,
        output_index: Option<u32>,
        item: &Item<'_>,
        raw: &str,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let pos = match self.find(item.id.0.as_deref(), output_index) {
            Some(pos) if self.items[pos].done.is_some() => {
                self.items[pos].done = Some(raw.to_owned());
                return;
            }
            Some(pos) => pos,
            None => match self.add_item(output_index, item, raw, state, at, errors, sink) {
                Some(pos) => pos,
                None => return,
            },
        };
        self.complete(pos, item, raw, state, at, errors, sink);
    }

    /// The first done item of an item: its call finishes (R8), or its texts are sent when no
    /// text delta came for it (R9).
    #[allow(clippy::too_many_arguments)]
    fn complete<S: EventSink>(
        &mut self,
        pos: usize,
        item: &Item<'_>,
        raw: &str,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        self.items[pos].done = Some(raw.to_owned());
        self.register(&item.id, pos);
        let found = &self.items[pos];
        if let Some(call) = found.call {
            if !state.calls(SLOT)[call].finished {
                state.call_fields(SLOT, call, None, None, item.name.non_empty());
            }
            self.finish_call(pos, item.arguments.non_empty(), state, at, errors, sink);
        } else if !found.texted && matches!(found.kind.as_str(), "message" | "reasoning") {
            whole_texts(found.kind == "message", item, state, at, errors, sink);
        }
    }

    /// Finishes an item's call; when no delta came, the first non-empty of `arguments` and the
    /// added item's arguments is sent first as one fragment.
    fn finish_call<S: EventSink>(
        &mut self,
        pos: usize,
        arguments: Option<&str>,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let item = &self.items[pos];
        let Some(call) = item.call else { return };
        if state.calls(SLOT)[call].finished {
            return;
        }
        if !item.fragmented {
            let added = serde_json::from_str::<Item<'_>>(&item.added).ok();
            if let Some(text) = arguments.or_else(|| added.as_ref().and_then(|a| a.arguments.non_empty())) {
                state.call_arguments(SLOT, call, text, at, errors, sink);
            }
        }
        state.finish_call(SLOT, call, sink);
    }

    /// A text delta (R6): appended to the choice whatever its item; an item only added of the
    /// fitting kind keeps where it went, for its native parts (R13).
    #[allow(clippy::too_many_arguments)]
    fn text<S: EventSink>(
        &mut self,
        event: &ResponsesEvent<'_>,
        output_index: Option<u32>,
        part_index: Index,
        kind: TextKind,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let Some(text) = event.delta.non_empty() else { return };
        let found = self.find(event.item_id.0.as_deref(), output_index);
        if let Some(pos) = found {
            self.items[pos].texted = true;
        }
        let kept = state.text(SLOT, kind.field(), text, at, errors, sink);
        let (Some(pos), Some(range)) = (found, kept) else {
            return;
        };
        let item = &mut self.items[pos];
        if item.done.is_some() || item.kind != kind.item_kind() {
            return;
        }
        let part = item
            .parts(kind == TextKind::Summary)
            .entry(part_index.at().unwrap_or(0))
            .or_insert_with(|| PartState::blank(kind));
        if !part.is_object() {
            *part = PartState::blank(kind);
        }
        let pieces = if kind == TextKind::Refusal {
            &mut part.refusal
        } else {
            &mut part.text
        };
        record(pieces, (), Some(range));
    }

    /// `content_part.added` / `reasoning_summary_part.added` (R13): the part of an item only
    /// added, which later deltas extend.
    fn part_added(&mut self, event: &ResponsesEvent<'_>, output_index: Option<u32>, index: Index, summary: bool) {
        let Some(part) = event.part.filter(|part| part.get().starts_with('{')) else {
            return;
        };
        let Some(pos) = self.find(event.item_id.0.as_deref(), output_index) else {
            return;
        };
        let item = &mut self.items[pos];
        let fits = if summary {
            item.kind == "reasoning"
        } else {
            matches!(item.kind.as_str(), "message" | "reasoning")
        };
        if item.done.is_some() || !fits {
            return;
        }
        item.parts(summary)
            .insert(index.at().unwrap_or(0), PartState::sent(part.get()));
    }

    /// A terminal event (R10).
    #[allow(clippy::too_many_arguments)]
    fn end<S: EventSink>(
        &mut self,
        kind: &str,
        event: &ResponsesEvent<'_>,
        data: &str,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let response = event.response.and_then(Raw::object::<Response<'_>>).unwrap_or_default();
        // The output repeats the whole turn: it is read only when some item needs it.
        let needed = !self.output_read || self.items.iter().any(|item| item.done.is_none());
        let entries: Vec<&RawValue> = response
            .output
            .filter(|_| needed)
            .and_then(|list| serde_json::from_str(list.get()).ok())
            .unwrap_or_default();
        let is_object = |raw: &&RawValue| raw.get().starts_with('{');
        if !self.output_read {
            // A gateway that does not stream: the output items are the turn, sent whole.
            for (index, entry) in (0..).zip(&entries) {
                if is_object(entry) {
                    let item = object::<Item<'_>>(entry).unwrap_or_default();
                    self.item_done(Some(index), &item, entry.get(), state, at, errors, sink);
                }
            }
        }
        for pos in self.in_output_order() {
            let found = &self.items[pos];
            if found.done.is_some() {
                continue;
            }
            let Some(entry) = entries.get(found.output_index as usize).copied().filter(is_object) else {
                continue;
            };
            let item = object::<Item<'_>>(entry).unwrap_or_default();
            if item.kind.0.as_deref() == Some(found.kind.as_str()) {
                self.complete(pos, &item, entry.get(), state, at, errors, sink);
            }
        }
        state.done = true;
        if let Some(usage) = response.usage {
            state.usage_object(usage.get(), at, errors, sink);
        }
        let reason = match kind {
            "response.completed" => Cow::Borrowed("completed"),
            "response.failed" => {
                let error = response
                    .error
                    .filter(|raw| raw.get().starts_with('{'))
                    .and_then(Raw::object::<ErrorFields<'_>>)
                    .unwrap_or_default();
                state.provider_error(
                    ProviderError {
                        message: error.message.0.map_or_else(|| "response failed".to_owned(), Into::into),
                        code: error.code.map(|code| code.get().to_owned()),
                        kind: error.kind.0.map(Into::into),
                        body: data.to_owned(),
                    },
                    sink,
                );
                Cow::Borrowed("failed")
            }
            _ => response
                .incomplete_details
                .and_then(Raw::object::<Incomplete<'_>>)
                .and_then(|details| details.reason.0.filter(|reason| !reason.is_empty()))
                .unwrap_or(Cow::Borrowed("incomplete")),
        };
        self.finish_open_calls(state, at, errors, sink);
        state.set_finish_reason(SLOT, &reason, false, sink);
    }

    /// Item positions in output order.
    fn in_output_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.sort_unstable_by_key(|&pos| self.items[pos].output_index);
        order
    }

    /// Finishes every call still open, in output order, with the added item's arguments when no
    /// delta came.
    fn finish_open_calls<S: EventSink>(
        &mut self,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        for pos in self.in_output_order() {
            self.finish_call(pos, None, state, at, errors, sink);
        }
    }

    /// The turn as the Responses API's output items (`response.output`), in output order: an
    /// item as its last `output_item.done` carried it, else as added with its parts, text and
    /// arguments so far.
    #[must_use]
    pub fn native(&self, state: &MessageState, slot: Option<usize>) -> Value {
        let Some(choice) = slot.map(|slot| &state.choices()[slot]) else {
            return Value::Array(Vec::new());
        };
        let items = self
            .in_output_order()
            .into_iter()
            .map(|pos| self.items[pos].native(choice))
            .collect();
        Value::Array(items)
    }

    /// End of input: calls never finished are finished, in output order.
    pub fn on_end<S: EventSink>(&mut self, state: &mut MessageState, errors: &mut ErrorSlot, sink: &mut S) {
        self.finish_open_calls(state, 0, errors, sink);
    }
}

/// The event object of an event's data (R1); `None` when there is none: the data is an invalid
/// chunk (noted), a last event cut at end of input, or an error event's text (reported).
fn read_event<'a, S: EventSink>(
    name: &str,
    data: &'a str,
    at: u64,
    state: &mut MessageState,
    errors: &mut ErrorSlot,
    sink: &mut S,
) -> Option<(ResponsesEvent<'a>, bool)> {
    if name != "error" {
        if let Some(event) = fast_event(data) {
            return Some((event, true));
        }
        return event_object::<ResponsesEvent<'_>>(data, at, state.at_eof, errors).map(|event| (event, false));
    }
    let event = serde_json::from_str::<ResponsesEvent<'_>>(data).ok();
    if event.is_none() {
        // An error event whose data is not an object is still the provider's error.
        state.provider_error(
            ProviderError {
                message: data.to_owned(),
                code: None,
                kind: None,
                body: data.to_owned(),
            },
            sink,
        );
    }
    event.map(|event| (event, false))
}

/// An event read without serde, as OpenAI writes one: compact JSON, keys in any order, each
/// field read as serde reads it (the last of a key given twice wins) and any other value
/// checked and passed over. `None` (serde reads it, or says what is wrong) for anything else:
/// whitespace, an escaped key, a lone surrogate, values nested deeper than `COMPACT_DEPTH`.
fn fast_event(data: &str) -> Option<ResponsesEvent<'_>> {
    let mut at = Cursor::new(data);
    let mut event = ResponsesEvent::default();
    lexer::object(&mut at, |at, key| {
        let text_field = match key {
            "type" => &mut event.kind,
            "item_id" => &mut event.item_id,
            "delta" => &mut event.delta,
            "arguments" => &mut event.arguments,
            "message" => &mut event.message,
            _ => {
                let raw_field = match key {
                    "output_index" => &mut event.output_index,
                    "content_index" => &mut event.content_index,
                    "summary_index" => &mut event.summary_index,
                    "item" => &mut event.item,
                    "part" => &mut event.part,
                    "response" => &mut event.response,
                    "error" => &mut event.error,
                    "code" => &mut event.code,
                    _ => return lexer::skip(at),
                };
                *raw_field = lexer::nullable(at, lexer::raw)?;
                return Some(());
            }
        };
        *text_field = lexer::lenient_str(at)?;
        Some(())
    })?;
    at.at_end().then_some(event)
}

/// An event's `item` and its raw text; anything but an object counts as `{}`.
fn item_of(raw: Option<Raw<'_>>) -> (Item<'_>, &str) {
    match raw.filter(|raw| raw.get().starts_with('{')) {
        Some(raw) => (raw.object::<Item<'_>>().unwrap_or_default(), raw.get()),
        None => (Item::default(), "{}"),
    }
}

/// R9: the texts of a message or reasoning item that arrived only in its done item.
fn whole_texts<S: EventSink>(
    message: bool,
    item: &Item<'_>,
    state: &mut MessageState,
    at: u64,
    errors: &mut ErrorSlot,
    sink: &mut S,
) {
    fn list(raw: Option<Raw<'_>>) -> Vec<PartFields<'_>> {
        raw.and_then(|raw| serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok())
            .unwrap_or_default()
            .into_iter()
            .filter_map(object::<PartFields<'_>>)
            .collect()
    }
    if message {
        for part in list(item.content) {
            let (field, text) = match part.kind.0.as_deref() {
                Some("output_text") => (TextField::Content, &part.text),
                Some("refusal") => (TextField::Refusal, &part.refusal),
                _ => continue,
            };
            if let Some(text) = text.non_empty() {
                state.text(SLOT, field, text, at, errors, sink);
            }
        }
    } else {
        for part in list(item.summary).iter().chain(&list(item.content)) {
            if let Some(text) = part.text.non_empty() {
                state.text(SLOT, TextField::Reasoning, text, at, errors, sink);
            }
        }
    }
}

/// An error event, or a chat-style error object (R11), read as chat reads one: from its `error`
/// object, else the top-level `message`, `code` and `type`; the body is the whole object.
fn provider_error<S: EventSink>(event: &ResponsesEvent<'_>, data: &str, state: &mut MessageState, sink: &mut S) {
    let (message, kind, code) = match event.error {
        Some(raw) if raw.get().starts_with('{') => {
            let inner = raw.object::<ErrorFields<'_>>().unwrap_or_default();
            (
                inner.message.0.or_else(|| event.message.0.clone()).map(Into::into),
                inner.kind.0.map(Into::into),
                inner.code,
            )
        }
        // `"error": "text"` and other shapes: the text, or the JSON as sent, is the message.
        Some(raw) => (
            Some(serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| raw.get().to_owned())),
            None,
            None,
        ),
        None => (
            event.message.0.clone().map(Into::into),
            event.kind.0.clone().map(Into::into),
            event.code,
        ),
    };
    state.provider_error(
        ProviderError {
            message: message.unwrap_or_else(|| data.to_owned()),
            code: code.map(|code| code.get().to_owned()),
            kind,
            body: data.to_owned(),
        },
        sink,
    );
}

#[cfg(test)]
mod tests {
    use super::super::lexer::one_edit;
    use super::*;

    fn by_serde(data: &str) -> Option<String> {
        serde_json::from_str::<ResponsesEvent<'_>>(data)
            .ok()
            .map(|e| format!("{e:?}"))
    }

    fn fast(data: &str) -> Option<String> {
        fast_event(data).map(|e| format!("{e:?}"))
    }

    const EVENTS: [&str; 6] = [
        r#"{"type":"response.output_text.delta","sequence_number":22,"content_index":0,"delta":"wh\"en\u00e9","item_id":"msg_1","logprobs":[],"obfuscation":"4uuF","output_index":1}"#,
        r#"{"type":"response.function_call_arguments.delta","sequence_number":69,"delta":"{\"quer","item_id":"fc_1","obfuscation":"Ss","output_index":2}"#,
        r#"{"type":"response.output_item.added","sequence_number":3,"output_index":0,"item":{"id":"fc_1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_1","name":"f"}}"#,
        r#"{"type":"response.completed","response":{"id":"r","output":[{"type":"message","content":[{"type":"output_text","text":"a","annotations":[]}]}],"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3},"incomplete_details":null,"error":null}}"#,
        r#"{"type":"error","code":"rate_limit","message":"slow down","param":null,"error":null,"part":null}"#,
        r#"{"type":5,"delta":null,"item_id":{"a":1},"arguments":"x","arguments":7,"output_index":-1.5e3,"summary_index":"2"}"#,
    ];

    #[test]
    fn events_as_serde_reads_them() {
        for data in EVENTS {
            assert!(fast(data).is_some(), "{data}");
            assert_eq!(fast(data), by_serde(data), "{data}");
        }
        for data in [
            r#"{"type": "response.output_text.delta"}"#,
            r#"{"ty\u0070e":"response.output_text.delta"}"#,
            r#"{"delta":"\ud800"}"#,
            r#"{"delta":"a"}x"#,
            r#"{"delta":"a","}"#,
            "[]",
        ] {
            assert_eq!(fast(data), None, "{data}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Events with one character replaced, inserted or removed: left to serde, or read as
        /// serde reads them.
        #[test]
        fn never_reads_otherwise_than_serde(
            event in 0..EVENTS.len(),
            edit in (0usize..4, 0usize..400, proptest::sample::select(vec![
                '{', '}', '[', ']', ',', ':', '"', '1', ' ', '\\', 'n', 'u', 'é', '-', '.', 'e',
            ])),
        ) {
            let data = one_edit(EVENTS[event], edit);
            if let Some(read) = fast(&data) {
                proptest::prop_assert_eq!(Some(read), by_serde(&data), "{}", data);
            }
        }
    }

    #[test]
    fn index_fields_read_as_python_types_them() {
        let of = |text: &str| Index::of(Some(Raw(text)));
        assert_eq!(of("7"), Index::At(7));
        assert_eq!(of("-0"), Index::At(0));
        assert_eq!(of("4294967295"), Index::At(u32::MAX));
        for missing in ["1.5", "-0.0", "1e2", "\"3\"", "true", "null", "[1]", "{}", "1e-400"] {
            assert_eq!(of(missing), Index::Missing, "{missing}");
        }
        for bad in ["-1", "4294967296", "18446744073709551616", "1e300", "-0.5", "1e400"] {
            assert_eq!(of(bad), Index::OutOfRange, "{bad}");
        }
        assert_eq!(Index::of(None), Index::Missing);
    }

    #[test]
    fn a_key_given_twice_counts_with_its_last_value() {
        let event: ResponsesEvent<'_> =
            serde_json::from_str(r#"{"type": "x", "delta": "a", "delta": "b", "type": 5, "more": [1]}"#).unwrap();
        assert_eq!(event.kind.0, None);
        assert_eq!(event.delta.non_empty(), Some("b"));
        assert!(serde_json::from_str::<ResponsesEvent<'_>>("[1]").is_err());
    }
}
