"""`edge uplink test <type>`: prove the path to a destination, one step at a time.

Each uplink plugin package declares its own test as `CLI_TEST(args) -> int`
(`edge/uplinks/mqtt/cli_test.py`: connect, subscribe, publish at QoS 1 and read
it back; GA/T 1400: register, keepalive, time, one record; GB/T 28181:
register, keepalive, query), printing each step as `  ok    what (N ms)` or
`  FAIL  what: why`. The types offered are the installed plugins' (`edge doctor`
runs the same tests), so a new destination needs no edit here.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
from collections.abc import Callable
from typing import Any

from edge.cli._common import CliError, add_json, print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("uplink", help="check an uplink destination")
    s = p.add_subparsers(dest="uplink_command", metavar="ACTION", required=True)
    t = s.add_parser("test", help="connect, send a test record and check it arrived")
    t.add_argument("type", choices=sorted(uplink_tests()), help="destination type")
    t.add_argument("--config", "-c", help="take the destination's settings from this config")
    t.add_argument("--name", help="which destination in the config (default: the only one)")
    t.add_argument("--url", help="broker or 视图库 URL (overrides the config's)")
    t.add_argument("--timeout", type=float, default=10.0, help="seconds per step (default 10)")
    add_json(t)
    t.set_defaults(handler=_test)


def _test(args: argparse.Namespace) -> int:
    """JSON: {"type", "ok", "exit_code", "steps": [{"status": ok|FAIL|warn, "text"}], "lines"}.

    Every type's test prints its steps as `  ok    what (N ms)` / `  FAIL  what: why`; with
    --json those lines are collected and returned as one document (doctor reads it too)."""
    if not args.json:
        return run_test(args)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            code = run_test(args)
        except CliError as exc:
            code = exc.code
            print(f"  FAIL  settings: {exc}")
    print_json(steps_doc(args.type, code, buf.getvalue()))
    return code


def steps_doc(kind: str, code: int, text: str) -> dict[str, Any]:
    steps = []
    for line in text.splitlines():
        status, _, rest = line.strip().partition(" ")
        if status in ("ok", "FAIL", "warn") and line.startswith("  "):
            steps.append({"status": status, "text": rest.strip()})
    return {
        "type": kind,
        "ok": code == 0,
        "exit_code": code,
        "steps": steps,
        "lines": text.splitlines(),
    }


def uplink_tests() -> dict[str, Callable[[argparse.Namespace], int]]:
    """Each uplink type's `edge uplink test`, declared by its plugin package as `CLI_TEST`
    (so a new destination is tested here, and by `edge doctor`, without edits here)."""
    from edge.registry import registry

    found = {}
    for kind, plugin in registry().uplinks.items():
        test = getattr(importlib.import_module(plugin.module), "CLI_TEST", None)
        if test is not None:
            found[kind] = test
    return found


def run_test(args: argparse.Namespace) -> int:
    test = uplink_tests().get(args.type)
    if test is None:
        raise CliError(f"uplink type {args.type!r} has no test", 2)
    return test(args)
