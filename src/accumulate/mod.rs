//! The accumulator: the bytes of one streamed response in, message state and events out.
//!
//! Three stages per read, each a plain type: the SSE decoder (`crate::sse`) frames events, the
//! format adapter (`crate::formats::Adapter`, one per wire format) turns each event into
//! operations on the format-neutral `MessageState` (`state.rs`), which owns every merge rule
//! and decides when each call is ready and finished. Events are small records with byte ranges
//! into the state (no copies); the caller turns them into whatever it needs after each read.
//! Nothing parsed before a fault is lost: a read is processed whole and its first fault returned
//! after.

mod state;

pub use state::{Call, CallView, ChoiceState, MessageState, MessageView, TextField};

use std::ops::Range;

use crate::error::{CoreError, ErrorSlot};
use crate::formats::Adapter;
use crate::limits::Limits;
use crate::sse::SseDecoder;

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

/// Accumulates one streamed response. One per stream; not shared across threads.
#[derive(Debug)]
pub struct Accumulator {
    sse: SseDecoder,
    adapter: Adapter,
    state: MessageState,
    finished: bool,
    truncated: bool,
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
        Self {
            sse: SseDecoder::new(limits.max_line_bytes, limits.max_event_bytes),
            adapter,
            state: MessageState::new(limits),
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
        let Self {
            sse, adapter, state, ..
        } = self;
        sse.feed(data, &mut errors, &mut |ev, errors| {
            adapter.on_event(ev, state, errors, sink);
        });
        errors.take().map_or(Ok(()), Err)
    }

    /// End of input: flushes the decoder, finishes open calls, decides `truncated`.
    pub fn finish<S: EventSink>(&mut self, sink: &mut S) -> Result<(), CoreError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let mut errors = ErrorSlot::default();
        let Self {
            sse, adapter, state, ..
        } = self;
        state.at_eof = true;
        sse.finish(&mut errors, &mut |ev, errors| adapter.on_event(ev, state, errors, sink));
        adapter.on_end(state, &mut errors, sink);
        state.finish_all_calls(sink);
        self.truncated = self.adapter.truncated(&self.state);
        errors.take().map_or(Ok(()), Err)
    }

    /// The name of the wire format read (`"chat"`, `"anthropic"`).
    #[must_use]
    pub fn format(&self) -> &'static str {
        self.adapter.name()
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
