"""``toolwire demo --web``: the shop agent of ``toolwire demo`` behind the UI endpoints, with
the page and ``/metrics``, served on 127.0.0.1.

============  ======  ==============================================================
path          method  what
============  ======  ==============================================================
``/``         GET     the page (``page.html``): ``?prompt=...`` asks on load
``/api/chat`` POST    ``toolwire.ui.chat_endpoint``: a ``useChat`` request, usage sent
``/api/agui`` POST    ``toolwire.ui.agui_endpoint``: an AG-UI ``RunAgentInput``
``/metrics``  GET     ``toolwire.metrics.asgi_app()``: the process-wide statistics
============  ======  ==============================================================

Without ``base_url`` it starts the embedded scripted server, whose "model" is the demo's
``shop_responder`` speaking ``api``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO
from urllib.parse import quote

import toolwire.metrics
import toolwire.ui
from toolwire._secrets import _display_url
from toolwire._web.host import Host
from toolwire._web.page import page_app
from toolwire._web.routes import Router
from toolwire.agent import Agent
from toolwire.client import AsyncClient
from toolwire.demo import SYSTEM, build_registry, shop_endpoint
from toolwire.testing import ScriptedServer

DEFAULT_PORT = 8765
GET = frozenset({"GET", "HEAD"})
POST = frozenset({"POST"})
SUGGESTIONS = (
    "Is the FlexArm Duo in stock, and what does it cost with my silver membership?",
    "Where is my order A-1043, and when can I get a LiftDesk 2 on black friday?",
)


def build_app(agent: Agent, config: dict[str, object]) -> Router:
    """The routes of the web demo for ``agent``; ``config`` is what the page shows."""
    return Router(
        {
            "/": (page_app(config), GET),
            "/api/chat": (toolwire.ui.chat_endpoint(agent, usage=True), POST),
            "/api/agui": (toolwire.ui.agui_endpoint(agent), POST),
            "/metrics": (toolwire.metrics.asgi_app(), GET),
        }
    )


class WebDemo:
    """The web demo's server. ``start`` (in the event loop that will serve) binds the port and
    returns the URL; ``close`` stops everything it started.

    ``fast`` removes the scripted server's delays and the tools' simulated latency.
    """

    def __init__(
        self,
        *,
        api: str = "chat",
        port: int = DEFAULT_PORT,
        fast: bool = False,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
    ) -> None:
        self.api = api
        self.port = port
        self.fast = fast
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        self.server: ScriptedServer | None = None
        self.client: AsyncClient | None = None
        self.host: Host | None = None
        self.where = ""

    def _agent(self) -> Agent:
        end = shop_endpoint(
            self.api,
            base_url=self.base_url,
            model=self.model,
            api_key=self.api_key,
            fast=self.fast,
            raise_on_exit=False,
        )
        self.server, self.model = end.server, end.model
        if end.server is not None:
            self.where = f"the embedded scripted server ({self.api} api, no network)"
        else:
            self.where = f"{end.model} at {_display_url(end.base_url)}"  # no user:password@
        self.client = AsyncClient(
            api=self.api, base_url=end.base_url, api_key=end.api_key, max_retries=1, backoff=0.2
        )
        registry = build_registry(latency=0.0 if self.fast else 1.0)
        return Agent(self.client, model=end.model, tools=registry, system=SYSTEM)

    async def start(self) -> str:
        """Starts the model server (if embedded), the agent and the host; returns the URL."""
        try:
            agent = self._agent()
            config: dict[str, object] = {
                "api": self.api,
                "model": self.model,
                "where": self.where,
                "suggestions": list(SUGGESTIONS),
            }
            self.host = Host(build_app(agent, config), port=self.port)
            await self.host.start()
        except BaseException:
            await self.close()
            raise
        return self.host.url

    async def close(self) -> None:
        """Stops the host, closes the client and the embedded server."""
        if self.host is not None:
            await self.host.close()
            self.host = None
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        if self.server is not None:
            await asyncio.to_thread(self.server.close)
            self.server = None


async def _serve(demo: WebDemo, question: str, out: TextIO) -> None:
    url = await demo.start()
    try:
        out.write(url + "\n")  # the first line: what a script or a test reads
        out.flush()
        out.write(
            f"toolwire web demo: the shop assistant over {demo.where}\n"
            f"  ask: {url}?prompt={quote(question)}\n"
            "  POST /api/chat (useChat), POST /api/agui (AG-UI), GET /metrics; Ctrl-C to stop\n"
        )
        out.flush()
        await asyncio.Event().wait()  # until cancelled (Ctrl-C)
    finally:
        await demo.close()


def run(
    *,
    question: str,
    api: str = "chat",
    port: int = DEFAULT_PORT,
    fast: bool = False,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    out: TextIO | None = None,
) -> int:
    """``toolwire demo --web``: prints the URL as its first line, serves until Ctrl-C."""
    demo = WebDemo(api=api, port=port, fast=fast, base_url=base_url, model=model, api_key=api_key)
    try:
        asyncio.run(_serve(demo, question, out if out is not None else sys.stdout))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        hint = " (--port 0 picks a free one)" if port else ""
        print(
            f"toolwire demo: cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}{hint}",
            file=sys.stderr,
        )
        return 1
    return 0
