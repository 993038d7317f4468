"""Who a client talks to, in OpenTelemetry's words: ``gen_ai.provider.name``,
``server.address`` and ``server.port``, worked out once per client from its api and base URL.

The GenAI conventions name providers by who serves the model, not by the wire format: an
OpenAI-compatible endpoint of DeepSeek is ``deepseek``. Well-known hosts are mapped to the
conventions' well-known values; any other chat or Responses server is ``openai`` (the
conventions' advice: the instrumentation's best knowledge, ``server.address`` tells the rest).
Ollama has no well-known value, so it is ``ollama``.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

# Host suffix -> provider; the first match wins, so more specific suffixes come first.
_HOSTS = (
    (".openai.azure.com", "azure.ai.openai"),
    (".services.ai.azure.com", "azure.ai.inference"),
    (".models.ai.azure.com", "azure.ai.inference"),
    ("api.openai.com", "openai"),
    ("api.anthropic.com", "anthropic"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.x.ai", "x_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("api.cohere.ai", "cohere"),
    ("api.cohere.com", "cohere"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("aiplatform.googleapis.com", "gcp.vertex_ai"),
)

_BY_API = {
    "chat": "openai",
    "responses": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "ollama": "ollama",
}

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Peer(NamedTuple):
    """The api spoken and the server's identity (never its credentials or path)."""

    api: str
    provider: str
    address: str | None
    port: int | None


def peer_of(api: str, base_url: str) -> Peer:
    """The peer of a client of ``api`` at ``base_url`` (credentials in the URL are dropped:
    only the host name and port are kept)."""
    try:
        parts = urlsplit(base_url)
        host = parts.hostname
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is not a number: the request will say so
        host, port = None, None
    provider = _BY_API.get(api, api)
    if host:
        for suffix, name in _HOSTS:
            if host == suffix.lstrip(".") or host.endswith(suffix):
                provider = name
                break
    return Peer(api, provider, host or None, port if host else None)
