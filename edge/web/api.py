"""The local JSON API: health, events, alarms, gates, devices, outbox, images.

Every route is declared with the roles that may call it (edge/web/auth/policy.py); the
gatekeeper middleware has already checked the session or the CLI's local token, and the CSRF
token, before a handler runs. Actions are audited with the logged-in user.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from edge import actions
from edge.actions import ActionResult, Actor
from edge.events import Event
from edge.health import summary
from edge.payloads import payload_of
from edge.runtime import Runtime
from edge.store import DuplicateEvent
from edge.timefmt import parse_since, rfc3339, site_tz
from edge.web.auth.guard import PRINCIPAL
from edge.web.auth.policy import EVERYONE, PUBLIC, STAFF, add

RT = web.AppKey("runtime", Runtime)
STATIC = Path(__file__).parent / "static"
MAX_LIMIT = 1000


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status, dumps=_dumps)


async def _acted(action: Awaitable[ActionResult]) -> web.Response:
    """An audited action's answer for the page: refused is 409 with the action's reason."""
    try:
        result = await action
    except actions.ActionRefused as exc:
        return _error(409, str(exc))
    return _json({"ok": result.ok, "message": result.message, "result": result.data})


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
        kind=q.get("kind") or None,
        since_ms=since,
        limit=limit,
        source=q.get("source") or None,
        plate=q.get("plate", "").strip() or None,  # part of a plate's text, as a guard types it
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


# Who closes an alarm when its condition went away by itself (threshold rules, the store's
# own full-disk alarm, an uplink's link alarm): such a close is a "clear", not a guard's close.
AUTO_CLOSERS = frozenset({"rule", "system"})


def _alarm_view(a: dict[str, Any]) -> dict[str, Any]:
    """ThingsBoard's model on top of raised → acknowledged → closed: active or cleared ×
    acknowledged or not. A guard's close counts as seen; a clear by a rule does not."""
    active = a["state"] != "closed"
    acked = a["acked_ms"] is not None or (not active and a["closed_by"] not in AUTO_CLOSERS)
    status = f"{'active' if active else 'cleared'}_{'ack' if acked else 'unack'}"
    return {**a, "active": active, "acked": acked, "status": status}


async def list_alarms(request: web.Request) -> web.Response:
    """`?open=1`: what a guard still has to look at (active, or cleared but not yet
    acknowledged); `?status=active_unack|active_ack|cleared_unack|cleared_ack` filters;
    `?state=` filters on the stored state."""
    rt = request.app[RT]
    q = request.query
    try:
        limit = int(q.get("limit", "100"))
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError
    except ValueError:
        return _error(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
    if q.get("open"):
        rows = [
            *await rt.store.alarms(state="raised", limit=limit),
            *await rt.store.alarms(state="acknowledged", limit=limit),
            *await rt.store.alarms(state="closed", limit=limit),
        ]
        alarms = [a for a in map(_alarm_view, rows) if a["status"] != "cleared_ack"]
        alarms.sort(key=lambda a: a["raised_ms"], reverse=True)
    else:
        rows = await rt.store.alarms(state=q.get("state") or None, limit=limit)
        alarms = [_alarm_view(a) for a in rows]
    if q.get("status"):
        alarms = [a for a in alarms if a["status"] == q["status"]]
    return _json({"alarms": alarms[:limit]})


async def _actor(request: web.Request) -> tuple[Actor, dict[str, Any]] | web.Response:
    """Who asks: the logged-in user (a `by` in the body is ignored), or for the CLI's local
    token the `by` it must send (the login of whoever ran `edge` on the box)."""
    who = request[PRINCIPAL]
    try:
        body = await request.json() if request.can_read_body else {}
    except json.JSONDecodeError:
        return _error(400, "the body must be JSON")
    if not isinstance(body, dict):
        return _error(400, "the body must be a JSON object")
    if who.session is None and not str(body.get("by", "")).strip():
        return _error(400, 'say who: {"by": "your login"}')
    return who.actor(body), body


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
    return await _acted(fn(rt, alarm_id, actor=actor, note=str(body.get("note", ""))))


async def open_gate(request: web.Request) -> web.Response:
    rt = request.app[RT]
    asked = await _actor(request)
    if isinstance(asked, web.Response):
        return asked
    actor, body = asked
    reason = str(body.get("reason", "")).strip()
    if not reason:
        return _error(400, 'say why: {"reason": "..."}')
    return await _acted(
        actions.open_gate(rt, request.match_info["gate_id"], actor=actor, reason=reason)
    )


async def devices(request: web.Request) -> web.Response:
    rt = request.app[RT]
    return _json({"devices": await rt.store.device_states(), "live": rt.devices.snapshot()})


async def names(request: web.Request) -> web.Response:
    """Devices', cameras' and gates' names from the config, so the page never shows a bare
    id, and the site's UTC offset, so it shows every time in the site's zone."""
    cfg = request.app[RT].config
    return _json(
        {
            "devices": {d.id: getattr(d, "name", "") or d.id for d in cfg.devices},
            "cameras": {c.id: getattr(c, "name", "") or c.id for c in cfg.cameras},
            "gates": {g.id: g.name or g.id for g in cfg.access.gates},
            "car_parks": {p.id: p.name or p.id for p in cfg.access.car_parks},
            "site": {"name": cfg.site.name, "utc_offset": cfg.site.utc_offset},
        }
    )


async def queue(request: web.Request) -> web.Response:
    rt = request.app[RT]
    return _json({"destinations": await rt.store.outbox_stats()})


# Face pictures are personal data (分类授权): each view is written to the audit log.
PERSONAL_ROLES = frozenset({"face_crop"})


async def image(request: web.Request) -> web.StreamResponse:
    """The n-th image of an event: only a file the store recorded for that event, and only
    when it resolves inside the data dir (a tampered row cannot reach other files)."""
    rt = request.app[RT]
    event_id, n = request.match_info["event_id"], request.match_info["n"]
    ev = await rt.store.event(event_id) if len(event_id) <= 64 else None
    images = ev["images"] if ev else []
    if not n.isdigit() or int(n) >= len(images):
        return _error(404, "no such image")
    ref = images[int(n)]
    root = rt.store.data_dir.resolve()
    try:
        path = (root / ref["path"]).resolve()
        found = path.is_relative_to(root) and path.is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        return _error(404, "no such image")
    if ref["role"] in PERSONAL_ROLES or (ev and ev["kind"] == "face"):
        who = request[PRINCIPAL]
        await rt.store.audit(
            str(who.actor()), "view_image", f"{event_id}/{n}", {"role": ref["role"]}
        )
    return web.FileResponse(
        path,
        headers={
            "Cache-Control": "private, no-store",
            "Content-Type": ref.get("content_type") or "application/octet-stream",
        },
    )


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


def routes(app: web.Application) -> None:
    """The API's routes and who may call them: guards see and act, staff see the machinery."""
    add(app, "GET", "/", index, EVERYONE)
    add(app, "GET", "/api/health", health, PUBLIC)
    add(app, "GET", "/api/events", list_events, EVERYONE)
    add(app, "POST", "/api/events", post_event, STAFF)
    add(app, "GET", "/api/events/{event_id}", get_event, EVERYONE)
    add(app, "GET", "/api/events/{event_id}/images/{n}", image, EVERYONE)
    add(app, "GET", "/api/alarms", list_alarms, EVERYONE)
    add(app, "POST", "/api/alarms/{alarm_id}/{action}", alarm_action, EVERYONE)
    add(app, "POST", "/api/gates/{gate_id}/open", open_gate, EVERYONE)
    add(app, "GET", "/api/devices", devices, EVERYONE)
    add(app, "GET", "/api/names", names, EVERYONE)
    add(app, "GET", "/api/queue", queue, STAFF)
