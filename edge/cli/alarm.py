"""`edge alarm ack|close` and `edge gate open`: actions on a running daemon, through its API.

They go through the daemon (not the database) because the daemon's writer is the only
one that may commit: the action runs there, audited with the actor `cli:<name>`.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import urllib.parse
from typing import Any

from edge.cli._common import (
    CliError,
    add_api_args,
    add_json,
    api_token,
    api_url,
    print_json,
    request_json,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("alarm", help="acknowledge or close an alarm on a running daemon")
    acts = p.add_subparsers(dest="alarm_command", metavar="ACTION", required=True)
    for name, text in (("ack", "acknowledge (seen)"), ("close", "close (dealt with)")):
        a = acts.add_parser(name, help=f"{text} an alarm")
        a.add_argument("alarm_id")
        a.add_argument("--by", default=getpass.getuser(), help="who (default: your login)")
        a.add_argument("--note", default="", help="why, for the audit log")
        add_api_args(a)
        add_json(a)
        a.set_defaults(handler=_alarm, action=name)
    g = sub.add_parser("gate", help="open a gate through a running daemon")
    gates = g.add_subparsers(dest="gate_command", metavar="ACTION", required=True)
    o = gates.add_parser("open", help="pulse a gate open (audited)")
    o.add_argument("gate_id")
    o.add_argument("--reason", required=True, help="why, for the audit log")
    o.add_argument("--by", default=getpass.getuser(), help="who (default: your login)")
    add_api_args(o)
    add_json(o)
    o.set_defaults(handler=_gate_open)


def post_json(
    url: str, body: dict[str, Any], timeout_s: float = 10.0, token: str | None = None
) -> tuple[int, Any]:
    """POST a JSON body; returns (status, JSON reply). Raises OSError when unreachable."""
    return request_json(url, token=token, body=body, timeout_s=timeout_s)


def _post(args: argparse.Namespace, path: str, body: dict[str, Any]) -> int:
    """JSON shape: {"ok": bool, "message": str, "data": {...}}."""
    base = api_url(args)
    try:
        status, reply = post_json(
            base + path, {**body, "by": args.by, "client": "cli"}, token=api_token(args)
        )
    except OSError as exc:
        raise CliError(
            f"the daemon does not answer at {base} ({getattr(exc, 'reason', exc)}); start it "
            "or point at it with --url, --config or EDGE_WEB_PORT"
        ) from None
    ok = status == 200
    message = str(reply.get("message", "done") if ok else reply.get("error", reply))
    if args.json:
        print_json({"ok": ok, "message": message, "data": reply.get("data", {}) if ok else {}})
    elif ok:
        print(message)
    else:
        print(f"refused: {message}", file=sys.stderr)
    return 0 if ok else 1


def _alarm(args: argparse.Namespace) -> int:
    alarm = urllib.parse.quote(args.alarm_id, safe="")
    return _post(args, f"/api/alarms/{alarm}/{args.action}", {"note": args.note})


def _gate_open(args: argparse.Namespace) -> int:
    gate = urllib.parse.quote(args.gate_id, safe="")
    return _post(args, f"/api/gates/{gate}/open", {"reason": args.reason})
