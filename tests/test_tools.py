"""ToolRegistry: schemas from signatures and docstrings, validation, safe execution."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import threading
import time
from typing import Annotated, Any, Literal

import pydantic
import pytest

from toolwire import Tool, ToolError, ToolRegistry, ToolRun
from toolwire.tools import format_result, parse_docstring


class Address(pydantic.BaseModel):
    street: str
    city: str


@dataclasses.dataclass
class Point:
    x: int
    y: int


def make_registry() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    def get_weather(city: str, unit: Literal["c", "f"] = "c", days: int = 1) -> dict[str, Any]:
        """Current weather for a city.

        Longer explanation that stays in the description.

        Args:
            city: City name, e.g. "Paris".
            unit: Temperature unit,
                Celsius or Fahrenheit.

        Returns:
            The weather.
        """
        return {"city": city, "unit": unit, "days": days}

    @registry.tool(name="ship", eager=True, timeout=2.0)
    async def ship_to(address: Address, express: bool = False) -> Address:
        """Ship a parcel."""
        return address

    return registry


def test_schema_from_signature_and_google_docstring() -> None:
    registry = make_registry()
    weather, ship = registry.schemas()
    assert weather == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": (
                "Current weather for a city.\n\nLonger explanation that stays in the description."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": 'City name, e.g. "Paris".'},
                    "unit": {
                        "type": "string",
                        "enum": ["c", "f"],
                        "default": "c",
                        "description": "Temperature unit, Celsius or Fahrenheit.",
                    },
                    "days": {"type": "integer", "default": 1},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
    params = ship["function"]["parameters"]
    assert ship["function"]["name"] == "ship"
    assert params["properties"]["address"] == {"$ref": "#/$defs/Address"}
    assert params["$defs"]["Address"]["required"] == ["street", "city"]
    assert "title" not in json.dumps(params)


def test_numpy_and_sphinx_docstrings() -> None:
    numpy_doc = """Add two numbers.

    Parameters
    ----------
    a : int
        The first.
    b : int
        The second,
        continued.

    Returns
    -------
    int
    """
    sphinx_doc = """Add two numbers.

    :param a: The first.
    :param int b: The second,
        continued.
    :returns: the sum
    """
    expected = ("Add two numbers.", {"a": "The first.", "b": "The second, continued."})
    assert parse_docstring(numpy_doc) == expected
    assert parse_docstring(sphinx_doc) == expected
    assert parse_docstring(None) == ("", {})


def test_annotated_field_description_and_property_named_title() -> None:
    registry = ToolRegistry()

    @registry.tool(description="Make a note.")
    def note(
        title: Annotated[str, pydantic.Field(description="Short title", max_length=20)],
        json: int = 0,
    ) -> str:
        return title

    params = registry["note"].parameters
    assert params["properties"]["title"] == {
        "type": "string",
        "description": "Short title",
        "maxLength": 20,
    }
    assert "json" in params["properties"]  # a parameter may be called like a BaseModel attribute
    assert registry.run("note", {"title": "x", "json": 3}).content == "x"
    too_long = registry.run("note", {"title": "x" * 21})
    assert too_long.error is not None and too_long.error.kind == "invalid_arguments"


def test_decorator_returns_the_function_and_options() -> None:
    registry = make_registry()
    tool = registry["ship"]
    assert isinstance(tool, Tool) and tool.eager and tool.timeout == 2.0 and tool.is_async
    assert not registry["get_weather"].eager
    assert registry.names == ["get_weather", "ship"] and len(registry) == 2 and "ship" in registry
    assert registry.get("nope") is None

    @registry.tool
    def plain(x: int) -> int:
        return x * 2

    assert plain(21) == 42


def test_registration_errors() -> None:
    registry = make_registry()
    with pytest.raises(ValueError, match="already registered"):
        registry.add(lambda: None, name="ship")
    with pytest.raises(ValueError, match="must match"):
        registry.add(lambda: None, name="has space")
    with pytest.raises(TypeError, match=r"\*args"):

        @registry.tool
        def varargs(*items: int) -> None: ...


def test_positional_only_and_default_timeout() -> None:
    registry = ToolRegistry(default_timeout=5.0)

    @registry.tool
    def div(a: float, b: float, /) -> float:
        return a / b

    assert registry["div"].timeout == 5.0
    assert registry.run("div", '{"a": 1, "b": 4}').result == 0.25


def test_run_validates_and_converts() -> None:
    registry = make_registry()
    run = registry.run("get_weather", '{"city": "Paris", "days": "3"}', call_id="c1")
    assert isinstance(run, ToolRun) and run.ok
    assert run.result == {"city": "Paris", "unit": "c", "days": 3}
    assert json.loads(run.content) == run.result
    assert run.tool_message() == {"role": "tool", "tool_call_id": "c1", "content": run.content}
    shipped = registry.run("ship", {"address": {"street": "1 Main St", "city": "Oslo"}})
    assert isinstance(shipped.result, Address)  # nested models arrive as model instances
    assert json.loads(shipped.content) == {"street": "1 Main St", "city": "Oslo"}


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ('{"city": "Paris"', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"unit": "c"}', "city: Field required"),
        ('{"city": "Paris", "unit": "k"}', "unit: Input should be 'c' or 'f'"),
        ('{"city": "Paris", "extra": 1}', "extra: Extra inputs are not permitted"),
    ],
)
def test_invalid_arguments_become_an_error_for_the_model(arguments: str, fragment: str) -> None:
    run = make_registry().run("get_weather", arguments)
    assert run.error is not None and run.error.kind == "invalid_arguments"
    assert fragment in run.error.message
    assert json.loads(run.content) == {
        "error": {"type": "invalid_arguments", "message": run.error.message}
    }


def test_unknown_tool_and_exception() -> None:
    registry = make_registry()

    @registry.tool
    def boom() -> None:
        raise RuntimeError("disk full")

    unknown = registry.run("nope", "{}")
    assert unknown.error == ToolError(
        "unknown_tool", unknown.error.message if unknown.error else ""
    )
    assert unknown.error is not None and "get_weather, ship, boom" in unknown.error.message
    failed = registry.run("boom", "")
    assert failed.error is not None and failed.error.kind == "exception"
    assert failed.error.message == "boom raised RuntimeError: disk full"
    assert isinstance(failed.error.exception, RuntimeError)


def test_timeouts_sync_and_async() -> None:
    registry = ToolRegistry()

    @registry.tool(timeout=0.1)
    def slow_sync() -> str:
        time.sleep(0.5)
        return "late"

    @registry.tool(timeout=0.1)
    async def slow_async() -> str:
        await asyncio.sleep(0.5)
        return "late"

    @registry.tool(timeout=0.1)
    def own_timeout() -> str:
        raise TimeoutError("the database timed out")

    for name in ("slow_sync", "slow_async"):
        start = time.perf_counter()
        run = registry.run(name, {})
        assert time.perf_counter() - start < 0.4
        assert run.error is not None and run.error.kind == "timeout", name
        assert "did not finish within 0.1 s" in run.content
        arun = asyncio.run(registry.arun(name, {}))
        assert arun.error is not None and arun.error.kind == "timeout", name
    # A TimeoutError raised by the tool itself, quickly, is an exception, not our timeout.
    own = registry.run("own_timeout", {})
    assert own.error is not None and own.error.kind == "exception"


def test_arun_runs_sync_tools_in_threads_and_concurrently() -> None:
    registry = ToolRegistry()
    threads: list[int] = []

    @registry.tool
    def blocking(n: int) -> int:
        threads.append(threading.get_ident())
        time.sleep(0.2)
        return n

    @registry.tool
    async def cooperative(n: int) -> int:
        await asyncio.sleep(0.2)
        return n

    async def main() -> list[ToolRun]:
        calls = [registry.arun("blocking", {"n": i}) for i in range(3)]
        calls += [registry.arun("cooperative", {"n": i}) for i in range(3)]
        return await asyncio.gather(*calls)

    start = time.perf_counter()
    runs = asyncio.run(main())
    assert time.perf_counter() - start < 0.5
    assert [r.result for r in runs] == [0, 1, 2, 0, 1, 2]
    assert threading.get_ident() not in threads and len(set(threads)) == 3
    assert all(r.duration_ms >= 190 for r in runs)


def test_arun_cancellation_reaches_async_tools() -> None:
    registry = ToolRegistry()
    cancelled = threading.Event()

    @registry.tool
    async def forever() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def main() -> None:
        task = asyncio.ensure_future(registry.arun("forever", {}))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert cancelled.is_set()


def test_format_result() -> None:
    assert format_result("plain text") == "plain text"
    assert format_result(None) == "null"
    assert format_result({"a": [1, 2.5, True]}) == '{"a":[1,2.5,true]}'
    assert format_result(Address(street="s", city="c")) == '{"street":"s","city":"c"}'
    assert format_result(Point(1, 2)) == '{"x":1,"y":2}'
    assert format_result(datetime.date(2024, 5, 1)) == '"2024-05-01"'
    assert format_result([object()]).startswith('["<object object at')  # unknown objects: str()


def test_unserialisable_result_is_an_error() -> None:
    registry = ToolRegistry()

    @registry.tool
    def weird() -> Any:
        loop: list[Any] = []
        loop.append(loop)
        return loop

    run = registry.run("weird", {})
    assert run.error is not None and run.error.kind == "exception"
    assert "cannot be serialised" in run.error.message


def test_start_ms_counts_from_origin() -> None:
    registry = make_registry()
    origin = time.perf_counter()
    time.sleep(0.02)
    run = registry.run("get_weather", {"city": "x"}, origin=origin)
    assert 15 <= run.start_ms < 1000
