"""The ``toolwire`` command: ``replay`` a recorded stream, ``demo`` the agent, ``serve`` the test server."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


# --- Python layer: `demo` and `serve` ---------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    """Runs the shop-assistant agent demo (embedded server unless --base-url)."""
    from toolwire import demo

    return demo.main(args)


def _cmd_serve(args: argparse.Namespace) -> int:
    """Serves the scripted OpenAI-compatible test server on 127.0.0.1 until interrupted."""
    from toolwire import demo, testing

    if args.script:
        entries = json.loads(Path(args.script).read_text())
        if not isinstance(entries, list):
            print("error: --script must hold a JSON list of turns", file=sys.stderr)
            return 2
        script: Any = [testing.turn_from_dict(entry) for entry in entries]
    else:
        script = demo.shop_responder
    server = testing.ScriptedServer(
        script, port=args.port, delay=args.delay, chunking=args.chunking,
        loop=not args.once, api_key=args.api_key, raise_on_exit=False,
    )
    server.start()
    print(f"toolwire test server on {server.url}  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def _add_python_layer_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the subcommands of the Python layer (agent demo, test server)."""
    from toolwire import demo

    demo_parser = sub.add_parser(
        "demo", help="run the shop-assistant agent (embedded server, no key needed)"
    )
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(func=_cmd_demo)

    serve = sub.add_parser("serve", help="serve the scripted OpenAI-compatible test server")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any)")
    serve.add_argument("--script", help="JSON list of turns (default: the demo's shop assistant)")
    serve.add_argument("--delay", type=float, default=0.01, help="seconds between writes")
    serve.add_argument(
        "--chunking", choices=["event", "random", "net"], default="event",
        help="how bytes are grouped into writes (see toolwire.testing)",
    )
    serve.add_argument("--once", action="store_true", help="play the script once, do not loop")
    serve.add_argument("--api-key", help="require this bearer token")
    serve.set_defaults(func=_cmd_serve)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``toolwire`` console script."""
    args = _build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
