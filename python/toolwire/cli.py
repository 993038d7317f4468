"""The ``toolwire`` command: ``replay`` a recorded stream, ``demo`` the agent, ``serve`` the test server."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import toolwire


def _cmd_replay(args: argparse.Namespace) -> int:
    """Prints the events of a recorded SSE stream, then the final message(s) as JSON."""
    data = Path(args.file).read_bytes() if args.file != "-" else sys.stdin.buffer.read()
    acc = toolwire.StreamAccumulator()
    size = args.read_size or len(data) or 1
    status = 0
    for start in range(0, len(data), size):
        try:
            events = acc.feed(data[start : start + size])
        except toolwire.ToolwireError as exc:
            events = list(getattr(exc, "events", []))
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = 1
        for event in events:
            print(repr(event))
    for event in acc.finish():
        print(repr(event))
    result = {
        "messages": [acc.message(choice) for choice in acc.choices] or [acc.message()],
        "finish_reason": acc.finish_reason,
        "usage": acc.usage,
        "truncated": acc.truncated,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return status


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toolwire", description=__doc__)
    parser.add_argument("--version", action="version", version=f"toolwire {toolwire.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    replay = sub.add_parser("replay", help="print the events and final message of a recorded stream")
    replay.add_argument("file", help="an SSE recording (raw response body), or - for stdin")
    replay.add_argument("--read-size", type=int, default=0, help="feed in reads of N bytes (default: whole)")
    replay.set_defaults(func=_cmd_replay)

    # Python layer: demo and serve subcommands are added below by _add_python_layer_commands.
    _add_python_layer_commands(sub)
    return parser


def _add_python_layer_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the subcommands of the Python layer (agent demo, test server)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``toolwire`` console script."""
    args = _build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
