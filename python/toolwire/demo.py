"""``toolwire demo``: a shop assistant agent with three tools, streamed to the terminal.

By default it runs against the embedded ``toolwire.testing`` server, whose scripted "model"
plays a believable conversation (no network, no key): it looks up a product and an order in
parallel, then prices the product with the customer's discount tier, then answers. With
``--base-url``/``--model``/``--api-key`` the same agent talks to a real OpenAI-compatible
endpoint.

The output shows text as it arrives, each tool call with its arguments growing fragment by
fragment, when each tool starts (eager ones while the model is still streaming) and its result
with its time. ``--web`` serves the same agent to the browser instead (``toolwire._web``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from toolwire._core import TextDelta, ToolCallDelta, ToolCallStarted
from toolwire._secrets import _display_url
from toolwire.agent import (
    Agent,
    RunFinished,
    ToolRunFinished,
    ToolRunStarted,
    TurnFinished,
    TurnStarted,
)
from toolwire.client import Client
from toolwire.errors import ToolwireError, TurnFailed
from toolwire.testing import RecordedRequest, ScriptedServer, Turn, call
from toolwire.tools import ToolRegistry

__all__ = ["DEFAULT_QUESTION", "build_registry", "main", "run_demo", "shop_responder"]

DEFAULT_QUESTION = (
    "Is the ErgoChair Pro in stock, where is my order A-1042, "
    "and what would the chair cost me with my gold membership?"
)
SYSTEM = (
    "You are the assistant of an online furniture shop. Use the tools to look up products, "
    "orders and prices; never guess a price. Answer in two or three short sentences."
)

Tier = Literal["standard", "silver", "gold", "black_friday"]
TIERS: dict[str, int] = {"standard": 0, "silver": 5, "gold": 10, "black_friday": 25}

PRODUCTS: dict[str, dict[str, Any]] = {
    "ergo-chair-pro": {
        "id": "ergo-chair-pro",
        "name": "ErgoChair Pro",
        "price": 349.0,
        "currency": "USD",
        "in_stock": True,
        "stock": 12,
        "ships_in_days": 2,
    },
    "standing-desk": {
        "id": "standing-desk",
        "name": "LiftDesk 2",
        "price": 589.0,
        "currency": "USD",
        "in_stock": False,
        "stock": 0,
        "ships_in_days": 21,
    },
    "monitor-arm": {
        "id": "monitor-arm",
        "name": "FlexArm Duo",
        "price": 129.0,
        "currency": "USD",
        "in_stock": True,
        "stock": 40,
        "ships_in_days": 1,
    },
}
ORDERS: dict[str, dict[str, Any]] = {
    "A-1042": {
        "order_id": "A-1042",
        "status": "shipped",
        "carrier": "UPS",
        "tracking": "1Z999AA10123456784",
        "estimated_delivery": "in 2 days",
        "items": ["FlexArm Duo"],
    },
    "A-1043": {
        "order_id": "A-1043",
        "status": "processing",
        "carrier": None,
        "tracking": None,
        "estimated_delivery": "in 5 days",
        "items": ["LiftDesk 2"],
    },
}


def build_registry(latency: float = 1.0) -> ToolRegistry:
    """The demo's three tools. ``latency`` scales their simulated back-end delays (0: none)."""
    registry = ToolRegistry()

    @registry.tool(eager=True)
    def get_product_info(product: str) -> dict[str, Any]:
        """Look up a product of the shop: price, stock and shipping time.

        Args:
            product: The product name or id, e.g. "ErgoChair Pro".
        """
        time.sleep(0.25 * latency)
        wanted = re.sub(r"[^a-z0-9]+", "", product.lower())
        for item in PRODUCTS.values():
            if wanted in (
                re.sub(r"[^a-z0-9]+", "", item["name"].lower()),
                item["id"].replace("-", ""),
            ):
                return item
        known = ", ".join(p["name"] for p in PRODUCTS.values())
        raise LookupError(f"no product called {product!r}; known: {known}")

    @registry.tool
    def check_order_status(order_id: str) -> dict[str, Any]:
        """Current status, carrier and delivery estimate of an order.

        Args:
            order_id: The order number, e.g. "A-1042".
        """
        time.sleep(0.3 * latency)
        order = ORDERS.get(order_id.strip().upper())
        if order is None:
            raise LookupError(f"no order {order_id!r}")
        return order

    @registry.tool(eager=True)
    def calculate_discount(price: float, tier: Tier = "standard") -> dict[str, Any]:
        """Price after the customer's membership discount.

        Args:
            price: The list price in USD.
            tier: The customer's tier: standard (0%), silver (5%), gold (10%) or
                black_friday (25%).
        """
        time.sleep(0.1 * latency)
        percent = TIERS[tier]
        discount = round(price * percent / 100, 2)
        return {
            "price": price,
            "tier": tier,
            "discount_percent": percent,
            "discount": discount,
            "final_price": round(price - discount, 2),
        }

    return registry


# -- the scripted model ------------------------------------------------------------------------


def _tool_results(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Tool name -> parsed result, from the tool messages of a request."""
    names: dict[str, str] = {}
    for message in messages:
        for c in message.get("tool_calls") or []:
            names[c.get("id", "")] = c.get("function", {}).get("name", "")
    results: dict[str, Any] = {}
    for message in messages:
        if message.get("role") == "tool":
            name = names.get(message.get("tool_call_id", ""), "")
            try:
                results[name] = json.loads(message.get("content") or "null")
            except ValueError:
                results[name] = message.get("content")
    return results


def _question(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def shop_responder(request: RecordedRequest) -> Turn:
    """The embedded server's "model" for the demo: decides the next turn from the transcript.

    First turn: a short preamble and two parallel calls (product and order); second turn: the
    discount for the product's price; last turn: the answer built from the tool results.
    """
    messages = request.transcript  # the same for every api
    question = _question(messages)
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    results = _tool_results(messages[last_user + 1 :])
    order = re.search(r"\b([A-Z]-\d{4})\b", question.upper())
    tier = next(
        (
            t
            for t in ("black_friday", "silver", "gold", "standard")
            if t.replace("_", " ") in question.lower() or t in question.lower()
        ),
        "gold",
    )
    product = next(
        (p["name"] for p in PRODUCTS.values() if p["name"].lower() in question.lower()),
        "ErgoChair Pro",
    )

    if "get_product_info" not in results:
        calls = [call("get_product_info", {"product": product})]
        if order:
            calls.append(call("check_order_status", {"order_id": order.group(1)}))
        return Turn("Let me look that up for you.", tool_calls=calls)
    info = results["get_product_info"]
    if "calculate_discount" not in results and isinstance(info, Mapping) and "price" in info:
        return Turn(tool_calls=[call("calculate_discount", {"price": info["price"], "tier": tier})])

    parts = []
    if isinstance(info, Mapping) and "name" in info:
        stock = (
            f"in stock ({info['stock']} left, ships in {_days(info['ships_in_days'])})"
            if info.get("in_stock")
            else f"out of stock (back in about {_days(info['ships_in_days'])})"
        )
        parts.append(f"The {info['name']} is {stock}.")
    price = results.get("calculate_discount")
    if isinstance(price, Mapping) and "final_price" in price:
        parts.append(
            f"With your {str(price['tier']).replace('_', ' ')} membership it costs "
            f"${price['final_price']:.2f} instead of ${price['price']:.2f} "
            f"({price['discount_percent']}% off)."
        )
    status = results.get("check_order_status")
    if isinstance(status, Mapping) and "status" in status:
        carrier = f" with {status['carrier']}" if status.get("carrier") else ""
        parts.append(
            f"Your order {status['order_id']} is {status['status']}{carrier}, "
            f"expected {status['estimated_delivery']}."
        )
    return Turn(" ".join(parts) or "I could not find that, sorry.")


# -- terminal output ---------------------------------------------------------------------------


class _Printer:
    """Renders agent events as a live transcript."""

    def __init__(self, out: TextIO, color: bool) -> None:
        self.out = out
        self.color = color
        # A StringIO has no encoding and takes any character.
        encoding = getattr(out, "encoding", None) or "utf-8"
        try:
            "✓✗→⚡".encode(encoding)
            self.ok, self.fail, self.arrow, self.eager = "✓", "✗", "→", "⚡"
        except (UnicodeEncodeError, LookupError):
            self.ok, self.fail, self.arrow, self.eager = "ok", "x", "->", "!"
        self.line_open = False
        self.in_text = False
        self.calls = 0

    def style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def end_line(self) -> None:
        if self.line_open:
            self.write("\n")
        self.line_open = False
        self.in_text = False

    def handle(self, event: object) -> None:
        if isinstance(event, TurnStarted):
            self.end_line()
            if event.turn > 1:
                self.write(self.style(f"-- turn {event.turn}\n", "2"))
        elif isinstance(event, TextDelta):
            if not self.in_text:
                self.end_line()
                self.write(self.style("assistant: ", "1;36"))
                self.in_text = self.line_open = True
            self.write(event.text)
        elif isinstance(event, ToolCallStarted):
            self.end_line()
            self.write(f"  {self.arrow} " + self.style(event.name, "1;33") + " ")
            self.line_open = True
        elif isinstance(event, ToolCallDelta):
            self.write(self.style(event.fragment, "33"))
        elif isinstance(event, ToolRunStarted):
            if event.eager:
                self.end_line()
                self.write(
                    self.style(
                        f"    {self.eager} {event.name} started while the model streams (eager)\n",
                        "2",
                    )
                )
        elif isinstance(event, ToolRunFinished):
            self.end_line()
            self.calls += 1
            run = event.run
            took = self.style(f"{run.duration_ms:6.0f} ms", "2")
            if run.error is None:
                shown = run.content if len(run.content) <= 96 else run.content[:93] + "..."
                self.write(f"    {self.style(self.ok, '32')} {run.name} {took}  {shown}\n")
            else:
                why = f"{run.error.kind}: {run.error.message}"
                self.write(f"    {self.style(self.fail, '31')} {run.name} {took}  {why}\n")
        elif isinstance(event, TurnFinished):
            self.end_line()
        elif isinstance(event, RunFinished):
            self.end_line()
            result = event.result
            tokens = result.token_usage.get("total_tokens")
            used = f", {tokens} tokens" if tokens else ""
            self.write(
                self.style(
                    f"done in {result.duration_ms / 1000:.1f} s: {result.turns} turns, "
                    f"{len(result.tool_runs)} tool calls{used}\n",
                    "2",
                )
            )


#: The model a real endpoint is asked for when ``--model`` is not given.
DEFAULT_MODELS = {
    "chat": "gpt-4o-mini",
    "responses": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "ollama": "qwen3",
}


@dataclass
class ShopEndpoint:
    """Where the demo's agent talks: the embedded scripted server (``server``), or a real
    endpoint when a base URL was given (``server`` None)."""

    server: ScriptedServer | None
    base_url: str
    model: str
    api_key: str | None


def shop_endpoint(
    api: str,
    *,
    base_url: str | None,
    model: str | None,
    api_key: str | None,
    fast: bool,
    raise_on_exit: bool = True,
) -> ShopEndpoint:
    """Starts the embedded server (speaking every api; ``fast`` removes its delays) unless
    ``base_url`` names a real endpoint; fills in the model (and the embedded key)."""
    if base_url is not None:
        real_model = model or DEFAULT_MODELS.get(api, "gpt-4o-mini")
        return ShopEndpoint(None, base_url, real_model, api_key)
    server = ScriptedServer(
        shop_responder,
        delay=0.0 if fast else 0.012,
        first_byte_delay=0.0 if fast else 0.15,
        model="toolwire-demo",
        raise_on_exit=raise_on_exit,
    ).start()
    url = server.base_url(api)
    return ShopEndpoint(server, url, model or "toolwire-demo", api_key or "demo-key")


def run_demo(
    *,
    question: str = DEFAULT_QUESTION,
    api: str = "chat",
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    fast: bool = False,
    out: TextIO | None = None,
    color: bool | None = None,
) -> int:
    """Runs the demo and returns the exit status (0 on success).

    ``api`` is the API spoken (``toolwire.Client(api=...)``). Without ``base_url`` it starts
    the embedded server, which speaks every api (``fast`` removes its delays and the tools'
    simulated latency, for tests).
    """
    out = out if out is not None else sys.stdout
    if color is None:
        color = bool(getattr(out, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ
    printer = _Printer(out, color)
    registry = build_registry(latency=0.0 if fast else 1.0)
    end = shop_endpoint(api, base_url=base_url, model=model, api_key=api_key, fast=fast)
    if end.server is not None:
        where = f"embedded test server {end.base_url} (no network; --base-url for a real endpoint)"
    else:
        where = f"{_display_url(end.base_url)}, model {end.model}"  # no user:password@
    try:
        with Client(
            api=api, base_url=end.base_url, api_key=end.api_key, max_retries=1, backoff=0.2
        ) as client:
            agent = Agent(client, model=end.model, tools=registry, system=SYSTEM)
            title = printer.style("toolwire demo: shop assistant", "1")
            printer.write(f"{title} over the {api} api via {where}\n")
            printer.write(printer.style("user: ", "1;35") + question + "\n")
            for event in agent.stream(question):
                printer.handle(event)
    except ToolwireError as exc:
        printer.end_line()
        # A failed turn wraps the client error; the client error is what the user can act on.
        shown = exc.__cause__ if isinstance(exc, TurnFailed) and exc.__cause__ is not None else exc
        print(f"toolwire demo: {type(shown).__name__}: {shown}", file=sys.stderr)
        return 1
    finally:
        if end.server is not None:
            end.server.close()
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``toolwire demo`` options."""
    parser.add_argument(
        "question", nargs="?", default=DEFAULT_QUESTION, help="what the customer asks"
    )
    parser.add_argument(
        "--api",
        default="chat",
        choices=sorted(DEFAULT_MODELS),
        help="the API spoken (default: chat); the embedded server speaks every one",
    )
    parser.add_argument(
        "--base-url", help="a real endpoint of that API (default: the embedded server)"
    )
    parser.add_argument("--model", help="model name (default with --base-url: one per api)")
    parser.add_argument(
        "--api-key",
        help="API key (default with --base-url: the api's variable, e.g. OPENAI_API_KEY)",
    )
    parser.add_argument(
        "--fast", action="store_true", help="no simulated delays (embedded server only)"
    )
    parser.add_argument("--no-color", action="store_true", help="plain output")
    parser.add_argument(
        "--web",
        action="store_true",
        help="serve the demo in the browser on 127.0.0.1 (the page, /api/chat for useChat, "
        "/api/agui for AG-UI, /metrics) until Ctrl-C; prints the URL first",
    )
    parser.add_argument(
        "--port",
        type=int,
        metavar="N",
        help="with --web: the port (default: 8765; 0 picks a free one)",
    )


def main(args: argparse.Namespace) -> int:
    """Runs ``toolwire demo`` from parsed arguments."""
    if args.web:
        from toolwire._web.app import DEFAULT_PORT, run

        return run(
            question=args.question,
            api=args.api,
            port=DEFAULT_PORT if args.port is None else args.port,
            fast=args.fast,
            base_url=args.base_url,
            model=args.model,
            api_key=args.api_key,
        )
    if args.port is not None:
        print("toolwire demo: --port goes with --web", file=sys.stderr)
        return 2
    return run_demo(
        question=args.question,
        api=args.api,
        base_url=args.base_url,
        model=args.model,
        api_key=args.api_key,
        fast=args.fast,
        color=False if args.no_color else None,
    )
