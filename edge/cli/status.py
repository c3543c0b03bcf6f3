"""`edge status` and `edge events`: read a running daemon through its local API."""

from __future__ import annotations

import argparse
import sys
import time
import urllib.parse
from datetime import datetime
from typing import Any

from edge.cli._common import CliError, add_api_args, add_json, fetch, print_json
from edge.cli._table import table
from edge.cli._tidy import tidy
from edge.events import EventKind
from edge.timefmt import parse_since, site_tz, span


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="health of a running daemon (exit 1 if degraded)")
    add_api_args(p)
    add_json(p)
    p.set_defaults(handler=_status)
    e = sub.add_parser("events", help="list recent events, or follow them live (events tail)")
    e.add_argument(
        "action", nargs="?", choices=["list", "tail"], default="list",
        help="list (default) recent events, or tail: follow new ones as they happen",
    )  # fmt: skip
    e.add_argument("--count", type=int, help="tail: stop after N events")
    add_api_args(e)
    e.add_argument("--kind", help=f"only this kind ({', '.join(k.value for k in EventKind)})")
    e.add_argument("--source", help="only events from this device or camera")
    e.add_argument("--since", help="epoch ms, RFC 3339, or an age like 15m / 2h / 7d")
    e.add_argument("--limit", type=int, default=20, help="at most this many (1-1000, 20)")
    add_json(e)
    e.set_defaults(handler=_events)


def _status(args: argparse.Namespace) -> int:
    _code, doc = fetch(args, "/api/health")
    ok = doc.get("status") == "ok"
    if args.json:
        print_json(doc)
        return 0 if ok else 1
    print(
        f"{doc['site']['name']}  {doc['status'].upper()}  "
        f"up {doc['uptime_s']:.0f}s  v{doc['version']}"
    )
    for p in doc.get("problems", []):
        print(f"  ! {p}")
    rows = []
    for t in doc["tasks"]:
        error = t["last_error"] or ""
        if t["last_error_at"]:
            error += f" ({time.time() - t['last_error_at']:.0f}s ago)"
        rows.append([t["name"], t["state"], t["restarts"], error])
    print(table(["TASK", "STATE", "RESTARTS", "LAST ERROR"], rows, "<<><"))
    if doc.get("devices"):
        drows = [
            [
                d["device"],
                {True: "yes", False: "NO", None: "?"}[d["available"]],
                d["failures"],
                d["last_error"] or "",
            ]
            for d in doc["devices"]
        ]
        print(table(["DEVICE", "AVAILABLE", "FAILURES", "LAST ERROR"], drows, "<<><"))
    for o in doc.get("outbox", []):
        if not isinstance(o, dict):
            continue
        offset = (doc.get("site") or {}).get("utc_offset") or "+08:00"
        print(uplink_line(o, doc.get(f"uplink.{o['dest']}") or {}, offset))
    return 0 if ok else 1


def uplink_line(outbox: dict[str, Any], live: dict[str, Any], utc_offset: str) -> str:
    """`uplink hub: disconnected since 14:02:11 (3 min), backlog 120, oldest 4 min, …`, the
    clock time in the site's zone (`site.utc_offset` from the health document)."""
    state = live.get("state", "not running")
    since = live.get("since")
    text = f"uplink {outbox['dest']}: {state}"
    if since:
        held = time.time() - since
        clock = datetime.fromtimestamp(since, site_tz(utc_offset)).strftime("%H:%M:%S")
        text += f" since {clock} ({span(held)})"
    text += f", backlog {outbox['backlog']}, acked seq {outbox['acked_seq']}"
    age = outbox.get("oldest_unacked_age_s")
    if age:
        text += f", oldest {span(age)}"
    if outbox.get("parked"):
        text += f", parked {outbox['parked']}"
    if state != "connected" and live.get("last_error"):
        text += f": {live['last_error']}"
    return text


def event_query(args: argparse.Namespace) -> dict[str, str]:
    """The API query for --kind/--source/--since, checked here so a typo is a sentence."""
    query: dict[str, str] = {}
    if args.kind:
        kinds = [k.value for k in EventKind]
        if args.kind not in kinds:
            raise CliError(
                f"--kind {args.kind!r} is not an event kind; use one of {', '.join(kinds)}"
            )
        query["kind"] = args.kind
    if getattr(args, "source", None):
        query["source"] = args.source
    if getattr(args, "since", None):
        try:
            parse_since(args.since)
        except ValueError:
            raise CliError(
                f"--since {args.since!r} is not a time; give an age like 15m, 2h or 7d, "
                "epoch milliseconds, or RFC 3339 with an offset (2026-11-22T08:00:00+08:00)"
            ) from None
        query["since"] = args.since
    return query


def _events(args: argparse.Namespace) -> int:
    if args.action == "tail":
        return _tail(args)
    if not 1 <= args.limit <= 1000:
        raise CliError("--limit must be from 1 to 1000")
    query = {"limit": str(args.limit), **event_query(args)}
    code, doc = fetch(args, "/api/events?" + urllib.parse.urlencode(query))
    if code != 200:
        raise CliError(f"the daemon refused the query: {doc.get('error', f'HTTP {code}')}", 1)
    events = [tidy(ev) for ev in doc["events"]]
    if args.json:
        print_json(events)
        return 0
    if not events:
        print("no events")
        return 0
    print(event_table(events))
    return 0


def event_line_fields(ev: dict[str, Any]) -> list[str]:
    import json

    return [ev["ts"], ev["kind"], ev["source"], json.dumps(ev["data"], ensure_ascii=False)]


def event_table(events: list[dict[str, Any]]) -> str:
    return table(["TIME", "KIND", "SOURCE", "DATA"], [event_line_fields(e) for e in events])


def _tail(args: argparse.Namespace) -> int:
    """Follow /api/events/stream. --json: one JSON document per line (NDJSON), as served."""
    import json
    import urllib.request

    from edge.cli._common import api_token, api_url

    query = {k: v for k, v in event_query(args).items() if k == "kind"}
    base = api_url(args)
    url = base + "/api/events/stream" + ("?" + urllib.parse.urlencode(query) if query else "")
    seen = 0
    try:
        token = api_token(args)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as resp:  # keepalive lines every 15 s
            print(f"following events at {base} (Ctrl-C to stop)", file=sys.stderr, flush=True)
            for raw in resp:
                line = raw.decode("utf-8", errors="replace").strip()
                if not line:
                    continue
                doc = tidy(json.loads(line))
                if "dropped" in doc:
                    print(f"({doc['dropped']} events dropped: reading too slowly)", file=sys.stderr)
                    continue
                if args.json:
                    print(json.dumps(doc, ensure_ascii=False), flush=True)
                else:
                    print("  ".join(event_line_fields(doc)), flush=True)
                seen += 1
                if args.count and seen >= args.count:
                    return 0
    except OSError as exc:
        raise CliError(
            f"the event stream at {base} stopped or is unreachable ({getattr(exc, 'reason', exc)});"
            " check the daemon (edge status) and run again"
        ) from None
    return 0
