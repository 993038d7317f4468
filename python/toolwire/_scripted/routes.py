"""Which API a request path names; the path alone decides, so one server serves all five."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Literal

Api = Literal["chat", "responses", "anthropic", "gemini", "ollama"]
APIS: tuple[Api, ...] = ("chat", "responses", "anthropic", "gemini", "ollama")

# Gemini puts the model and the method in the path: /v1beta/models/{model}:{method}; tuned
# models live under tunedModels/, and a client may send the model name URL-encoded.
_GEMINI = re.compile(r"/(?:models|tunedModels)/([^/:]+):(streamGenerateContent|generateContent)$")


@dataclass(frozen=True)
class Route:
    """The API of a path. For Gemini the path also says whether to stream (the method) and
    how (``alt=sse``: SSE; otherwise one JSON array); the other APIs read ``stream`` from the
    body."""

    api: Api
    model: str | None = None
    stream: bool | None = None
    sse: bool = True


def split(path: str) -> tuple[str, dict[str, list[str]]]:
    """The path without its query, and the query."""
    parts = urllib.parse.urlsplit(path)
    return parts.path, urllib.parse.parse_qs(parts.query)


def route(path: str) -> Route | None:
    """The route of a POST path, or None (a 404)."""
    bare, query = split(path)
    bare = bare.rstrip("/")
    gemini = _GEMINI.search(bare)
    if gemini is not None:
        return Route(
            "gemini",
            model=urllib.parse.unquote(gemini.group(1)),
            stream=gemini.group(2) == "streamGenerateContent",
            sse=query.get("alt", [""])[-1] == "sse",
        )
    if bare.endswith("/chat/completions"):
        return Route("chat")
    if bare.endswith("/responses"):
        return Route("responses")
    if bare.endswith("/messages"):
        return Route("anthropic")
    if bare.endswith("/api/chat"):
        return Route("ollama")
    return None


def gemini_model(path: str) -> str | None:
    """The model named by a Gemini path."""
    found = route(path)
    return found.model if found is not None else None
