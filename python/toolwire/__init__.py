"""toolwire: streamed LLM responses to complete messages and tool calls, fast.

The hot path (SSE decoding, delta merging, incremental partial JSON) is Rust; this package
is its Python face plus an HTTP client, a tool registry and an agent loop.

Thread safety: a ``StreamAccumulator`` or ``PartialJSON`` belongs to one stream and one thread
at a time; using one from two threads at once raises ``RuntimeError: Already borrowed``
instead of corrupting state. Events and ``ToolCall`` snapshots are immutable and may be shared.
Values returned by ``.partial``/``.parsed``/``value()`` share closed subtrees with each other:
treat them as read-only, or copy them.
"""

from toolwire._core import (
    Finish,
    PartialJSON,
    ProviderError,
    ReasoningDelta,
    StreamAccumulator,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallFinished,
    ToolCallReady,
    ToolCallStarted,
    Usage,
    __version__,
    build_profile,
    parse_partial,
)
from toolwire.errors import LimitExceeded, ParseError, ToolwireError

__all__ = [
    "Finish",
    "LimitExceeded",
    "ParseError",
    "PartialJSON",
    "ProviderError",
    "ReasoningDelta",
    "StreamAccumulator",
    "TextDelta",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallFinished",
    "ToolCallReady",
    "ToolCallStarted",
    "ToolwireError",
    "Usage",
    "__version__",
    "build_profile",
    "parse_partial",
]
