"""A scripted LLM API server on 127.0.0.1, for tests, demos and benchmarks.

``ScriptedServer`` answers ``POST .../chat/completions`` by playing a script: each request
takes the next entry, a ``Turn`` (text and/or tool calls rendered into realistic chunked SSE)
or a ``Fault`` that fails the request before any body byte (429, 500, a dropped connection).
A ``Turn`` can also carry a mid-stream fault: cut, stall, malformed chunk, error object::

    from toolwire.testing import Fault, ScriptedServer, Turn, call

    script = [
        Fault.rate_limit(retry_after=0.05),
        Turn("Let me check.", tool_calls=[call("get_weather", {"city": "Paris"})]),
        Turn("It is sunny in Paris.", expect=lambda req: req.messages[-1]["role"] == "tool"),
    ]
    with ScriptedServer(script) as server:
        client = toolwire.Client(base_url=server.url, api_key="test")
        ...
    server.requests  # every request received, parsed

Rendering follows what api.openai.com sends: a role chunk first, text in small pieces, each
tool call opened by one chunk with its id and name and then its arguments in fragments of a
few characters, a chunk with the finish reason, a usage chunk with empty ``choices`` when the
request asked for ``stream_options.include_usage``, then ``data: [DONE]``. The body uses
chunked transfer encoding over HTTP/1.1 keep-alive, so a cut is a real truncated body.

The same server, from the same script, also speaks the other APIs, chosen by the request path:
OpenAI Responses (``POST /v1/responses``), Anthropic Messages (``POST /v1/messages``), Gemini
(``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``) and Ollama (``POST
/api/chat``, NDJSON). Each turn is rendered as that API streams it, faults and error bodies
included, and each request is checked as that API checks it (a bad one gets the API's 400).
``server.base_url(api)`` is the base URL its SDK wants::

    with ScriptedServer([Turn("Hi", reasoning="Greet.")]) as server:
        client = anthropic.Anthropic(base_url=server.base_url("anthropic"), api_key="k")
        ...

Only the standard library is used (``http.server`` in a daemon thread), and the server binds
127.0.0.1 on an ephemeral port unless told otherwise. ``python -m toolwire serve`` runs it.
"""

from __future__ import annotations

from toolwire._scripted.routes import Api as Api
from toolwire._scripted.script import Check as Check
from toolwire._scripted.script import Chunking as Chunking
from toolwire._scripted.script import (
    Fault,
    RecordedRequest,
    ScriptedCall,
    Turn,
    call,
    turn_from_dict,
)
from toolwire._scripted.script import FaultKind as FaultKind
from toolwire._scripted.script import IdPlacement as IdPlacement
from toolwire._scripted.script import Responder as Responder
from toolwire._scripted.script import ScriptEntry as ScriptEntry
from toolwire._scripted.server import ScriptedServer

__all__ = [
    "Fault",
    "RecordedRequest",
    "ScriptedCall",
    "ScriptedServer",
    "Turn",
    "call",
    "turn_from_dict",
]
