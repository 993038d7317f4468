//! Size and count limits, with their defaults, in one place.

/// Bounds on what one stream may make the accumulator hold. Exceeding one raises
/// `LimitExceeded` and drops only the offending input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest SSE line; a longer one is skipped without being buffered.
    pub max_line_bytes: usize,
    /// Largest data payload of one SSE event.
    pub max_event_bytes: usize,
    /// Largest arguments text of one tool call.
    pub max_arguments_bytes: usize,
    /// Largest text of one choice's content, and of its reasoning and refusal, each.
    pub max_content_bytes: usize,
    /// Deepest nesting of a JSON value read (arguments, usage, error payloads).
    pub max_depth: usize,
    /// Most tool calls per choice.
    pub max_tool_calls: usize,
    /// Most choices per stream.
    pub max_choices: usize,
}

const MIB: usize = 1 << 20;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line_bytes: 16 * MIB,
            max_event_bytes: 16 * MIB,
            max_arguments_bytes: 16 * MIB,
            max_content_bytes: 16 * MIB,
            max_depth: crate::partial_json::DEFAULT_MAX_DEPTH,
            max_tool_calls: 1024,
            max_choices: 128,
        }
    }
}
