"""`edge queue`: each destination's state, backlog, oldest unacknowledged age, send rate,
and the records its peer refused for good (parked, with the peer's reason)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from edge.cli._common import add_api_args, add_json, fetch, print_json
from edge.cli._table import table as render


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("queue", help="uplink backlogs of a running daemon")
    add_api_args(p)
    add_json(p)
    p.set_defaults(handler=_queue)


def rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per destination: the store's outbox figures joined with the uplink's live state."""
    out = []
    for o in doc.get("outbox") or []:
        if not isinstance(o, dict):
            continue
        live = doc.get(f"uplink.{o['dest']}") or {}
        out.append(
            {
                "dest": o["dest"],
                "state": live.get("state", "not running" if o.get("configured") else "removed"),
                "backlog": o["backlog"],
                "oldest_unacked_age_s": o["oldest_unacked_age_s"],
                "acked_seq": o["acked_seq"],
                "next_seq": o["next_seq"],
                "dropped": o["dropped"],
                "parked": o.get("parked", 0),
                "parked_recent": live.get("parked_recent") or [],
                "since": live.get("since"),
                "in_flight": live.get("in_flight"),
                "rate_per_s": live.get("rate_per_s"),
                "last_error": live.get("last_error"),
                "time_offset_s": live.get("time_offset_s"),
            }
        )
    return out


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _queue(args: argparse.Namespace) -> int:
    _code, doc = fetch(args, "/api/health")
    table = rows(doc)
    if args.json:
        print_json(table)
        return 0
    if not table:
        print("no uplink destinations configured")
        return 0
    now = time.time()
    out = []
    for r in table:
        rate = "-" if r["rate_per_s"] is None else f"{r['rate_per_s']:.1f}"
        held = _age(now - r["since"]) if r["since"] else "-"
        out.append(
            [
                r["dest"],
                r["state"],
                held,
                r["backlog"],
                _age(r["oldest_unacked_age_s"]),
                r["acked_seq"],
                r["next_seq"] - 1,
                r["dropped"],
                r["parked"],
                rate,
                r["last_error"] or "",
            ]
        )
    heads = ["DEST", "STATE", "FOR", "BACKLOG", "OLDEST", "ACKED", "NEXT", "DROPPED", "PARKED"]
    print(render([*heads, "RATE/s", "LAST ERROR"], out, "<<>>>>>>>><"))
    for r in table:
        if r["time_offset_s"] is not None:
            print(f"{r['dest']}: clock offset to the peer: {r['time_offset_s']:+.1f} s")
        for p in r["parked_recent"]:
            print(f"  parked {r['dest']} seq {p['seq']} {p['kind']} {p['id']}: {p['reason']}")
    return 0
