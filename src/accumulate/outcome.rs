//! How a turn ended, and its token counts, in one vocabulary for every wire format
//! (`docs/semantics.md` section 11). Each format names its own finish words and usage keys; the
//! rules that combine them with errors and truncation live here once.

use serde::Deserialize;
use serde_json::value::RawValue;

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stop,
    ToolCalls,
    Length,
    ContentFilter,
    Error,
    Cut,
    Other,
}

impl Outcome {
    /// The stable name shown to users (`acc.outcome`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::ToolCalls => "tool_calls",
            Self::Length => "length",
            Self::ContentFilter => "content_filter",
            Self::Error => "error",
            Self::Cut => "cut",
            Self::Other => "other",
        }
    }
}

/// What a format's finish word means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonClass {
    /// A normal end: `stop` or `tool_calls` depending on the calls made.
    Normal,
    Length,
    ContentFilter,
    Other,
}

/// The facts `outcome` is decided from, in the order they are checked.
// Independent facts of a stream's end, read one by one.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy)]
pub struct EndFacts {
    /// The stream's end marker was read or `finish()` ran.
    pub ended: bool,
    /// The provider reported an error, or the format could not be recognised.
    pub error: bool,
    pub truncated: bool,
    pub reason: ReasonClass,
    /// Choice 0 has at least one client tool call.
    pub has_calls: bool,
}

impl EndFacts {
    /// `None` while the stream is open and its end not seen.
    #[must_use]
    pub fn outcome(self) -> Option<Outcome> {
        if !self.ended {
            return None;
        }
        Some(if self.error {
            Outcome::Error
        } else if self.truncated {
            Outcome::Cut
        } else {
            match self.reason {
                ReasonClass::Length => Outcome::Length,
                ReasonClass::ContentFilter => Outcome::ContentFilter,
                ReasonClass::Normal if self.has_calls => Outcome::ToolCalls,
                ReasonClass::Normal => Outcome::Stop,
                ReasonClass::Other => Outcome::Other,
            }
        })
    }
}

/// Input, output and total tokens of a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
    pub total: u64,
}

/// Where a format's usage object keeps its counts: the keys summed into input and output, and
/// the key of the total (when the format sends one).
#[derive(Debug, Clone, Copy)]
pub struct UsageKeys {
    pub input: &'static [&'static str],
    pub output: &'static [&'static str],
    pub total: Option<&'static str>,
}

/// The counts of a usage object's raw JSON: a missing count is 0, a missing total the sum; a
/// value that is not a non-negative integer (up to 2^64-1) counts as missing; `None` when
/// neither an input nor an output count is there.
#[must_use]
pub fn token_usage(raw: &str, keys: UsageKeys) -> Option<TokenUsage> {
    let entries: Vec<(std::borrow::Cow<'_, str>, &RawValue)> = serde_json::from_str::<Entries<'_>>(raw).ok()?.0;
    // The last entry of a key wins, as `json.loads` reads duplicate keys.
    let count = |key: &str| -> Option<u64> {
        entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.get().parse::<u64>().ok())
    };
    let sum = |names: &[&str]| -> (bool, u64) {
        names.iter().fold((false, 0u64), |(seen, n), key| match count(key) {
            Some(c) => (true, n.saturating_add(c)),
            None => (seen, n),
        })
    };
    let (seen_in, input) = sum(keys.input);
    let (seen_out, output) = sum(keys.output);
    if !(seen_in || seen_out) {
        return None;
    }
    let total = keys
        .total
        .and_then(count)
        .unwrap_or_else(|| input.saturating_add(output));
    Some(TokenUsage { input, output, total })
}

/// The JSON text of an object with these entries, in order, each value's tokens as sent.
pub(crate) fn object_text<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut out = String::with_capacity(128);
    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if key.bytes().any(|c| c == b'"' || c == b'\\' || c < 0x20) {
            out.push_str(&serde_json::to_string(key).ok()?);
        } else {
            out.push('"');
            out.push_str(key);
            out.push('"');
        }
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    Some(out)
}

/// The entries of a JSON object in order, values kept as their raw text.
pub(crate) struct Entries<'a>(pub Vec<(std::borrow::Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Entries<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(16);
                while let Some((Key(key), value)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push((key, value));
                }
                Ok(Entries(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// An object key, borrowed from the text unless it has escapes (serde's own `Cow<str>` always
/// copies: one allocation per key, on every chunk of formats that resend usage).
struct Key<'a>(std::borrow::Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: UsageKeys = UsageKeys {
        input: &["prompt_tokens"],
        output: &["completion_tokens"],
        total: Some("total_tokens"),
    };

    #[test]
    fn counts() {
        let u = |raw| token_usage(raw, CHAT).map(|t| (t.input, t.output, t.total));
        assert_eq!(
            u(r#"{"prompt_tokens":3,"completion_tokens":4,"total_tokens":9}"#),
            Some((3, 4, 9))
        );
        assert_eq!(u(r#"{"prompt_tokens":3}"#), Some((3, 0, 3)));
        assert_eq!(u(r#"{"prompt_tokens":3.0,"completion_tokens":-1}"#), None);
        assert_eq!(u(r#"{"prompt_tokens":1,"prompt_tokens":2}"#), Some((2, 0, 2)));
        assert_eq!(u(r#"{"total_tokens":5}"#), None);
        assert_eq!(u("[1]"), None);
    }

    #[test]
    fn outcome_order() {
        let facts = EndFacts {
            ended: true,
            error: true,
            truncated: true,
            reason: ReasonClass::Normal,
            has_calls: true,
        };
        assert_eq!(facts.outcome(), Some(Outcome::Error));
        assert_eq!(EndFacts { error: false, ..facts }.outcome(), Some(Outcome::Cut));
        let ended = EndFacts {
            error: false,
            truncated: false,
            ..facts
        };
        assert_eq!(ended.outcome(), Some(Outcome::ToolCalls));
        assert_eq!(
            EndFacts {
                has_calls: false,
                ..ended
            }
            .outcome(),
            Some(Outcome::Stop)
        );
        assert_eq!(EndFacts { ended: false, ..ended }.outcome(), None);
    }
}
