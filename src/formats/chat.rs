//! OpenAI Chat Completions stream chunks (also Azure, vLLM, Ollama, DeepSeek, Mistral,
//! OpenRouter, Groq and Gemini's OpenAI-compatible endpoint), borrowed from the event data.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{LenientIndex, LenientStr, Obj};

/// One `chat.completion.chunk`, or an error object sent in its place.
#[derive(Debug, Deserialize)]
pub struct Chunk<'a> {
    #[serde(borrow, default)]
    pub choices: Option<Vec<Obj<Choice<'a>>>>,
    #[serde(borrow, default)]
    pub usage: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub object: LenientStr<'a>,
    #[serde(borrow, default)]
    pub message: LenientStr<'a>,
    #[serde(borrow, default, rename = "type")]
    pub kind: LenientStr<'a>,
    #[serde(borrow, default)]
    pub code: Option<&'a RawValue>,
}

/// One choice of a chunk.
#[derive(Debug, Deserialize)]
pub struct Choice<'a> {
    #[serde(default)]
    pub index: LenientIndex,
    #[serde(borrow, default)]
    pub delta: Option<Obj<Delta<'a>>>,
    #[serde(borrow, default)]
    pub finish_reason: LenientStr<'a>,
}

/// The increment carried by a choice.
#[derive(Debug, Default, Deserialize)]
pub struct Delta<'a> {
    #[serde(borrow, default)]
    pub content: Content<'a>,
    #[serde(borrow, default)]
    pub reasoning_content: LenientStr<'a>,
    /// OpenRouter and newer vLLM name the reasoning text `reasoning`.
    #[serde(borrow, default)]
    pub reasoning: LenientStr<'a>,
    #[serde(borrow, default)]
    pub refusal: LenientStr<'a>,
    #[serde(borrow, default)]
    pub tool_calls: Option<Vec<Obj<ToolCallDelta<'a>>>>,
    /// The pre-tools API.
    #[serde(borrow, default)]
    pub function_call: Option<Obj<FunctionDelta<'a>>>,
}

/// A fragment of one tool call.
#[derive(Debug, Deserialize)]
pub struct ToolCallDelta<'a> {
    #[serde(default)]
    pub index: LenientIndex,
    #[serde(borrow, default)]
    pub id: LenientStr<'a>,
    #[serde(borrow, default, rename = "type")]
    pub kind: LenientStr<'a>,
    #[serde(borrow, default)]
    pub function: Option<Obj<FunctionDelta<'a>>>,
}

/// The function part of a tool-call fragment.
#[derive(Debug, Default, Deserialize)]
pub struct FunctionDelta<'a> {
    #[serde(borrow, default)]
    pub name: LenientStr<'a>,
    /// A string fragment, `null`, or (some servers) the whole arguments as a JSON value.
    #[serde(borrow, default)]
    pub arguments: Option<&'a RawValue>,
}

/// A delta's `content`: a string, or (Mistral's thinking models) a list of typed parts,
/// `{"type": "text", "text"}` and `{"type": "thinking", "thinking": [{"type": "text", "text"}]}`.
/// Any other JSON type counts as absent.
#[derive(Debug, Default)]
pub enum Content<'a> {
    #[default]
    Absent,
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
}

/// One typed part of a list `content`.
#[derive(Debug, Default, Deserialize)]
pub struct Part<'a> {
    #[serde(borrow, default, rename = "type")]
    pub kind: LenientStr<'a>,
    #[serde(borrow, default)]
    pub text: LenientStr<'a>,
    #[serde(borrow, default)]
    pub thinking: Thinking<'a>,
}

/// The text of a thinking part: a string, or the texts of a list of text parts.
#[derive(Debug, Default)]
pub struct Thinking<'a>(pub Vec<Cow<'a, str>>);

/// A list element that is an object read as a `T`; anything else is skipped (`None`).
struct MaybeObj<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MaybeObj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = MaybeObj<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(|t| MaybeObj(Some(t)))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeObj(None))
            }

            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }

            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }

            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }

            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }

            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(MaybeObj(None))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

/// What a string-or-list field reads: its string, or its list's elements.
trait FromStrOrList<'de>: Sized + Default {
    fn from_str(text: Cow<'de, str>) -> Self;
    fn from_list<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error>;
}

struct StrOrList<T>(std::marker::PhantomData<T>);

impl<'de, T: FromStrOrList<'de>> Visitor<'de> for StrOrList<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<T, E> {
        Ok(T::from_str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        Ok(T::from_str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<T, E> {
        Ok(T::from_str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::from_list(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(T::default())
    }

    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> FromStrOrList<'de> for Content<'de> {
    fn from_str(text: Cow<'de, str>) -> Self {
        Content::Text(text)
    }

    fn from_list<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut parts = Vec::new();
        while let Some(MaybeObj(part)) = seq.next_element::<MaybeObj<Part<'de>>>()? {
            parts.extend(part);
        }
        Ok(Content::Parts(parts))
    }
}

impl<'de> FromStrOrList<'de> for Thinking<'de> {
    fn from_str(text: Cow<'de, str>) -> Self {
        Thinking(vec![text])
    }

    fn from_list<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut texts = Vec::new();
        while let Some(MaybeObj(part)) = seq.next_element::<MaybeObj<Part<'de>>>()? {
            texts.extend(part.and_then(|p| p.text.0));
        }
        Ok(Thinking(texts))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrOrList::<Content<'de>>(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Thinking<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrOrList::<Thinking<'de>>(std::marker::PhantomData))
    }
}
