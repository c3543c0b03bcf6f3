"""The local JSON API: health, events, alarms, devices, outbox.

It listens on localhost by default; the guards' page and its logins come in a
later wave and will sit in front of the mutating routes.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from edge import actions
from edge.actions import Actor
from edge.events import Event
from edge.health import summary
from edge.payloads import payload_of
from edge.runtime import Runtime
from edge.store import DuplicateEvent
from edge.timefmt import parse_since, rfc3339, site_tz

RT = web.AppKey("runtime", Runtime)
STATIC = Path(__file__).parent / "static"
MAX_LIMIT = 1000


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status, dumps=_dumps)


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


def _with_times(rt: Runtime, ev: dict[str, Any]) -> dict[str, Any]:
    return {**ev, "ts": rfc3339(ev["ts_ms"], site_tz(rt.config.site.utc_offset))}


async def health(request: web.Request) -> web.Response:
    rt = request.app[RT]
    doc = await summary(rt)
    return _json(doc, 200 if doc["status"] == "ok" else 503)


async def list_events(request: web.Request) -> web.Response:
    rt = request.app[RT]
    q = request.query
    try:
        limit = int(q.get("limit", "100"))
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError
    except ValueError:
        return _error(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
    try:
        since = parse_since(q["since"]) if q.get("since") else None
    except ValueError as exc:
        return _error(400, f"since: {exc}")
    rows = await rt.store.events(
        kind=q.get("kind") or None, since_ms=since, limit=limit, source=q.get("source") or None
    )
    return _json({"events": [_with_times(rt, r) for r in rows]})


async def get_event(request: web.Request) -> web.Response:
    rt = request.app[RT]
    ev = await rt.store.event(request.match_info["event_id"])
    return _json(_with_times(rt, ev)) if ev else _error(404, "no such event")


async def post_event(request: web.Request) -> web.Response:
    """Local systems (an intercom, a door controller's bridge) can hand events in;
    201 means committed and owed to every destination that wants its kind."""
    rt = request.app[RT]
    try:
        body = await request.json()
        kind, source, data = body["kind"], body["source"], body.get("data", {})
        if not (isinstance(kind, str) and kind and isinstance(source, str) and source):
            raise ValueError("kind and source must be non-empty strings")
        if not isinstance(data, dict):
            raise ValueError("data must be an object")
        extra: dict[str, Any] = {}
        if "id" in body:
            extra["id"] = str(body["id"])
        if "ts" in body:
            extra["ts"] = datetime.fromisoformat(str(body["ts"]).replace("Z", "+00:00"))
            if extra["ts"].tzinfo is None:
                raise ValueError("ts needs an offset")
        event = Event(kind=kind, source=source, data=data, **extra)
        payload_of(event)  # the kind is known and its data fits the kind's payload
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        return _error(400, f"bad event: {exc}")
    try:
        await rt.flow.emit(event)
    except DuplicateEvent:
        return _json({"id": event.id, "duplicate": True}, 200)
    except RuntimeError as exc:  # the writer has stopped: the daemon is shutting down
        return _error(503, str(exc))
    return _json({"id": event.id, "ts": event.ts.astimezone(UTC).isoformat()}, 201)


async def list_alarms(request: web.Request) -> web.Response:
    rt = request.app[RT]
    return _json({"alarms": await rt.store.alarms(state=request.query.get("state") or None)})


async def _actor(request: web.Request) -> tuple[Actor, dict[str, Any]] | web.Response:
    """Who asks, from the body: `by` (a name) and `client` ("cli" when `edge` sends it).
    The API has no logins yet (it listens on localhost); the page's will replace `by`."""
    try:
        body = await request.json()
    except json.JSONDecodeError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    who = str(body.get("by", "")).strip()
    if not who:
        return _error(400, 'say who: {"by": "guard name"}')
    return Actor("cli" if body.get("client") == "cli" else "user", who), body


async def alarm_action(request: web.Request) -> web.Response:
    rt = request.app[RT]
    alarm_id, action = request.match_info["alarm_id"], request.match_info["action"]
    fn = {"ack": actions.ack_alarm, "close": actions.close_alarm}.get(action)
    if fn is None:
        return _error(404, "action is ack or close")
    asked = await _actor(request)
    if isinstance(asked, web.Response):
        return asked
    actor, body = asked
    try:
        result = await fn(rt, alarm_id, actor=actor, note=str(body.get("note", "")))
    except actions.ActionRefused as exc:
        return _error(409, str(exc))
    return _json({"ok": result.ok, "message": result.message})


async def open_gate(request: web.Request) -> web.Response:
    rt = request.app[RT]
    asked = await _actor(request)
    if isinstance(asked, web.Response):
        return asked
    actor, body = asked
    reason = str(body.get("reason", "")).strip()
    if not reason:
        return _error(400, 'say why: {"reason": "..."}')
    try:
        result = await actions.open_gate(
            rt, request.match_info["gate_id"], actor=actor, reason=reason
        )
    except actions.ActionRefused as exc:
        return _error(409, str(exc))
    return _json({"ok": result.ok, "message": result.message, "result": result.data})


async def devices(request: web.Request) -> web.Response:
    rt = request.app[RT]
    return _json({"devices": await rt.store.device_states(), "live": rt.devices.snapshot()})


async def queue(request: web.Request) -> web.Response:
    rt = request.app[RT]
    return _json({"destinations": await rt.store.outbox_stats()})


# What the store names images (images/YYYY/MM/DD/<id>-<role>.<ext>): anything else is not one.
_IMAGE_PATH = re.compile(
    r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9]+)?(?:/[A-Za-z0-9_-]+(?:\.[A-Za-z0-9]+)?)*"
)
MAX_IMAGE_PATH = 200


async def image(request: web.Request) -> web.StreamResponse:
    """An event's image, by the relative path the event carries (never outside images/).

    The path is checked against the store's naming before it reaches the filesystem, so NUL
    bytes, dot segments and overlong names are a plain 404, never an exception."""
    rt = request.app[RT]
    rel = request.match_info["path"]
    if len(rel) > MAX_IMAGE_PATH or not _IMAGE_PATH.fullmatch(rel):
        return _error(404, "no such image")
    root = (rt.store.data_dir / "images").resolve()
    try:
        path = (root / rel).resolve()
        found = path.is_relative_to(root) and path.is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        return _error(404, "no such image")
    return web.FileResponse(path, headers={"Cache-Control": "max-age=86400, immutable"})


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


def routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/api/images/{path:.+}", image)
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/events", list_events)
    app.router.add_post("/api/events", post_event)
    app.router.add_get("/api/events/{event_id}", get_event)
    app.router.add_get("/api/alarms", list_alarms)
    app.router.add_post("/api/alarms/{alarm_id}/{action}", alarm_action)
    app.router.add_post("/api/gates/{gate_id}/open", open_gate)
    app.router.add_get("/api/devices", devices)
    app.router.add_get("/api/queue", queue)
