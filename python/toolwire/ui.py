"""Agent runs to the browser: the Vercel AI SDK's UI message stream (what ``useChat`` reads)
and AG-UI events, with ASGI endpoints that serve them.

A relay that an unmodified ``useChat`` app can point its ``api`` at (FastAPI or Starlette)::

    app = FastAPI()
    agent = toolwire.Agent(toolwire.AsyncClient(), model="gpt-4o-mini", tools=registry)
    app.add_route("/api/chat", toolwire.ui.chat_endpoint(agent), methods=["POST"])

``agui_endpoint`` does the same for AG-UI clients (``HttpAgent``). Each request's
conversation (``UIMessage`` parts, or a ``RunAgentInput``'s messages, earlier tool calls and
results included) becomes the agent's transcript; the run streams back as it happens: text and
tool arguments growing, each tool's result as it finishes (eager tools while the model still
streams), one step per model turn. A client that disconnects cancels the run: the turn's tools
are cancelled and nothing more starts.

The encoders work without HTTP too, on agent events or on a ``StreamAccumulator``'s::

    encoder = toolwire.ui.VercelEncoder()
    for read in response.iter_bytes():
        send(encoder.sse(encoder.encode(acc.feed(read))))
    send(encoder.sse(encoder.finish(outcome=acc.outcome)) + encoder.terminator)

``encode`` takes the events of one read at once, so the many small argument fragments of a
read go out as one part per call. ``iter_sse``/``aiter_sse`` encode a whole run
(``agent.stream(...)``/``agent.astream(...)``), its failure included: a failed turn is an
error part (``RUN_ERROR``), not a broken stream.

Tool call ids are unique within a message and never reuse an id the browser holds (Gemini and
Ollama send no ids; their calls are ``call_0``... in every turn). ``import toolwire.ui`` loads
the agent layer; the endpoints need no web framework, ``chat_response``/``agui_response`` need
``starlette`` (``pip install toolwire[ui]``).
"""

from __future__ import annotations

from toolwire._ui.agui import AGUIEncoder
from toolwire._ui.asgi import (
    agui_endpoint,
    agui_response,
    chat_endpoint,
    chat_response,
)
from toolwire._ui.transcript import agui_messages_to_transcript, ui_messages_to_transcript
from toolwire._ui.vercel import VercelEncoder

__all__ = [
    "AGUIEncoder",
    "VercelEncoder",
    "agui_endpoint",
    "agui_messages_to_transcript",
    "agui_response",
    "chat_endpoint",
    "chat_response",
    "ui_messages_to_transcript",
]
