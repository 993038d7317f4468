"""The web demo's page in a real browser: headless Chromium opens ``/?prompt=...``, the page
streams the run, and the DOM it leaves shows the assistant's text, every tool call done with
its result, arguments that were on screen before the call's input was complete, and the
follow-up typed in the box answered with the history sent back. Every request the page makes
goes to the demo's own origin.

``--dump-dom`` cannot wait for a streamed fetch (virtual time runs on while the body streams),
so the test drives Chromium over the DevTools protocol on ``--remote-debugging-pipe``: JSON
messages ending in NUL on file descriptors 3 (in) and 4 (out), no port, no extra package.

``TOOLWIRE_SCREENSHOT=1`` also writes the screenshot to ``docs/web-demo.png`` (the README's).
Skipped without Chromium (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from toolwire.demo import DEFAULT_QUESTION

ROOT = Path(__file__).resolve().parent.parent
FINAL = "With your gold membership it costs $314.10 instead of $349.00 (10% off)."
FOLLOW_UP = "And the LiftDesk 2?"
WIDTH, HEIGHT = 1200, 900

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs Chromium for the browser test (Debian: apt-get install chromium)",
)

# Recorded in the page before its own script runs: CSP violations and uncaught errors.
WATCH = """
window.__problems = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__problems.push(`csp: ${e.violatedDirective} ${e.blockedURI}`));
window.addEventListener("error", (e) => window.__problems.push(`error: ${e.message}`));
window.addEventListener("unhandledrejection",
  (e) => window.__problems.push(`rejection: ${e.reason}`));
"""

# What the test reads back from the DOM.
TRACE = """(() => {
  const text = (node, selector) => node.querySelector(selector)?.textContent ?? "";
  return {
    done: document.body.dataset.done,
    error: document.body.dataset.error ?? null,
    search: location.search,
    problems: window.__problems,
    messages: [...document.querySelectorAll(".msg.assistant")].map((m) => ({
      text: [...m.querySelectorAll(".text")].map((t) => t.textContent),
      steps: [...m.querySelectorAll(".step")].map((s) => s.dataset.state),
      summary: text(m, ".summary"),
      cards: [...m.querySelectorAll("article.tool")].map((c) => ({
        name: c.dataset.toolName,
        state: c.dataset.state,
        history: c.dataset.history,
        ms: text(c, ".ms"),
        argsBeforeReady: c.dataset.argsBeforeReady,
        args: text(c, ".args .raw"),
        result: text(c, ".result"),
      })),
    })),
  };
})()"""


def _above_9(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Browser:
    """Headless Chromium driven over ``--remote-debugging-pipe``."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_chromium, self._out = os.pipe()
        self._in, from_chromium = os.pipe()
        # Above 4, so that moving them to 3 and 4 cannot overwrite one another.
        to_chromium, from_chromium = _above_9(to_chromium), _above_9(from_chromium)
        self.log_path = profile.parent / "chromium.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--hide-scrollbars",
            "--mute-audio",
            f"--window-size={WIDTH},{HEIGHT}",
            "about:blank",
        ]
        # The pipe must be descriptors 3 and 4 in Chromium: a small exec trampoline puts them
        # there (dash, Debian's sh, takes no descriptor above 9 in a redirection).
        trampoline = (
            "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
            "os.execv(sys.argv[3], sys.argv[3:])"
        )
        command = [executable, *args]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(to_chromium), str(from_chromium), *command],
            pass_fds=(to_chromium, from_chromium),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        os.close(to_chromium)
        os.close(from_chromium)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session is not None and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer")
            if select.select([self._in], [], [], left)[0]:
                data = os.read(self._in, 1 << 20)
                if not data:
                    raise EOFError("Chromium closed the pipe")
                self._buffer += data
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never reached: {expression}")
            time.sleep(0.05)

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = attached["sessionId"]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
        self.send("Network.enable")
        self.send("Page.enable")
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
        self.send("Page.navigate", {"url": url})

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError, TimeoutError, RuntimeError):
            self.send("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._out)
        os.close(self._in)
        self._log.close()


@pytest.fixture
def demo_url() -> Iterator[str]:
    """``toolwire demo --web --port 0`` with its realistic delays; the URL it prints first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolwire", "demo", "--web", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    assert CHROMIUM is not None
    browser = Browser(CHROMIUM, tmp_path / "profile")
    try:
        yield browser
    finally:
        browser.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def check_message(message: dict[str, Any], names: set[str]) -> None:
    """A finished answer: every step done, every call done with its result."""
    assert message["steps"] and all(state == "done" for state in message["steps"])
    assert {card["name"] for card in message["cards"]} == names
    for card in message["cards"]:
        assert card["state"] == "done", card
        assert card["history"] == "streaming running done", card
        assert re.fullmatch(r"\d+ ms|\d+\.\d\d s", card["ms"]), card
        assert isinstance(json.loads(card["args"]), dict), card
        assert card["result"].strip(), card
    assert "tokens" in message["summary"] and "finish: stop" in message["summary"]


def test_the_page_streams_a_conversation(demo_url: str, browser: Browser, tmp_path: Path) -> None:
    assert demo_url.startswith("http://127.0.0.1:")
    browser.open(f"{demo_url}?prompt={quote(DEFAULT_QUESTION)}")
    browser.wait_for("document.body?.dataset.done === 'true'")
    trace = browser.evaluate(TRACE)
    (tmp_path / "first.html").write_text(browser.evaluate("document.documentElement.outerHTML"))
    assert trace["problems"] == [] and trace["error"] is None
    (first,) = trace["messages"]
    assert FINAL in first["text"][-1]
    assert first["text"][0] == "Let me look that up for you."
    assert len(first["steps"]) == 3
    check_message(first, {"get_product_info", "check_order_status", "calculate_discount"})
    results = {card["name"]: card["result"] for card in first["cards"]}
    assert "ErgoChair Pro" in results["get_product_info"]
    assert "shipped" in results["check_order_status"]
    assert "314.1" in results["calculate_discount"]
    # The arguments were in the DOM, growing, before the read that closed them arrived.
    assert any(card["argsBeforeReady"] == "true" for card in first["cards"]), first["cards"]

    shot = browser.screenshot()
    assert png_size(shot) == (WIDTH, HEIGHT)
    (tmp_path / "web-demo.png").write_bytes(shot)
    if os.environ.get("TOOLWIRE_SCREENSHOT") == "1":
        (ROOT / "docs" / "web-demo.png").write_bytes(shot)

    # A follow-up typed in the box: the page sends the whole history back, tool parts included.
    browser.evaluate(
        f"document.getElementById('prompt').value = {json.dumps(FOLLOW_UP)};"
        "document.getElementById('composer').requestSubmit(); true"
    )
    browser.wait_for(
        "document.querySelectorAll('.msg.assistant').length === 2"
        " && document.body.dataset.done === 'true'"
    )
    trace = browser.evaluate(TRACE)
    assert trace["problems"] == [] and trace["error"] is None
    second = trace["messages"][1]
    assert "The LiftDesk 2 is out of stock (back in about 21 days)." in second["text"][-1]
    check_message(second, {"get_product_info", "calculate_discount"})
    # The link reproduces the conversation's start.
    assert trace["search"] == f"?prompt={quote(DEFAULT_QUESTION, safe='')}"

    # Everything the page asked for came from the demo itself.
    requests = [
        e["params"]["request"] for e in browser.events if e["method"] == "Network.requestWillBeSent"
    ]
    assert all(r["url"].startswith((demo_url, "data:")) for r in requests), requests
    posts = [json.loads(r["postData"]) for r in requests if r["url"].endswith("/api/chat")]
    assert len(posts) == 2
    # useChat's body; the second holds the history: the first answer with its tool parts.
    assert all(set(body) == {"id", "messages", "trigger"} for body in posts)
    assert posts[0]["id"] == posts[1]["id"] and posts[1]["trigger"] == "submit-message"
    question, answer, follow_up = posts[1]["messages"]
    assert question == posts[0]["messages"][0] and question["role"] == "user"
    assert follow_up["parts"] == [{"type": "text", "text": FOLLOW_UP}]
    tools = [p for p in answer["parts"] if p["type"].startswith("tool-")]
    assert [p["state"] for p in tools] == ["output-available"] * 3
    assert [p["type"] for p in answer["parts"]].count("step-start") == 3
