"""`edge access …`: the lists, passes waiting for a guard, fire mode and the car parks, on a
running daemon through its API (its writer is the only one that commits), each change
audited with the actor `cli:<login>`."""

from __future__ import annotations

import argparse
import getpass
import json
import urllib.parse
from typing import Any

from edge.cli._common import add_api_args, api_token, api_url, err, get_json
from edge.cli.alarm import _post

LIST_NAMES = ("plates", "plate_blocklist", "residents", "visitors")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("access", help="access lists, guard approvals, fire mode, car parks")
    acts = p.add_subparsers(dest="access_command", metavar="ACTION", required=True)

    def action(name: str, text: str, **kw: Any) -> argparse.ArgumentParser:
        a = acts.add_parser(name, help=text, **kw)
        add_api_args(a)
        a.add_argument("--json", action="store_true", help="print the answer as JSON")
        return a

    def by(a: argparse.ArgumentParser, reason_required: bool = True) -> None:
        a.add_argument("--by", default=getpass.getuser(), help="who (default: your login)")
        a.add_argument("--reason", required=reason_required, default="", help="why (audited)")

    a = action("list", "show a list's entries")
    a.add_argument("name", choices=LIST_NAMES)
    a.set_defaults(handler=_list)

    a = action("add", "add entries (plates, or JSON objects for residents and visitors)")
    a.add_argument("name", choices=LIST_NAMES)
    a.add_argument("entries", nargs="+", help='a plate, or JSON like \'{"id": "v-1", ...}\'')
    by(a)
    a.set_defaults(handler=_change, mode="add")

    a = action("remove", "remove entries by plate or id")
    a.add_argument("name", choices=LIST_NAMES)
    a.add_argument("entries", nargs="+")
    by(a)
    a.set_defaults(handler=_change, mode="remove")

    a = action("pending", "passes waiting for a guard")
    a.add_argument(
        "--state", default="pending", choices=("pending", "approved", "denied", "expired", "all")
    )
    a.set_defaults(handler=_pending)

    for name, text in (("approve", "let a waiting pass through"), ("deny", "refuse it")):
        a = action(name, text)
        a.add_argument("pending_id")
        by(a, reason_required=False)
        a.set_defaults(handler=_answer, answer=name)

    a = action("fire", "turn fire mode on or off (fire doors held open)")
    a.add_argument("state", choices=("on", "off"))
    by(a)
    a.set_defaults(handler=_fire)

    a = action("parking", "car park counts, or correct one (parking PARK --set N)")
    a.add_argument("car_park", nargs="?")
    a.add_argument("--set", type=int, dest="inside", help="vehicles inside, as counted")
    by(a, reason_required=False)
    a.set_defaults(handler=_parking)


def _get(args: argparse.Namespace, path: str) -> Any:
    url = api_url(args) + path
    try:
        status, body = get_json(url, token=api_token(args) or "")
    except OSError as exc:
        err(f"daemon unreachable at {url}: {getattr(exc, 'reason', exc)}")
        return None
    if status != 200:
        err(f"refused: {body.get('error', body)}")
        return None
    return body


def _entry(raw: str) -> Any:
    return json.loads(raw) if raw.lstrip().startswith("{") else raw


def _list(args: argparse.Namespace) -> int:
    body = _get(args, f"/api/access/lists/{args.name}")
    if body is None:
        return 1
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    print(f"{args.name} (version {body['version']}, {len(body['entries'])} entries)")
    for key, data in body["entries"].items():
        rest = {k: v for k, v in data.items() if k not in ("plate", "id")}
        print(f"  {key}  {json.dumps(rest, ensure_ascii=False) if rest else ''}".rstrip())
    return 0


def _change(args: argparse.Namespace) -> int:
    try:
        entries = [_entry(e) for e in args.entries]
    except json.JSONDecodeError as exc:
        err(f"an entry is not valid JSON: {exc}")
        return 2
    change: dict[str, Any] = {"list": args.name, "mode": "patch", args.mode: entries}
    return _post(args, "/api/access/lists", {"changes": [change], "reason": args.reason})


def _pending(args: argparse.Namespace) -> int:
    body = _get(args, f"/api/access/pending?state={args.state}")
    if body is None:
        return 1
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    for p in body["pending"]:
        who = p.get("plate") or p.get("person") or "?"
        line = f"{p['id']}  {p['gate']}  {who}  {p['state']}  {p.get('reason', '')}"
        if p.get("alert"):
            line += f"  ALERT: {p['alert']}"
        print(line)
    if not body["pending"]:
        print("nothing waiting")
    return 0


def _answer(args: argparse.Namespace) -> int:
    pending = urllib.parse.quote(args.pending_id, safe="")
    return _post(args, f"/api/access/pending/{pending}/{args.answer}", {"reason": args.reason})


def _fire(args: argparse.Namespace) -> int:
    return _post(args, "/api/access/fire", {"on": args.state == "on", "reason": args.reason})


def _parking(args: argparse.Namespace) -> int:
    if args.inside is not None:
        if not args.car_park or not args.reason:
            err("a correction needs the car park and --reason")
            return 2
        park = urllib.parse.quote(args.car_park, safe="")
        body = {"inside": args.inside, "reason": args.reason}
        return _post(args, f"/api/access/parking/{park}/correct", body)
    body = _get(args, "/api/access/parking")
    if body is None:
        return 1
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    for p in body["car_parks"]:
        if args.car_park and p["car_park"] != args.car_park:
            continue
        print(
            f"{p['car_park']} {p['name']}: {p['inside']} inside / {p['capacity']} "
            f"({p['free']} free; residents {p['resident']}, visitors {p['visitor']}, "
            f"unknown {p['unknown']}; unmatched exits {p['unmatched_exits']}, "
            f"double entries {p['double_entries']})"
        )
    return 0
