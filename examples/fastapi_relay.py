"""A FastAPI relay for the browser: an unmodified React ``useChat`` app (AI SDK 5 or later)
and AG-UI clients talk to a toolwire agent through it.

::

    pip install "toolwire[ui]" fastapi uvicorn
    uvicorn examples.fastapi_relay:app --port 8000

``useChat`` posts to ``/api/chat`` on its own origin: proxy ``/api`` to this server (a
Next.js rewrite), or give the transport its URL (``new DefaultChatTransport({api:
"http://localhost:8000/api/chat"})``; CORS below lets ``localhost:3000`` in). AG-UI's
``HttpAgent`` takes ``url: "http://localhost:8000/api/agui"``.

With ``OPENAI_API_KEY`` set, the agent talks to OpenAI (``OPENAI_BASE_URL`` and
``TOOLWIRE_MODEL`` pick another endpoint and model); without it, to the scripted shop model of
``toolwire demo`` on 127.0.0.1, so the relay works with no key and no network.

For your own agent the relay is three lines::

    agent = toolwire.Agent(toolwire.AsyncClient(), model="gpt-4o-mini", tools=registry)
    app = FastAPI()
    app.add_route("/api/chat", toolwire.ui.chat_endpoint(agent), methods=["POST"])
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import toolwire
import toolwire.ui
from toolwire.demo import SYSTEM, build_registry, shop_responder
from toolwire.testing import ScriptedServer

server: ScriptedServer | None = None
if os.environ.get("OPENAI_API_KEY"):
    client = toolwire.AsyncClient()  # OPENAI_API_KEY, OPENAI_BASE_URL
    model = os.environ.get("TOOLWIRE_MODEL", "gpt-4o-mini")
else:
    server = ScriptedServer(shop_responder, delay=0.012, model="toolwire-demo").start()
    client = toolwire.AsyncClient(base_url=server.base_url("chat"), api_key="demo-key")
    model = "toolwire-demo"

agent = toolwire.Agent(client, model=model, tools=build_registry(), system=SYSTEM)

app = FastAPI(title="toolwire relay")
app.add_route("/api/chat", toolwire.ui.chat_endpoint(agent), methods=["POST"])
app.add_route("/api/agui", toolwire.ui.agui_endpoint(agent), methods=["POST"])

app.add_middleware(
    CORSMiddleware,
    allow_origins=os.environ.get("CORS_ORIGINS", "http://localhost:3000").split(","),
    allow_methods=["POST"],
    allow_headers=["*"],
)
