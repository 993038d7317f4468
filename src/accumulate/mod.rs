//! The accumulator: the bytes of one streamed response in, message state and events out.
//!
//! Three stages per read, each a plain type: the SSE decoder (`crate::sse`) frames events, the
//! format adapter (`crate::formats::Adapter`, one per wire format) turns each event into
//! operations on the format-neutral `MessageState` (`state.rs`), which owns every merge rule
//! and decides when each call is ready and finished. Events are small records with byte ranges
//! into the state (no copies); the caller turns them into whatever it needs after each read.
//! Nothing parsed before a fault is lost: a read is processed whole and its first fault returned
//! after.

pub mod outcome;
mod state;

pub use outcome::{Outcome, TokenUsage};
pub use state::{Call, CallView, ChoiceState, MessageState, MessageView, TextField};

use std::ops::Range;

use crate::error::{CoreError, ErrorSlot};
use crate::formats::detect::{sniff, Framing};
use crate::formats::{unknown_format, Adapter};
use crate::limits::Limits;
use crate::sse::{EventHandler, SseDecoder, SseEvent};

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

    /// The event `make` builds, pushed; not built at all by a sink that drops events (an event
    /// built only to be dropped cost a call to its drop glue, or an allocation).
    #[inline]
    fn emit(&mut self, make: impl FnOnce() -> Event) {
        self.push(make());
    }
}

impl EventSink for Vec<Event> {
    /// Text (or reasoning) that directly follows text of the same choice, with no other event
    /// between, extends that event, and so does a fragment of a call's arguments that directly
    /// follows one of the same call: one read gives one `TextDelta` per run of text and one
    /// `ToolCallDelta` per run of a call's fragments, not one per provider delta
    /// (`docs/semantics.md` section 6; the texts, the arguments and the order of events stay).
    // Always: with the call arm, LLVM stopped inlining it (Ollama +2% instructions).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn push(&mut self, event: Event) {
        match (self.last_mut(), &event) {
            (Some(Event::Text { choice: c, range: r }), Event::Text { choice, range })
            | (Some(Event::Reasoning { choice: c, range: r }), Event::Reasoning { choice, range })
                if c == choice && r.end == range.start =>
            {
                r.end = range.end;
            }
            (
                Some(Event::CallDelta {
                    choice: c,
                    call: k,
                    range: r,
                }),
                Event::CallDelta { choice, call, range },
            ) if c == choice && k == call && r.end == range.start => {
                r.end = range.end;
            }
            _ => Vec::push(self, event),
        }
    }
}

/// A sink that drops every event; the accumulator's state is built all the same.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl EventSink for NoEvents {
    #[inline]
    fn push(&mut self, _: Event) {}

    #[inline]
    fn emit(&mut self, _: impl FnOnce() -> Event) {}
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

/// Accumulates one streamed response. One per stream; not shared across threads.
#[derive(Debug)]
pub struct Accumulator {
    sse: SseDecoder,
    adapter: Adapter,
    state: MessageState,
    /// `auto` before the framing is known: the first bytes, held until they tell.
    sniffing: Option<Vec<u8>>,
    /// Bytes passed to the decoder while sniffing (blanks before the first field).
    sniffed: u64,
    /// The framing was not recognised: nothing more is read.
    unrecognised: bool,
    finished: bool,
    truncated: bool,
}

/// Where the decoder's events go: the adapter reads them into the state.
struct Route<'a, S> {
    adapter: &'a mut Adapter,
    state: &'a mut MessageState,
    sink: &'a mut S,
}

impl<S: EventSink> EventHandler for Route<'_, S> {
    #[inline]
    fn event(&mut self, ev: SseEvent<'_>, errors: &mut ErrorSlot) {
        self.adapter.on_event(ev, self.state, errors, self.sink);
    }

    // Always: called from two places in the decoder (`events_from`, `joined_event_from`),
    // it stopped being inlined into the first (whole reads of chat +1.4% instructions).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn event_from(&mut self, text: &str, max: usize, at: u64, errors: &mut ErrorSlot) -> Option<usize> {
        self.adapter.event_from(text, max, at, self.state, errors, self.sink)
    }

    #[inline]
    fn wants_event_from(&self) -> bool {
        self.adapter.wants_event_from()
    }

    #[inline]
    fn may_want_event_from(&self) -> bool {
        self.adapter.may_want_event_from()
    }
}

impl Default for Accumulator {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Accumulator {
    /// An accumulator of Chat Completions streams.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self::with_adapter(limits, Adapter::chat())
    }

    /// An accumulator of the wire format `adapter` reads.
    #[must_use]
    pub fn with_adapter(limits: Limits, adapter: Adapter) -> Self {
        let mut sse = SseDecoder::new(limits.max_line_bytes, limits.max_event_bytes);
        if adapter.ndjson() {
            sse.set_ndjson();
        }
        let sniffing = matches!(adapter, Adapter::Detect(_)).then(Vec::new);
        Self {
            sse,
            adapter,
            state: MessageState::new(limits),
            sniffing,
            sniffed: 0,
            unrecognised: false,
            finished: false,
            truncated: false,
        }
    }

    /// Feeds one network read. The whole read is processed; the first fault is returned after.
    pub fn feed<S: EventSink>(&mut self, data: &[u8], sink: &mut S) -> Result<(), CoreError> {
        if self.finished || self.unrecognised {
            return Ok(());
        }
        let mut errors = ErrorSlot::default();
        if self.sniffing.is_some() {
            self.sniff(data, false, &mut errors, sink);
        } else {
            self.decode(data, &mut errors, sink);
        }
        errors.take().map_or(Ok(()), Err)
    }

    /// Takes a read that lies inside a line when that is all there is to it (see
    /// `SseDecoder::keep_inside_line`): it makes no event and no error. `false`: nothing done,
    /// `feed` reads it.
    pub fn keep_inside_line(&mut self, data: &[u8]) -> bool {
        !self.finished && !self.unrecognised && self.sniffing.is_none() && self.sse.keep_inside_line(data)
    }

    fn decode<S: EventSink>(&mut self, data: &[u8], errors: &mut ErrorSlot, sink: &mut S) {
        let Self {
            sse, adapter, state, ..
        } = self;
        sse.feed(data, errors, &mut Route { adapter, state, sink });
    }

    /// `auto`: holds the first bytes until they tell the framing, then decodes them.
    fn sniff<S: EventSink>(&mut self, data: &[u8], last: bool, errors: &mut ErrorSlot, sink: &mut S) {
        let Some(mut head) = self.sniffing.take() else { return };
        // Most first reads tell the framing: read where they are, copied only to wait for more.
        let fresh = head.is_empty();
        if !fresh {
            head.extend_from_slice(data);
        }
        match sniff(if fresh { data } else { &head }, last) {
            (Framing::More, start) => {
                if fresh {
                    head.extend_from_slice(data);
                }
                if start == head.len() && start > 4096 {
                    // Blanks only, so far: the same in either framing, and not worth holding.
                    self.sniffed += head.len() as u64;
                    self.decode(&head, errors, sink);
                    head.clear();
                }
                self.sniffing = Some(head);
            }
            (Framing::Unknown(seen), start) => {
                self.unrecognised = true;
                errors.note(unknown_format(&seen, self.sniffed + start as u64));
            }
            (framing, _) => {
                if let (Framing::Ndjson, Adapter::Detect(detect)) = (&framing, &mut self.adapter) {
                    detect.ndjson = true;
                    self.sse.set_ndjson();
                }
                self.decode(if fresh { data } else { &head }, errors, sink);
            }
        }
    }

    /// End of input: flushes the decoder, finishes open calls, decides `truncated`.
    pub fn finish<S: EventSink>(&mut self, sink: &mut S) -> Result<(), CoreError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let mut errors = ErrorSlot::default();
        if self.sniffing.is_some() {
            self.sniff(&[], true, &mut errors, sink);
        }
        if self.unrecognised {
            self.truncated = true;
            return errors.take().map_or(Ok(()), Err);
        }
        let Self {
            sse, adapter, state, ..
        } = self;
        state.at_eof = true;
        sse.finish(&mut errors, &mut Route { adapter, state, sink });
        adapter.on_end(state, &mut errors, sink);
        state.finish_all_calls(sink);
        self.truncated = self.adapter.truncated(&self.state);
        errors.take().map_or(Ok(()), Err)
    }

    /// The name of the wire format read (`"auto"` until recognised).
    #[must_use]
    pub fn format(&self) -> &'static str {
        self.adapter.name()
    }

    /// How the turn ended (`docs/semantics.md` section 11); `None` while the stream is open and
    /// its end not seen.
    #[must_use]
    pub fn outcome(&self) -> Option<Outcome> {
        let unrecognised = self.unrecognised || self.adapter.unrecognised();
        let first = self.choice(0);
        outcome::EndFacts {
            ended: self.finished || self.state.done || unrecognised,
            error: unrecognised || self.state.error().is_some(),
            truncated: self.truncated,
            reason: self
                .adapter
                .reason_class(first.and_then(|c| c.finish_reason.as_deref())),
            has_calls: first.is_some_and(|c| !c.calls.is_empty()),
        }
        .outcome()
    }

    /// The turn of a choice in the provider's own shape, as JSON text; `None` when that shape
    /// is the OpenAI-shaped message (`message()`).
    #[must_use]
    pub fn native_message(&self, choice: u32) -> Option<String> {
        if matches!(self.adapter, Adapter::Detect(_) | Adapter::Chat(_)) {
            return None;
        }
        // A choice never seen (`None`): the provider's shape with nothing in it.
        let slot = self.state.choices().iter().position(|c| c.index == choice);
        self.adapter.native(&self.state, slot).map(|v| v.to_json())
    }

    /// What a choice's finish reason means, with the calls it has so far: `outcome` as if the
    /// stream ended well now ("stop", "tool_calls", "length", "content_filter" or "other").
    #[must_use]
    pub fn finish_outcome(&self, choice: u32) -> Outcome {
        let choice = self.choice(choice);
        outcome::EndFacts {
            ended: true,
            error: false,
            truncated: false,
            reason: self
                .adapter
                .reason_class(choice.and_then(|c| c.finish_reason.as_deref())),
            has_calls: choice.is_some_and(|c| !c.calls.is_empty()),
        }
        .outcome()
        .unwrap_or(Outcome::Other)
    }

    /// Input, output and total tokens of the last usage reported, in this format's keys.
    #[must_use]
    pub fn token_usage(&self) -> Option<TokenUsage> {
        outcome::token_usage(self.usage()?, self.adapter.usage_keys())
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

    /// Whether the format's end marker (`[DONE]`) was seen.
    #[must_use]
    pub fn done(&self) -> bool {
        self.state.done
    }

    /// Choices in the order first seen.
    #[must_use]
    pub fn choices(&self) -> &[ChoiceState] {
        self.state.choices()
    }

    /// The choice with the provider's `index`.
    #[must_use]
    pub fn choice(&self, index: u32) -> Option<&ChoiceState> {
        self.state.choices().iter().find(|c| c.index == index)
    }

    /// The raw JSON of the last usage reported.
    #[must_use]
    pub fn usage(&self) -> Option<&str> {
        self.state.usage().0.map(|(raw, _)| raw.as_str())
    }

    /// The stream offset of the chunk that carried the last usage.
    #[must_use]
    pub fn usage_offset(&self) -> Option<u64> {
        self.state.usage().0.map(|(_, at)| *at)
    }

    /// How many usage objects were reported so far (a change means `usage()` changed).
    #[must_use]
    pub fn usage_count(&self) -> u64 {
        self.state.usage().1
    }

    /// The limits this accumulator applies.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        self.state.limits()
    }

    /// The last error object the provider sent in the stream.
    #[must_use]
    pub fn error(&self) -> Option<&ProviderError> {
        self.state.error()
    }
}

#[cfg(test)]
mod tests;
