"""What each API asks of a request: URL, auth, headers, body, tool schema and transcript.

The agent keeps one canonical transcript in the OpenAI chat shape (system, user, assistant with
``tool_calls``, ``tool`` messages); a ``Dialect`` turns it into its API's request at the edge.
An assistant message may carry ``native``: ``{"api": name, "message": ...}``, the turn as that
API sent it (``message(native=True)`` of the core); the same API gets it back unchanged, which
is what keeps thinking signatures, reasoning items and provider call ids valid for the next
request. Every other API (and chat) gets the canonical fields converted.
"""

from __future__ import annotations

from toolwire._dialects.anthropic import Anthropic
from toolwire._dialects.base import NATIVE, Dialect
from toolwire._dialects.gemini import Gemini
from toolwire._dialects.ollama import Ollama
from toolwire._dialects.responses import Responses

__all__ = ["APIS", "NATIVE", "Dialect", "dialect_for"]

APIS: dict[str, Dialect] = {
    d.name: d for d in (Dialect(), Responses(), Anthropic(), Gemini(), Ollama())
}


def dialect_for(api: str) -> Dialect:
    """The dialect of ``api``; ValueError naming the known ones otherwise."""
    try:
        return APIS[api]
    except (KeyError, TypeError):
        known = ", ".join(repr(a) for a in APIS)
        raise ValueError(f"unknown api {api!r}: expected one of {known}") from None
