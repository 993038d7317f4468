"""Pure-Python reference implementation of toolwire's chat-completions semantics.

The oracle for the differential tests and the baseline for the benchmarks; it implements
docs/semantics.md exactly, in plain readable Python:

- ``sse``: bytes -> server-sent events (WHATWG rules, incremental);
- ``chat``: events -> chunks -> merged deltas, calls, events as tuples (``ReferenceAccumulator``);
- ``anthropic``: the same for Anthropic Messages streams (``ReferenceAnthropicAccumulator``);
- ``partial_json``: value/classification of a JSON prefix (recursive descent, DESIGN section 5);
- ``convert``: Rust event objects -> the same tuples;
- ``errors``: ``RefParseError`` / ``RefLimitExceeded``.
"""

from .anthropic import ReferenceAnthropicAccumulator
from .chat import ReferenceAccumulator
from .errors import RefLimitExceeded, RefParseError
from .sse import SSEDecoder, SSEEvent

__all__ = [
    "RefLimitExceeded",
    "RefParseError",
    "ReferenceAccumulator",
    "ReferenceAnthropicAccumulator",
    "SSEDecoder",
    "SSEEvent",
]
