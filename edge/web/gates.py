"""Gates for the console: the access gates by name with their mode now, then every other
configured device whose driver can open a gate (pending approvals: api_access.py).

Opening goes through `POST /api/gates/{id}/open` (edge/web/api.py), audited with the user.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from edge.access.decide import mode_at
from edge.access.gates import GateOpener
from edge.timefmt import site_tz
from edge.web.auth.policy import EVERYONE, add


async def list_gates(request: web.Request) -> web.Response:
    """The gates a guard knows by name (`access.gates`: its mode now, by schedule, and
    direction), then any other gate device by its own name; `available` is the device's."""
    from edge.web.api import RT

    rt = request.app[RT]
    live = {d.get("device"): d for d in rt.devices.snapshot()} if rt.devices else {}
    now = datetime.now(site_tz(rt.config.site.utc_offset))
    gates: list[dict[str, Any]] = []
    driven: set[str] = set()
    for gate in rt.config.access.gates:
        if not isinstance(rt.services.get(f"device.{gate.device}"), GateOpener):
            continue
        driven.add(gate.device)
        gates.append(
            {
                "id": gate.id,
                "name": gate.name or gate.id,
                "device": gate.device,
                "mode": mode_at(gate, now),
                "direction": gate.direction,
                "available": live.get(gate.device, {}).get("available"),
            }
        )
    for dev in rt.config.devices:
        driver = rt.services.get(f"device.{dev.id}")
        if dev.id in driven or not isinstance(driver, GateOpener):
            continue
        gates.append(
            {
                "id": dev.id,
                "name": getattr(dev, "name", "") or dev.id,
                "device": dev.id,
                "mode": None,
                "direction": None,
                "available": live.get(dev.id, {}).get("available"),
            }
        )
    # Gates registered without a device entry (tests, bridges): listed by id.
    known = {g["device"] for g in gates}
    for key, driver in rt.services.items():
        gid = key.removeprefix("device.")
        if key.startswith("device.") and gid not in known and isinstance(driver, GateOpener):
            gates.append(
                {"id": gid, "name": gid, "device": gid, "mode": None, "direction": None,
                 "available": None}
            )  # fmt: skip
    return web.json_response({"gates": gates})


def routes(app: web.Application) -> None:
    add(app, "GET", "/api/gates", list_gates, EVERYONE)
