"""Gates for the console: which gates there are (every configured device whose driver can
open a gate), and the pending "ask the guard" approvals when access control provides them.

Opening goes through `POST /api/gates/{id}/open` (edge/web/api.py), audited with the user.
"""

from __future__ import annotations

from aiohttp import web

from edge.access.gates import GateOpener
from edge.web.auth.policy import EVERYONE, add


async def list_gates(request: web.Request) -> web.Response:
    from edge.web.api import RT

    rt = request.app[RT]
    live = {d.get("device"): d for d in rt.devices.snapshot()} if rt.devices else {}
    gates = []
    for dev in rt.config.devices:
        driver = rt.services.get(f"device.{dev.id}")
        if not isinstance(driver, GateOpener):
            continue
        state = live.get(dev.id, {})
        gates.append(
            {
                "id": dev.id,
                "name": getattr(dev, "name", "") or dev.id,
                "available": state.get("available"),
            }
        )
    # Gates registered without a device entry (tests, bridges): listed by id.
    known = {g["id"] for g in gates}
    for key, driver in rt.services.items():
        gid = key.removeprefix("device.")
        if key.startswith("device.") and gid not in known and isinstance(driver, GateOpener):
            gates.append({"id": gid, "name": gid, "available": None})
    return web.json_response({"gates": gates})


def routes(app: web.Application) -> None:
    add(app, "GET", "/api/gates", list_gates, EVERYONE)
