//! The accumulator: SSE bytes of a Chat Completions stream in, message state and events out.
//!
//! Consumes network reads; keeps per-choice text and per-call state (id, type, name, arguments
//! parsed incrementally) and decides when each call is ready (arguments closed as a JSON value)
//! and finished (the provider ended it). Events are small records with byte ranges into the state
//! (no copies); the caller turns them into whatever it needs after each read. Invariants are the
//! rules of `docs/semantics.md`: ids, types and names are set once, argument fragments are
//! concatenated exactly, a parsable prefix never counts as finished, and nothing parsed before a
//! fault is lost.

use std::borrow::Cow;
use std::ops::Range;

use crate::error::{CoreError, ErrorSlot, ParseKind};
use crate::formats::chat::{Chunk, Content, Delta, FunctionDelta, ToolCallDelta};
use crate::formats::{minify, LenientStr, Obj};
use crate::limits::Limits;
use crate::partial_json::{JsonError, PartialJson};
use crate::sse::{SseDecoder, SseEvent};

/// One thing that happened during a read. Ranges point into the accumulator's state, which
/// only grows, so they stay valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `range` of the choice's `content`.
    Text {
        choice: u32,
        range: Range<usize>,
    },
    /// `range` of the choice's `reasoning`.
    Reasoning {
        choice: u32,
        range: Range<usize>,
    },
    CallStarted {
        choice: u32,
        call: usize,
    },
    /// `range` of the call's arguments text.
    CallDelta {
        choice: u32,
        call: usize,
        range: Range<usize>,
    },
    /// `len`: the arguments' length at that moment (later fragments of the read may follow).
    CallReady {
        choice: u32,
        call: usize,
        len: usize,
    },
    CallFinished {
        choice: u32,
        call: usize,
    },
    /// The raw JSON of the usage object reported, and the stream offset of its chunk.
    Usage {
        raw: String,
        at: u64,
    },
    Finish {
        choice: u32,
    },
    ProviderError(ProviderError),
}

/// Where events go: a `Vec`, or nowhere (`NoEvents`) for callers that want only the message.
pub trait EventSink {
    fn push(&mut self, event: Event);
}

impl EventSink for Vec<Event> {
    #[inline]
    fn push(&mut self, event: Event) {
        Vec::push(self, event);
    }
}

/// A sink that drops every event; the accumulator's state is built all the same.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl EventSink for NoEvents {
    #[inline]
    fn push(&mut self, _: Event) {}
}

/// An error object the provider sent inside the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub message: String,
    /// The raw JSON of the `code` field, if any.
    pub code: Option<String>,
    /// The error's `type`, if any.
    pub kind: Option<String>,
    /// The raw JSON (or text) of the whole error payload.
    pub body: String,
}

/// One tool call (or legacy function call) being accumulated.
// The flags are independent facts of a call's life that the binding reads one by one.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone)]
pub struct Call {
    /// Position in creation order within its choice.
    pub ordinal: usize,
    /// The `index` the provider gave, if any.
    pub provider_index: Option<u32>,
    pub id: String,
    pub kind: String,
    pub name: String,
    /// The arguments text and its incremental parse.
    pub args: PartialJson,
    pub ready: bool,
    pub finished: bool,
    /// A pre-tools `function_call`.
    pub legacy: bool,
    /// A fragment was dropped by `max_arguments_bytes`: later ones are dropped too, and the call
    /// finishes with an "incomplete" error whatever text it kept.
    pub over_limit: bool,
    /// Set when finished: `Ok` or why the arguments are not valid JSON.
    pub outcome: Option<Result<(), JsonError>>,
}

impl Call {
    /// The arguments text so far.
    #[must_use]
    pub fn arguments(&self) -> &str {
        self.args.text()
    }
}

/// The state of one choice (`n > 1` streams have several).
#[derive(Debug, Clone, Default)]
pub struct ChoiceState {
    pub index: u32,
    pub content: String,
    pub reasoning: String,
    pub refusal: String,
    pub calls: Vec<Call>,
    pub finish_reason: Option<String>,
    /// Which of content, reasoning and refusal hit `max_content_bytes`: later text of that
    /// field is dropped too, so the kept text is always a prefix of what was sent.
    over_limit: [bool; 3],
}

/// The text fields of a choice that `max_content_bytes` bounds, as indices into `over_limit`.
#[derive(Clone, Copy)]
enum TextField {
    Content = 0,
    Reasoning = 1,
    Refusal = 2,
}

impl ChoiceState {
    /// Calls in reported order: by provider index, calls without one keep their ordinal's place.
    #[must_use]
    pub fn ordered_calls(&self) -> Vec<&Call> {
        let mut calls: Vec<&Call> = self.calls.iter().collect();
        calls.sort_by_key(|c| (c.provider_index.map_or(c.ordinal, |i| i as usize), c.ordinal));
        calls
    }
}

#[derive(Debug)]
struct ChatState {
    limits: Limits,
    choices: Vec<ChoiceState>,
    /// The last usage object: raw JSON, stream offset of its chunk, and how many were seen.
    usage: Option<(String, u64)>,
    usage_count: u64,
    error: Option<ProviderError>,
    done: bool,
    at_eof: bool,
}

/// Accumulates one Chat Completions stream. One per stream; not shared across threads.
#[derive(Debug)]
pub struct Accumulator {
    sse: SseDecoder,
    state: ChatState,
    finished: bool,
    truncated: bool,
}

impl Default for Accumulator {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Accumulator {
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            sse: SseDecoder::new(limits.max_line_bytes, limits.max_event_bytes),
            state: ChatState {
                limits,
                choices: Vec::new(),
                usage: None,
                usage_count: 0,
                error: None,
                done: false,
                at_eof: false,
            },
            finished: false,
            truncated: false,
        }
    }

    /// Feeds one network read. The whole read is processed; the first fault is returned after.
    pub fn feed<S: EventSink>(&mut self, data: &[u8], sink: &mut S) -> Result<(), CoreError> {
        if self.finished {
            return Ok(());
        }
        let mut errors = ErrorSlot::default();
        let state = &mut self.state;
        self.sse
            .feed(data, &mut errors, &mut |ev, errors| state.on_event(ev, errors, sink));
        errors.take().map_or(Ok(()), Err)
    }

    /// End of input: flushes the decoder, finishes open calls, decides `truncated`.
    pub fn finish<S: EventSink>(&mut self, sink: &mut S) -> Result<(), CoreError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let mut errors = ErrorSlot::default();
        let state = &mut self.state;
        state.at_eof = true;
        self.sse
            .finish(&mut errors, &mut |ev, errors| state.on_event(ev, errors, sink));
        for slot in 0..state.choices.len() {
            state.finish_calls(slot, sink);
        }
        self.truncated =
            !state.done && (state.choices.is_empty() || state.choices.iter().any(|c| c.finish_reason.is_none()));
        errors.take().map_or(Ok(()), Err)
    }

    /// Whether `finish` has been called.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether the stream ended before its end (set by `finish`).
    #[must_use]
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Whether `[DONE]` was seen.
    #[must_use]
    pub fn done(&self) -> bool {
        self.state.done
    }

    /// Choices in the order first seen.
    #[must_use]
    pub fn choices(&self) -> &[ChoiceState] {
        &self.state.choices
    }

    /// The choice with the provider's `index`.
    #[must_use]
    pub fn choice(&self, index: u32) -> Option<&ChoiceState> {
        self.state.choices.iter().find(|c| c.index == index)
    }

    /// The raw JSON of the last usage reported.
    #[must_use]
    pub fn usage(&self) -> Option<&str> {
        self.state.usage.as_ref().map(|(raw, _)| raw.as_str())
    }

    /// The stream offset of the chunk that carried the last usage.
    #[must_use]
    pub fn usage_offset(&self) -> Option<u64> {
        self.state.usage.as_ref().map(|(_, at)| *at)
    }

    /// How many usage objects were reported so far (a change means `usage()` changed).
    #[must_use]
    pub fn usage_count(&self) -> u64 {
        self.state.usage_count
    }

    /// The limits this accumulator applies.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.state.limits
    }

    /// The last error object the provider sent in the stream.
    #[must_use]
    pub fn error(&self) -> Option<&ProviderError> {
        self.state.error.as_ref()
    }
}

fn set_once(field: &mut String, value: &LenientStr<'_>) {
    if field.is_empty() {
        if let Some(v) = value.non_empty() {
            field.push_str(v);
        }
    }
}

impl ChoiceState {
    /// Appends non-empty content or reasoning text and reports it as an event.
    fn text<S: EventSink>(
        &mut self,
        field: TextField,
        text: &str,
        max: usize,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        if text.is_empty() {
            return;
        }
        if let Some(range) = self.append(field, text, max, at, errors) {
            let choice = self.index;
            sink.push(match field {
                TextField::Reasoning => Event::Reasoning { choice, range },
                TextField::Content | TextField::Refusal => Event::Text { choice, range },
            });
        }
    }

    /// Appends `text` to a bounded text field; the range it took, or `None` when it was dropped.
    fn append(
        &mut self,
        field: TextField,
        text: &str,
        max: usize,
        at: u64,
        errors: &mut ErrorSlot,
    ) -> Option<Range<usize>> {
        let over = &mut self.over_limit[field as usize];
        let target = match field {
            TextField::Content => &mut self.content,
            TextField::Reasoning => &mut self.reasoning,
            TextField::Refusal => &mut self.refusal,
        };
        if *over {
            return None;
        }
        if target.len() + text.len() > max {
            *over = true;
            errors.note(CoreError::limit("max_content_bytes", max, at));
            return None;
        }
        let start = target.len();
        target.push_str(text);
        Some(start..target.len())
    }
}

impl ChatState {
    fn on_event<S: EventSink>(&mut self, ev: SseEvent<'_>, errors: &mut ErrorSlot, sink: &mut S) {
        if self.done {
            return;
        }
        match ev.event {
            "message" => {}
            "error" => {
                self.provider_error_event(ev.data, sink);
                return;
            }
            _ => return,
        }
        let data = ev.data.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r'));
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            self.done = true;
            for slot in 0..self.choices.len() {
                self.finish_calls(slot, sink);
            }
            return;
        }
        let chunk: Chunk<'_> = match serde_json::from_str::<Obj<Chunk<'_>>>(data) {
            Ok(Obj(chunk)) => chunk,
            // The stream was cut inside its last event (a valid JSON prefix): truncation, not a
            // malformed chunk.
            Err(_)
                if self.at_eof
                    && PartialJson::from_text(data)
                        .end()
                        .is_err_and(|e| e.kind == ParseKind::Incomplete) =>
            {
                return
            }
            Err(err) => {
                errors.note(CoreError::parse(
                    ParseKind::InvalidChunk,
                    ev.data_offset,
                    format!("invalid chunk: {err}"),
                ));
                return;
            }
        };
        if chunk.error.is_some() || chunk.object.0.as_deref() == Some("error") {
            self.provider_error_chunk(&chunk, data, sink);
            return;
        }
        if let Some(usage) = chunk.usage {
            self.usage(usage.get(), ev.data_offset, errors, sink);
        }
        for Obj(choice) in chunk.choices.into_iter().flatten() {
            let index = choice.index.0.unwrap_or(0);
            let Some(slot) = self.choice_slot(index, ev.data_offset, errors) else {
                continue;
            };
            if let Some(Obj(delta)) = choice.delta {
                self.merge(slot, delta, ev.data_offset, errors, sink);
            }
            if let Some(reason) = choice.finish_reason.non_empty() {
                if self.choices[slot].finish_reason.is_none() {
                    self.choices[slot].finish_reason = Some(reason.to_owned());
                    self.finish_calls(slot, sink);
                    sink.push(Event::Finish { choice: index });
                }
            }
        }
    }

    /// A usage object replaces the last one; any other JSON type counts as absent, and one
    /// nested deeper than `max_depth` is dropped with `LimitExceeded`.
    fn usage<S: EventSink>(&mut self, raw: &str, at: u64, errors: &mut ErrorSlot, sink: &mut S) {
        if !raw.starts_with('{') {
            return;
        }
        let mut check = PartialJson::validating().with_max_depth(self.limits.max_depth);
        if let Err(err) = check.feed(raw) {
            if err.kind == ParseKind::TooDeep {
                errors.note(CoreError::limit(
                    "max_depth",
                    self.limits.max_depth,
                    at + err.position as u64,
                ));
            }
            return;
        }
        self.usage = Some((raw.to_owned(), at));
        self.usage_count += 1;
        sink.push(Event::Usage {
            raw: raw.to_owned(),
            at,
        });
    }

    fn provider_error_event<S: EventSink>(&mut self, data: &str, sink: &mut S) {
        match serde_json::from_str::<Obj<Chunk<'_>>>(data) {
            Ok(Obj(chunk)) => self.provider_error_chunk(&chunk, data, sink),
            Err(_) => self.report(
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

    fn provider_error_chunk<S: EventSink>(&mut self, chunk: &Chunk<'_>, data: &str, sink: &mut S) {
        #[derive(serde::Deserialize, Default)]
        struct Inner<'a> {
            #[serde(borrow, default)]
            message: LenientStr<'a>,
            #[serde(borrow, default, rename = "type")]
            kind: LenientStr<'a>,
            #[serde(borrow, default)]
            code: Option<&'a serde_json::value::RawValue>,
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
        self.report(
            ProviderError {
                message: message.unwrap_or_else(|| data.to_owned()),
                code,
                kind,
                body: data.to_owned(),
            },
            sink,
        );
    }

    fn report<S: EventSink>(&mut self, err: ProviderError, sink: &mut S) {
        self.error = Some(err.clone());
        sink.push(Event::ProviderError(err));
    }

    fn choice_slot(&mut self, index: u32, at: u64, errors: &mut ErrorSlot) -> Option<usize> {
        if let Some(slot) = self.choices.iter().position(|c| c.index == index) {
            return Some(slot);
        }
        if self.choices.len() >= self.limits.max_choices {
            errors.note(CoreError::limit("max_choices", self.limits.max_choices, at));
            return None;
        }
        self.choices.push(ChoiceState {
            index,
            ..ChoiceState::default()
        });
        Some(self.choices.len() - 1)
    }

    fn merge<S: EventSink>(&mut self, slot: usize, delta: Delta<'_>, at: u64, errors: &mut ErrorSlot, sink: &mut S) {
        let max = self.limits.max_content_bytes;
        let choice = &mut self.choices[slot];
        let reasoning = match &delta.reasoning_content.0 {
            Some(text) => Some(text),
            None => delta.reasoning.0.as_ref(),
        };
        if let Some(text) = reasoning {
            choice.text(TextField::Reasoning, text, max, at, errors, sink);
        }
        match &delta.content {
            Content::Absent => {}
            Content::Text(text) => choice.text(TextField::Content, text, max, at, errors, sink),
            // Mistral's typed parts, in order: thinking is reasoning, text is content.
            Content::Parts(parts) => {
                for part in parts {
                    match part.kind.0.as_deref() {
                        Some("thinking") => {
                            for text in &part.thinking.0 {
                                choice.text(TextField::Reasoning, text, max, at, errors, sink);
                            }
                        }
                        Some("text") | None => {
                            if let Some(text) = &part.text.0 {
                                choice.text(TextField::Content, text, max, at, errors, sink);
                            }
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        if let Some(text) = delta.refusal.non_empty() {
            let _ = choice.append(TextField::Refusal, text, max, at, errors);
        }
        if let Some(Obj(function)) = delta.function_call {
            let existing = choice.calls.iter().position(|c| c.legacy);
            self.apply(
                slot,
                existing,
                None,
                &LenientStr::default(),
                &LenientStr::default(),
                &function,
                true,
                at,
                errors,
                sink,
            );
        }
        for Obj(frag) in delta.tool_calls.into_iter().flatten() {
            let ToolCallDelta {
                index: frag_index,
                id,
                kind,
                function,
            } = frag;
            let calls = &self.choices[slot].calls;
            let existing = locate(calls, frag_index.0, id.non_empty());
            let function = function.map(|Obj(f)| f).unwrap_or_default();
            self.apply(
                slot,
                existing,
                frag_index.0,
                &id,
                &kind,
                &function,
                false,
                at,
                errors,
                sink,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply<S: EventSink>(
        &mut self,
        slot: usize,
        existing: Option<usize>,
        provider_index: Option<u32>,
        id: &LenientStr<'_>,
        kind: &LenientStr<'_>,
        function: &FunctionDelta<'_>,
        legacy: bool,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        let max_args = self.limits.max_arguments_bytes;
        let max_calls = self.limits.max_tool_calls;
        let choice = &mut self.choices[slot];
        let index = choice.index;
        let (pos, started) = if let Some(pos) = existing {
            (pos, false)
        } else {
            if choice.calls.len() >= max_calls {
                errors.note(CoreError::limit("max_tool_calls", max_calls, at));
                return;
            }
            choice.calls.push(Call {
                ordinal: choice.calls.len(),
                provider_index,
                id: String::new(),
                kind: String::new(),
                name: String::new(),
                // Values are built by whoever asks (the binding keeps its own scan), so the call
                // itself only needs to know when its arguments close.
                args: PartialJson::validating().with_max_depth(self.limits.max_depth),
                ready: false,
                finished: false,
                legacy,
                over_limit: false,
                outcome: None,
            });
            (choice.calls.len() - 1, true)
        };
        let call = &mut choice.calls[pos];
        if call.finished {
            return;
        }
        set_once(&mut call.id, id);
        set_once(&mut call.kind, kind);
        set_once(&mut call.name, &function.name);
        if started {
            sink.push(Event::CallStarted {
                choice: index,
                call: pos,
            });
        }
        let Some(raw) = function.arguments else { return };
        let raw = raw.get();
        let fragment: Cow<'_, str> = if raw.starts_with('"') {
            match serde_json::from_str::<LenientStr<'_>>(raw) {
                Ok(LenientStr(Some(text))) => text,
                _ => return,
            }
        } else if call.args.text().is_empty() {
            Cow::Owned(minify(raw))
        } else {
            return;
        };
        if fragment.is_empty() || call.over_limit {
            return;
        }
        if call.args.text().len() + fragment.len() > max_args {
            call.over_limit = true;
            errors.note(CoreError::limit("max_arguments_bytes", max_args, at));
            return;
        }
        let start = call.args.text().len();
        let was_valid = call.args.error().is_none();
        // A malformed text is not an error of the stream: the call finishes with it attached.
        // Nesting past max_depth is a limit, reported once, and the call finishes with it too.
        if let Err(err) = call.args.feed(&fragment) {
            if was_valid && err.kind == ParseKind::TooDeep {
                errors.note(CoreError::limit("max_depth", self.limits.max_depth, at));
            }
        }
        sink.push(Event::CallDelta {
            choice: index,
            call: pos,
            range: start..call.args.text().len(),
        });
        if !call.ready && call.args.is_complete() {
            call.ready = true;
            sink.push(Event::CallReady {
                choice: index,
                call: pos,
                len: call.args.text().len(),
            });
        }
    }

    fn finish_calls<S: EventSink>(&mut self, slot: usize, sink: &mut S) {
        let choice = &mut self.choices[slot];
        let index = choice.index;
        for call in &mut choice.calls {
            if call.finished {
                continue;
            }
            call.finished = true;
            if call.args.text().is_empty() && !call.over_limit {
                let _ = call.args.feed("{}");
            }
            if !call.legacy {
                if call.id.is_empty() {
                    call.id = format!("call_{}", call.ordinal);
                }
                if call.kind.is_empty() {
                    call.kind.push_str("function");
                }
            }
            call.args.shrink();
            call.outcome = Some(if call.over_limit {
                Err(JsonError {
                    kind: ParseKind::Incomplete,
                    position: call.args.text().len(),
                    message: "arguments cut by max_arguments_bytes",
                })
            } else {
                call.args.end()
            });
            sink.push(Event::CallFinished {
                choice: index,
                call: call.ordinal,
            });
        }
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

#[cfg(test)]
mod tests;
