//! toolwire core: streamed LLM responses (SSE bytes) to complete messages and tool calls.
//!
//! The pipeline, one stage per module, each a plain type with `feed`/`finish` and no Python:
//! `sse` (bytes → events) → `formats` (events → provider deltas) → `accumulate` (deltas →
//! message, calls, completion decisions) → `partial_json` (arguments → live values).
//! The Python binding lives only in `py`, behind the `python` feature.

pub mod accumulate;
pub mod error;
pub mod formats;
#[cfg_attr(not(feature = "python"), allow(dead_code))]
mod handover;
pub mod limits;
pub mod partial_json;
mod plain;
pub mod sse;

#[cfg(feature = "python")]
mod py;
