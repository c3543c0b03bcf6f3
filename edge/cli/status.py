"""`edge status` and `edge events`: read a running daemon through its local API."""

from __future__ import annotations

import argparse
import json
import time
import urllib.parse
from typing import Any

from edge.cli._common import add_api_args, api_token, api_url, err, get_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="health of a running daemon (exit 1 if degraded or down)")
    add_api_args(p)
    p.add_argument("--json", action="store_true", help="print the raw health document")
    p.set_defaults(handler=_status)
    e = sub.add_parser("events", help="list recent events from a running daemon")
    add_api_args(e)
    e.add_argument("--kind")
    e.add_argument("--since", help="epoch ms, RFC 3339, or an age like 15m")
    e.add_argument("--limit", type=int, default=20)
    e.add_argument("--json", action="store_true")
    e.set_defaults(handler=_events)


def _fetch(args: argparse.Namespace, path: str) -> tuple[int, Any] | None:
    url = api_url(args) + path
    try:
        return get_json(url, token=api_token(args) or "")
    except OSError as exc:
        err(f"daemon unreachable at {url}: {getattr(exc, 'reason', exc)}")
        return None


def _status(args: argparse.Namespace) -> int:
    got = _fetch(args, "/api/health")
    if got is None:
        return 2
    _code, doc = got
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0 if doc.get("status") == "ok" else 1
    print(
        f"{doc['site']['name']}  {doc['status'].upper()}  "
        f"up {doc['uptime_s']:.0f}s  v{doc['version']}"
    )
    for p in doc.get("problems", []):
        print(f"  ! {p}")
    print(f"{'TASK':32} {'STATE':11} {'RESTARTS':>8}  LAST ERROR")
    for t in doc["tasks"]:
        error = t["last_error"] or ""
        if t["last_error_at"]:
            error += f" ({time.time() - t['last_error_at']:.0f}s ago)"
        print(f"{t['name']:32} {t['state']:11} {t['restarts']:>8}  {error}")
    if doc.get("devices"):
        print(f"{'DEVICE':32} {'AVAILABLE':11} {'FAILURES':>8}  LAST ERROR")
        for d in doc["devices"]:
            avail = {True: "yes", False: "NO", None: "?"}[d["available"]]
            print(f"{d['device']:32} {avail:11} {d['failures']:>8}  {d['last_error'] or ''}")
    for o in doc.get("outbox", []):
        if not isinstance(o, dict):
            continue
        print(uplink_line(o, doc.get(f"uplink.{o['dest']}") or {}))
    return 0 if doc["status"] == "ok" else 1


def uplink_line(outbox: dict[str, Any], live: dict[str, Any]) -> str:
    """`uplink hub: disconnected since 14:02:11 (3 min), backlog 120, oldest 4 min, …`."""
    state = live.get("state", "not running")
    since = live.get("since")
    text = f"uplink {outbox['dest']}: {state}"
    if since:
        held = time.time() - since
        text += f" since {time.strftime('%H:%M:%S', time.localtime(since))} ({_span(held)})"
    text += f", backlog {outbox['backlog']}, acked seq {outbox['acked_seq']}"
    age = outbox.get("oldest_unacked_age_s")
    if age:
        text += f", oldest {_span(age)}"
    if outbox.get("parked"):
        text += f", parked {outbox['parked']}"
    if state != "connected" and live.get("last_error"):
        text += f": {live['last_error']}"
    return text


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _events(args: argparse.Namespace) -> int:
    query = {"limit": str(args.limit)}
    if args.kind:
        query["kind"] = args.kind
    if args.since:
        query["since"] = args.since
    got = _fetch(args, "/api/events?" + urllib.parse.urlencode(query))
    if got is None:
        return 2
    code, doc = got
    if code != 200:
        err(doc.get("error", f"HTTP {code}"))
        return 1
    if args.json:
        print(json.dumps(doc["events"], ensure_ascii=False, indent=2))
        return 0
    for ev in doc["events"]:
        data = json.dumps(ev["data"], ensure_ascii=False)
        print(f"{ev['ts']}  {ev['kind']:8} {ev['source']:16} {data[:100]}")
    return 0
