"""Shared pieces of the tests that run agents against toolwire.testing's scripted server in
every api (tests/test_agent_apis.py and the toolwire.ui tests): the ``api`` and ``server``
fixtures, the counting tools, the scripted turns several of them play, and a tool call in
the canonical transcript's shape.

A test module takes the fixtures by binding them to its own names (``api = agent_helpers.api``):
pytest finds fixtures among a module's names, and an import would read to the linters as
unused and then redefined by every test's parameter.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from toolwire import ToolRegistry
from toolwire._dialects import APIS
from toolwire.testing import Fault, ScriptedServer, Turn, call


@pytest.fixture(params=sorted(APIS))
def api(request: pytest.FixtureRequest) -> str:
    """Each api the scripted server speaks, in turn."""
    return str(request.param)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A fresh scripted server per test, closed after it."""
    with ScriptedServer() as s:
        yield s


class Tools:
    """Tools that count their runs and note when they started: ``weather`` (sleeps ``sleep``
    seconds, for parallel runs), the eager ``lookup`` and ``boom``, which always fails."""

    def __init__(self, sleep: float = 0.0) -> None:
        self.runs: Counter[str] = Counter()
        self.started: dict[str, float] = {}
        self.spans: list[tuple[float, float]] = []  # weather runs: (start, end)
        self.lock = threading.Lock()
        self.registry = registry = ToolRegistry()

        @registry.tool
        def weather(city: str) -> dict[str, Any]:
            """The weather of a city."""
            self._note("weather")
            start = time.monotonic()
            time.sleep(sleep)
            with self.lock:
                self.spans.append((start, time.monotonic()))
            return {"city": city, "temp": len(city)}

        @registry.tool(eager=True)
        def lookup(q: str) -> str:
            """Side-effect free lookup."""
            self._note("lookup")
            return q.upper()

        @registry.tool
        def boom() -> None:
            """Always fails."""
            self._note("boom")
            raise RuntimeError("kaput")

    def _note(self, name: str) -> None:
        with self.lock:
            self.runs[name] += 1
            self.started.setdefault(name, time.monotonic())


def mid_call_cut(api: str) -> int:
    """How many events of a turn with text then calls the scripted server sends before a cut
    that falls inside the first call. Gemini sends its calls whole with the finish reason: the
    cut is inside that chunk (a malformed end rather than an incomplete one)."""
    return {"gemini": 3, "ollama": 4}.get(api, 8)


def cut_mid_call_turn(api: str) -> Turn:
    """A turn whose stream stops inside its calls (a long ``weather`` argument, then ``boom``):
    neither may run."""
    return Turn(
        "Let me see.",
        tool_calls=[call("weather", {"city": "Paris is a long name"}), call("boom")],
        fault=Fault.cut(after=mid_call_cut(api)),
    )


def length_end_turn() -> Turn:
    """A turn the token limit ends while it calls the eager ``lookup`` and ``weather``:
    ``weather`` must not run (``lookup`` may have, while the model streamed)."""
    return Turn(
        "Hm",
        tool_calls=[call("lookup", {"q": "ab"}), call("weather", {"city": "Rome"})],
        finish_reason="length",
    )


def function_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """A tool call as an assistant message of the canonical (chat completions) transcript
    holds it; AG-UI's ``toolCalls`` have the same shape."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
