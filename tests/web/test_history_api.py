"""The history's plate search finds a plate however many other passes came after it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from webauth import PASSWORDS, browser_like, login

from edge.app import Daemon
from edge.payloads import AccessPayload, PlatePayload


async def test_a_plate_is_found_behind_many_newer_passes(console: tuple[Daemon, str]) -> None:
    d, url = console
    t0 = datetime.now(UTC) - timedelta(hours=2)
    wanted = PlatePayload(camera="gate1", plate="苏E99999", confidence=0.93).event("gate1", ts=t0)
    decided = AccessPayload(gate="east-in", decision="granted", plate="苏E99999")
    await d.rt.flow.emit(wanted)
    await d.rt.flow.emit(decided.event("gate.east-in", ts=t0 + timedelta(seconds=1)))
    await asyncio.gather(*(
        d.rt.flow.emit(PlatePayload(camera="gate1", plate=f"苏A{n:05d}", confidence=0.9)
                       .event("gate1", ts=t0 + timedelta(seconds=10 + n)))
        for n in range(300)
    ))  # fmt: skip
    async with browser_like() as http:
        await login(http, url, "zhang", PASSWORDS["zhang"])
        async with http.get(f"{url}/api/events", params={"plate": "e999", "limit": "200"}) as r:
            found = (await r.json())["events"]
        async with http.get(f"{url}/api/events", params={"plate": "A0012"}) as r:
            some = (await r.json())["events"]
    assert [(e["kind"], e["data"]["plate"]) for e in found] == [
        ("access", "苏E99999"), ("plate", "苏E99999"),
    ]  # fmt: skip
    assert sorted(e["data"]["plate"] for e in some) == [f"苏A0012{n}" for n in range(10)]
