//! `format="auto"`: the framing from the stream's first bytes, the format from its first event
//! (`docs/semantics.md` section 11). A stream that is none of the formats read is an error that
//! names what it saw, never an empty message.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{LenientStr, Obj};
use crate::sse::SseEvent;

/// What the first bytes say about the framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// Not enough bytes yet.
    More,
    Sse,
    Ndjson,
    /// Neither: what was seen, for the error message.
    Unknown(String),
}

const BOM: &[u8] = b"\xEF\xBB\xBF";
const SSE_FIELDS: [&[u8]; 4] = [b"data", b"event", b"id", b"retry"];
/// Enough bytes to see any SSE field name and its colon.
const NAME_BYTES: usize = 8;

/// The framing of a stream that starts with `head`; at the end of input (`last`) a short head
/// is judged as it is. Returns the offset of the first byte that is not whitespace or the BOM.
#[must_use]
pub fn sniff(head: &[u8], last: bool) -> (Framing, usize) {
    let mut start = 0;
    if head.starts_with(BOM) {
        start = BOM.len();
    } else if !last && !head.is_empty() && BOM.starts_with(head) {
        return (Framing::More, 0);
    }
    while head.get(start).is_some_and(u8::is_ascii_whitespace) {
        start += 1;
    }
    let rest = &head[start..];
    let framing = match rest.first() {
        // Nothing but blanks: nothing to read in any framing (the stream is cut, not unknown).
        None if last => Framing::Sse,
        None => Framing::More,
        Some(b'{') => Framing::Ndjson,
        Some(b':') => Framing::Sse,
        Some(b'[') => Framing::Unknown("a JSON array (Gemini streams one without alt=sse; request alt=sse)".to_owned()),
        Some(_) => match rest
            .iter()
            .take(NAME_BYTES)
            .position(|b| matches!(b, b':' | b'\r' | b'\n'))
        {
            Some(end) if SSE_FIELDS.contains(&&rest[..end]) => Framing::Sse,
            None if last && SSE_FIELDS.contains(&rest) => Framing::Sse,
            None if !last && rest.len() < NAME_BYTES => Framing::More,
            _ => Framing::Unknown(format!("a stream starting {}", excerpt(rest))),
        },
    };
    (framing, start)
}

/// A short, printable quote of the first bytes.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]);
    let mut quoted = format!("{text:?}");
    if bytes.len() > 40 {
        quoted.push_str("...");
    }
    quoted
}

/// The fields of a first event that tell the formats apart.
#[derive(Debug, Default, Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: LenientStr<'a>,
    #[serde(borrow, default)]
    object: LenientStr<'a>,
    #[serde(borrow, default)]
    event_type: LenientStr<'a>,
    #[serde(default)]
    choices: Option<IgnoredAny>,
    #[serde(default)]
    candidates: Option<IgnoredAny>,
    #[serde(default, rename = "usageMetadata")]
    usage_metadata: Option<IgnoredAny>,
    #[serde(default, rename = "promptFeedback")]
    prompt_feedback: Option<IgnoredAny>,
    #[serde(default)]
    message: Option<IgnoredAny>,
    #[serde(default)]
    done: Option<IgnoredAny>,
    #[serde(default)]
    created_at: Option<IgnoredAny>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// The formats `auto` can recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Chat,
    Responses,
    Anthropic,
    Gemini,
    Ollama,
}

/// What one event says about the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Blank data: wait for the next event.
    Wait,
    Format(Format),
    /// A lone error object: report it, wait for the next event.
    Error,
    Unknown(String),
}

const ANTHROPIC_EVENTS: [&str; 7] = [
    "message_start",
    "message_delta",
    "message_stop",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "ping",
];

/// The format of the stream whose first event with data is `ev` (`ndjson`: its framing).
#[must_use]
pub fn classify(ev: &SseEvent<'_>, ndjson: bool) -> Verdict {
    let data = super::trim_data(ev.data);
    if data.is_empty() {
        return Verdict::Wait;
    }
    if !ndjson {
        if ANTHROPIC_EVENTS.contains(&ev.event) {
            return Verdict::Format(Format::Anthropic);
        }
        if ev.event.starts_with("response.") {
            return Verdict::Format(Format::Responses);
        }
        if data == "[DONE]" {
            return Verdict::Format(Format::Chat);
        }
    }
    if !ndjson && ev.event == "error" && !data.starts_with('{') {
        // A plain-text error event: every SSE format reports it the same way.
        return Verdict::Error;
    }
    let Ok(Obj(probe)) = serde_json::from_str::<Obj<Probe<'_>>>(data) else {
        return Verdict::Unknown(format!("data that is not a JSON object: {}", excerpt(data.as_bytes())));
    };
    if ndjson {
        if probe.message.is_some() || probe.done.is_some() || probe.created_at.is_some() || probe.error.is_some() {
            return Verdict::Format(Format::Ollama);
        }
        return Verdict::Unknown(format!("an NDJSON object {}", keys(data)));
    }
    let error_object = probe.error.is_some_and(|e| e.get().starts_with('{'));
    match probe.kind.0.as_deref() {
        Some(kind) if ANTHROPIC_EVENTS.contains(&kind) => return Verdict::Format(Format::Anthropic),
        Some(kind) if kind.starts_with("response.") => return Verdict::Format(Format::Responses),
        Some("error") if error_object => return Verdict::Format(Format::Anthropic),
        Some("error") => return Verdict::Format(Format::Responses),
        _ => {}
    }
    if probe.choices.is_some()
        || probe
            .object
            .0
            .as_deref()
            .is_some_and(|o| o.starts_with("chat.completion"))
    {
        return Verdict::Format(Format::Chat);
    }
    if probe.candidates.is_some() || probe.usage_metadata.is_some() || probe.prompt_feedback.is_some() {
        return Verdict::Format(Format::Gemini);
    }
    if probe.error.is_some() {
        return Verdict::Error;
    }
    Verdict::Unknown(if let Some(kind) = probe.kind.non_empty() {
        format!("an event of type {kind:?}")
    } else if let Some(kind) = probe.event_type.non_empty() {
        format!("an event of event_type {kind:?}")
    } else {
        format!("an object {}", keys(data))
    })
}

/// The first keys of a JSON object, for an error message.
fn keys(data: &str) -> String {
    let names: Vec<String> = serde_json::from_str::<crate::accumulate::outcome::Entries<'_>>(data)
        .map(|e| e.0.iter().take(6).map(|(k, _)| format!("{k:?}")).collect())
        .unwrap_or_default();
    format!("with keys [{}]", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev<'a>(event: &'a str, data: &'a str) -> SseEvent<'a> {
        SseEvent {
            event,
            data,
            id: None,
            data_offset: 0,
        }
    }

    #[test]
    fn framing() {
        assert_eq!(sniff(b"data: {}", false).0, Framing::Sse);
        assert_eq!(sniff(b"\n\nevent:x", false).0, Framing::Sse);
        assert_eq!(sniff(b": ping", false).0, Framing::Sse);
        assert_eq!(sniff(b"\xEF\xBB", false).0, Framing::More);
        assert_eq!(sniff(b"\xEF\xBB\xBF  {\"a\"", false), (Framing::Ndjson, 5));
        assert_eq!(sniff(b"dat", false).0, Framing::More);
        assert_eq!(sniff(b"data", true).0, Framing::Sse);
        assert!(matches!(sniff(b"dat", true).0, Framing::Unknown(_)));
        assert!(matches!(sniff(b"<html><body>", false).0, Framing::Unknown(_)));
        assert!(matches!(sniff(b"[{\"candidates\"", false).0, Framing::Unknown(_)));
        assert_eq!(sniff(b"  ", true).0, Framing::Sse);
        assert_eq!(sniff(b"  ", false).0, Framing::More);
    }

    #[test]
    fn formats() {
        let f = |event, data| classify(&ev(event, data), false);
        assert_eq!(f("message_start", "{}"), Verdict::Format(Format::Anthropic));
        assert_eq!(f("message", r#"{"type":"ping"}"#), Verdict::Format(Format::Anthropic));
        assert_eq!(
            f("message", r#"{"type":"response.created"}"#),
            Verdict::Format(Format::Responses)
        );
        assert_eq!(
            f("error", r#"{"type":"error","error":{"message":"x"}}"#),
            Verdict::Format(Format::Anthropic)
        );
        assert_eq!(
            f("error", r#"{"type":"error","message":"x"}"#),
            Verdict::Format(Format::Responses)
        );
        assert_eq!(f("message", r#"{"choices":[]}"#), Verdict::Format(Format::Chat));
        assert_eq!(f("message", "[DONE]"), Verdict::Format(Format::Chat));
        assert_eq!(f("message", r#"{"candidates":[]}"#), Verdict::Format(Format::Gemini));
        assert_eq!(f("message", r#"{"error":{"message":"x"}}"#), Verdict::Error);
        assert_eq!(f("message", "  "), Verdict::Wait);
        let Verdict::Unknown(msg) = f("message-start", r#"{"type":"message-start","id":"x"}"#) else {
            panic!()
        };
        assert!(msg.contains("message-start"), "{msg}");
        let Verdict::Unknown(msg) = f("message", r#"{"event_type":"interaction.created"}"#) else {
            panic!()
        };
        assert!(msg.contains("interaction.created"), "{msg}");
        let Verdict::Unknown(msg) = f("message", "hello there") else {
            panic!()
        };
        assert!(msg.contains("hello"), "{msg}");
        assert_eq!(
            classify(&ev("message", r#"{"model":"m","message":{}}"#), true),
            Verdict::Format(Format::Ollama)
        );
        assert!(matches!(
            classify(&ev("message", r#"{"choices":[]}"#), true),
            Verdict::Unknown(_)
        ));
    }
}
