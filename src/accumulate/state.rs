//! The format-neutral message state: every merge rule, the same for all wire formats.
//!
//! Consumes the operations a format adapter (`crate::formats`) derives from the provider's
//! events: text and reasoning pieces, calls opened, their fields set, argument fragments
//! appended, finish reasons, usage, provider errors. Keeps per-choice text and per-call state and
//! decides when a call is ready (its arguments closed as a JSON value) and finished. Invariants
//! (`docs/semantics.md`): ids, types and names are set once; argument fragments are
//! concatenated exactly; a parsable prefix never counts as finished; every limit drops only the
//! offending input and is reported once; nothing parsed before a fault is lost.

use std::ops::Range;

use super::{Event, EventSink, ProviderError};
use crate::error::{CoreError, ErrorSlot, ParseKind};
use crate::limits::Limits;
use crate::partial_json::{JsonError, PartialJson};

/// One tool call (or legacy function call) being accumulated.
// The flags are independent facts of a call's life that the binding reads one by one.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone)]
pub struct Call {
    /// Position in creation order within its choice.
    pub ordinal: usize,
    /// The `index` the provider gave, if any.
    pub provider_index: Option<u32>,
    /// The id, type and name are set once (`call_fields`; an id made up at the finish when
    /// none came): empty, then a text that never changes. The binding relies on it: it knows
    /// its Python copies by their length.
    pub id: String,
    pub kind: String,
    pub name: String,
    /// The arguments text and its incremental parse.
    pub args: PartialJson,
    pub ready: bool,
    pub finished: bool,
    /// A pre-tools `function_call`.
    pub legacy: bool,
    /// A fragment was dropped by `max_arguments_bytes` (or the format stopped the arguments):
    /// later ones are dropped too, and the call finishes with an "incomplete" error whatever
    /// text it kept.
    pub over_limit: bool,
    /// Why the arguments stopped, for that error's message.
    pub stopped_by: &'static str,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Content = 0,
    Reasoning = 1,
    Refusal = 2,
}

impl ChoiceState {
    /// The text of one of the bounded fields.
    #[must_use]
    pub fn field(&self, field: TextField) -> &str {
        match field {
            TextField::Content => &self.content,
            TextField::Reasoning => &self.reasoning,
            TextField::Refusal => &self.refusal,
        }
    }

    /// Calls in reported order: by provider index, calls without one keep their ordinal's place.
    #[must_use]
    pub fn ordered_calls(&self) -> Vec<&Call> {
        let mut calls: Vec<&Call> = self.calls.iter().collect();
        calls.sort_by_key(|c| (c.provider_index.map_or(c.ordinal, |i| i as usize), c.ordinal));
        calls
    }
}

/// The state of one response, whatever its wire format.
#[derive(Debug)]
pub struct MessageState {
    limits: Limits,
    choices: Vec<ChoiceState>,
    /// The last usage object: raw JSON, stream offset of its chunk, and how many were seen.
    usage: Option<(String, u64)>,
    usage_count: u64,
    error: Option<ProviderError>,
    /// The format's end marker was seen (chat's `[DONE]`): later events are ignored.
    pub done: bool,
    /// `finish()` is running: a cut last event is truncation, not a fault.
    pub at_eof: bool,
}

/// Sets a call's id, type or name the first time a non-empty value comes.
fn set_once(field: &mut String, value: Option<&str>) {
    if field.is_empty() {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            field.push_str(v);
        }
    }
}

/// A fragment of a call's arguments as an adapter hands it over.
#[derive(Clone, Copy)]
enum Piece<'a> {
    /// Text to append as is.
    Text(&'a str),
    /// A whole value the reader checked, nested at most this deep.
    Checked(&'a str, usize),
    /// The text between a JSON string's quotes, escapes not yet decoded.
    Escaped(&'a str),
}

impl MessageState {
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            choices: Vec::new(),
            usage: None,
            usage_count: 0,
            error: None,
            done: false,
            at_eof: false,
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Choices in the order first seen.
    #[must_use]
    pub fn choices(&self) -> &[ChoiceState] {
        &self.choices
    }

    /// The calls of the choice in `slot`.
    #[must_use]
    pub fn calls(&self, slot: usize) -> &[Call] {
        &self.choices[slot].calls
    }

    /// The raw JSON and stream offset of the last usage reported, and how many were reported.
    #[must_use]
    pub fn usage(&self) -> (Option<&(String, u64)>, u64) {
        (self.usage.as_ref(), self.usage_count)
    }

    /// The last error object the provider sent in the stream.
    #[must_use]
    pub fn error(&self) -> Option<&ProviderError> {
        self.error.as_ref()
    }

    /// Whether the one choice of a format that has no choices (index 0, slot 0) is there,
    /// made on first use; `false` when `max_choices` drops it.
    pub fn single_choice(&mut self, at: u64, errors: &mut ErrorSlot) -> bool {
        !self.choices.is_empty() || self.choice_slot(0, at, errors).is_some()
    }

    /// The slot of the choice with the provider's `index`, made on first sight (`max_choices`).
    pub fn choice_slot(&mut self, index: u32, at: u64, errors: &mut ErrorSlot) -> Option<usize> {
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

    /// Appends content, reasoning or refusal text (non-empty) of a choice, bounded by
    /// `max_content_bytes`; the range it took in that field, `None` when nothing was kept.
    pub fn text<S: EventSink>(
        &mut self,
        slot: usize,
        field: TextField,
        text: &str,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) -> Option<Range<usize>> {
        let max = self.limits.max_content_bytes;
        self.choices[slot].text(field, text, max, at, errors, sink)
    }

    /// A usage object replaces the last one; any other JSON type counts as absent, and one
    /// nested deeper than `max_depth` is dropped with `LimitExceeded`.
    pub fn usage_object<S: EventSink>(&mut self, raw: &str, at: u64, errors: &mut ErrorSlot, sink: &mut S) {
        if !raw.starts_with('{') {
            return;
        }
        // Nesting `max_depth` deep takes that many brackets: a text with fewer (every usage
        // object seen in practice) needs no scan, which matters for formats that resend usage
        // on every chunk (Gemini's has a list of objects in it).
        let brackets = || raw.bytes().filter(|&b| b == b'{' || b == b'[').count();
        if raw.len() > self.limits.max_depth && brackets() > self.limits.max_depth {
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
        }
        // The last text's buffer is reused: Gemini resends usage on every chunk.
        match &mut self.usage {
            Some((text, last_at)) => {
                text.clear();
                text.push_str(raw);
                *last_at = at;
            }
            None => self.usage = Some((raw.to_owned(), at)),
        }
        self.usage_count += 1;
        sink.emit(|| Event::Usage {
            raw: raw.to_owned(),
            at,
        });
    }

    /// Records an error object the provider sent inside the stream.
    pub fn provider_error<S: EventSink>(&mut self, err: ProviderError, sink: &mut S) {
        self.error = Some(err.clone());
        sink.emit(|| Event::ProviderError(err));
    }

    /// Opens a new call in a choice (`max_tool_calls`); `None` when the limit dropped it.
    pub fn open_call(
        &mut self,
        slot: usize,
        provider_index: Option<u32>,
        legacy: bool,
        at: u64,
        errors: &mut ErrorSlot,
    ) -> Option<usize> {
        let max_calls = self.limits.max_tool_calls;
        let max_depth = self.limits.max_depth;
        let choice = &mut self.choices[slot];
        if choice.calls.len() >= max_calls {
            errors.note(CoreError::limit("max_tool_calls", max_calls, at));
            return None;
        }
        choice.calls.push(Call {
            ordinal: choice.calls.len(),
            provider_index,
            id: String::new(),
            kind: String::new(),
            name: String::new(),
            // Values are built by whoever asks (the binding keeps its own scan), so the call
            // itself only needs to know when its arguments close.
            args: PartialJson::validating().with_max_depth(max_depth),
            ready: false,
            finished: false,
            legacy,
            over_limit: false,
            stopped_by: "arguments cut by max_arguments_bytes",
            outcome: None,
        });
        Some(choice.calls.len() - 1)
    }

    /// Sets a call's id, type and name where they are still empty.
    pub fn call_fields(&mut self, slot: usize, call: usize, id: Option<&str>, kind: Option<&str>, name: Option<&str>) {
        let call = &mut self.choices[slot].calls[call];
        set_once(&mut call.id, id);
        set_once(&mut call.kind, kind);
        set_once(&mut call.name, name);
    }

    /// Reports a call opened (after its fields from the same fragment are set).
    pub fn call_started<S: EventSink>(&self, slot: usize, call: usize, sink: &mut S) {
        sink.emit(|| Event::CallStarted {
            choice: self.choices[slot].index,
            call,
        });
    }

    /// Appends a fragment of a call's arguments (non-empty), bounded by `max_arguments_bytes`
    /// and `max_depth`; reports the delta and, the first time they close as one JSON value,
    /// that the call is ready.
    pub fn call_arguments<S: EventSink>(
        &mut self,
        slot: usize,
        call: usize,
        fragment: &str,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        self.append_arguments(slot, call, Piece::Text(fragment), at, errors, sink);
    }

    /// `call_arguments` for a whole value the adapter's reader has already checked is valid
    /// JSON nested at most `depth` deep (at most `max_depth`): not scanned a second time when
    /// it is the call's first fragment.
    #[allow(clippy::too_many_arguments)]
    pub fn call_checked_arguments<S: EventSink>(
        &mut self,
        slot: usize,
        call: usize,
        value: &str,
        depth: usize,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        self.append_arguments(slot, call, Piece::Checked(value, depth), at, errors, sink);
    }

    /// `call_arguments` for a fragment sent as a JSON string: `escaped` is the valid string
    /// text between its quotes, decoded straight into the call's arguments. `false` (nothing
    /// done) when it holds a lone surrogate escape, which is no text: the adapter decides.
    pub fn call_escaped_arguments<S: EventSink>(
        &mut self,
        slot: usize,
        call: usize,
        escaped: &str,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) -> bool {
        self.append_arguments(slot, call, Piece::Escaped(escaped), at, errors, sink)
    }

    /// Whether the fragment was taken (`false`: a lone surrogate in an escaped one).
    fn append_arguments<S: EventSink>(
        &mut self,
        slot: usize,
        call: usize,
        piece: Piece<'_>,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) -> bool {
        let max_args = self.limits.max_arguments_bytes;
        let max_depth = self.limits.max_depth;
        let choice = &mut self.choices[slot];
        let index = choice.index;
        let call_state = &mut choice.calls[call];
        // An escaped text decodes to at most its own length (the limit is checked on that).
        let (Piece::Text(text) | Piece::Checked(text, _) | Piece::Escaped(text)) = piece;
        if text.is_empty() || call_state.over_limit || call_state.finished {
            return true;
        }
        if call_state.args.text().len() + text.len() > max_args {
            if let Piece::Escaped(escaped) = piece {
                // Only its decoded length can say whether it fits.
                let Some(text) = crate::partial_json::decode_escaped(escaped) else {
                    return false;
                };
                return self.append_arguments(slot, call, Piece::Text(&text), at, errors, sink);
            }
            call_state.over_limit = true;
            errors.note(CoreError::limit("max_arguments_bytes", max_args, at));
            return true;
        }
        let start = call_state.args.text().len();
        let was_valid = call_state.args.error().is_none();
        // A malformed text is not an error of the stream: the call finishes with it attached.
        // Nesting past max_depth is a limit, reported once, and the call finishes with it too.
        let fed = match piece {
            Piece::Text(text) => call_state.args.feed(text),
            Piece::Checked(value, depth) => call_state.args.feed_checked(value, depth),
            Piece::Escaped(escaped) => match call_state.args.feed_escaped(escaped) {
                Some(fed) => fed,
                None => return false,
            },
        };
        if let Err(err) = fed {
            if was_valid && err.kind == ParseKind::TooDeep {
                errors.note(CoreError::limit("max_depth", max_depth, at));
            }
        }
        sink.emit(|| Event::CallDelta {
            choice: index,
            call,
            range: start..call_state.args.text().len(),
        });
        if !call_state.ready && call_state.args.is_complete() {
            call_state.ready = true;
            sink.emit(|| Event::CallReady {
                choice: index,
                call,
                len: call_state.args.text().len(),
            });
        }
        true
    }

    /// Stops a call's arguments for a reason of the format's own (Gemini pieces out of order):
    /// later fragments are dropped and the call finishes "incomplete" whatever text it kept, as
    /// when `max_arguments_bytes` cut it.
    pub fn stop_arguments(&mut self, slot: usize, call: usize, why: &'static str) {
        let call = &mut self.choices[slot].calls[call];
        call.over_limit = true;
        call.stopped_by = why;
    }

    /// Sets a choice's finish reason (the first one only), finishes its calls, reports it.
    pub fn finish_reason<S: EventSink>(&mut self, slot: usize, reason: &str, sink: &mut S) {
        self.set_finish_reason(slot, reason, true, sink);
    }

    /// Sets a choice's finish reason (the first one only) and reports it; with `finish_calls`
    /// its open calls are finished first (chat: the finish reason ends the calls; formats that
    /// end each call explicitly pass `false`).
    pub fn set_finish_reason<S: EventSink>(&mut self, slot: usize, reason: &str, finish_calls: bool, sink: &mut S) {
        if self.choices[slot].finish_reason.is_some() {
            return;
        }
        self.choices[slot].finish_reason = Some(reason.to_owned());
        if finish_calls {
            self.finish_calls(slot, sink);
        }
        sink.emit(|| Event::Finish {
            choice: self.choices[slot].index,
        });
    }

    /// Finishes every open call of every choice (choices in the order first seen).
    pub fn finish_all_calls<S: EventSink>(&mut self, sink: &mut S) {
        for slot in 0..self.choices.len() {
            self.finish_calls(slot, sink);
        }
    }

    /// Finishes the open calls of a choice, in ordinal order: empty arguments become `{}`,
    /// an empty id `call_<ordinal>`, an empty type `function`; the outcome is decided.
    pub fn finish_calls<S: EventSink>(&mut self, slot: usize, sink: &mut S) {
        for call in 0..self.choices[slot].calls.len() {
            self.finish_call(slot, call, sink);
        }
    }

    /// Finishes one call (nothing if it already is).
    pub fn finish_call<S: EventSink>(&mut self, slot: usize, call: usize, sink: &mut S) {
        let choice = &mut self.choices[slot];
        let index = choice.index;
        let call = &mut choice.calls[call];
        if call.finished {
            return;
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
                message: call.stopped_by,
            })
        } else {
            call.args.end()
        });
        sink.emit(|| Event::CallFinished {
            choice: index,
            call: call.ordinal,
        });
    }
}

impl ChoiceState {
    /// Appends non-empty text to a field; content and reasoning are reported as events.
    pub(crate) fn text<S: EventSink>(
        &mut self,
        field: TextField,
        text: &str,
        max: usize,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) -> Option<Range<usize>> {
        if text.is_empty() {
            return None;
        }
        let range = self.append(field, text, max, at, errors)?;
        let choice = self.index;
        match field {
            TextField::Reasoning => sink.emit(|| Event::Reasoning {
                choice,
                range: range.clone(),
            }),
            TextField::Content => sink.emit(|| Event::Text {
                choice,
                range: range.clone(),
            }),
            // Refusals are kept for the message only (no event class carries them yet).
            TextField::Refusal => {}
        }
        Some(range)
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
        if target.capacity() == 0 {
            // A turn's text comes a token at a time: skip the first few doublings (8, 16, ...).
            target.reserve(text.len().max(FIRST_TEXT_CAPACITY).min(max));
        }
        target.push_str(text);
        Some(start..target.len())
    }
}

/// The capacity a text field starts with.
const FIRST_TEXT_CAPACITY: usize = 256;

/// A choice's assistant message, built in one place for every caller (the binding's
/// `message()`, tests): text fields as sent, calls in reported order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView<'a> {
    /// `None` when no text came (the OpenAI shape says `"content": null` then).
    pub content: Option<&'a str>,
    pub reasoning: Option<&'a str>,
    pub refusal: Option<&'a str>,
    pub tool_calls: Vec<CallView<'a>>,
    /// The legacy `function_call`, if the choice has one.
    pub function_call: Option<CallView<'a>>,
}

/// One call of a `MessageView`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView<'a> {
    /// The call's position in creation order (`Event` and binding caches use it).
    pub ordinal: usize,
    pub id: &'a str,
    /// `"function"` until the provider says otherwise.
    pub kind: &'a str,
    pub name: &'a str,
    pub arguments: &'a str,
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

impl ChoiceState {
    /// The assistant message of this choice so far.
    #[must_use]
    pub fn message(&self) -> MessageView<'_> {
        let mut tool_calls = Vec::new();
        let mut function_call = None;
        for call in self.ordered_calls() {
            let view = CallView {
                ordinal: call.ordinal,
                id: &call.id,
                kind: if call.kind.is_empty() { "function" } else { &call.kind },
                name: &call.name,
                arguments: call.arguments(),
            };
            if call.legacy {
                function_call = Some(view);
            } else {
                tool_calls.push(view);
            }
        }
        MessageView {
            content: non_empty(&self.content),
            reasoning: non_empty(&self.reasoning),
            refusal: non_empty(&self.refusal),
            tool_calls,
            function_call,
        }
    }
}
