//! Server-sent events: bytes in, events out, incrementally (WHATWG event-stream rules).
//!
//! Consumes network reads of any size; emits each dispatched event to a callback as borrowed
//! text. Invariants: every input byte is scanned once (a partial line is buffered, never
//! re-scanned), lines are split on bytes before UTF-8 validation (CR and LF never occur inside a
//! multi-byte sequence), and memory is bounded by `max_line_bytes` + `max_event_bytes`.
//!
//! Two deliberate deviations from WHATWG (`docs/semantics.md` §1): at end of input an
//! unterminated last line is processed and a pending event with data is dispatched, because LLM
//! servers sometimes omit the final blank line (unless the input ends inside a UTF-8 character:
//! then that event is cut and dropped); and a line that is not valid UTF-8 is an error, not
//! decoded with U+FFFD, because a replaced character would silently change tool arguments.

use memchr::{memchr, memchr2, memrchr, memrchr2};

use crate::error::{CoreError, ErrorSlot, ParseKind};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event, borrowed from the decoder's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The event type; `"message"` when the stream set none.
    pub event: &'a str,
    /// The data lines joined with `\n`.
    pub data: &'a str,
    /// The last event id seen so far, if any.
    pub id: Option<&'a str>,
    /// Stream offset of the first data byte, for error positions.
    pub data_offset: u64,
}

/// Incremental SSE decoder: `feed` any number of reads, then `finish` once.
// The flags are independent states of the line scanner.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug)]
pub struct SseDecoder {
    line: Vec<u8>,
    line_offset: u64,
    skipping_line: bool,
    trailing_cr: bool,
    bom_head: Option<Vec<u8>>,
    offset: u64,
    data: String,
    data_offset: Option<u64>,
    data_overflow: bool,
    event_type: String,
    last_id: Option<String>,
    retry: Option<u64>,
    max_line_bytes: usize,
    max_event_bytes: usize,
    /// NDJSON framing: lines end at LF only (a CR before it is JSON whitespace, a lone CR is
    /// inside the line), and every non-blank line is one event's data (no fields, no blank-line
    /// dispatch, no `max_event_bytes`); offsets, `max_line_bytes` and the BOM as for SSE.
    ndjson: bool,
}

/// The event name under which NDJSON mode passes on a line that is not valid UTF-8 (no data,
/// `data_offset` at its first bad byte): the reader decides whether it is an error, since Ollama
/// reads nothing after its done line, not even bad bytes.
pub const INVALID_UTF8: &str = "\0invalid-utf8";

/// An NDJSON line of whitespace only: not an event.
fn blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// Whether `line` is valid UTF-8 but for a character its last bytes only began.
fn ends_inside_utf8_char(line: &[u8]) -> bool {
    matches!(std::str::from_utf8(line), Err(e) if e.error_len().is_none())
}

/// The first CR or LF of `input`. Its first 64 bytes are looked at 16 at a time: a short read
/// (or a line's end a few dozen bytes away) is found before memchr2, which takes the rest,
/// has set up its wider search.
#[inline]
fn cr_or_lf(input: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut from = 0;
        while from + 16 <= input.len().min(64) {
            let marks = crate::plain::either16(&input[from..from + 16], b'\n', b'\r');
            if marks != 0 {
                return Some(from + marks.trailing_zeros() as usize);
            }
            from += 16;
        }
        if input.len() <= 64 {
            return input[from..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map(|n| from + n);
        }
        memchr2(b'\n', b'\r', &input[from..]).map(|n| from + n)
    }
    #[cfg(not(target_arch = "x86_64"))]
    memchr2(b'\n', b'\r', input)
}

/// Whether `on_event` takes events offered before their line is found: asked until it says
/// yes (`EventHandler::wants_event_from`), `offer` the answer kept.
#[inline]
fn asked<F: EventHandler>(offer: &mut bool, on_event: &F) -> bool {
    if !*offer {
        *offer = on_event.wants_event_from();
    }
    *offer
}

/// What the decoder hands its events to. Any `FnMut(SseEvent, &mut ErrorSlot)` is one.
pub trait EventHandler {
    /// One event.
    fn event(&mut self, ev: SseEvent<'_>, errors: &mut ErrorSlot);

    /// An event that is one `data: ` line and the blank line after it, offered before its
    /// line is looked for: `text` starts with the data (at stream offset `at`) and goes on to
    /// the end of the read's whole lines (for a line begun in an earlier read: to the end of
    /// the blank line after it). A handler that reads it as the data of an event of
    /// at most `max` bytes followed by `"\n\n"`, and handles that event, returns the bytes
    /// taken (the data and the two line ends); `None` leaves it to the decoder, unchanged.
    /// Offered only for an event of type `message` in a stream that sent no `id` yet, and only
    /// while `wants_event_from` says so.
    #[inline]
    fn event_from(&mut self, text: &str, max: usize, at: u64, errors: &mut ErrorSlot) -> Option<usize> {
        let _ = (text, max, at, errors);
        None
    }

    /// Whether `event_from` may take an event now (asked at a `data: ` line, in a read where
    /// `may_want_event_from` said yes, until it says yes).
    #[inline]
    fn wants_event_from(&self) -> bool {
        false
    }

    /// Whether `wants_event_from` may say yes in this read (asked once a read).
    #[inline]
    fn may_want_event_from(&self) -> bool {
        false
    }
}

impl<F: FnMut(SseEvent<'_>, &mut ErrorSlot)> EventHandler for F {
    #[inline]
    fn event(&mut self, ev: SseEvent<'_>, errors: &mut ErrorSlot) {
        self(ev, errors);
    }
}

/// What a held line or an event's data takes at first: a doubling from a few bytes took
/// four or five reallocations for a line of a few hundred, in every stream.
const FIRST_CAPACITY: usize = 256;

/// The first room of an empty buffer for `len` bytes (see `FIRST_CAPACITY`). Apart and cold:
/// inlined, it kept the short-read path (`buffer_partial_line`) from being inlined (+1.7%
/// instructions on 64-byte reads).
#[cold]
#[inline(never)]
fn first_room(buffer: &mut Vec<u8>, len: usize) {
    buffer.reserve(len.max(FIRST_CAPACITY));
}

/// The field prefix `EventHandler::event_from` is offered events after.
const DATA: &str = "data: ";

/// The field prefix of the events `SseDecoder::named_events_from` reads.
const EVENT: &str = "event: ";

impl SseDecoder {
    /// A decoder with the given line and event size limits.
    #[must_use]
    pub fn new(max_line_bytes: usize, max_event_bytes: usize) -> Self {
        Self {
            line: Vec::new(),
            line_offset: 0,
            skipping_line: false,
            trailing_cr: false,
            bom_head: Some(Vec::new()),
            offset: 0,
            data: String::new(),
            data_offset: None,
            data_overflow: false,
            event_type: String::new(),
            last_id: None,
            retry: None,
            max_line_bytes,
            max_event_bytes,
            ndjson: false,
        }
    }

    /// Switches to NDJSON framing (before any line was read).
    pub fn set_ndjson(&mut self) {
        self.ndjson = true;
    }

    /// The reconnection time the stream asked for, if any.
    #[must_use]
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Decodes one read. Faults are noted in `errors` and decoding goes on after them.
    pub fn feed<F>(&mut self, input: &[u8], errors: &mut ErrorSlot, on_event: &mut F)
    where
        F: EventHandler,
    {
        if let Some(mut head) = self.bom_head.take() {
            // The BOM may itself arrive split across reads: hold up to 3 bytes until we know.
            let take = (BOM.len() - head.len()).min(input.len());
            head.extend_from_slice(&input[..take]);
            if head.len() < BOM.len() && BOM.starts_with(&head) {
                self.bom_head = Some(head);
                return;
            }
            if head == BOM {
                self.offset += BOM.len() as u64;
            } else {
                self.scan(&head, errors, on_event);
            }
            self.scan(&input[take..], errors, on_event);
            return;
        }
        self.scan(input, errors, on_event);
    }

    /// Keeps a read that lies inside a line (no line end in it) when nothing else waits on it
    /// (no BOM to check, no CR just before, no line being dropped, room under
    /// `max_line_bytes`): what `feed` would do with it, without its bookkeeping, which costs
    /// more than the read when reads are a few dozen bytes. `false`: nothing done.
    pub fn keep_inside_line(&mut self, input: &[u8]) -> bool {
        let simple = self.bom_head.is_none()
            && !self.trailing_cr
            && !self.skipping_line
            && !input.is_empty()
            && self.line.len() + input.len() <= self.max_line_bytes;
        if !simple || self.line_end(input).is_some() {
            return false;
        }
        self.hold(input);
        true
    }

    /// End of input: processes an unterminated last line and dispatches a pending event.
    pub fn finish<F>(&mut self, errors: &mut ErrorSlot, on_event: &mut F)
    where
        F: EventHandler,
    {
        if let Some(head) = self.bom_head.take() {
            if head != BOM {
                self.scan(&head, errors, on_event);
            }
        }
        if !self.skipping_line && !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            if ends_inside_utf8_char(&line) {
                // The stream was cut inside a character of its last line: that event is cut,
                // and is dropped like any other cut last event (not an encoding fault).
                self.data.clear();
                self.data_overflow = false;
            } else {
                self.handle_line(&line, self.line_offset, errors, on_event);
            }
        }
        self.line.clear();
        self.skipping_line = false;
        self.dispatch(errors, on_event);
    }

    fn scan<F>(&mut self, mut input: &[u8], errors: &mut ErrorSlot, on_event: &mut F)
    where
        F: EventHandler,
    {
        if self.trailing_cr && !input.is_empty() {
            self.trailing_cr = false;
            if input[0] == b'\n' {
                input = &input[1..];
                self.offset += 1;
            }
        }
        // A read inside a line (most short reads are) is only kept: one search instead of the
        // three below.
        let eol = match self.line_end(input) {
            None if !input.is_empty() => {
                self.buffer_partial_line(input, errors);
                return;
            }
            eol => eol,
        };
        if eol.is_some_and(|eol| self.joined_read(input, eol, errors, on_event)) {
            return;
        }
        // The read's whole lines are validated as UTF-8 at once (a line of its own costs more to
        // start than to check): `checked` is that text and where it starts in `input`. A read
        // with a bad byte is checked line by line instead, so only that line is refused.
        let whole = input;
        let checked = self.checked_lines(whole);
        if self.ndjson && self.line.is_empty() && !self.skipping_line {
            if let Some((0, with_end)) = checked {
                let text = &with_end[..with_end.len() - 1];
                // NDJSON: a line is an event of its own, so the read's whole lines, checked at
                // once above, go out one after another without the general loop's bookkeeping.
                for line in text.split('\n') {
                    if line.len() > self.max_line_bytes {
                        errors.note(CoreError::limit("max_line_bytes", self.max_line_bytes, self.offset));
                    } else {
                        self.handle_text(line, self.offset, errors, on_event);
                    }
                    self.offset += line.len() as u64 + 1;
                }
                self.scan_rest(&input[text.len() + 1..], whole, None, errors, on_event);
                return;
            }
        }
        self.scan_rest(input, whole, checked, errors, on_event);
    }

    /// The general loop of `scan`: `input` is what is left of `whole`, `checked` as in `scan`.
    fn scan_rest<F>(
        &mut self,
        mut input: &[u8],
        whole: &[u8],
        checked: Option<(usize, &str)>,
        errors: &mut ErrorSlot,
        on_event: &mut F,
    ) where
        F: EventHandler,
    {
        // Asked again at each `data: ` line until it says yes (a chat stream has a chunk shape
        // to compare with from its second chunk on), if the handler may ever say so.
        let may = on_event.may_want_event_from();
        let mut offer = may && on_event.wants_event_from();
        // The checked lines without the last line end: a line in them is whole.
        let lines = checked.map(|(start, with_end)| (start, &with_end[..with_end.len() - 1]));
        // The one `data:` line of the current event while it is still in `input`, and its
        // offset: not copied unless the event goes on past it or past this read.
        let mut held: Option<(&str, u64)> = None;
        while !input.is_empty() {
            if held.is_none() && input.starts_with(EVENT.as_bytes()) {
                let taken = self.named_events_from(input, whole, checked, errors, on_event);
                if taken > 0 {
                    input = &input[taken..];
                    continue;
                }
            }
            if may && held.is_none() && input.starts_with(DATA.as_bytes()) && asked(&mut offer, on_event) {
                let taken = self.events_from(input, whole, checked, errors, on_event);
                if taken > 0 {
                    input = &input[taken..];
                    continue;
                }
            }
            let Some(eol) = self.line_end(input) else {
                self.release(&mut held, errors);
                self.buffer_partial_line(input, errors);
                return;
            };
            let piece = &input[..eol];
            let at = whole.len() - input.len();
            let text = match lines {
                Some((start, text)) if self.line.is_empty() && at >= start && at + eol <= start + text.len() => {
                    Some(&text[at - start..at - start + eol])
                }
                _ => None,
            };
            let fits = piece.len() <= self.max_line_bytes;
            if let Some(line) = text.filter(|_| !self.skipping_line && !self.ndjson && fits) {
                if !self.borrow_line(line, &mut held, self.offset, errors, on_event) {
                    self.release(&mut held, errors);
                    self.handle_text(line, self.offset, errors, on_event);
                }
            } else if self.skipping_line {
                self.skipping_line = false;
            } else if self.line.is_empty() {
                self.release(&mut held, errors);
                if piece.len() > self.max_line_bytes {
                    errors.note(CoreError::limit("max_line_bytes", self.max_line_bytes, self.offset));
                } else if let Some(line) = text {
                    self.handle_text(line, self.offset, errors, on_event);
                } else {
                    self.handle_line(piece, self.offset, errors, on_event);
                }
            } else if self.line.len() + piece.len() > self.max_line_bytes {
                self.line.clear();
                errors.note(CoreError::limit(
                    "max_line_bytes",
                    self.max_line_bytes,
                    self.line_offset,
                ));
            } else {
                let joined = self.end_held_line(
                    piece,
                    &input[eol..],
                    may && asked(&mut offer, on_event),
                    errors,
                    on_event,
                );
                if joined {
                    // The data line and the blank line after it.
                    self.offset += eol as u64 + 2;
                    input = &input[eol + 2..];
                    continue;
                }
            }
            let mut consumed = eol + 1;
            if input[eol] == b'\r' {
                match input.get(eol + 1) {
                    Some(b'\n') => consumed += 1,
                    Some(_) => {}
                    None => self.trailing_cr = true,
                }
            }
            self.offset += consumed as u64;
            input = &input[consumed..];
        }
        self.release(&mut held, errors);
    }

    /// Offers the handler the events that start `input`, one after another, each one `data: `
    /// line and a blank line in the checked text (see `EventHandler::event_from`), while
    /// nothing of another event is pending; the bytes taken. Not inlined, and a run of events
    /// a call: the general loop stays as small as it was for the formats that never take this
    /// way (their loop ran 4% slower with it inlined).
    #[inline(never)]
    fn events_from<F>(
        &mut self,
        input: &[u8],
        whole: &[u8],
        checked: Option<(usize, &str)>,
        errors: &mut ErrorSlot,
        on_event: &mut F,
    ) -> usize
    where
        F: EventHandler,
    {
        // The handler is told no id.
        let Some(text) = self.idle_text(input, whole, checked).filter(|_| self.last_id.is_none()) else {
            return 0;
        };
        let max = self.event_from_max();
        let mut taken = 0;
        while let Some(data) = text.get(taken..).and_then(|rest| rest.strip_prefix(DATA)) {
            let Some(n) = on_event.event_from(data, max, self.offset + (taken + DATA.len()) as u64, errors) else {
                break;
            };
            taken += DATA.len() + n;
        }
        self.offset += taken as u64;
        taken
    }

    /// Offers the handler (`EventHandler::event_from`) an event whose one `data: ` line began
    /// in an earlier read and ends in this one, when the blank line that ends the event follows
    /// at once (`after` is the rest of the read from the line's end) and nothing else of an
    /// event is pending: in short reads most events are such a line. `line` is the whole line;
    /// the handler reads it as the data of an event at the line's offset with `"\n\n"` after
    /// it. `false` (`line` as it was): nothing done.
    #[inline(never)]
    fn joined_event_from<F>(
        &mut self,
        line: &mut Vec<u8>,
        after: &[u8],
        errors: &mut ErrorSlot,
        on_event: &mut F,
    ) -> bool
    where
        F: EventHandler,
    {
        // `line` was taken out of `self.line`: the decoder holds no other line.
        let idle = self.idle() && self.last_id.is_none();
        if !idle || !after.starts_with(b"\n\n") || !line.starts_with(DATA.as_bytes()) {
            return false;
        }
        let len = line.len();
        // Two pushes: `extend_from_slice` of two bytes was a call and a `memcpy` here.
        line.push(b'\n');
        line.push(b'\n');
        let Ok(text) = simdutf8::basic::from_utf8(&line[DATA.len()..]) else {
            line.truncate(len);
            return false;
        };
        let max = self.event_from_max();
        let at = self.line_offset + DATA.len() as u64;
        // The data has no line end: an event the handler takes is all of `text`.
        if on_event.event_from(text, max, at, errors).is_some() {
            return true;
        }
        line.truncate(len);
        false
    }

    /// Ends the held line with `piece` (its last bytes; `after` is the read from the line
    /// end on): offered joined (`joined_event_from`) when `offer`, else or when declined read
    /// as a line (`handle_line`). Whether the handler took it as an event (then the blank line
    /// after it is taken too). The line buffer is kept for the next line. Inlined in both
    /// callers, as the code was before it was shared: a call of its own cost 2 M instructions
    /// a pass of the small streams in 64-byte reads.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn end_held_line<F>(
        &mut self,
        piece: &[u8],
        after: &[u8],
        offer: bool,
        errors: &mut ErrorSlot,
        on_event: &mut F,
    ) -> bool
    where
        F: EventHandler,
    {
        let mut line = std::mem::take(&mut self.line);
        line.extend_from_slice(piece);
        let joined = offer && self.joined_event_from(&mut line, after, errors, on_event);
        if !joined {
            self.handle_line(&line, self.line_offset, errors, on_event);
        }
        line.clear();
        self.line = line;
        joined
    }

    /// A read that ends the held `data: ` line of an event at `eol`, with the blank line that
    /// ends the event right after it, and stops inside the next line: what the general loop
    /// does with it (the line offered joined, then the rest kept), without the read's
    /// whole-line check, the loop, the offer of the rest as events and one more line search.
    /// Most reads that end a line, when reads are short, are such a read. A line the handler
    /// declines goes where the loop sends it (`handle_line`), and the rest of the read on to
    /// `scan`, so the offer is not made twice. `false`: nothing done.
    #[inline(never)]
    fn joined_read<F>(&mut self, input: &[u8], eol: usize, errors: &mut ErrorSlot, on_event: &mut F) -> bool
    where
        F: EventHandler,
    {
        let held = self.line.len();
        let simple = held > 0
            && !self.skipping_line
            && held + eol <= self.max_line_bytes
            && on_event.may_want_event_from()
            && on_event.wants_event_from();
        if !simple {
            return false;
        }
        let Some(rest) = input[eol..].strip_prefix(b"\n\n") else {
            return false;
        };
        if self.line_end(rest).is_some() {
            return false;
        }
        if self.end_held_line(&input[..eol], &input[eol..], true, errors, on_event) {
            self.offset += eol as u64 + 2;
            if !rest.is_empty() {
                self.buffer_partial_line(rest, errors);
            }
        } else {
            // The LF that ends the line; the blank line and the rest are the loop's again (it
            // holds no line now, so this is no second offer).
            self.offset += eol as u64 + 1;
            self.scan(&input[eol + 1..], errors, on_event);
        }
        true
    }

    /// Whether nothing of another event is pending: no held line, data or event type (and the
    /// stream is SSE). Where `event_from` and `named_events_from` may read.
    fn idle(&self) -> bool {
        self.line.is_empty()
            && !self.skipping_line
            && !self.ndjson
            && self.data.is_empty()
            && !self.data_overflow
            && self.event_type.is_empty()
    }

    /// The longest data `EventHandler::event_from` may take, as the line path would take it:
    /// the line within `max_line_bytes`, the data within `max_event_bytes`.
    fn event_from_max(&self) -> usize {
        (self.max_line_bytes.saturating_sub(DATA.len())).min(self.max_event_bytes)
    }

    /// The checked text from where `input` starts, when nothing of another event is pending (no
    /// held line, data or event type): where `events_from` and `named_events_from` read.
    fn idle_text<'t>(&self, input: &[u8], whole: &[u8], checked: Option<(usize, &'t str)>) -> Option<&'t str> {
        let idle = self.idle();
        let (start, text) = checked.filter(|_| idle)?;
        text.get((whole.len() - input.len()).checked_sub(start)?..)
    }

    /// Reads the events that start `input`, one after another, while each is an `event: `
    /// line, one `data: ` line and a blank line, all ending in LF, in the checked text (every
    /// event of Anthropic's and the Responses API's streams), and nothing of another event is
    /// pending; the bytes taken. Each is handed on as the line loop would hand it (the same
    /// name, data, id and offset), without its three turns of the loop, the copy of its name
    /// or its three line searches (one is left: the data's end). Not inlined, as `events_from`.
    #[inline(never)]
    fn named_events_from<F>(
        &mut self,
        input: &[u8],
        whole: &[u8],
        checked: Option<(usize, &str)>,
        errors: &mut ErrorSlot,
        on_event: &mut F,
    ) -> usize
    where
        F: EventHandler,
    {
        let Some(mut rest) = self.idle_text(input, whole, checked) else {
            return 0;
        };
        let mut taken = 0;
        while let Some(named) = rest.strip_prefix(EVENT) {
            let Some(name_end) = cr_or_lf(named.as_bytes()) else {
                break;
            };
            let Some(data) = named[name_end..].strip_prefix('\n').and_then(|r| r.strip_prefix(DATA)) else {
                break;
            };
            let Some(data_end) = cr_or_lf(data.as_bytes()) else {
                break;
            };
            // As the line loop would take them: LF line ends (a CR may be followed by an LF in
            // the next read), lines within `max_line_bytes`, the data within `max_event_bytes`.
            if !data[data_end..].starts_with("\n\n")
                || EVENT.len() + name_end > self.max_line_bytes
                || DATA.len() + data_end > self.max_line_bytes
                || data_end > self.max_event_bytes
            {
                break;
            }
            let name = if name_end == 0 { "message" } else { &named[..name_end] };
            let data_at = EVENT.len() + name_end + 1 + DATA.len();
            let event = SseEvent {
                event: name,
                data: &data[..data_end],
                id: self.last_id.as_deref(),
                data_offset: self.offset + (taken + data_at) as u64,
            };
            on_event.event(event, errors);
            let len = data_at + data_end + 2;
            taken += len;
            rest = &rest[len..];
        }
        self.offset += taken as u64;
        taken
    }

    /// Reads a `data:` line, or the blank line that ends an event, of an event whose data is
    /// that one line of this read, without copying the data (the usual event: one `data:`
    /// line and the blank line after it, in the same read); `false` for any other line, which
    /// the caller reads after `release`.
    fn borrow_line<'t, F>(
        &mut self,
        line: &'t str,
        held: &mut Option<(&'t str, u64)>,
        line_offset: u64,
        errors: &mut ErrorSlot,
        on_event: &mut F,
    ) -> bool
    where
        F: EventHandler,
    {
        if line.is_empty() {
            let Some((data, data_offset)) = held.take() else {
                return false;
            };
            let event = SseEvent {
                event: self.event_name(),
                data,
                id: self.last_id.as_deref(),
                data_offset,
            };
            on_event.event(event, errors);
            self.event_type.clear();
            return true;
        }
        let Some(rest) = line.strip_prefix("data:") else {
            return false;
        };
        let value = rest.strip_prefix(' ').unwrap_or(rest);
        // As `push_data` would take it: the first data line of the event, within the limit.
        if held.is_some() || !self.data.is_empty() || self.data_overflow || value.len() > self.max_event_bytes {
            return false;
        }
        *held = Some((value, line_offset + (line.len() - value.len()) as u64));
        true
    }

    /// The held data line goes into the event's buffer (another line of the event follows).
    fn release(&mut self, held: &mut Option<(&str, u64)>, errors: &mut ErrorSlot) {
        if let Some((data, at)) = held.take() {
            self.push_data(data, at, errors);
        }
    }

    /// The whole lines of `input` that begin in it (not the end of a line held from the last
    /// read), as text with the last one's line end, and their start; `None` when they are not
    /// all valid UTF-8 or there are none. Lines split on CR or LF, which never occur inside a
    /// multi-byte character, so each line of valid text is valid text.
    fn checked_lines<'i>(&self, input: &'i [u8]) -> Option<(usize, &'i str)> {
        let last = if self.ndjson {
            memrchr(b'\n', input)
        } else {
            memrchr2(b'\n', b'\r', input)
        }?;
        let start = if self.line.is_empty() && !self.skipping_line {
            0
        } else {
            self.line_end(input)? + 1
        };
        if start > last {
            return None;
        }
        let text = simdutf8::basic::from_utf8(&input[start..=last]).ok()?;
        Some((start, text))
    }

    /// Where the first line of `input` ends: at LF for NDJSON, at CR or LF for SSE.
    fn line_end(&self, input: &[u8]) -> Option<usize> {
        if self.ndjson {
            memchr(b'\n', input)
        } else {
            cr_or_lf(input)
        }
    }

    /// The type of the event being read (`"message"` when the stream set none).
    fn event_name(&self) -> &str {
        if self.event_type.is_empty() {
            "message"
        } else {
            &self.event_type
        }
    }

    fn buffer_partial_line(&mut self, rest: &[u8], errors: &mut ErrorSlot) {
        if self.skipping_line {
            // The oversized line is being dropped without being stored.
        } else if self.line.len() + rest.len() > self.max_line_bytes {
            let start = if self.line.is_empty() {
                self.offset
            } else {
                self.line_offset
            };
            self.line.clear();
            self.line.shrink_to(4096);
            self.skipping_line = true;
            errors.note(CoreError::limit("max_line_bytes", self.max_line_bytes, start));
        } else {
            self.hold(rest);
            return;
        }
        self.offset += rest.len() as u64;
    }

    /// Keeps `rest`, the start or more of a line that fits under `max_line_bytes`.
    #[inline]
    fn hold(&mut self, rest: &[u8]) {
        if self.line.is_empty() {
            self.line_offset = self.offset;
        }
        if self.line.capacity() == 0 {
            first_room(&mut self.line, rest.len());
        }
        self.line.extend_from_slice(rest);
        self.offset += rest.len() as u64;
    }

    /// A line of bytes not yet known to be UTF-8.
    fn handle_line<F>(&mut self, line: &[u8], line_offset: u64, errors: &mut ErrorSlot, on_event: &mut F)
    where
        F: EventHandler,
    {
        match simdutf8::compat::from_utf8(line) {
            Ok(text) => self.handle_text(text, line_offset, errors, on_event),
            Err(err) => {
                let at = line_offset + err.valid_up_to() as u64;
                if self.ndjson {
                    if !blank(line) {
                        let ev = SseEvent {
                            event: INVALID_UTF8,
                            data: "",
                            id: None,
                            data_offset: at,
                        };
                        on_event.event(ev, errors);
                    }
                } else {
                    errors.note(CoreError::parse(ParseKind::InvalidUtf8, at, "invalid utf-8 sequence"));
                }
            }
        }
    }

    fn handle_text<F>(&mut self, line: &str, line_offset: u64, errors: &mut ErrorSlot, on_event: &mut F)
    where
        F: EventHandler,
    {
        if self.ndjson {
            if !blank(line.as_bytes()) {
                let ev = SseEvent {
                    event: "message",
                    data: line,
                    id: None,
                    data_offset: line_offset,
                };
                on_event.event(ev, errors);
            }
            return;
        }
        if line.is_empty() {
            self.dispatch(errors, on_event);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        // Field names are short: a byte loop finds the colon sooner than a searcher sets up.
        let (field, value, value_at) = match line.bytes().position(|b| b == b':') {
            Some(colon) => {
                let mut value_start = colon + 1;
                if line.as_bytes().get(value_start) == Some(&b' ') {
                    value_start += 1;
                }
                (&line[..colon], &line[value_start..], value_start)
            }
            None => (line, "", line.len()),
        };
        match field {
            "data" => self.push_data(value, line_offset + value_at as u64, errors),
            "event" => {
                self.event_type.clear();
                self.event_type.push_str(value);
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
    }

    fn push_data(&mut self, value: &str, at: u64, errors: &mut ErrorSlot) {
        if self.data_overflow {
            return;
        }
        // The dispatched text: the lines so far, each with the LF that joins it to the next,
        // and this one (the buffer's last LF is not dispatched).
        if self.data.len() + value.len() > self.max_event_bytes {
            errors.note(CoreError::limit("max_event_bytes", self.max_event_bytes, at));
            self.data_overflow = true;
            self.data.clear();
            self.data.shrink_to(4096);
            return;
        }
        if self.data_offset.is_none() {
            self.data_offset = Some(at);
        }
        if self.data.capacity() == 0 {
            self.data.reserve((value.len() + 1).max(FIRST_CAPACITY));
        }
        self.data.push_str(value);
        self.data.push('\n');
    }

    fn dispatch<F>(&mut self, errors: &mut ErrorSlot, on_event: &mut F)
    where
        F: EventHandler,
    {
        let overflow = std::mem::replace(&mut self.data_overflow, false);
        if !self.data.is_empty() && !overflow {
            self.data.pop();
            let event = SseEvent {
                event: self.event_name(),
                data: &self.data,
                id: self.last_id.as_deref(),
                data_offset: self.data_offset.unwrap_or(self.offset),
            };
            on_event.event(event, errors);
        }
        self.data.clear();
        self.data_offset = None;
        self.event_type.clear();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cr_or_lf_finds_what_memchr2_finds() {
        for len in 0..200 {
            let plain: Vec<u8> = (0..len).map(|i| b"data: {\"a\":\"\xc3\xa9\"}"[i % 16]).collect();
            assert_eq!(super::cr_or_lf(&plain), None, "{len}");
            for at in 0..len {
                for (end, other) in [(b'\n', b'\r'), (b'\r', b'\n')] {
                    let mut bytes = plain.clone();
                    bytes[at] = end;
                    if at + 1 < len {
                        bytes[len - 1] = other;
                    }
                    assert_eq!(
                        super::cr_or_lf(&bytes),
                        memchr::memchr2(b'\n', b'\r', &bytes),
                        "{len} {at}"
                    );
                }
            }
        }
    }

    use super::*;

    #[derive(Debug, PartialEq)]
    struct Owned {
        event: String,
        data: String,
        id: Option<String>,
    }

    /// The events and their data offsets. With `inline`, it also takes a `data: ` line and
    /// the blank line after it before their lines are looked for (`EventHandler::event_from`),
    /// as the chat adapter does: every case below is read both ways and must agree.
    struct Sink {
        out: Vec<Owned>,
        offsets: Vec<u64>,
        inline: bool,
    }

    impl EventHandler for Sink {
        fn event(&mut self, ev: SseEvent<'_>, _: &mut ErrorSlot) {
            self.out.push(Owned {
                event: ev.event.to_owned(),
                data: ev.data.to_owned(),
                id: ev.id.map(str::to_owned),
            });
            self.offsets.push(ev.data_offset);
        }

        fn wants_event_from(&self) -> bool {
            self.inline
        }

        fn may_want_event_from(&self) -> bool {
            self.inline
        }

        fn event_from(&mut self, text: &str, max: usize, at: u64, errors: &mut ErrorSlot) -> Option<usize> {
            let end = text.find(['\n', '\r']).filter(|&end| end <= max)?;
            if !self.inline || !text[end..].starts_with("\n\n") {
                return None;
            }
            let ev = SseEvent {
                event: "message",
                data: &text[..end],
                id: None,
                data_offset: at,
            };
            self.event(ev, errors);
            Some(end + 2)
        }
    }

    fn decode_with(chunks: &[&[u8]], inline: bool, limit: usize) -> (Vec<Owned>, Vec<u64>, Option<CoreError>) {
        decode_limited(chunks, inline, (limit, limit))
    }

    /// `limits`: `max_line_bytes` and `max_event_bytes`.
    fn decode_limited(
        chunks: &[&[u8]],
        inline: bool,
        limits: (usize, usize),
    ) -> (Vec<Owned>, Vec<u64>, Option<CoreError>) {
        let mut dec = SseDecoder::new(limits.0, limits.1);
        let mut sink = Sink {
            out: Vec::new(),
            offsets: Vec::new(),
            inline,
        };
        let mut errors = ErrorSlot::default();
        for chunk in chunks {
            dec.feed(chunk, &mut errors, &mut sink);
        }
        dec.finish(&mut errors, &mut sink);
        (sink.out, sink.offsets, errors.take())
    }

    fn decode_chunks(chunks: &[&[u8]]) -> (Vec<Owned>, Option<CoreError>) {
        let (out, _, err) = decode_with(chunks, true, 1 << 20);
        (out, err)
    }

    fn decode(input: &[u8]) -> Vec<Owned> {
        decode_chunks(&[input]).0
    }

    fn ev(data: &str) -> Owned {
        Owned {
            event: "message".into(),
            data: data.into(),
            id: None,
        }
    }

    macro_rules! sse_cases {
        ($($name:ident: $input:expr => [$($data:expr),*];)*) => {
            $(#[test] fn $name() {
                let got: Vec<String> = decode($input).into_iter().map(|e| e.data).collect();
                let want: Vec<&str> = vec![$($data),*];
                assert_eq!(got, want);
                every_split_agrees($input);
            })*
        };
    }

    fn every_split_agrees(input: &[u8]) {
        let whole = decode(input);
        // Taken before its line is found or through it, an event is the same event, at the
        // same offset, with the same faults (a limit small enough to cut some lines too).
        for limit in [1 << 20, 6] {
            let lines = decode_with(&[input], false, limit);
            let inline = decode_with(&[input], true, limit);
            assert_eq!(format!("{inline:?}"), format!("{lines:?}"), "limit {limit}");
        }
        // One byte a read never holds a whole line: every line through the line loop, which
        // the fast ways (`events_from`, `named_events_from`) must match, faults included. (The
        // first 3 bytes of a stream are read apart, for the BOM: a case puts the event it tests
        // after another.)
        for limits in [(1 << 20, 1 << 20), (6, 6), (12, 12), (1 << 20, 4), (16, 8)] {
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            let one_by_one = decode_limited(&bytes, false, limits);
            let at_once = decode_limited(&[input], true, limits);
            assert_eq!(format!("{at_once:?}"), format!("{one_by_one:?}"), "limits {limits:?}");
        }
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(decode_chunks(&[a, b]).0, whole, "split at {i}");
            // A line begun in one read and ended in the next is offered to the handler joined
            // (`joined_event_from`): the same events, offsets and faults as the line loop's.
            for limits in [(1 << 20, 1 << 20), (12, 12), (1 << 20, 4)] {
                let joined = decode_limited(&[a, b], true, limits);
                let lines = decode_limited(&[a, b], false, limits);
                assert_eq!(
                    format!("{joined:?}"),
                    format!("{lines:?}"),
                    "split at {i}, limits {limits:?}"
                );
            }
        }
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let parts = [&input[..i], &input[i..j], &input[j..]];
                assert_eq!(decode_chunks(&parts).0, whole, "split at {i},{j}");
                // A middle read that ends a held line and its event and stops inside the next
                // line is read apart (`joined_read`): the same events, offsets and faults.
                for limits in [(1 << 20, 1 << 20), (12, 12), (1 << 20, 4)] {
                    let joined = decode_limited(&parts, true, limits);
                    let lines = decode_limited(&parts, false, limits);
                    assert_eq!(
                        format!("{joined:?}"),
                        format!("{lines:?}"),
                        "split at {i},{j}, limits {limits:?}"
                    );
                }
            }
        }
    }

    sse_cases! {
        lf: b"data: a\n\ndata: b\n\n" => ["a", "b"];
        crlf: b"data: a\r\n\r\ndata: b\r\n\r\n" => ["a", "b"];
        cr: b"data: a\r\rdata: b\r\r" => ["a", "b"];
        multiline: b"data: a\ndata:b\ndata:  c\n\n" => ["a\nb\n c"];
        comment: b": keep-alive\ndata: x\n\n" => ["x"];
        no_space: b"data:x\n\n" => ["x"];
        empty_data_dispatches: b"data\n\n" => [""];
        no_data_no_dispatch: b"event: ping\n\n" => [];
        bom_once: b"\xEF\xBB\xBFdata: a\n\n" => ["a"];
        second_bom_is_kept: b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n" => [];
        unterminated_event: b"data: a\n" => ["a"];
        unterminated_line: b"data: a" => ["a"];
        u2028_is_not_newline: "data: a\u{2028}b\n\n".as_bytes() => ["a\u{2028}b"];
        utf8_kept: "data: é✓😀\n\n".as_bytes() => ["é✓😀"];
        unknown_field: b"foo: bar\ndata: a\n\n" => ["a"];
        colon_in_value: b"data: {\"a\": 1}\n\n" => ["{\"a\": 1}"];
        named: b"event: a\ndata: x\n\nevent: b:c\ndata: {\"y\": 1}\n\ndata: z\n\n" => ["x", "{\"y\": 1}", "z"];
        named_empty_name_and_data: b"data: 0\n\nevent: \ndata: \n\nevent: a\ndata:\n\n" => ["0", "", ""];
        named_crlf: b"event: a\r\ndata: x\r\n\r\nevent: b\ndata: y\r\n\nevent: c\rdata: z\n\n" => ["x", "y", "z"];
        named_more_lines: b"event: a\ndata: x\ndata: y\n\nevent: b\nid: 1\ndata: z\n\nevent: c\n: hi\ndata: w\n\n" => ["x\ny", "z", "w"];
        named_no_data: b"event: a\n\nevent: b\nevent: c\ndata: x\n\nevent:d\ndata:y\n\n" => ["x", "y"];
        named_unterminated: b"event: a\ndata: x\n\nevent: b\ndata: y\n" => ["x", "y"];
        named_after_id: b"id: 7\nevent: a\ndata: x\n\nevent: b\ndata: y\n\n" => ["x", "y"];
        named_twice: b"event: a\nevent: b\ndata: x\n\ndata: y\n\n" => ["x", "y"];
        named_long: b"data: 0\n\nevent: a-long-name\ndata: x\n\nevent: a\ndata: a-long-data\n\n" => ["0", "x", "a-long-data"];
        joined_then_held: b"data: 0\n\ndata: one\n\ndata: two\r\n\ndata: thr\xc3\xa9e\n\n: c\ndata: 4\n\n" => ["0", "one", "two", "thr\u{e9}e", "4"];
    }

    #[test]
    fn event_type_and_id() {
        let got = decode(b"event: error\nid: 7\ndata: x\n\ndata: y\n\n");
        assert_eq!(
            got,
            vec![
                Owned {
                    event: "error".into(),
                    data: "x".into(),
                    id: Some("7".into())
                },
                Owned {
                    event: "message".into(),
                    data: "y".into(),
                    id: Some("7".into())
                },
            ]
        );
    }

    #[test]
    fn retry_field() {
        let mut dec = SseDecoder::new(100, 100);
        let mut errors = ErrorSlot::default();
        dec.feed(
            b"retry: 1500\nretry: x\n\n",
            &mut errors,
            &mut |_: SseEvent<'_>, _: &mut ErrorSlot| {},
        );
        assert_eq!(dec.retry(), Some(1500));
    }

    #[test]
    fn invalid_utf8_skips_line_with_position() {
        let (events, err) = decode_chunks(&[b"data: a\xFFb\n\ndata: ok\n\n"]);
        assert_eq!(events, vec![ev("ok")]);
        assert_eq!(
            err,
            Some(CoreError::parse(ParseKind::InvalidUtf8, 7, "invalid utf-8 sequence"))
        );
    }

    #[test]
    fn cut_inside_a_character_at_end_drops_the_event() {
        let text = "data: {\"a\": \"é\"}".as_bytes();
        let cut = text.len() - 3; // between the two bytes of é
        for parts in [vec![&text[..cut]], vec![&text[..cut - 1], &text[cut - 1..cut]]] {
            let (events, err) = decode_chunks(&[&b"data: ok\n\n"[..]].into_iter().chain(parts).collect::<Vec<_>>());
            assert_eq!(events, vec![ev("ok")]);
            assert_eq!(err, None);
        }
        // An earlier data line of the same event goes with it.
        let (events, err) = decode_chunks(&[b"data: a\ndata: \xC3"]);
        assert_eq!((events, err), (vec![], None));
        // A bad byte that no continuation can fix is still an error.
        let (_, err) = decode_chunks(&[b"data: \xFF"]);
        assert!(matches!(
            err,
            Some(CoreError::Parse {
                kind: ParseKind::InvalidUtf8,
                ..
            })
        ));
    }

    #[test]
    fn long_line_is_skipped_without_buffering() {
        let mut dec = SseDecoder::new(16, 1024);
        let mut errors = ErrorSlot::default();
        let mut out = Vec::new();
        let mut sink = |ev: SseEvent<'_>, _: &mut ErrorSlot| out.push(ev.data.to_owned());
        dec.feed(b"data: 0123456789", &mut errors, &mut sink);
        for _ in 0..1000 {
            dec.feed(&[b'x'; 1000], &mut errors, &mut sink);
            assert!(dec.line.capacity() <= 4096);
        }
        dec.feed(b"\n\ndata: ok\n\n", &mut errors, &mut sink);
        assert_eq!(out, vec!["ok".to_owned()]);
        assert!(matches!(
            errors.take(),
            Some(CoreError::Limit {
                limit: "max_line_bytes",
                ..
            })
        ));
    }

    #[test]
    fn event_size_limit() {
        let mut dec = SseDecoder::new(1024, 10);
        let mut errors = ErrorSlot::default();
        let mut out = Vec::new();
        let mut sink = |ev: SseEvent<'_>, _: &mut ErrorSlot| out.push(ev.data.to_owned());
        dec.feed(b"data: 12345\ndata: 67890\n\ndata: ok\n\n", &mut errors, &mut sink);
        assert_eq!(out, vec!["ok".to_owned()]);
        assert!(matches!(
            errors.take(),
            Some(CoreError::Limit {
                limit: "max_event_bytes",
                ..
            })
        ));
    }

    #[test]
    fn event_size_limit_is_the_dispatched_text() {
        // 10 bytes of data pass a limit of 10 (one line, or two with the LF joining them),
        // 11 do not: by the inline path, the line path, named events, and at every split.
        let input: &[u8] = b"data: 1234567890\n\ndata: 1234\ndata: 5678\n\ndata: 12345678901\n\n\
            data: 12345\ndata: 67890\n\nevent: e\ndata: 1234567890\n\nevent: e\ndata: 12345678901\n\n";
        let named = Owned {
            event: "e".into(),
            data: "1234567890".into(),
            id: None,
        };
        let want = vec![ev("1234567890"), ev("1234\n5678"), named];
        for inline in [true, false] {
            for i in 0..=input.len() {
                let (out, _, err) = decode_limited(&[&input[..i], &input[i..]], inline, (1024, 10));
                assert_eq!(out, want, "split at {i}, inline {inline}");
                assert!(matches!(
                    err,
                    Some(CoreError::Limit {
                        limit: "max_event_bytes",
                        ..
                    })
                ));
            }
        }
    }

    #[test]
    fn ndjson_lines_end_at_lf_only() {
        let decode = |chunks: &[&[u8]]| {
            let mut dec = SseDecoder::new(1024, 4);
            dec.set_ndjson();
            let mut errors = ErrorSlot::default();
            let mut out = Vec::new();
            let mut sink = |ev: SseEvent<'_>, _: &mut ErrorSlot| {
                out.push((ev.event.to_owned(), ev.data.to_owned(), ev.data_offset));
            };
            for chunk in chunks {
                dec.feed(chunk, &mut errors, &mut sink);
            }
            dec.finish(&mut errors, &mut sink);
            (out, errors.take())
        };
        let input: &[u8] = b"\xEF\xBB\xBF{\"a\":1}\r\n \t\r\n{\"b\":\r2}\n\na\xFFb\n{\"c\":3}";
        let want = vec![
            ("message".to_owned(), "{\"a\":1}\r".to_owned(), 3),
            ("message".to_owned(), "{\"b\":\r2}".to_owned(), 16),
            (INVALID_UTF8.to_owned(), String::new(), 27),
            ("message".to_owned(), "{\"c\":3}".to_owned(), 30),
        ];
        // Lines longer than max_event_bytes pass: only max_line_bytes bounds a line.
        assert_eq!(decode(&[input]), (want.clone(), None));
        for i in 0..=input.len() {
            assert_eq!(
                decode(&[&input[..i], &input[i..]]),
                (want.clone(), None),
                "split at {i}"
            );
        }
    }

    #[test]
    fn data_offset_points_into_stream() {
        let mut dec = SseDecoder::new(1024, 1024);
        let mut errors = ErrorSlot::default();
        let mut offsets = Vec::new();
        dec.feed(
            b": c\ndata: ab\n\ndata:x\n\n",
            &mut errors,
            &mut |ev: SseEvent<'_>, _: &mut ErrorSlot| {
                offsets.push(ev.data_offset);
            },
        );
        assert_eq!(offsets, vec![10, 19]);
    }
}
