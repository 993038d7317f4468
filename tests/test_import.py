"""`import toolwire` loads only the core: the Python layer comes on first use (PEP 562).

Checked in fresh interpreters, since the test session itself has imported everything.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import toolwire

HEAVY = ("httpx", "httpcore", "anyio", "pydantic", "pydantic_core")


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_core_api_imports_none_of_the_python_layer() -> None:
    out = run(
        "import sys, toolwire\n"
        "toolwire.StreamAccumulator().feed(b'data: [DONE]\\n\\n')\n"
        "toolwire.parse_partial('{\"a\": 1'); toolwire.PartialJSON()\n"
        "try:\n"
        "    toolwire.StreamAccumulator().feed(b'data: x\\n\\n')\n"
        "except toolwire.ParseError:\n"
        "    pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", ["Agent", "Client", "ToolRegistry", "AsyncChatStream", "ToolRun"])
def test_python_layer_names_load_on_first_use(name: str) -> None:
    out = run(
        "import sys, toolwire\n"
        "before = 'httpx' in sys.modules\n"
        f"obj = toolwire.{name}\n"
        f"from toolwire import {name} as again\n"
        "print(before, obj is again, obj.__module__)\n"
    )
    before, same, module = out.split()
    assert (before, same) == ("False", "True")
    assert module.startswith("toolwire.")


def test_every_exported_name_resolves_and_dir_lists_them() -> None:
    out = run(
        "import toolwire\n"
        "names = toolwire.__all__\n"
        "missing = [n for n in names if n not in dir(toolwire)]\n"
        "values = [getattr(toolwire, n) for n in names]\n"
        "print(len(values), missing)\n"
    )
    assert out.split(maxsplit=1) == [str(len(toolwire.__all__)), "[]\n"]
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        toolwire.Nope  # type: ignore[attr-defined]  # noqa: B018
    star = run("from toolwire import *\nprint(Agent.__name__, StreamAccumulator.__name__)")
    assert star.split() == ["Agent", "StreamAccumulator"]
