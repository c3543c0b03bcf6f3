"""Access control's API: passes waiting for a guard, the lists, fire mode, the car parks.

Every change goes through an audited action with the `by` of the body as the actor (as
the alarm and gate routes do); the JSON is documented in docs/access.md for the guards'
console and the CLI.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from edge import actions
from edge.access.lists import LISTS, ListChange
from edge.runtime import Runtime
from edge.store.gatekeeping import PendingState
from edge.web.api import RT, _acted, _actor, _error, _json
from edge.web.auth.policy import EVERYONE, STAFF, add


def _keeper(request: web.Request) -> Any:
    return request.app[RT].services.get("access")


async def overview(request: web.Request) -> web.Response:
    keeper = _keeper(request)
    if keeper is None:
        return _error(503, "access control is not running")
    rt = request.app[RT]
    gates = [
        {
            "id": g.id,
            "name": g.name,
            "device": g.device,
            "cameras": g.cameras,
            "direction": g.direction,
            "mode": g.mode,
            "car_park": g.car_park,
            "fire_open": g.fire_open,
        }
        for g in rt.config.access.gates
    ]
    return _json({**keeper.health(), "gates": gates})


async def pending(request: web.Request) -> web.Response:
    rt = request.app[RT]
    states: dict[str, PendingState | None] = {
        "pending": "pending",
        "approved": "approved",
        "denied": "denied",
        "expired": "expired",
        "all": None,
    }
    asked_state = request.query.get("state", "pending")
    if asked_state not in states:
        return _error(400, "state is pending, approved, denied, expired or all")
    try:
        limit = min(int(request.query.get("limit", "100")), 1000)
    except ValueError:
        return _error(400, "limit is a number")
    rows = await rt.store.pending_passes(states[asked_state], limit)
    return _json({"pending": [{**p, "crop": await _crop(rt, p)} for p in rows]})


# What the guard looks at before answering: the plate or the face that was seen.
CROP_ROLES = {"plate": "plate_crop", "face": "face_crop"}


async def _crop(rt: Runtime, pending: dict[str, Any]) -> dict[str, str] | None:
    """The pass's crop as the event image route serves it (`/api/events/{id}/images/{n}`,
    which audits each view of a face), or None once retention has removed it."""
    role = CROP_ROLES.get(str(pending.get("kind")))
    wanted = [i.get("path") for i in pending.get("images") or () if i.get("role") == role]
    if not wanted:
        return None
    event = await rt.store.event(pending["pass_event"])
    if event is None:
        return None
    for n, image in enumerate(event["images"]):
        if image["path"] == wanted[0]:
            return {"role": image["role"], "url": f"/api/events/{event['id']}/images/{n}"}
    return None


async def answer(request: web.Request) -> web.Response:
    rt = request.app[RT]
    fn = {"approve": actions.approve_pass, "deny": actions.deny_pass}.get(
        request.match_info["action"]
    )
    if fn is None:
        return _error(404, "action is approve or deny")
    asked = await _actor(request)
    if isinstance(asked, web.Response):
        return asked
    actor, body = asked
    return await _acted(
        fn(rt, request.match_info["pending_id"], actor=actor, reason=str(body.get("reason", "")))
    )


async def list_entries(request: web.Request) -> web.Response:
    rt = request.app[RT]
    name = request.match_info["name"]
    if name not in LISTS:
        return _error(404, f"no list {name!r} (known: {', '.join(LISTS)})")
    entries = await rt.store.access_entries(name)
    versions = await rt.store.access_versions()
    return _json(
        {"list": name, "version": versions.get(name, {}).get("version", 0), "entries": entries}
    )


async def change_lists(request: web.Request) -> web.Response:
    rt = request.app[RT]
    asked = await _actor(request)
    if isinstance(asked, web.Response):
        return asked
    actor, body = asked
    raw = body.get("changes")
    if not isinstance(raw, list) or not raw:
        return _error(400, 'say what: {"changes": [{"list", "mode", "entries"|"add"|"remove"}]}')
    try:
        changes = [
            ListChange(
                str(c["list"]),
                c.get("mode", "patch"),
                list(c.get("entries", [])),
                list(c.get("add", [])),
                list(c.get("remove", [])),
            )
            for c in raw
        ]
    except (KeyError, TypeError) as exc:
        return _error(400, f"a change needs list and mode: {exc}")
    return await _acted(
        actions.change_access_lists(rt, changes, actor=actor, reason=str(body.get("reason", "")))
    )


async def fire(request: web.Request) -> web.Response:
    rt = request.app[RT]
    asked = await _actor(request)
    if isinstance(asked, web.Response):
        return asked
    actor, body = asked
    on = body.get("on")
    reason = str(body.get("reason", "")).strip()
    if not isinstance(on, bool) or not reason:
        return _error(400, 'say on or off, and why: {"on": true, "reason": "..."}')
    return await _acted(actions.set_fire_mode(rt, on, actor=actor, reason=reason))


async def parking(request: web.Request) -> web.Response:
    keeper = _keeper(request)
    if keeper is None:
        return _error(503, "access control is not running")
    return _json({"car_parks": [await keeper.parking.state(p) for p in keeper.parking.parks]})


async def correct_parking(request: web.Request) -> web.Response:
    rt = request.app[RT]
    asked = await _actor(request)
    if isinstance(asked, web.Response):
        return asked
    actor, body = asked
    inside = body.get("inside")
    reason = str(body.get("reason", "")).strip()
    if not isinstance(inside, int) or isinstance(inside, bool) or not reason:
        return _error(400, 'say how many and why: {"inside": 42, "reason": "..."}')
    return await _acted(
        actions.correct_parking_count(
            rt, request.match_info["car_park"], inside, actor=actor, reason=reason
        )
    )


def routes(app: web.Application) -> None:
    """Guards see and answer; changing the lists is for installers and maintainers."""
    add(app, "GET", "/api/access", overview, EVERYONE)
    add(app, "GET", "/api/access/pending", pending, EVERYONE)
    add(app, "POST", "/api/access/pending/{pending_id}/{action}", answer, EVERYONE)
    add(app, "GET", "/api/access/lists/{name}", list_entries, EVERYONE)
    add(app, "POST", "/api/access/lists", change_lists, STAFF)
    add(app, "POST", "/api/access/fire", fire, EVERYONE)
    add(app, "GET", "/api/access/parking", parking, EVERYONE)
    add(app, "POST", "/api/access/parking/{car_park}/correct", correct_parking, EVERYONE)
