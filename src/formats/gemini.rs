//! Gemini native streams (`streamGenerateContent?alt=sse`): each event a whole
//! `GenerateContentResponse` chunk; the adapter turns its candidates' parts into operations on
//! the format-neutral message state.
//!
//! The rules are those of the pure-Python reference (`tests/reference/gemini.py`) and
//! `docs/semantics.md` section 13: a candidate's `index` is its choice; `text` parts are content,
//! `thought: true` text parts reasoning; a `functionCall` part is a whole call (its `args` object
//! the arguments), started, ready and finished at once, with `call_<ordinal>` when it has no id;
//! `usageMetadata` replaces the usage on every chunk; `finishReason` is the choice's finish reason
//! as sent (reading goes on: a later chunk may carry usage); a blocked prompt
//! (`promptFeedback.blockReason`) ends choice 0 with that reason. There is no end marker.

use std::ops::Range;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::chat::provider_error_event;
use super::native::{object as json_object, string, value_of};
use super::{event_object, minify, object, trim_data, LenientIndex, LenientStr};
use crate::accumulate::outcome::{ReasonClass, UsageKeys};
use crate::accumulate::{EventSink, MessageState, TextField};
use crate::error::ErrorSlot;
use crate::partial_json::Value;
use crate::sse::SseEvent;

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
            | "IMAGE_RECITATION",
        ) => ReasonClass::ContentFilter,
        _ => ReasonClass::Other,
    }
}

#[derive(Debug, Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    candidates: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "usageMetadata")]
    usage_metadata: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "promptFeedback")]
    prompt_feedback: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
struct Candidate<'a> {
    #[serde(default)]
    index: LenientIndex,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "finishReason")]
    finish_reason: LenientStr<'a>,
}

#[derive(Debug, Default, Deserialize)]
struct Content<'a> {
    #[serde(borrow, default)]
    parts: Option<Vec<&'a RawValue>>,
}

#[derive(Debug, Default, Deserialize)]
struct Part<'a> {
    #[serde(borrow, default)]
    text: LenientStr<'a>,
    #[serde(default)]
    thought: Option<bool>,
    #[serde(borrow, default, rename = "thoughtSignature")]
    thought_signature: LenientStr<'a>,
    #[serde(borrow, default, rename = "functionCall")]
    function_call: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
struct FunctionCall<'a> {
    #[serde(borrow, default)]
    id: LenientStr<'a>,
    #[serde(borrow, default)]
    name: LenientStr<'a>,
    #[serde(borrow, default)]
    args: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
struct PromptFeedback<'a> {
    #[serde(borrow, default, rename = "blockReason")]
    block_reason: LenientStr<'a>,
}

/// One part of a candidate's native content: text parts merged (section 13), others as sent.
#[derive(Debug)]
pub(crate) struct NativePart {
    /// The part as sent (the first of merged text parts).
    pub raw: String,
    /// For a text part: which field and where its merged text sits.
    pub text: Option<(TextField, Range<usize>)>,
    /// The signature the merged part carries (a later part's moves here).
    pub signature: Option<String>,
}

/// The Gemini adapter.
#[derive(Debug, Default)]
pub struct GeminiAdapter {
    /// Native parts per choice slot.
    pub(crate) parts: Vec<Vec<NativePart>>,
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
        let data = trim_data(ev.data);
        if data.is_empty() {
            return;
        }
        let at = ev.data_offset;
        let Some(chunk) = event_object::<Chunk<'_>>(data, at, state.at_eof, errors) else {
            return;
        };
        if chunk.error.is_some() {
            provider_error_event(data, state, sink);
            return;
        }
        let candidates = chunk
            .candidates
            .and_then(|raw| serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok())
            .unwrap_or_default();
        for raw in candidates {
            let Some(candidate) = object::<Candidate<'_>>(raw) else {
                continue;
            };
            let Some(slot) = state.choice_slot(candidate.index.0.unwrap_or(0), at, errors) else {
                continue;
            };
            if self.parts.len() <= slot {
                self.parts.resize_with(slot + 1, Vec::new);
            }
            let parts = candidate
                .content
                .and_then(object::<Content<'_>>)
                .and_then(|c| c.parts)
                .unwrap_or_default();
            for part in parts {
                self.part(slot, part, state, at, errors, sink);
            }
            if let Some(reason) = candidate.finish_reason.non_empty() {
                state.set_finish_reason(slot, reason, true, sink);
            }
        }
        if let Some(usage) = chunk.usage_metadata {
            state.usage_object(usage.get(), at, errors, sink);
        }
        let block = chunk
            .prompt_feedback
            .and_then(object::<PromptFeedback<'_>>)
            .and_then(|f| f.block_reason.non_empty().map(str::to_owned));
        if let Some(reason) = block {
            if let Some(slot) = state.choice_slot(0, at, errors) {
                state.set_finish_reason(slot, &reason, true, sink);
            }
        }
    }

    /// The candidate's content in Gemini's shape, `{"role": "model", "parts": [...]}`: parts as
    /// sent, consecutive text parts merged, each signature on the part that carries it.
    #[must_use]
    pub fn native(&self, state: &MessageState, slot: Option<usize>) -> Value {
        let parts = slot.and_then(|slot| Some((&state.choices()[slot], self.parts.get(slot)?)));
        let parts = parts
            .into_iter()
            .flat_map(|(choice, parts)| parts.iter().map(move |part| (choice, part)))
            .map(|(choice, part)| {
                let mut out = value_of(&part.raw);
                if let Some((field, range)) = &part.text {
                    out.set("text", string(&choice.field(*field)[range.clone()]));
                }
                if let Some(signature) = &part.signature {
                    out.set("thoughtSignature", string(signature.as_str()));
                }
                out
            })
            .collect();
        json_object(vec![("role", string("model")), ("parts", Value::Array(parts))])
    }

    /// Whether a finished stream ended before every choice had its finish reason.
    #[must_use]
    pub fn truncated(&self, state: &MessageState) -> bool {
        state.choices().is_empty() || state.choices().iter().any(|c| c.finish_reason.is_none())
    }

    fn part<S: EventSink>(
        &mut self,
        slot: usize,
        raw: &RawValue,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let Some(part) = object::<Part<'_>>(raw) else { return };
        let signature = part.thought_signature.non_empty().map(str::to_owned);
        if let Some(call) = part.function_call.and_then(object::<FunctionCall<'_>>) {
            if let Some(ordinal) = state.open_call(slot, None, false, at, errors) {
                let generated = format!("call_{ordinal}");
                let id = call.id.non_empty().unwrap_or(&generated);
                state.call_fields(slot, ordinal, Some(id), Some("function"), call.name.non_empty());
                state.call_started(slot, ordinal, sink);
                let args = call.args.map(RawValue::get).filter(|a| a.starts_with('{'));
                if let Some(args) = args {
                    state.call_arguments(slot, ordinal, &minify(args), at, errors, sink);
                }
                state.finish_call(slot, ordinal, sink);
            }
            self.parts[slot].push(NativePart {
                raw: raw.get().to_owned(),
                text: None,
                signature: None,
            });
            return;
        }
        let Some(text) = part.text.0.as_deref() else {
            self.parts[slot].push(NativePart {
                raw: raw.get().to_owned(),
                text: None,
                signature: None,
            });
            return;
        };
        let field = if part.thought == Some(true) {
            TextField::Reasoning
        } else {
            TextField::Content
        };
        let kept = state.text(slot, field, text, at, errors, sink);
        let parts = &mut self.parts[slot];
        match (parts.last_mut(), kept) {
            (
                Some(NativePart {
                    text: Some((last_field, range)),
                    signature: last_signature @ None,
                    ..
                }),
                Some(kept),
            ) if *last_field == field && range.end == kept.start => {
                range.end = kept.end;
                *last_signature = signature;
            }
            (_, kept) => parts.push(NativePart {
                raw: raw.get().to_owned(),
                text: Some((field, kept.unwrap_or(0..0))),
                signature,
            }),
        }
    }
}
