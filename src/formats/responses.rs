//! OpenAI Responses streams: the event shapes, borrowed from the event data, and the adapter
//! that turns them into operations on the format-neutral message state.
//!
//! The rules are those of the pure-Python reference (`tests/reference/responses.py`) and
//! `docs/semantics.md` section 12: the data's `type` names the event (else the SSE `event:`
//! name); output items are keyed by `output_index` (deltas find theirs by `item_id` first);
//! `function_call` items are the client calls, reported with their `call_id`; argument deltas
//! are concatenated exactly and `function_call_arguments.done` (or the item's `output_item.done`)
//! finishes a call, its full `arguments` counting only when no delta came; `response.completed`,
//! `.incomplete` and `.failed` end the stream with its usage and status.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::chat::provider_error_event;
use super::native::{joined, object as json_object, record, string, value_of, Pieces};
use super::{event_object, object, trim_data, LenientIndex, LenientStr};
use crate::accumulate::outcome::{ReasonClass, UsageKeys};
use crate::accumulate::{EventSink, MessageState, TextField};
use crate::error::ErrorSlot;
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

/// Every field a Responses stream event carries that the adapter reads.
#[derive(Debug, Deserialize)]
struct ResponsesEvent<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: LenientStr<'a>,
    #[serde(default)]
    output_index: LenientIndex,
    #[serde(borrow, default)]
    item_id: LenientStr<'a>,
    #[serde(default)]
    content_index: LenientIndex,
    #[serde(default)]
    summary_index: LenientIndex,
    #[serde(borrow, default)]
    delta: LenientStr<'a>,
    #[serde(borrow, default)]
    arguments: LenientStr<'a>,
    #[serde(borrow, default)]
    item: Option<&'a RawValue>,
    #[serde(borrow, default)]
    response: Option<&'a RawValue>,
}

/// An output item as `output_item.added` / `.done` carry it.
#[derive(Debug, Default, Deserialize)]
struct Item<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: LenientStr<'a>,
    #[serde(borrow, default)]
    id: LenientStr<'a>,
    #[serde(borrow, default)]
    call_id: LenientStr<'a>,
    #[serde(borrow, default)]
    name: LenientStr<'a>,
    #[serde(borrow, default)]
    arguments: LenientStr<'a>,
}

/// The response object of the terminal events.
#[derive(Debug, Default, Deserialize)]
struct Response<'a> {
    #[serde(borrow, default)]
    status: LenientStr<'a>,
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
    #[serde(borrow, default)]
    incomplete_details: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
struct Incomplete<'a> {
    #[serde(borrow, default)]
    reason: LenientStr<'a>,
}

/// Which text of an item a delta extends, for the native message of an item never done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    OutputText(u32),
    Refusal(u32),
    Summary(u32),
    ReasoningText(u32),
}

#[derive(Debug)]
struct ItemState {
    output_index: u32,
    item_id: String,
    /// The call's ordinal for a `function_call` item the call limit let open.
    call: Option<usize>,
    is_call: bool,
    /// A non-empty arguments delta arrived: the full `arguments` of `.done` no longer count.
    fragmented: bool,
    /// The item as `output_item.added` carried it.
    added: String,
    /// The item as `output_item.done` carried it: the native message shows it as is.
    done: Option<String>,
    /// Where this item's texts sit in the choice's fields, in arrival order.
    pieces: Pieces<Part>,
}

impl ItemState {
    /// The content, summary or reasoning parts of an item never done, from its texts so far.
    fn fill_parts(&self, out: &mut Value, choice: &crate::accumulate::ChoiceState) {
        let mut parts: Vec<Part> = Vec::new();
        for (part, _) in &self.pieces {
            if !parts.contains(part) {
                parts.push(*part);
            }
        }
        let mut content = Vec::new();
        let mut summary = Vec::new();
        for part in parts {
            let (field, kind, key) = match part {
                Part::OutputText(_) => (TextField::Content, "output_text", "text"),
                Part::Refusal(_) => (TextField::Refusal, "refusal", "refusal"),
                Part::Summary(_) => (TextField::Reasoning, "summary_text", "text"),
                Part::ReasoningText(_) => (TextField::Reasoning, "reasoning_text", "text"),
            };
            let text = joined(&self.pieces, &part, choice.field(field));
            let mut entry = vec![("type", string(kind)), (key, string(text))];
            if kind == "output_text" {
                entry.push(("annotations", Value::Array(Vec::new())));
            }
            if matches!(part, Part::Summary(_)) {
                summary.push(json_object(entry));
            } else {
                content.push(json_object(entry));
            }
        }
        if !content.is_empty() {
            out.set("content", Value::Array(content));
        }
        if !summary.is_empty() {
            out.set("summary", Value::Array(summary));
        }
    }
}

/// The OpenAI Responses adapter.
#[derive(Debug, Default)]
pub struct ResponsesAdapter {
    items: Vec<ItemState>,
}

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
        if ev.event == "error" && !data.starts_with('{') {
            provider_error_event(data, state, sink);
            return;
        }
        let Some(event) = event_object::<ResponsesEvent<'_>>(data, at, state.at_eof, errors) else {
            return;
        };
        if state.choices().is_empty() && state.choice_slot(0, at, errors).is_none() {
            return;
        }
        let kind = event.kind.0.as_deref().unwrap_or(ev.event);
        match kind {
            "response.output_item.added" => {
                let item = event.item.and_then(object::<Item<'_>>).unwrap_or_default();
                let raw = event.item.map_or("{}", RawValue::get);
                self.add_item(event.output_index.0, &item, raw, state, at, errors, sink);
            }
            "response.output_item.done" => {
                let item = event.item.and_then(object::<Item<'_>>).unwrap_or_default();
                let raw = event.item.map_or("{}", RawValue::get);
                let pos = match self.find(item.id.non_empty(), event.output_index.0) {
                    Some(pos) => pos,
                    None => self.add_item(event.output_index.0, &item, raw, state, at, errors, sink),
                };
                self.items[pos].done = Some(raw.to_owned());
                self.finish_call(pos, item.arguments.non_empty(), state, at, errors, sink);
            }
            "response.function_call_arguments.delta" => {
                if let (Some(pos), Some(fragment)) = (
                    self.find(event.item_id.non_empty(), event.output_index.0),
                    event.delta.non_empty(),
                ) {
                    let item = &mut self.items[pos];
                    if let Some(call) = item.call {
                        item.fragmented = true;
                        state.call_arguments(SLOT, call, fragment, at, errors, sink);
                    }
                }
            }
            "response.function_call_arguments.done" => {
                if let Some(pos) = self.find(event.item_id.non_empty(), event.output_index.0) {
                    self.finish_call(pos, event.arguments.non_empty(), state, at, errors, sink);
                }
            }
            "response.output_text.delta" => {
                let part = Part::OutputText(event.content_index.0.unwrap_or(0));
                self.text(&event, part, TextField::Content, state, at, errors, sink);
            }
            "response.refusal.delta" => {
                let part = Part::Refusal(event.content_index.0.unwrap_or(0));
                self.text(&event, part, TextField::Refusal, state, at, errors, sink);
            }
            "response.reasoning_summary_text.delta" => {
                let part = Part::Summary(event.summary_index.0.unwrap_or(0));
                self.text(&event, part, TextField::Reasoning, state, at, errors, sink);
            }
            "response.reasoning_text.delta" => {
                let part = Part::ReasoningText(event.content_index.0.unwrap_or(0));
                self.text(&event, part, TextField::Reasoning, state, at, errors, sink);
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let response = event.response.and_then(object::<Response<'_>>).unwrap_or_default();
                self.end(kind, &response, data, state, at, errors, sink);
            }
            "error" => provider_error_event(data, state, sink),
            _ => {}
        }
    }

    /// Whether a finished stream ended before its terminal event.
    #[must_use]
    pub fn truncated(&self, state: &MessageState) -> bool {
        !state.done
    }

    /// The item a delta or `.done` names: by item id, else by output index.
    fn find(&self, item_id: Option<&str>, output_index: Option<u32>) -> Option<usize> {
        if let Some(id) = item_id {
            if let Some(pos) = self.items.iter().position(|i| i.item_id == id) {
                return Some(pos);
            }
        }
        let index = output_index?;
        self.items.iter().position(|i| i.output_index == index)
    }

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
    ) -> usize {
        let output_index = output_index.unwrap_or_else(|| u32::try_from(self.items.len()).unwrap_or(u32::MAX));
        let is_call = item.kind.0.as_deref() == Some("function_call");
        let call = if is_call {
            state.open_call(SLOT, Some(output_index), false, at, errors)
        } else {
            None
        };
        if let Some(call) = call {
            state.call_fields(
                SLOT,
                call,
                item.call_id.non_empty(),
                Some("function"),
                item.name.non_empty(),
            );
            state.call_started(SLOT, call, sink);
        }
        self.items.push(ItemState {
            output_index,
            item_id: item.id.non_empty().unwrap_or_default().to_owned(),
            call,
            is_call,
            fragmented: false,
            added: raw.to_owned(),
            done: None,
            pieces: Vec::new(),
        });
        self.items.len() - 1
    }

    /// Finishes an item's call; its full `arguments` count when no delta came.
    fn finish_call<S: EventSink>(
        &mut self,
        pos: usize,
        arguments: Option<&str>,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let item = &mut self.items[pos];
        let Some(call) = item.call else { return };
        if state.calls(SLOT)[call].finished {
            return;
        }
        if !item.fragmented {
            if let Some(arguments) = arguments {
                item.fragmented = true;
                state.call_arguments(SLOT, call, arguments, at, errors, sink);
            }
        }
        state.finish_call(SLOT, call, sink);
    }

    #[allow(clippy::too_many_arguments)]
    fn text<S: EventSink>(
        &mut self,
        event: &ResponsesEvent<'_>,
        part: Part,
        field: TextField,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let Some(text) = event.delta.non_empty() else { return };
        let kept = state.text(SLOT, field, text, at, errors, sink);
        if let Some(pos) = self.find(event.item_id.non_empty(), event.output_index.0) {
            record(&mut self.items[pos].pieces, part, kept);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn end<S: EventSink>(
        &mut self,
        kind: &str,
        response: &Response<'_>,
        data: &str,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        if let Some(usage) = response.usage {
            state.usage_object(usage.get(), at, errors, sink);
        }
        let reason = match kind {
            "response.completed" => "completed".to_owned(),
            "response.failed" => {
                let error = response.error.filter(|e| e.get().starts_with('{'));
                let body = error.map_or(data, RawValue::get);
                provider_error_event(&format!("{{\"error\":{body}}}"), state, sink);
                "failed".to_owned()
            }
            _ => response
                .incomplete_details
                .and_then(object::<Incomplete<'_>>)
                .and_then(|d| d.reason.non_empty().map(str::to_owned))
                .unwrap_or_else(|| "incomplete".to_owned()),
        };
        let _ = &response.status;
        state.done = true;
        self.finish_open_calls(state, at, errors, sink);
        state.set_finish_reason(SLOT, &reason, false, sink);
    }

    /// Finishes every call still open, in output order.
    fn finish_open_calls<S: EventSink>(
        &mut self,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let mut order: Vec<(u32, usize)> = self
            .items
            .iter()
            .enumerate()
            .map(|(p, i)| (i.output_index, p))
            .collect();
        order.sort_unstable();
        for (_, pos) in order {
            if self.items[pos].is_call {
                self.finish_call(pos, None, state, at, errors, sink);
            }
        }
    }

    /// The turn as the Responses API's output items (`response.output`), in output order: an
    /// item as `output_item.done` carried it, else as added with its text and arguments so far.
    #[must_use]
    pub fn native(&self, state: &MessageState, slot: Option<usize>) -> Value {
        let mut order: Vec<&ItemState> = self.items.iter().filter(|_| slot.is_some()).collect();
        order.sort_by_key(|i| i.output_index);
        let choice = slot.map(|slot| &state.choices()[slot]);
        let items = order
            .into_iter()
            .map(|item| {
                if let Some(done) = &item.done {
                    return value_of(done);
                }
                let mut out = value_of(&item.added);
                if let (Some(call), Some(choice)) = (item.call, choice) {
                    out.set("arguments", string(choice.calls[call].arguments()));
                }
                if let Some(choice) = choice {
                    item.fill_parts(&mut out, choice);
                }
                out
            })
            .collect();
        Value::Array(items)
    }

    /// End of input: calls never finished are finished, in output order.
    pub fn on_end<S: EventSink>(&mut self, state: &mut MessageState, errors: &mut ErrorSlot, sink: &mut S) {
        self.finish_open_calls(state, 0, errors, sink);
    }
}
