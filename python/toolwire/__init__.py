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

# isort: split
# Python layer: HTTP client, tool registry, agent loop (toolwire.testing and toolwire.demo are
# submodules, imported on use).
from toolwire.agent import (
    Agent,
    AgentResult,
    RunFinished,
    ToolRunFinished,
    ToolRunStarted,
    TurnFinished,
    TurnStarted,
)
from toolwire.client import AsyncChatStream, AsyncClient, ChatStream, Client
from toolwire.errors import (
    AgentError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    IncompleteStream,
    InvalidAPIKey,
    MalformedStream,
    MaxTurnsExceeded,
    PoolTimeout,
    RateLimitError,
    StreamDeadlineExceeded,
    StreamError,
    StreamProviderError,
    StreamStalled,
    TurnFailed,
    UnexpectedContentType,
    UnsupportedContentEncoding,
)
from toolwire.tools import Tool, ToolError, ToolRegistry, ToolRun

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Agent",
    "AgentError",
    "AgentResult",
    "AsyncChatStream",
    "AsyncClient",
    "AuthenticationError",
    "ChatStream",
    "Client",
    "Finish",
    "IncompleteStream",
    "InvalidAPIKey",
    "LimitExceeded",
    "MalformedStream",
    "MaxTurnsExceeded",
    "ParseError",
    "PartialJSON",
    "PoolTimeout",
    "ProviderError",
    "RateLimitError",
    "ReasoningDelta",
    "RunFinished",
    "StreamAccumulator",
    "StreamDeadlineExceeded",
    "StreamError",
    "StreamProviderError",
    "StreamStalled",
    "TextDelta",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallFinished",
    "ToolCallReady",
    "ToolCallStarted",
    "ToolError",
    "ToolRegistry",
    "ToolRun",
    "ToolRunFinished",
    "ToolRunStarted",
    "ToolwireError",
    "TurnFailed",
    "TurnFinished",
    "TurnStarted",
    "UnexpectedContentType",
    "UnsupportedContentEncoding",
    "Usage",
    "__version__",
    "build_profile",
    "parse_partial",
]
