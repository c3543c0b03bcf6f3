"""`edge alarm ack|close` and `edge gate open`: actions on a running daemon, through its API.

They go through the daemon (not the database) because the daemon's writer is the only
one that may commit: the action runs there, audited with the actor `cli:<name>`.
"""

from __future__ import annotations

import argparse
import getpass
import urllib.parse
from typing import Any

from edge.cli._common import add_api_args, api_token, api_url, err, request_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("alarm", help="acknowledge or close an alarm on a running daemon")
    acts = p.add_subparsers(dest="alarm_command", metavar="ACTION", required=True)
    for name, text in (("ack", "acknowledge (seen)"), ("close", "close (dealt with)")):
        a = acts.add_parser(name, help=f"{text} an alarm")
        a.add_argument("alarm_id")
        a.add_argument("--by", default=getpass.getuser(), help="who (default: your login)")
        a.add_argument("--note", default="", help="why, for the audit log")
        add_api_args(a)
        a.set_defaults(handler=_alarm, action=name)
    g = sub.add_parser("gate", help="open a gate through a running daemon")
    gates = g.add_subparsers(dest="gate_command", metavar="ACTION", required=True)
    o = gates.add_parser("open", help="pulse a gate open (audited)")
    o.add_argument("gate_id")
    o.add_argument("--reason", required=True, help="why, for the audit log")
    o.add_argument("--by", default=getpass.getuser(), help="who (default: your login)")
    add_api_args(o)
    o.set_defaults(handler=_gate_open)


def post_json(
    url: str, body: dict[str, Any], timeout_s: float = 10.0, token: str | None = None
) -> tuple[int, Any]:
    """POST a JSON body; returns (status, JSON reply). Raises OSError when unreachable."""
    return request_json(url, token=token, body=body, timeout_s=timeout_s)


def _post(args: argparse.Namespace, path: str, body: dict[str, Any]) -> int:
    url = api_url(args) + path
    try:
        status, reply = post_json(url, {**body, "by": args.by}, token=api_token(args))
    except OSError as exc:
        err(f"daemon unreachable at {url}: {getattr(exc, 'reason', exc)}")
        return 2
    if status == 200:
        print(reply.get("message", "done"))
        return 0
    err(f"refused: {reply.get('error', reply)}")
    return 1


def _alarm(args: argparse.Namespace) -> int:
    alarm = urllib.parse.quote(args.alarm_id, safe="")
    return _post(args, f"/api/alarms/{alarm}/{args.action}", {"note": args.note})


def _gate_open(args: argparse.Namespace) -> int:
    gate = urllib.parse.quote(args.gate_id, safe="")
    return _post(args, f"/api/gates/{gate}/open", {"reason": args.reason})
