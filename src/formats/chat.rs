//! OpenAI Chat Completions stream chunks (also Azure, vLLM, Ollama, DeepSeek, Mistral,
//! OpenRouter, Groq and Gemini's OpenAI-compatible endpoint), borrowed from the event data.

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
    pub content: LenientStr<'a>,
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
