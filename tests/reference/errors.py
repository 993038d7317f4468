"""Exceptions of the reference implementation (mirrors toolwire.ParseError / LimitExceeded)."""

from __future__ import annotations

from typing import Any


class RefParseError(ValueError):
    """Bytes or JSON that cannot be read. ``kind`` is ``"invalid utf-8"`` or ``"invalid chunk"``;
    ``position`` is a byte offset in the stream."""

    def __init__(self, kind: str, position: int, message: str | None = None) -> None:
        super().__init__(f"{message or kind} at byte {position}")
        self.kind = kind
        self.position = position
        self.events: list[Any] = []


class RefLimitExceeded(Exception):
    """A configured limit was exceeded. ``limit`` is the keyword name, ``value`` its configured
    value (as the Rust core reports it), ``observed`` the size that would have been reached."""

    def __init__(self, limit: str, observed: int, maximum: int) -> None:
        super().__init__(f"limit exceeded: {limit} = {maximum} ({observed} seen)")
        self.limit = limit
        self.value = maximum
        self.observed = observed
        self.events: list[Any] = []
