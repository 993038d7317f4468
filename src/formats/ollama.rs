//! Ollama native `/api/chat` streams: NDJSON, one chunk object per line; the adapter turns each
//! into operations on the format-neutral message state.
//!
//! The rules are O1-O9 of the pure-Python reference (`tests/reference/ollama.py`,
//! `docs/semantics.md` section 14), which `tests/test_ollama.py` holds this adapter to:
//! `message.thinking` is reasoning, `message.content` content; each of `message.tool_calls` is a
//! whole call, started, ready and finished at once, with `call_<ordinal>` when it has no id; the
//! `done: true` line is the end marker, with `done_reason` (old servers send none: a normal end)
//! and the counts as usage; nothing after it is read; an `{"error": ...}` line is a provider
//! error.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::chat::provider_error_event;
use super::lexer::{Cursor, COMPACT_DEPTH};
use super::native::{object as json_object, string, value_of};
use super::{event_object, minify, trim_data, LenientStr, Obj, WithRaw};
use crate::accumulate::outcome::{object_text, Entries, ReasonClass, UsageKeys};
use crate::accumulate::{EventSink, MessageState, TextField};
use crate::error::{CoreError, ErrorSlot, ParseKind};
use crate::partial_json::Value;
use crate::sse::{SseEvent, INVALID_UTF8};

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

/// What Ollama's `done_reason` means; old servers send none, and their done line is a normal end.
#[must_use]
pub fn reason_class(reason: Option<&str>) -> ReasonClass {
    match reason {
        None | Some("stop") => ReasonClass::Normal,
        Some("length") => ReasonClass::Length,
        _ => ReasonClass::Other,
    }
}

// The line shapes. A known field of the wrong JSON type, or given twice, fails the whole line
// (O2), so an invalid line is skipped as one.

#[derive(Debug, Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    message: Option<Obj<Message<'a>>>,
    #[serde(borrow, default)]
    done: Option<&'a RawValue>,
    #[serde(borrow, default)]
    done_reason: LenientStr<'a>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    // The usage keys are read from the line's entries, in order; declared so that one given
    // twice makes the line invalid.
    #[serde(default, rename = "prompt_eval_count")]
    _prompt_eval_count: Option<IgnoredAny>,
    #[serde(default, rename = "eval_count")]
    _eval_count: Option<IgnoredAny>,
    #[serde(default, rename = "total_duration")]
    _total_duration: Option<IgnoredAny>,
    #[serde(default, rename = "load_duration")]
    _load_duration: Option<IgnoredAny>,
    #[serde(default, rename = "prompt_eval_duration")]
    _prompt_eval_duration: Option<IgnoredAny>,
    #[serde(default, rename = "eval_duration")]
    _eval_duration: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    content: LenientStr<'a>,
    #[serde(borrow, default)]
    thinking: LenientStr<'a>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<WithRaw<'a, ToolCall<'a>>>>,
}

#[derive(Debug, Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow, default)]
    id: LenientStr<'a>,
    #[serde(borrow, default)]
    function: Option<Obj<Function<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
struct Function<'a> {
    /// Kept in the native message only; declared so that one given twice makes the line invalid.
    #[serde(default, rename = "index")]
    _index: Option<IgnoredAny>,
    #[serde(borrow, default)]
    name: LenientStr<'a>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

/// The Ollama adapter.
#[derive(Debug, Default)]
pub struct OllamaAdapter {
    /// Every tool call as sent, for the native message (calls past `max_tool_calls` too).
    pub(crate) calls: Vec<String>,
    /// The start of the last line read by `token_line`, to `"created_at":`: every line of a
    /// stream names the same model, so the next one is compared to it instead of read again.
    head: String,
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
        // O7: nothing after the done line is read, not even its bytes.
        if state.done {
            return;
        }
        if ev.event == INVALID_UTF8 {
            errors.note(invalid_utf8(ev.data_offset));
            return;
        }
        let data = trim_data(ev.data);
        if data.is_empty() {
            return;
        }
        let at = ev.data_offset;
        // Arguments nested deeper than the fast path reads (or than `max_depth`) go to the
        // general path, whose parser allows 128 levels for the whole line.
        if let Some(token) = token_line(data, COMPACT_DEPTH.min(state.limits().max_depth), &mut self.head) {
            if !state.single_choice(at, errors) {
                return;
            }
            if let Some(text) = token.thinking.as_deref().filter(|t| !t.is_empty()) {
                state.text(SLOT, TextField::Reasoning, text, at, errors, sink);
            }
            if !token.content.is_empty() {
                state.text(SLOT, TextField::Content, &token.content, at, errors, sink);
            }
            for call in token.calls {
                self.tool_call(call, state, at, errors, sink);
            }
            if token.done {
                let usage = object_text(token.usage.iter().copied()).filter(|text| text.len() > 2);
                end(usage, token.done_reason.as_deref(), state, at, errors, sink);
            }
            return;
        }
        let Some(line) = event_object::<Line<'_>>(data, at, state.at_eof, errors) else {
            return;
        };
        if line.error.is_some() {
            provider_error_event(data, state, sink);
            return;
        }
        if !state.single_choice(at, errors) {
            return;
        }
        if let Some(Obj(message)) = line.message {
            if let Some(text) = message.thinking.non_empty() {
                state.text(SLOT, TextField::Reasoning, text, at, errors, sink);
            }
            if let Some(text) = message.content.non_empty() {
                state.text(SLOT, TextField::Content, text, at, errors, sink);
            }
            for call in message.tool_calls.unwrap_or_default() {
                self.tool_call(call_parts(&call), state, at, errors, sink);
            }
        }
        if line.done.is_some_and(|d| d.get() == "true") {
            end(usage_of(data), line.done_reason.non_empty(), state, at, errors, sink);
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
        if choice.is_some() && !self.calls.is_empty() {
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

    /// O5: a whole call, started, given its arguments and finished at once.
    fn tool_call<S: EventSink>(
        &mut self,
        call: CallParts<'_>,
        state: &mut MessageState,
        at: u64,
        errors: &mut ErrorSlot,
        sink: &mut S,
    ) {
        self.calls.push(call.raw.to_owned());
        let Some(ordinal) = state.open_call(SLOT, None, false, at, errors) else {
            return;
        };
        let generated;
        let id = if let Some(id) = call.id {
            id
        } else {
            generated = format!("call_{ordinal}");
            &generated
        };
        state.call_fields(SLOT, ordinal, Some(id), Some("function"), call.name);
        state.call_started(SLOT, ordinal, sink);
        match (call.arguments, call.checked_depth) {
            (Some(text), Some(depth)) => state.call_checked_arguments(SLOT, ordinal, &text, depth, at, errors, sink),
            (Some(text), None) => state.call_arguments(SLOT, ordinal, &text, at, errors, sink),
            (None, _) => {}
        }
        state.finish_call(SLOT, ordinal, sink);
    }
}

/// A call the general parser read, as the parts `tool_call` takes.
fn call_parts<'a>(call: &'a WithRaw<'a, ToolCall<'a>>) -> CallParts<'a> {
    let function = call.value.function.as_ref().map(|Obj(f)| f);
    // A string is the arguments text itself (it may be malformed); any other value its compact
    // JSON, tokens as sent.
    let arguments = function.and_then(|f| f.arguments).and_then(|args| {
        let args = args.get();
        if args.starts_with('"') {
            serde_json::from_str::<LenientStr<'_>>(args)
                .ok()
                .and_then(|LenientStr(text)| text)
        } else {
            Some(Cow::Owned(minify(args)))
        }
    });
    CallParts {
        raw: call.raw.get(),
        id: call.value.id.non_empty(),
        name: function.and_then(|f| f.name.non_empty()),
        arguments,
        checked_depth: None,
    }
}

/// The done line (O6): the end marker, its usage and reason; every call is finished.
fn end<S: EventSink>(
    usage: Option<String>,
    reason: Option<&str>,
    state: &mut MessageState,
    at: u64,
    errors: &mut ErrorSlot,
    sink: &mut S,
) {
    state.done = true;
    if let Some(usage) = usage {
        state.usage_object(&usage, at, errors, sink);
    }
    if let Some(reason) = reason.filter(|r| !r.is_empty()) {
        state.set_finish_reason(SLOT, reason, true, sink);
    }
    state.finish_all_calls(sink);
}

/// One tool call of a line: its JSON as sent (for the native message), id, name and
/// arguments text (compact JSON, or the text a string held).
struct CallParts<'a> {
    raw: &'a str,
    id: Option<&'a str>,
    name: Option<&'a str>,
    arguments: Option<Cow<'a, str>>,
    /// Set when the arguments are a value the fast reader checked, nested at most this deep.
    checked_depth: Option<usize>,
}

/// The calls of `"tool_calls":[` (read) as Ollama's encoder writes them:
/// `{["id":…,]"function":{["index":N,]"name":…,"arguments":{…}}}`, comma-separated, to `]`.
fn tool_calls<'a>(at: &mut Cursor<'a>, depth: usize) -> Option<Vec<CallParts<'a>>> {
    let mut calls = Vec::new();
    loop {
        let start = at.pos();
        at.literal("{")?;
        // An id or a name with escapes is rare enough for the general path.
        let id = match at.literal(r#""id":"#) {
            Some(()) => {
                let id = at.plain_text()?;
                at.literal(",")?;
                id
            }
            None => "",
        };
        at.literal(r#""function":{"#)?;
        if at.literal(r#""index":"#).is_some() {
            at.number_text()?;
            at.literal(",")?;
        }
        at.literal(r#""name":"#)?;
        let name = at.plain_text()?;
        at.literal(r#","arguments":"#)?;
        // An object: a string (arguments as text) is rare enough for the general path.
        if at.peek() != Some(b'{') {
            return None;
        }
        let arguments = at.compact_value(depth)?;
        at.literal("}}")?;
        calls.push(CallParts {
            raw: at.since(start),
            id: Some(id).filter(|id| !id.is_empty()),
            name: Some(name).filter(|n| !n.is_empty()),
            arguments: Some(Cow::Borrowed(arguments)),
            checked_depth: Some(depth),
        });
        if at.literal("]").is_some() {
            return Some(calls);
        }
        at.literal(",")?;
    }
}

/// A line as Ollama's encoder writes nearly all of them: a token, or the done line.
struct TokenLine<'a> {
    content: Cow<'a, str>,
    thinking: Option<Cow<'a, str>>,
    calls: Vec<CallParts<'a>>,
    done: bool,
    done_reason: Option<Cow<'a, str>>,
    /// The usage fields as sent (numbers' text), in line order.
    usage: Vec<(&'a str, &'a str)>,
}

/// Reads `{"model":…,"created_at":…,"message":{"role":"assistant","content":…[,"thinking":…]},`
/// then `done`, `done_reason` and the usage counts (numbers) in any order, once each,
/// byte for byte as Ollama's encoder writes them, without the general parser; `None` for any
/// other line (other keys, order or spacing, tool calls, an escape in an ignored string,
/// anything invalid), which the general path then reads. Whatever this accepts, the general
/// path reads the same way (`tests/test_ollama.py` holds both to the reference).
///
/// `head` is the start of the last line it read, to `"created_at":`, which a line that starts
/// the same needs no second look at; it is replaced when the model is another.
fn token_line<'a>(data: &'a str, depth: usize, head: &mut String) -> Option<TokenLine<'a>> {
    let mut at = Cursor::new(data);
    if head.is_empty() || at.literal(head).is_none() {
        at.literal(r#"{"model":"#)?;
        at.plain_string()?;
        at.literal(r#","created_at":"#)?;
        head.clear();
        head.push_str(at.since(0));
    }
    at.plain_string()?;
    at.literal(r#","message":{"role":"assistant","content":"#)?;
    let content = at.string()?;
    let thinking = match at.literal(r#","thinking":"#) {
        Some(()) => Some(at.string()?),
        None => None,
    };
    let calls = match at.literal(r#","tool_calls":["#) {
        Some(()) => tool_calls(&mut at, depth)?,
        None => Vec::new(),
    };
    let mut line = TokenLine {
        content,
        thinking,
        calls,
        done: false,
        done_reason: None,
        usage: Vec::new(),
    };
    // Nearly every line ends so; the loop below reads any other end.
    if at.rest_is(r#"},"done":false}"#) {
        return Some(line);
    }
    at.literal("}")?;
    let mut seen_done = false;
    while at.literal("}").is_none() {
        at.literal(",\"")?;
        let key = at.key()?;
        match key {
            "done" if !seen_done => {
                seen_done = true;
                line.done = match at.literal("true") {
                    Some(()) => true,
                    None => at.literal("false").map(|()| false)?,
                };
            }
            "done_reason" if line.done_reason.is_none() => line.done_reason = Some(at.string()?),
            _ if USAGE_FIELDS.contains(&key) && line.usage.iter().all(|(k, _)| *k != key) => {
                line.usage.push((key, at.number_text()?));
            }
            _ => return None,
        }
    }
    (seen_done && at.at_end()).then_some(line)
}

/// A line that is not UTF-8 (before the done line).
#[cold]
pub(crate) fn invalid_utf8(at: u64) -> CoreError {
    CoreError::parse(ParseKind::InvalidUtf8, at, "invalid utf-8 sequence")
}

/// The final line's counts and durations, as sent, as one JSON object (`None` without any).
fn usage_of(data: &str) -> Option<String> {
    let Entries(entries) = serde_json::from_str::<Entries<'_>>(data).ok()?;
    let counts = entries.iter().filter(|(k, _)| USAGE_FIELDS.contains(&k.as_ref()));
    object_text(counts.map(|(k, v)| (k.as_ref(), v.get()))).filter(|text| text.len() > 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_words() {
        assert_eq!(reason_class(None), ReasonClass::Normal);
        assert_eq!(reason_class(Some("stop")), ReasonClass::Normal);
        assert_eq!(reason_class(Some("length")), ReasonClass::Length);
        assert_eq!(reason_class(Some("unload")), ReasonClass::Other);
    }

    #[test]
    fn token_lines() {
        let read = |line: &str| {
            token_line(line, COMPACT_DEPTH, &mut String::new())
                .map(|t| (t.content.into_owned(), t.thinking.map(Cow::into_owned)))
        };
        let end = |line: &str| {
            token_line(line, COMPACT_DEPTH, &mut String::new()).map(|t| {
                let usage: Vec<(&str, &str)> = t.usage.clone();
                (t.done, t.done_reason.map(Cow::into_owned), format!("{usage:?}"))
            })
        };
        let head = r#"{"model":"m","created_at":"2025-06-01T00:00:00Z","message":{"role":"assistant","content":"#;
        let line = |rest: &str| format!("{head}{rest}");
        assert_eq!(read(&line(r#""Hi"},"done":false}"#)), Some(("Hi".into(), None)));
        assert_eq!(
            read(&line(r#""","thinking":"a\n\"b\u00e9"},"done":false}"#)),
            Some((String::new(), Some("a\n\"b\u{e9}".into())))
        );
        // The general path's lines: another shape, spacing, the done line, a raw control
        // character, an invalid escape, an escape in an ignored string, a cut line.
        for rest in [
            r#""Hi","images":null},"done":false}"#,
            r#""Hi"}, "done":false}"#,
            r#""Hi"},"done":true,"done":true}"#,
            r#""Hi"},"done":true,"eval_count":1,"eval_count":2}"#,
            r#""Hi"},"done":true,"eval_count":01}"#,
            r#""Hi"},"done":true,"eval_count":1.}"#,
            r#""Hi"},"done":true,"eval_count":null}"#,
            r#""Hi"},"done":true,"context":[1]}"#,
            r#""Hi"},"done_reason":"stop"}"#,
            r#""Hi"},"done":1}"#,
            "\"a\tb\"},\"done\":false}",
            r#""a\qb"},"done":false}"#,
            r#""Hi"},"done":false}x"#,
            r#""Hi"},"done":fal"#,
            r#""Hi\"#,
        ] {
            assert_eq!(read(&line(rest)), None, "{rest}");
        }
        assert_eq!(
            end(&line(
                r#""","thinking":""},"done_reason":"stop","done":true,"eval_count":-2.5e+3,"prompt_eval_count":0}"#
            )),
            Some((
                true,
                Some("stop".into()),
                r#"[("eval_count", "-2.5e+3"), ("prompt_eval_count", "0")]"#.into()
            ))
        );
        assert_eq!(
            end(&line(r#""x"},"done":false,"eval_count":3}"#)),
            Some((false, None, r#"[("eval_count", "3")]"#.into()))
        );
        assert_eq!(
            read(r#"{"model":"m\"","created_at":"t","message":{"role":"assistant","content":"x"},"done":false}"#),
            None
        );
    }

    #[test]
    fn the_head_of_the_last_line_is_remembered() {
        let mut head = String::new();
        let line = |model: &str, at: &str| {
            format!(
                r#"{{"model":"{model}","created_at":"{at}","message":{{"role":"assistant","content":"x"}},"done":false}}"#
            )
        };
        let mut read = |line: &str| token_line(line, COMPACT_DEPTH, &mut head).map(|t| t.content.into_owned());
        assert_eq!(read(&line("m", "t1")).as_deref(), Some("x"));
        assert_eq!(read(&line("m", "t2")).as_deref(), Some("x"));
        // Another model replaces the head; an escape in the model, or in the time after a
        // remembered head, goes to the general path.
        assert_eq!(read(&line("m2", "t3")).as_deref(), Some("x"));
        assert_eq!(read(&line(r#"m\""#, "t4")), None);
        assert_eq!(read(&line("m2", r"t\n")), None);
        assert_eq!(read(&line("m2", "t5")).as_deref(), Some("x"));
        assert_eq!(head, r#"{"model":"m2","created_at":"#);
    }

    #[test]
    fn call_lines() {
        let head = r#"{"model":"m","created_at":"t","message":{"role":"assistant","content":"","tool_calls":["#;
        let calls = |rest: &str| {
            token_line(
                &format!("{head}{rest}}},\"done\":false}}"),
                COMPACT_DEPTH,
                &mut String::new(),
            )
            .map(|t| {
                t.calls
                    .into_iter()
                    .map(|c| format!("{}|{:?}|{:?}|{:?}", c.raw, c.id, c.name, c.arguments.as_deref()))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            calls(r#"{"function":{"name":"f","arguments":{"a":[1,"\u003c"]}}},{"id":"c1","function":{"index":1,"name":"g","arguments":{}}}]"#),
            Some(vec![
                r#"{"function":{"name":"f","arguments":{"a":[1,"\u003c"]}}}|None|Some("f")|Some("{\"a\":[1,\"\\u003c\"]}")"#.to_owned(),
                r#"{"id":"c1","function":{"index":1,"name":"g","arguments":{}}}|Some("c1")|Some("g")|Some("{}")"#.to_owned(),
            ])
        );
        assert!(calls(r#"{"function":{"name":"","arguments":{}}}]"#).unwrap()[0].contains("|None|None|"));
        // The general path's calls: arguments as a string, spacing, another key or order, an
        // escape in the name, invalid arguments.
        for rest in [
            r#"{"function":{"name":"f","arguments":"{}"}}]"#,
            r#"{"function":{"name":"f","arguments":{"a": 1}}}]"#,
            r#"{"function":{"name":"f","arguments":{},"x":1}}]"#,
            r#"{"function":{"arguments":{},"name":"f"}}]"#,
            r#"{"function":{"name":"f\n","arguments":{}}}]"#,
            r#"{"function":{"name":"f","arguments":{"a":01}}}]"#,
            r#"{"function":{"name":"f","arguments":{}}},]"#,
            r#"{"function":{"name":"f"}}]"#,
            "]",
        ] {
            assert_eq!(calls(rest), None, "{rest}");
        }
    }

    #[test]
    fn usage_in_line_order() {
        let line = r#"{"done":true,"eval_count":3,"model":"m","prompt_eval_count":null}"#;
        assert_eq!(
            usage_of(line).as_deref(),
            Some(r#"{"eval_count":3,"prompt_eval_count":null}"#)
        );
        assert_eq!(usage_of(r#"{"done":true}"#), None);
    }
}
