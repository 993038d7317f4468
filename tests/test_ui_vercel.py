"""toolwire.ui's Vercel AI SDK UI message stream (v1), checked part by part against the
protocol's schema and read back the way ``useChat`` reads it, over real agent runs on the
scripted server in every api: parallel and eager tools, late ids, tool errors, invalid
arguments, a superseded eager run, truncated and cut turns, HTTP errors, max turns, ids that
repeat across turns, and plain ``StreamAccumulator`` streams with their deltas coalesced."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import agent_helpers
from tests.agent_helpers import Tools, cut_mid_call_turn, length_end_turn
from tests.ui_helpers import DONE, KEY, Run, encode_plain_stream, parse_sse, stream_agent
from toolwire import Agent, Client, RunFinished, StreamAccumulator
from toolwire.testing import Fault, ScriptedServer, Turn, call
from toolwire.ui import VercelEncoder

ROOT = Path(__file__).resolve().parent.parent

# -- the protocol ----------------------------------------------------------------------------

# The chunk schema of the AI SDK: ``uiMessageChunkSchema`` in
# packages/ai/src/ui-message-stream/ui-message-chunks.ts (vercel/ai), one zod strictObject per
# type: type -> (required keys, optional keys), ``type`` itself left out. A strictObject
# rejects any other key; an optional key is left out, never null.
SCHEMA: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "text-start": (frozenset({"id"}), frozenset({"providerMetadata"})),
    "text-delta": (frozenset({"id", "delta"}), frozenset({"providerMetadata"})),
    "text-end": (frozenset({"id"}), frozenset({"providerMetadata"})),
    "error": (frozenset({"errorText"}), frozenset()),
    "tool-input-start": (
        frozenset({"toolCallId", "toolName"}),
        frozenset({"providerExecuted", "providerMetadata", "dynamic", "title"}),
    ),
    "tool-input-delta": (frozenset({"toolCallId", "inputTextDelta"}), frozenset()),
    "tool-input-available": (
        frozenset({"toolCallId", "toolName", "input"}),
        frozenset({"providerExecuted", "providerMetadata", "dynamic", "title"}),
    ),
    "tool-input-error": (
        frozenset({"toolCallId", "toolName", "input", "errorText"}),
        frozenset({"providerExecuted", "providerMetadata", "dynamic", "title"}),
    ),
    "tool-approval-request": (frozenset({"approvalId", "toolCallId"}), frozenset()),
    "tool-output-available": (
        frozenset({"toolCallId", "output"}),
        frozenset({"providerExecuted", "dynamic", "preliminary"}),
    ),
    "tool-output-error": (
        frozenset({"toolCallId", "errorText"}),
        frozenset({"providerExecuted", "dynamic"}),
    ),
    "tool-output-denied": (frozenset({"toolCallId"}), frozenset()),
    "reasoning-start": (frozenset({"id"}), frozenset({"providerMetadata"})),
    "reasoning-delta": (frozenset({"id", "delta"}), frozenset({"providerMetadata"})),
    "reasoning-end": (frozenset({"id"}), frozenset({"providerMetadata"})),
    "start-step": (frozenset(), frozenset()),
    "finish-step": (frozenset(), frozenset()),
    "start": (frozenset(), frozenset({"messageId", "messageMetadata"})),
    "finish": (frozenset(), frozenset({"finishReason", "messageMetadata"})),
    "abort": (frozenset(), frozenset()),
    "message-metadata": (frozenset({"messageMetadata"}), frozenset()),
}
# The keys that are z.string() in that schema.
STRING_KEYS = frozenset(
    {"id", "delta", "errorText", "toolCallId", "toolName", "inputTextDelta", "messageId"}
)
# ``finishReason``'s enum there (``FinishReason`` of language-model.ts), without "unknown",
# which only ai 6 accepts.
FINISH_REASONS = frozenset({"stop", "length", "content-filter", "tool-calls", "error", "other"})
# ui-message-stream-headers.ts
HEADERS = {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "connection": "keep-alive",
    "x-vercel-ai-ui-message-stream": "v1",
    "x-accel-buffering": "no",
}


def check_keys(part: dict[str, Any]) -> None:
    """The part fits its strictObject: known type, every required key, no other key, no
    null, strings where the schema says so."""
    kind = part.get("type")
    assert kind in SCHEMA, f"unknown part type {kind!r}"
    required, optional = SCHEMA[kind]
    keys = set(part) - {"type"}
    assert required <= keys, f"{kind} misses {required - keys}: {part}"
    assert keys <= required | optional, f"{kind} has extra keys {keys - required - optional}"
    for key in keys & STRING_KEYS:
        assert isinstance(part[key], str), f"{kind}.{key} is not a string: {part}"
    for key in keys - {"input", "output", "messageMetadata"}:
        assert part[key] is not None, f"{kind}.{key} is null (optional keys are left out)"
    if kind == "finish" and "finishReason" in part:
        assert part["finishReason"] in FINISH_REASONS, part


class UIStream:
    """Reads parts as ``processUIMessageStream`` does (packages/ai/src/ui/
    process-ui-message-stream.ts), failing where it throws, plus toolwire's own ordering
    rules: ``start`` first, content inside steps, a call's deltas between its start and its
    input, its output after its input and only once, the deltas assembling the input,
    ``finish`` then ``[DONE]`` last, and call ids unique in the message."""

    def __init__(self, *, agent: bool = True) -> None:
        self.agent = agent
        self.started = False
        self.finished = False
        self.done = False
        self.in_step = False
        self.message_id: str | None = None
        self.finish_reason: str | None = None
        self.parts: list[dict[str, Any]] = []
        self.active: dict[str, dict[str, Any]] = {}  # text/reasoning part ids -> part
        self.segment_ids: set[str] = set()
        self.calls: dict[str, dict[str, Any]] = {}
        self.call_text: dict[str, str] = {}
        self.has_output: set[str] = set()
        self.step_calls: list[str] = []
        self.errors: list[str] = []
        self.steps: list[list[dict[str, Any]]] = []

    def feed(self, part: Any) -> None:
        assert not self.done, f"{part} after [DONE]"
        if part == DONE:
            assert self.finished, "[DONE] before finish"
            self.done = True
            return
        check_keys(part)
        kind = part["type"]
        assert not self.finished, f"{kind} after finish"
        if kind == "start":
            assert not self.started, "a second start"
            self.started = True
            self.message_id = part.get("messageId")
            return
        assert self.started, f"{kind} before start"
        getattr(self, "on_" + kind.replace("-", "_"))(part)

    def on_start_step(self, part: dict[str, Any]) -> None:
        assert not self.in_step, "start-step inside a step"
        self.in_step = True
        self.step_calls = []
        self.steps.append([])
        self.parts.append({"type": "step-start"})

    def on_finish_step(self, part: dict[str, Any]) -> None:
        assert self.in_step, "finish-step outside a step"
        assert not self.active, f"parts still open at finish-step: {list(self.active)}"
        for call_id in self.step_calls:
            state = self.calls[call_id]["state"]
            assert state != "input-streaming", f"{call_id} still streaming at finish-step"
            if self.agent:
                assert state in ("output-available", "output-error"), (call_id, state)
        self.in_step = False

    def _content(self, part: dict[str, Any]) -> None:
        assert self.in_step, f"{part['type']} outside a step"
        self.steps[-1].append(part)

    def _segment_start(self, part: dict[str, Any], kind: str) -> None:
        self._content(part)
        assert part["id"] not in self.segment_ids, f"{kind} id {part['id']} reused"
        self.segment_ids.add(part["id"])
        ui = {"type": kind, "text": "", "state": "streaming"}
        self.active[part["id"]] = ui
        self.parts.append(ui)

    def _segment_delta(self, part: dict[str, Any], kind: str) -> None:
        self._content(part)
        ui = self.active.get(part["id"])
        assert ui is not None and ui["type"] == kind, f"{kind}-delta for missing {part['id']}"
        ui["text"] += part["delta"]

    def _segment_end(self, part: dict[str, Any], kind: str) -> None:
        self._content(part)
        ui = self.active.pop(part["id"], None)
        assert ui is not None and ui["type"] == kind, f"{kind}-end for missing {part['id']}"
        ui["state"] = "done"

    def on_text_start(self, part: dict[str, Any]) -> None:
        self._segment_start(part, "text")

    def on_text_delta(self, part: dict[str, Any]) -> None:
        self._segment_delta(part, "text")

    def on_text_end(self, part: dict[str, Any]) -> None:
        self._segment_end(part, "text")

    def on_reasoning_start(self, part: dict[str, Any]) -> None:
        self._segment_start(part, "reasoning")

    def on_reasoning_delta(self, part: dict[str, Any]) -> None:
        self._segment_delta(part, "reasoning")

    def on_reasoning_end(self, part: dict[str, Any]) -> None:
        self._segment_end(part, "reasoning")

    def on_tool_input_start(self, part: dict[str, Any]) -> None:
        self._content(part)
        call_id = part["toolCallId"]
        assert call_id not in self.calls, f"tool call id {call_id} used twice in the message"
        ui = {"type": f"tool-{part['toolName']}", "toolCallId": call_id, "state": "input-streaming"}
        self.calls[call_id] = ui
        self.call_text[call_id] = ""
        self.step_calls.append(call_id)
        self.parts.append(ui)

    def _call(self, part: dict[str, Any]) -> dict[str, Any]:
        ui = self.calls.get(part["toolCallId"])
        assert ui is not None, f"{part['type']} for unknown call {part['toolCallId']}"
        return ui

    def on_tool_input_delta(self, part: dict[str, Any]) -> None:
        self._content(part)
        ui = self._call(part)
        assert ui["state"] == "input-streaming", f"delta after the input closed: {part}"
        self.call_text[part["toolCallId"]] += part["inputTextDelta"]

    def on_tool_input_available(self, part: dict[str, Any]) -> None:
        self._content(part)
        ui = self._call(part)
        assert ui["state"] == "input-streaming", f"input closed twice: {part}"
        assert ui["type"] == f"tool-{part['toolName']}"
        text = self.call_text[part["toolCallId"]]
        if text.strip():
            assert json.loads(text) == part["input"], "the deltas do not assemble the input"
        ui.update(state="input-available", input=part["input"])

    def on_tool_input_error(self, part: dict[str, Any]) -> None:
        self._content(part)
        ui = self._call(part)
        assert ui["state"] == "input-streaming", f"input closed twice: {part}"
        ui.update(state="output-error", rawInput=part["input"], errorText=part["errorText"])

    def _output(self, part: dict[str, Any]) -> dict[str, Any]:
        self._content(part)
        ui = self._call(part)
        call_id = part["toolCallId"]
        assert call_id not in self.has_output, f"a second output for {call_id}"
        assert ui["state"] in ("input-available", "output-error"), f"output before input: {part}"
        self.has_output.add(call_id)
        return ui

    def on_tool_output_available(self, part: dict[str, Any]) -> None:
        ui = self._output(part)
        assert ui["state"] == "input-available", f"output after an input error: {part}"
        ui.update(state="output-available", output=part["output"])

    def on_tool_output_error(self, part: dict[str, Any]) -> None:
        ui = self._output(part)
        ui.update(state="output-error", errorText=part["errorText"])

    def on_error(self, part: dict[str, Any]) -> None:
        assert not self.in_step, "the error comes after the step is closed"
        self.errors.append(part["errorText"])

    def on_finish(self, part: dict[str, Any]) -> None:
        assert not self.in_step and not self.active, "finish with parts open"
        self.finish_reason = part.get("finishReason")
        self.finished = True

    def message(self) -> dict[str, Any]:
        """The assistant UIMessage as ``useChat`` holds it at the end (to send back)."""
        parts = []
        for part in self.parts:
            if part["type"] in ("text", "reasoning"):
                parts.append({"type": part["type"], "text": part["text"], "state": "done"})
            else:
                parts.append(dict(part))
        return {"id": self.message_id or "assistant", "role": "assistant", "parts": parts}


def read(chunks: list[list[Any]], *, agent: bool = True) -> UIStream:
    stream = UIStream(agent=agent)
    for chunk in chunks:
        for part in chunk:
            stream.feed(part)
    assert stream.done, "the stream did not end with [DONE]"
    return stream


def check_coalesced(chunk: list[Any]) -> None:
    """In one chunk (one batch of reads), a run of consecutive deltas holds one delta per
    call and one per text part."""
    run: list[str] = []
    for part in chunk:
        if isinstance(part, dict) and part["type"] in ("tool-input-delta", "text-delta"):
            key = part.get("toolCallId") or part["id"]
            assert key not in run, f"two deltas of {key} in a row: {chunk}"
            run.append(key)
        else:
            run = []


# -- running the agent -------------------------------------------------------------------------


def run_agent(
    api: str,
    server: ScriptedServer,
    tools: Tools,
    *,
    encoder: VercelEncoder | None = None,
    question: str = "hi",
    **options: Any,
) -> Run:
    encoder = encoder or VercelEncoder(message_id="msg-1")
    return stream_agent(api, server, tools, encoder, question, **options)


def step_texts(stream: UIStream) -> list[str]:
    return ["".join(p["delta"] for p in step if p["type"] == "text-delta") for step in stream.steps]


def tool_parts(stream: UIStream) -> list[dict[str, Any]]:
    return [p for p in stream.parts if p["type"].startswith("tool-")]


def check_run(run: Run, *, agent: bool = True) -> UIStream:
    """Every check that holds for any run: the schema, the reading rules, coalescing, the
    text of each step being the turn's text, and each output being its run's result."""
    stream = read(run.chunks, agent=agent)
    for chunk in run.chunks:
        check_coalesced(chunk)
    for turn, text in zip(run.turns, step_texts(stream), strict=False):
        assert text == (turn.message.get("content") or "")
    for turn in run.turns:
        shown = [
            stream.calls[p["toolCallId"]]
            for p in stream.steps[turn.turn - 1]
            if p["type"] == "tool-input-start"
        ]
        assert [p["type"] for p in shown] == [f"tool-{r.name}" for r in turn.tool_runs]
        for part, tool_run in zip(shown, turn.tool_runs, strict=True):
            if tool_run.error is None:
                assert part["state"] == "output-available"
                expected = (
                    tool_run.result
                    if isinstance(tool_run.result, str)
                    else json.loads(tool_run.content)
                )
                assert part["output"] == expected
            else:
                assert part["state"] == "output-error"
                error = tool_run.error
                assert part["errorText"] == f"{error.kind}: {error.message}"
    return stream


# The fixtures every test here takes (see tests/agent_helpers.py).
api = agent_helpers.api
server = agent_helpers.server


# -- agent runs ----------------------------------------------------------------------------------


def test_parallel_tools_text_and_reasoning(api: str, server: ScriptedServer) -> None:
    tools = Tools(sleep=0.05)
    server.add(
        Turn(
            "Let me check both.",
            reasoning="Weather twice, then look it up.",
            tool_calls=[
                call("weather", {"city": "Paris"}),
                call("weather", {"city": "Oslo"}),
                call("lookup", {"q": "umbrella"}),
            ],
        ),
        Turn("Paris 5, Oslo 4. Bring an UMBRELLA."),
    )
    run = run_agent(api, server, tools)
    stream = check_run(run)
    assert tools.runs == Counter({"weather": 2, "lookup": 1})
    assert step_texts(stream) == ["Let me check both.", "Paris 5, Oslo 4. Bring an UMBRELLA."]
    reasoning = "".join(p["delta"] for p in run.typed("reasoning-delta"))
    assert reasoning == "Weather twice, then look it up."
    assert [p["toolName"] for p in run.typed("tool-input-start")] == [
        "weather",
        "weather",
        "lookup",
    ]
    assert stream.finish_reason == "stop" and stream.errors == []
    assert stream.message_id == "msg-1" and run.parts[0] == {"type": "start", "messageId": "msg-1"}
    assert run.typed("start-step") and len(run.typed("start-step")) == 2
    outputs = {p["toolCallId"]: p["output"] for p in run.typed("tool-output-available")}
    assert sorted(map(str, outputs.values())) == sorted(
        map(str, [{"city": "Paris", "temp": 5}, {"city": "Oslo", "temp": 4}, "UMBRELLA"])
    )


def test_an_eager_tool_result_streams_before_the_model_ends(
    api: str, server: ScriptedServer
) -> None:
    """The eager run's result is sent once its call is finished, while the model still streams
    the next call where the api finishes calls one by one (Anthropic, Responses); in every api
    it respects the order: input available first, output after."""
    server.add(
        Turn(
            tool_calls=[call("lookup", {"q": "ab"}), call("weather", {"city": "Rome"})],
            delay=0.05,
        ),
        Turn("ok"),
    )
    run = run_agent(api, server, Tools())
    check_run(run)
    order = [
        (p["type"], p["toolCallId"]) for p in run.parts if isinstance(p, dict) and "toolCallId" in p
    ]
    lookup_id, weather_id = (p["toolCallId"] for p in run.typed("tool-input-start"))
    lookup_out = order.index(("tool-output-available", lookup_id))
    if api in ("anthropic", "responses"):
        assert lookup_out < order.index(("tool-input-available", weather_id)), order


def test_an_eager_call_whose_id_comes_late(server: ScriptedServer) -> None:
    """Chat can send a call's id after its arguments: the eager run starts with no id and
    its result still goes to its own call."""
    server.add(
        Turn(
            tool_calls=[
                call("lookup", {"q": "ab"}, id_placement="after_arguments"),
                call("lookup", {"q": "cd"}, id_placement="none"),
                call("weather", {"city": "Rome"}, id_placement="after_arguments"),
            ],
            delay=0.01,
        ),
        Turn("ok"),
    )
    run = run_agent("chat", server, Tools())
    stream = check_run(run)
    shown = [(c["input"], c.get("output")) for c in tool_parts(stream)]
    assert shown == [
        ({"q": "ab"}, "AB"),
        ({"q": "cd"}, "CD"),
        ({"city": "Rome"}, {"city": "Rome", "temp": 4}),
    ]


def test_a_tool_error_is_an_output_error(api: str, server: ScriptedServer) -> None:
    server.add(Turn(tool_calls=[call("boom")]), Turn("Sorry."))
    run = run_agent(api, server, Tools())
    stream = check_run(run)
    (part,) = tool_parts(stream)
    assert part["state"] == "output-error" and "kaput" in part["errorText"]
    assert stream.finish_reason == "stop"


def test_invalid_arguments_never_run(api: str) -> None:
    tools = Tools()
    with ScriptedServer(raise_on_exit=False) as server:
        server.add(Turn(tool_calls=[call("weather", '{"city": "Ro')]), Turn("Retrying."))
        run = run_agent(api, server, tools)
    stream = check_run(run)
    # Every api takes the turn back (Ollama's, whose arguments came as a malformed string, with
    # an object in their place: /api/chat refuses a string there).
    assert server.errors == [] and stream.finish_reason == "stop"
    assert tools.runs["weather"] == 0
    (part,) = tool_parts(stream)
    assert part["state"] == "output-error" and "invalid arguments" in part["errorText"]
    # Not JSON: the input itself is the error, as the AI SDK sends invalid tool input, then
    # the error result the model was given.
    (error,) = run.typed("tool-input-error")
    assert error["input"] == '{"city": "Ro' and "not valid" in error["errorText"]
    assert run.typed("tool-input-available") == []


@pytest.mark.parametrize("wire", ["chat", "responses", "anthropic"])
def test_a_superseded_eager_run_is_not_shown(wire: str, server: ScriptedServer) -> None:
    """The arguments closed (the eager tool ran) and then went on into invalid JSON: the
    agent drops that run; the call shows the input error and its error result only."""
    tools = Tools()
    server.add(Turn(tool_calls=[call("lookup", '{"q": "ab"} {"q": "cd"}')], delay=0.02), Turn("ok"))
    run = run_agent(wire, server, tools)
    stream = check_run(run)
    assert tools.runs["lookup"] == 1
    assert run.typed("tool-output-available") == []
    (part,) = tool_parts(stream)
    assert part["state"] == "output-error" and len(run.typed("tool-output-error")) == 1


def test_a_length_end_is_an_error_with_its_finish_reason(api: str, server: ScriptedServer) -> None:
    tools = Tools()
    server.add(length_end_turn())
    run = run_agent(api, server, tools)
    stream = check_run(run)
    assert stream.finish_reason == "length" and tools.runs["weather"] == 0
    (error,) = stream.errors
    assert "token limit" in error and ".result" not in error  # no notes for the developer
    weather = next(c for c in tool_parts(stream) if c["type"] == "tool-weather")
    assert weather["state"] == "output-error" and "did not run" in weather["errorText"]
    # The eager lookup may have run while the model streamed: then it shows its result.
    lookup = next(c for c in tool_parts(stream) if c["type"] == "tool-lookup")
    assert lookup["state"] == ("output-available" if tools.runs["lookup"] else "output-error")


def test_a_cut_stream_leaves_nothing_streaming(api: str, server: ScriptedServer) -> None:
    tools = Tools()
    server.add(cut_mid_call_turn(api))
    run = run_agent(api, server, tools)
    stream = check_run(run)
    assert stream.finish_reason == "error" and len(stream.errors) == 1
    assert tools.runs["weather"] == 0 and tools.runs["boom"] == 0
    for part in tool_parts(stream):
        assert part["state"] == "output-error"


def test_an_http_error_is_an_error_part(api: str, server: ScriptedServer) -> None:
    server.add(Fault.status_code(400, "Bad request, really"))
    run = run_agent(api, server, Tools())
    stream = check_run(run)
    assert stream.finish_reason == "error" and len(stream.errors) == 1
    assert [p["type"] for p in run.parts[:1]] == ["start"] and run.parts[-1] == DONE


def test_max_turns_ends_with_tool_calls(server: ScriptedServer) -> None:
    server.add(Turn(tool_calls=[call("lookup", {"q": "a"})]))
    run = run_agent("chat", server, Tools(), max_turns=1)
    stream = check_run(run)
    assert stream.finish_reason == "tool-calls"
    assert "max_turns" in stream.errors[0] and "err.messages" not in stream.errors[0]


def test_call_ids_are_unique_across_turns(api: str, server: ScriptedServer) -> None:
    """Gemini and Ollama calls are ``call_0`` in every turn; a UI message needs each id once,
    and the same id for a call's input and output."""
    server.add(
        Turn(tool_calls=[call("weather", {"city": "Oslo"})]),
        Turn(tool_calls=[call("lookup", {"q": "x"}), call("weather", {"city": "Rome"})]),
        Turn(tool_calls=[call("weather", {"city": "Oslo"})]),
        Turn("done"),
    )
    reserved = {"call_0", "call_0_t2"}
    run = run_agent(api, server, Tools(), encoder=VercelEncoder(reserved_ids=reserved))
    stream = check_run(run)
    ids = [p["toolCallId"] for p in run.typed("tool-input-start")]
    assert len(ids) == len(set(ids)) == 4 and not reserved & set(ids)
    assert {p["toolCallId"] for p in run.typed("tool-output-available")} == set(ids)
    assert all(c["state"] == "output-available" for c in tool_parts(stream))
    if api in ("chat", "responses", "anthropic"):
        # Providers' own ids are unique: they are kept.
        turn_ids = [c["id"] for t in run.turns for c in t.message.get("tool_calls") or ()]
        assert ids == turn_ids


def test_the_options(server: ScriptedServer) -> None:
    server.add(
        Turn("Hi", reasoning="Hmm.", usage={"prompt_tokens": 10, "completion_tokens": 3}),
    )
    encoder = VercelEncoder(finish_reason=False, reasoning=False, usage=True)
    run = run_agent("chat", server, Tools(), encoder=encoder)
    check_run(run)
    assert run.typed("reasoning-start") == [] and run.parts[0] == {"type": "start"}
    (finish,) = run.typed("finish")
    assert finish == {
        "type": "finish",
        "messageMetadata": {"usage": {"inputTokens": 10, "outputTokens": 3, "totalTokens": 13}},
    }


def test_the_headers() -> None:
    assert dict(VercelEncoder.headers) == HEADERS
    assert VercelEncoder.terminator == b"data: [DONE]\n\n"


def test_the_sync_loop(server: ScriptedServer) -> None:
    server.add(Turn("A", tool_calls=[call("lookup", {"q": "a"})]), Turn("B"))
    with Client(api="chat", base_url=server.base_url("chat"), api_key=KEY) as client:
        agent = Agent(client, model="m-1", tools=Tools().registry)
        events: list[Any] = []

        def collect() -> Iterator[Any]:
            for event in agent.stream("hi"):
                events.append(event)
                yield event

        run = Run([parse_sse(c) for c in VercelEncoder().iter_sse(collect())], events)
    stream = check_run(run)
    assert step_texts(stream) == ["A", "B"] and isinstance(events[-1], RunFinished)


# -- plain StreamAccumulator streams -------------------------------------------------------------


def test_a_plain_stream_in_every_api(api: str, server: ScriptedServer) -> None:
    """The events of each read of a stream, without an agent: the calls end with their input
    available (running them is the caller's business) and the finish reason is the turn's."""
    server.add(
        Turn(
            "Checking.",
            reasoning="R.",
            tool_calls=[call("weather", {"city": "Paris"}), call("lookup", {"q": "x"})],
            chunking="random",
        )
    )

    chunks, end = encode_plain_stream(api, server, VercelEncoder())
    chunks = [*chunks, [*end, DONE]]
    stream = read(chunks, agent=False)
    for chunk in chunks:
        check_coalesced(chunk)
    assert stream.finish_reason == "tool-calls"
    assert step_texts(stream) == ["Checking."]
    assert [(c["type"], c["state"], c["input"]) for c in tool_parts(stream)] == [
        ("tool-weather", "input-available", {"city": "Paris"}),
        ("tool-lookup", "input-available", {"q": "x"}),
    ]


def test_deltas_of_one_read_coalesce() -> None:
    """A whole recorded stream fed as one read: one text delta and one argument delta per
    call, though the calls' fragments interleave in the stream."""
    body = (ROOT / "examples" / "streams" / "parallel_calls.sse").read_bytes()
    acc = StreamAccumulator()
    events = acc.feed(body) + acc.finish()
    fragments = Counter(type(e).__name__ for e in events)
    assert fragments["ToolCallDelta"] > 4
    encoder = VercelEncoder()
    parts = encoder.encode(events) + encoder.finish(outcome=acc.outcome)
    stream = read([[*parts, DONE]], agent=False)
    deltas = [p for p in parts if p["type"] == "tool-input-delta"]
    assert len(deltas) == len(acc.tool_calls) == 2
    assert [json.loads(d["inputTextDelta"]) for d in deltas] == [c.parsed for c in acc.tool_calls]
    assert len([p for p in parts if p["type"] == "text-delta"]) == 1
    assert step_texts(stream) == [acc.message()["content"]]


def test_what_arrives_together_goes_out_together() -> None:
    """``aiter_sse`` encodes whatever the source produced since the last write as one batch:
    events yielded without a pause (one read's) become one chunk, their deltas coalesced."""
    body = (ROOT / "examples" / "streams" / "parallel_calls.sse").read_bytes()
    acc = StreamAccumulator()
    events = acc.feed(body) + acc.finish()

    async def source() -> AsyncIterator[Any]:
        for event in events:
            yield event

    async def main() -> list[bytes]:
        return [chunk async for chunk in VercelEncoder().aiter_sse(source())]

    (chunk,) = asyncio.run(main())
    parts = parse_sse(chunk)
    read([parts], agent=False)
    check_coalesced(parts)
    assert len([p for p in parts if p != DONE and p["type"] == "tool-input-delta"]) == 2


def test_one_event_at_a_time_and_a_cut_plain_stream() -> None:
    """Single events (not lists) encode too; a cut stream left without a finish reason ends
    with the error finish reason and its unfinished call closed."""
    body = (ROOT / "examples" / "streams" / "cut_mid_call.sse").read_bytes()
    acc = StreamAccumulator()
    encoder = VercelEncoder()
    parts: list[Any] = []
    for i in range(0, len(body), 16):
        for event in acc.feed(body[i : i + 16]):
            parts += encoder.encode(event)
    parts += encoder.encode(acc.finish())
    parts += encoder.finish(outcome=acc.outcome)
    assert acc.outcome == "cut"
    stream = read([[*parts, DONE]], agent=False)
    assert stream.finish_reason == "error" and stream.errors
    assert all(c["state"] != "input-streaming" for c in tool_parts(stream))
    assert encoder.finish() == [] and encoder.done
