//! Ollama native `/api/chat` streams: NDJSON, one chunk object per line; the adapter turns each
//! into operations on the format-neutral message state.
//!
//! The rules are those of the pure-Python reference (`tests/reference/ollama.py`) and
//! `docs/semantics.md` section 14: `message.content` is content, `message.thinking` reasoning;
//! each of `message.tool_calls` is a whole call (its `arguments` object the arguments, a string
//! taken as the JSON text), started, ready and finished at once, with `call_<ordinal>` when it has
//! no id; the `done: true` line is the end marker, with `done_reason` and the counts as usage; an
//! `{"error": ...}` line is a provider error.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::chat::provider_error_event;
use super::native::{object as json_object, string, value_of};
use super::{event_object, minify, object, trim_data, LenientStr};
use crate::accumulate::outcome::{Entries, ReasonClass, UsageKeys};
use crate::accumulate::{EventSink, MessageState, TextField};
use crate::error::ErrorSlot;
use crate::partial_json::Value;
use crate::sse::SseEvent;

/// Where Ollama's counts are (the usage object is built from the final line's counts).
pub const USAGE_KEYS: UsageKeys = UsageKeys {
    input: &["prompt_eval_count"],
    output: &["eval_count"],
    total: None,
};

/// The keys of the final line that make up the usage object, as sent.
const USAGE_FIELDS: [&str; 6] = [
    "prompt_eval_count",
    "eval_count",
    "total_duration",
    "load_duration",
    "prompt_eval_duration",
    "eval_duration",
];

/// What Ollama's `done_reason` means.
#[must_use]
pub fn reason_class(reason: Option<&str>) -> ReasonClass {
    match reason {
        Some("stop") => ReasonClass::Normal,
        Some("length") => ReasonClass::Length,
        _ => ReasonClass::Other,
    }
}

#[derive(Debug, Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(default)]
    done: Option<bool>,
    #[serde(borrow, default)]
    done_reason: LenientStr<'a>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    content: LenientStr<'a>,
    #[serde(borrow, default)]
    thinking: LenientStr<'a>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<&'a RawValue>>,
}

#[derive(Debug, Default, Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow, default)]
    id: LenientStr<'a>,
    #[serde(borrow, default)]
    function: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
struct Function<'a> {
    #[serde(borrow, default)]
    name: LenientStr<'a>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

/// The Ollama adapter.
#[derive(Debug, Default)]
pub struct OllamaAdapter {
    /// Every tool call as sent, for the native message.
    pub(crate) calls: Vec<String>,
}

const SLOT: usize = 0;

impl OllamaAdapter {
    /// One NDJSON line.
    pub fn on_event<S: EventSink>(
        &mut self,
        ev: SseEvent<'_>,
        state: &mut MessageState,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let data = trim_data(ev.data);
        if state.done || data.is_empty() {
            return;
        }
        let at = ev.data_offset;
        let Some(line) = event_object::<Line<'_>>(data, at, state.at_eof, errors) else {
            return;
        };
        if line.error.is_some() {
            provider_error_event(data, state, sink);
            return;
        }
        if state.choices().is_empty() && state.choice_slot(0, at, errors).is_none() {
            return;
        }
        if let Some(message) = line.message.and_then(object::<Message<'_>>) {
            if let Some(text) = message.thinking.non_empty() {
                state.text(SLOT, TextField::Reasoning, text, at, errors, sink);
            }
            if let Some(text) = message.content.non_empty() {
                state.text(SLOT, TextField::Content, text, at, errors, sink);
            }
            for raw in message.tool_calls.unwrap_or_default() {
                self.tool_call(raw, state, at, errors, sink);
            }
        }
        if line.done == Some(true) {
            if let Some(usage) = usage_of(data) {
                state.usage_object(&usage, at, errors, sink);
            }
            state.done = true;
            state.finish_all_calls(sink);
            let reason = line.done_reason.non_empty().unwrap_or("stop").to_owned();
            state.set_finish_reason(SLOT, &reason, true, sink);
        }
    }

    /// The turn as Ollama's assistant message: role, content, thinking (when any) and the tool
    /// calls as sent.
    #[must_use]
    pub fn native(&self, state: &MessageState, slot: Option<usize>) -> Value {
        let choice = slot.map(|slot| &state.choices()[slot]);
        let field = |f: TextField| choice.map_or("", |c| c.field(f));
        let mut out = vec![
            ("role", string("assistant")),
            ("content", string(field(TextField::Content))),
        ];
        if !field(TextField::Reasoning).is_empty() {
            out.push(("thinking", string(field(TextField::Reasoning))));
        }
        if !self.calls.is_empty() {
            out.push((
                "tool_calls",
                Value::Array(self.calls.iter().map(|c| value_of(c)).collect()),
            ));
        }
        json_object(out)
    }

    /// Whether a finished stream ended before its `done: true` line.
    #[must_use]
    pub fn truncated(&self, state: &MessageState) -> bool {
        !state.done
    }

    fn tool_call<S: EventSink>(
        &mut self,
        raw: &RawValue,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let Some(call) = object::<ToolCall<'_>>(raw) else {
            return;
        };
        let function = call.function.and_then(object::<Function<'_>>).unwrap_or_default();
        let Some(ordinal) = state.open_call(SLOT, None, false, at, errors) else {
            return;
        };
        self.calls.push(raw.get().to_owned());
        let generated = format!("call_{ordinal}");
        let id = call.id.non_empty().unwrap_or(&generated);
        state.call_fields(SLOT, ordinal, Some(id), Some("function"), function.name.non_empty());
        state.call_started(SLOT, ordinal, sink);
        match function.arguments.map(RawValue::get) {
            Some(args) if args.starts_with('{') => {
                state.call_arguments(SLOT, ordinal, &minify(args), at, errors, sink);
            }
            Some(args) if args.starts_with('"') => {
                if let Ok(text) = serde_json::from_str::<String>(args) {
                    state.call_arguments(SLOT, ordinal, &text, at, errors, sink);
                }
            }
            _ => {}
        }
        state.finish_call(SLOT, ordinal, sink);
    }
}

/// The final line's counts and durations, as sent, as one JSON object (`None` without any).
fn usage_of(data: &str) -> Option<String> {
    let Entries(entries) = serde_json::from_str::<Entries<'_>>(data).ok()?;
    let mut out = String::from("{");
    for (key, value) in entries.iter().filter(|(k, _)| USAGE_FIELDS.contains(&k.as_ref())) {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key.as_ref()).ok()?);
        out.push(':');
        out.push_str(value.get());
    }
    out.push('}');
    (out.len() > 2).then_some(out)
}
