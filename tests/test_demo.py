"""`toolwire demo`: runs offline with no key, in seconds; also against a "real" endpoint."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest

from toolwire import Client
from toolwire.demo import DEFAULT_QUESTION, build_registry, run_demo, shop_responder
from toolwire.testing import RecordedRequest, ScriptedServer

FINAL = "With your gold membership it costs $314.10 instead of $349.00 (10% off)."


def offline_env() -> dict[str, str]:
    """A fresh machine: no key, no base URL, and a proxy that would fail if it were used."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        ALL_PROXY="http://127.0.0.1:9",
        NO_COLOR="1",
        PYTHONIOENCODING="utf-8",
    )
    return env


def test_demo_in_process() -> None:
    out = io.StringIO()
    assert run_demo(fast=True, out=out, color=False) == 0
    text = out.getvalue()
    assert "user: " + DEFAULT_QUESTION in text
    assert "assistant: Let me look that up for you." in text
    for name in ("get_product_info", "check_order_status", "calculate_discount"):
        assert f"✓ {name}" in text
    assert '→ get_product_info {"product": "ErgoChair Pro"}' in text  # arguments, as they grew
    assert "started while the model streams (eager)" in text
    assert FINAL in text and "3 turns, 3 tool calls" in text
    assert "\x1b[" not in text


@pytest.mark.parametrize("api", ["chat", "responses", "anthropic", "gemini", "ollama"])
def test_demo_over_every_api(api: str) -> None:
    out = io.StringIO()
    assert run_demo(api=api, fast=True, out=out, color=False) == 0
    text = out.getvalue()
    assert f"over the {api} api" in text and FINAL in text
    assert "3 turns, 3 tool calls" in text and " tokens" in text


def test_demo_command_offline_in_seconds() -> None:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "toolwire", "demo"],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert FINAL in done.stdout and "embedded test server" in done.stdout
    assert elapsed < 15, elapsed  # with its simulated delays it takes about 2-3 s
    assert done.stderr == ""


def test_demo_against_a_base_url_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ScriptedServer(shop_responder, api_key="sk-real-endpoint", model="gpt-test") as server:
        out = io.StringIO()
        status = run_demo(
            question="Where is order A-1043 and what does the LiftDesk 2 cost on black friday?",
            base_url=server.url,
            model="gpt-test",
            api_key="sk-real-endpoint",
            fast=True,
            out=out,
        )
    assert status == 0
    text = out.getvalue()
    assert (
        "LiftDesk 2 is out of stock" in text and "black friday membership it costs $441.75" in text
    )
    assert "Your order A-1043 is processing" in text
    assert all(r.model == "gpt-test" for r in server.requests)


def test_demo_reports_a_bad_key_without_showing_it(capsys: pytest.CaptureFixture[str]) -> None:
    with ScriptedServer(shop_responder, api_key="the-right-key") as server:
        status = run_demo(
            base_url=server.url, model="m", api_key="sk-wrong-key-123", fast=True, out=io.StringIO()
        )
    assert status == 1
    err = capsys.readouterr().err
    assert (
        "AuthenticationError" in err
        and "check the API key" in err
        and "sk-wrong-key-123" not in err
    )


def test_shop_responder_plays_three_turns() -> None:
    def request(*messages: dict[str, object]) -> RecordedRequest:
        return RecordedRequest(
            "POST", "/v1/chat/completions", {}, {"model": "m", "messages": list(messages)}, b""
        )

    user: dict[str, object] = {"role": "user", "content": DEFAULT_QUESTION}
    first = shop_responder(request(user))
    assert [c.name for c in first.tool_calls] == ["get_product_info", "check_order_status"]
    assert first.tool_calls[1].arguments == {"order_id": "A-1042"}

    registry = build_registry(latency=0)
    calls = [
        {
            "id": f"c{i}",
            "type": "function",
            "function": {"name": c.name, "arguments": c.arguments_text},
        }
        for i, c in enumerate(first.tool_calls)
    ]
    results = [
        registry.run(c.name, c.arguments_text, call_id=f"c{i}").tool_message()
        for i, c in enumerate(first.tool_calls)
    ]
    second = shop_responder(
        request(user, {"role": "assistant", "content": None, "tool_calls": calls}, *results)
    )
    assert [(c.name, c.arguments) for c in second.tool_calls] == [
        ("calculate_discount", {"price": 349.0, "tier": "gold"})
    ]


def test_demo_tools_report_errors() -> None:
    registry = build_registry(latency=0)
    assert registry.run("get_product_info", {"product": "flux capacitor"}).error is not None
    assert registry.run("calculate_discount", {"price": 100, "tier": "platinum"}).error is not None
    assert (
        registry.run("calculate_discount", {"price": 100, "tier": "silver"}).result["final_price"]
        == 95.0
    )
    with Client(base_url="http://127.0.0.1:9") as client:
        assert "api_key=<" in repr(client)
