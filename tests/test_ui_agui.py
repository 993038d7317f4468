"""toolwire.ui's AG-UI events, each parsed by the ``ag-ui-protocol`` package's own models
(``ag_ui.core``, generated from the protocol's JSON schema) and read in order the way the
reference TypeScript client verifies and applies them, over real agent runs on the scripted
server in every api. The thread the events build, sent back as the next ``RunAgentInput``,
gives the model the transcript the agent itself kept."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ag_ui.core import Event, RunAgentInput
from pydantic import TypeAdapter

from tests import agent_helpers
from tests.agent_helpers import Tools, cut_mid_call_turn, length_end_turn
from tests.ui_helpers import Run, encode_plain_stream, stream_agent
from toolwire.testing import ScriptedServer, Turn, call
from toolwire.ui import AGUIEncoder, agui_messages_to_transcript

EVENTS: TypeAdapter[Any] = TypeAdapter(Event)


def check_event(obj: dict[str, Any]) -> Any:
    """The event parses as its ``ag_ui.core`` model, has no key the model does not declare
    (the models keep unknown keys, so that is checked here) and serializes back to exactly
    itself: camelCase names, optional keys left out."""
    model = EVENTS.validate_python(obj)
    declared = {f.alias or name for name, f in type(model).model_fields.items()}
    assert set(obj) <= declared, f"{obj['type']}: undeclared keys {set(obj) - declared}"
    assert model.model_dump(mode="json", by_alias=True) == obj
    return model


class AGUIStream:
    """Reads events as the reference client does: ``verifyEvents`` (sdks/typescript/packages/
    client/src/verify/verify.ts) raises where it does; ``defaultApplyEvents`` (apply/default.ts)
    builds the thread's messages. Stricter than both: every call's args come between its start
    and end, its result after its end and once, reasoning nests, content stays inside steps,
    and a call id is never reused."""

    def __init__(self, messages: list[dict[str, Any]] | None = None) -> None:
        self.messages: list[dict[str, Any]] = list(messages or [])
        self.first = True
        self.finished = False
        self.errored = False
        self.active_text: set[str] = set()
        self.active_calls: set[str] = set()
        self.ended_calls: set[str] = set()
        self.results: dict[str, str] = {}
        self.steps: list[str] = []
        self.reasoning_span: str | None = None
        self.reasoning_message: str | None = None
        self.call_ids: set[str] = set()
        self.error: dict[str, Any] | None = None
        self.finish: dict[str, Any] | None = None
        self.text_by_step: list[str] = []
        self.events: list[dict[str, Any]] = []

    def find(self, message_id: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["id"] == message_id), None)

    def feed(self, event: dict[str, Any]) -> None:
        check_event(event)
        self.events.append(event)
        kind = event["type"]
        assert not self.errored, f"{kind} after RUN_ERROR"
        assert not self.finished, f"{kind} after RUN_FINISHED"
        if self.first:
            assert kind == "RUN_STARTED", "the first event must be RUN_STARTED"
            self.first = False
            return
        assert kind != "RUN_STARTED", "RUN_STARTED twice"
        getattr(self, "on_" + kind.lower())(event)

    def _in_step(self, event: dict[str, Any]) -> None:
        assert self.steps, f"{event['type']} outside a step"

    def on_step_started(self, event: dict[str, Any]) -> None:
        assert event["stepName"] not in self.steps
        self.steps.append(event["stepName"])
        self.text_by_step.append("")

    def on_step_finished(self, event: dict[str, Any]) -> None:
        assert self.steps and self.steps[-1] == event["stepName"], "STEP_FINISHED out of order"
        assert not self.active_text and not self.active_calls, "step closed with parts open"
        assert self.reasoning_span is None
        self.steps.pop()

    def on_text_message_start(self, event: dict[str, Any]) -> None:
        self._in_step(event)
        message_id = event["messageId"]
        assert message_id not in self.active_text, "TEXT_MESSAGE_START of an active message"
        self.active_text.add(message_id)
        if self.find(message_id) is None:
            self.messages.append({"id": message_id, "role": event.get("role", "assistant")})

    def on_text_message_content(self, event: dict[str, Any]) -> None:
        self._in_step(event)
        assert event["messageId"] in self.active_text, "content of no active message"
        message = self.find(event["messageId"])
        assert message is not None
        message["content"] = (message.get("content") or "") + event["delta"]
        self.text_by_step[-1] += event["delta"]

    def on_text_message_end(self, event: dict[str, Any]) -> None:
        assert event["messageId"] in self.active_text, "TEXT_MESSAGE_END of no active message"
        self.active_text.discard(event["messageId"])

    def on_tool_call_start(self, event: dict[str, Any]) -> None:
        self._in_step(event)
        call_id = event["toolCallId"]
        assert call_id not in self.call_ids, f"tool call id {call_id} reused"
        self.call_ids.add(call_id)
        self.active_calls.add(call_id)
        parent = event.get("parentMessageId")
        target = self.find(parent) if parent else None
        if target is None or target["role"] != "assistant":
            target = {"id": parent or call_id, "role": "assistant"}
            self.messages.append(target)
        target.setdefault("toolCalls", []).append(
            {
                "id": call_id,
                "type": "function",
                "function": {"name": event["toolCallName"], "arguments": ""},
            }
        )

    def _tool_call(self, call_id: str) -> dict[str, Any]:
        for message in self.messages:
            for tool_call in message.get("toolCalls") or ():
                if tool_call["id"] == call_id:
                    return tool_call
        raise AssertionError(f"no tool call {call_id}")

    def on_tool_call_args(self, event: dict[str, Any]) -> None:
        self._in_step(event)
        assert event["toolCallId"] in self.active_calls, "TOOL_CALL_ARGS outside START..END"
        self._tool_call(event["toolCallId"])["function"]["arguments"] += event["delta"]

    def on_tool_call_end(self, event: dict[str, Any]) -> None:
        assert event["toolCallId"] in self.active_calls, "TOOL_CALL_END of no active call"
        self.active_calls.discard(event["toolCallId"])
        self.ended_calls.add(event["toolCallId"])

    def on_tool_call_result(self, event: dict[str, Any]) -> None:
        self._in_step(event)
        call_id = event["toolCallId"]
        assert call_id in self.ended_calls, "TOOL_CALL_RESULT before TOOL_CALL_END"
        assert call_id not in self.results, f"a second result for {call_id}"
        assert self.find(event["messageId"]) is None, "a result's messageId is taken"
        self.results[call_id] = event["content"]
        owner = next(
            i
            for i, m in enumerate(self.messages)
            if any(c["id"] == call_id for c in m.get("toolCalls") or ())
        )
        at = owner + 1
        while at < len(self.messages) and self.messages[at]["role"] == "tool":
            at += 1
        message = {"id": event["messageId"], "role": "tool", "toolCallId": call_id}
        self.messages.insert(at, {**message, "content": event["content"]})

    def on_reasoning_start(self, event: dict[str, Any]) -> None:
        self._in_step(event)
        assert self.reasoning_span is None, "REASONING_START inside a span"
        self.reasoning_span = event["messageId"]

    def on_reasoning_message_start(self, event: dict[str, Any]) -> None:
        assert self.reasoning_span is not None and self.reasoning_message is None
        self.reasoning_message = event["messageId"]
        self.messages.append({"id": event["messageId"], "role": "reasoning", "content": ""})

    def on_reasoning_message_content(self, event: dict[str, Any]) -> None:
        assert self.reasoning_message == event["messageId"], "reasoning content outside its message"
        message = self.find(event["messageId"])
        assert message is not None
        message["content"] += event["delta"]

    def on_reasoning_message_end(self, event: dict[str, Any]) -> None:
        assert self.reasoning_message == event["messageId"]
        self.reasoning_message = None

    def on_reasoning_end(self, event: dict[str, Any]) -> None:
        assert self.reasoning_span == event["messageId"] and self.reasoning_message is None
        self.reasoning_span = None

    def on_run_finished(self, event: dict[str, Any]) -> None:
        assert not self.steps and not self.active_text and not self.active_calls, (
            "RUN_FINISHED while steps, messages or calls are active"
        )
        self.finished = True
        self.finish = event

    def on_run_error(self, event: dict[str, Any]) -> None:
        self.errored = True
        self.error = event


def read(chunks: list[list[Any]], messages: list[dict[str, Any]] | None = None) -> AGUIStream:
    stream = AGUIStream(messages)
    for chunk in chunks:
        for event in chunk:
            stream.feed(event)
    assert stream.finished or stream.errored, "the run did not end"
    return stream


def run_agent(
    api: str,
    server: ScriptedServer,
    tools: Tools,
    *,
    encoder: AGUIEncoder | None = None,
    messages: Any = "hi",
    **options: Any,
) -> Run:
    encoder = encoder or AGUIEncoder(thread_id="thread-1", run_id="run-1")
    return stream_agent(api, server, tools, encoder, messages, **options)


def check_run(run: Run, messages: list[dict[str, Any]] | None = None) -> AGUIStream:
    stream = read(run.chunks, messages)
    for turn, text in zip(run.turns, stream.text_by_step, strict=False):
        assert text == (turn.message.get("content") or "")
    for turn in run.turns:
        for tool_run in turn.tool_runs:
            assert tool_run.content in stream.results.values()
    return stream


def canonical(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A transcript without what only the agent keeps (the provider's own message), ids
    replaced by their order of appearance."""
    names: dict[str, str] = {}

    def rename(call_id: str) -> str:
        return names.setdefault(call_id, f"id{len(names)}")

    out = []
    for message in messages:
        message = {k: v for k, v in message.items() if k != "native"}
        if message.get("tool_calls"):
            message["tool_calls"] = [{**c, "id": rename(c["id"])} for c in message["tool_calls"]]
        if message["role"] == "tool":
            message["tool_call_id"] = rename(message["tool_call_id"])
        out.append(message)
    return out


# The fixtures every test here takes (see tests/agent_helpers.py).
api = agent_helpers.api
server = agent_helpers.server


USER = {"id": "user-1", "role": "user", "content": "hi"}


def test_a_run_with_parallel_tools_and_reasoning(api: str, server: ScriptedServer) -> None:
    tools = Tools(sleep=0.05)
    server.add(
        Turn(
            "Let me check.",
            reasoning="Two cities.",
            tool_calls=[
                call("weather", {"city": "Paris"}),
                call("weather", {"city": "Oslo"}),
                call("lookup", {"q": "u"}),
            ],
            usage={"prompt_tokens": 10, "completion_tokens": 3},
        ),
        Turn("Paris 5, Oslo 4.", usage={"prompt_tokens": 20, "completion_tokens": 5}),
    )
    run = run_agent(api, server, tools)
    stream = check_run(run, [USER])
    assert stream.text_by_step == ["Let me check.", "Paris 5, Oslo 4."]
    assert stream.finish == {
        "type": "RUN_FINISHED",
        "threadId": "thread-1",
        "runId": "run-1",
        "usage": [{"inputTokens": 30, "outputTokens": 8, "totalTokens": 38}],
    }
    assert run.parts[0] == {
        "type": "RUN_STARTED",
        "threadId": "thread-1",
        "runId": "run-1",
        "protocolVersion": "1.0",
    }
    (reasoning,) = [m for m in stream.messages if m["role"] == "reasoning"]
    assert reasoning["content"] == "Two cities."
    starts = run.typed("TOOL_CALL_START")
    (text_start,) = run.typed("TEXT_MESSAGE_START")[:1]
    assert {s["parentMessageId"] for s in starts} == {text_start["messageId"]}
    assert [s["toolCallName"] for s in starts] == ["weather", "weather", "lookup"]
    assert [e["stepName"] for e in run.typed("STEP_STARTED")] == ["turn 1", "turn 2"]
    # The thread the client holds now, sent back, is the agent's own transcript.
    thread = [m for m in stream.messages if m["role"] != "reasoning"]
    sent_back = RunAgentInput(thread_id="thread-1", run_id="run-2", messages=thread)
    body = sent_back.model_dump(mode="json", by_alias=True)
    assert canonical(agui_messages_to_transcript(body["messages"])) == canonical(
        run.result.messages
    )


def test_eager_results_wait_for_their_call(api: str, server: ScriptedServer) -> None:
    server.add(
        Turn(
            tool_calls=[call("lookup", {"q": "ab"}), call("weather", {"city": "Rome"})], delay=0.05
        ),
        Turn("ok"),
    )
    run = run_agent(api, server, Tools())
    check_run(run)
    order = [(e["type"], e.get("toolCallId")) for e in run.parts]
    lookup_id, weather_id = (e["toolCallId"] for e in run.typed("TOOL_CALL_START"))
    result = order.index(("TOOL_CALL_RESULT", lookup_id))
    assert order.index(("TOOL_CALL_END", lookup_id)) < result
    if api in ("anthropic", "responses"):
        assert result < order.index(("TOOL_CALL_END", weather_id))


def test_errors_and_invalid_arguments_are_results(api: str) -> None:
    tools = Tools()
    with ScriptedServer(raise_on_exit=False) as server:
        server.add(Turn(tool_calls=[call("boom"), call("weather", '{"city": "Ro')]), Turn("Sorry."))
        run = run_agent(api, server, tools)
    stream = read(run.chunks)
    assert tools.runs["weather"] == 0
    contents = [json.loads(stream.results[e["toolCallId"]]) for e in run.typed("TOOL_CALL_START")]
    assert [c["error"]["type"] for c in contents] == ["exception", "invalid_arguments"]
    assert "kaput" in contents[0]["error"]["message"]
    # The call's args are the text the model sent, invalid as it was.
    weather = run.typed("TOOL_CALL_ARGS")[-1]
    assert (
        "".join(
            e["delta"]
            for e in run.typed("TOOL_CALL_ARGS")
            if e["toolCallId"] == weather["toolCallId"]
        )
        == '{"city": "Ro'
    )


def test_a_truncated_turn_is_a_run_error(api: str, server: ScriptedServer) -> None:
    tools = Tools()
    server.add(length_end_turn())
    run = run_agent(api, server, tools)
    stream = check_run(run)
    assert stream.error is not None and stream.error["code"] == "length"
    assert "token limit" in stream.error["message"] and tools.runs["weather"] == 0
    weather = next(e for e in run.typed("TOOL_CALL_START") if e["toolCallName"] == "weather")
    assert weather["toolCallId"] not in stream.results and run.parts[-1]["type"] == "RUN_ERROR"


def test_a_cut_stream_closes_what_it_opened(api: str, server: ScriptedServer) -> None:
    server.add(cut_mid_call_turn(api))
    run = run_agent(api, server, Tools())
    stream = check_run(run)
    assert stream.error is not None and stream.error["code"] == "incomplete"
    assert not stream.active_calls and not stream.active_text and not stream.steps


def test_call_ids_are_unique_in_the_thread(api: str, server: ScriptedServer) -> None:
    server.add(
        Turn(tool_calls=[call("weather", {"city": "Oslo"})]),
        Turn(tool_calls=[call("weather", {"city": "Rome"})]),
        Turn("done"),
    )
    reserved = {"call_0"}
    run = run_agent(
        api, server, Tools(), encoder=AGUIEncoder(thread_id="t", run_id="r", reserved_ids=reserved)
    )
    check_run(run)
    ids = [e["toolCallId"] for e in run.typed("TOOL_CALL_START")]
    assert len(set(ids)) == 2 and not reserved & set(ids)
    message_ids = [e["messageId"] for e in run.typed("TOOL_CALL_RESULT")] + [
        e["messageId"] for e in run.typed("TEXT_MESSAGE_START")
    ]
    assert len(message_ids) == len(set(message_ids))


def test_the_options(server: ScriptedServer) -> None:
    server.add(Turn("Hi", reasoning="Hmm."))
    encoder = AGUIEncoder(thread_id="t", run_id="r", reasoning=False, usage=False)
    run = run_agent("chat", server, Tools(), encoder=encoder)
    check_run(run)
    kinds = Counter(e["type"] for e in run.parts)
    assert not any(k.startswith("REASONING") for k in kinds)
    assert run.parts[-1] == {"type": "RUN_FINISHED", "threadId": "t", "runId": "r"}


def test_a_plain_stream(api: str, server: ScriptedServer) -> None:
    server.add(
        Turn(
            "Checking.",
            tool_calls=[call("weather", {"city": "Paris"}), call("lookup", {"q": "x"})],
            chunking="random",
        )
    )

    chunks, end = encode_plain_stream(api, server, AGUIEncoder(thread_id="t", run_id="r"))
    stream = read([*chunks, end])
    assert stream.finished and stream.text_by_step == ["Checking."]
    # Without an agent nothing runs: the calls are left for the application to answer.
    assert stream.results == {} and len(stream.ended_calls) == 2
    (assistant,) = [m for m in stream.messages if m["role"] == "assistant"]
    calls = [
        (c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in assistant["toolCalls"]
    ]
    assert calls == [("weather", {"city": "Paris"}), ("lookup", {"q": "x"})]
