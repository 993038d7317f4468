"""Convert Rust events (toolwire classes) into the reference's plain tuples."""

from __future__ import annotations

from typing import Any

__all__ = ["error_to_dict", "event_to_tuple"]


def event_to_tuple(ev: Any) -> tuple[Any, ...]:
    """The tuple the reference accumulator would produce for the Rust event ``ev``."""
    kind = type(ev).__name__
    if kind in ("TextDelta", "ReasoningDelta"):
        return (kind, ev.choice, ev.text)
    if kind == "ToolCallStarted":
        return (kind, ev.choice, ev.index, ev.id, ev.name)
    if kind == "ToolCallDelta":
        return (kind, ev.choice, ev.index, ev.id, ev.name, ev.fragment)
    if kind == "ToolCallReady":
        return (kind, ev.choice, ev.index, ev.id, ev.name, ev.arguments)
    if kind == "ToolCallFinished":
        # A LimitExceeded (max_depth) has no kind: its limit stands for it.
        error = None if ev.error is None else getattr(ev.error, "kind", None) or ev.error.limit
        return (kind, ev.choice, ev.index, ev.id, ev.name, ev.arguments, error)
    if kind == "Usage":
        return (kind, ev.usage)
    if kind == "Finish":
        return (kind, ev.choice, ev.reason)
    if kind == "ProviderError":
        return (kind, ev.message, ev.code, ev.type)
    raise TypeError(f"unknown event type {kind}")


def error_to_dict(exc: BaseException) -> dict[str, Any]:
    """A comparable summary of a ParseError/LimitExceeded (Rust or reference)."""
    name = type(exc).__name__
    if name in ("ParseError", "RefParseError"):
        return {
            "error": "ParseError",
            "kind": getattr(exc, "kind", None),
            "position": getattr(exc, "position", None),
        }
    if name in ("LimitExceeded", "RefLimitExceeded"):
        return {
            "error": "LimitExceeded",
            "limit": getattr(exc, "limit", None),
            "value": getattr(exc, "value", None),
        }
    return {"error": name, "message": str(exc)}
