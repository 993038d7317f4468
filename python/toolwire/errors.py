"""Exceptions raised by toolwire.

The tree::

    ToolwireError(Exception)
    ├── ParseError(ToolwireError, ValueError)   bytes or JSON that cannot be read (Rust core)
    ├── LimitExceeded(ToolwireError)            a configured size/count limit was hit (Rust core)
    └── (HTTP-side errors, defined in this module by the client layer)

`ParseError` and `LimitExceeded` are raised by the Rust core and carry structured fields:
``.position`` (byte offset, ParseError), ``.limit`` / ``.value`` (LimitExceeded), and
``.events`` (every event the failing read produced before and after the fault, so nothing
parsed is lost).
"""

from __future__ import annotations

from toolwire._core import LimitExceeded, ParseError, ToolwireError

__all__ = ["LimitExceeded", "ParseError", "ToolwireError"]
