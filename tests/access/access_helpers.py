"""Helpers for the access tests: commit passes as a camera worker does, read back the
`access` events a pass produced, call the daemon's API."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
from webauth import daemon_headers

from edge.app import Daemon
from edge.events import Event
from edge.payloads import FaceMatch, FacePayload, PlatePayload
from edge.sim.uhppote import UhppoteSimulator


def uhppote_device(
    sim: UhppoteSimulator, device_id: str = "ctl-east", **extra: Any
) -> dict[str, Any]:
    return {
        "id": device_id,
        "type": "uhppote",
        "controller": sim.serial,
        "address": sim.address,
        "door": 1,
        "timeout_s": 0.3,
        "poll_interval_s": 0.2,
        **extra,
    }


async def plate_pass(
    d: Daemon, camera: str, plate: str, *, confidence: float = 0.97, ts: datetime | None = None
) -> Event:
    """Commit a plate pass as a camera worker does; returns the committed event."""
    payload = PlatePayload(camera=camera, plate=plate, confidence=confidence)
    event = payload.event(f"camera.{camera}", ts=ts or datetime.now(UTC))
    return await d.rt.flow.emit(event)


async def face_pass(
    d: Daemon, camera: str, name: str, gallery: str = "residents", ts: datetime | None = None
) -> Event:
    match = FaceMatch("resident", gallery, name, name, 0.3)
    payload = FacePayload(camera=camera, match=match, confidence=0.95)
    return await d.rt.flow.emit(payload.event(f"camera.{camera}", ts=ts or datetime.now(UTC)))


async def access_for(d: Daemon, pass_event: str, n: int = 1) -> list[dict[str, Any]]:
    """The access events recorded for a pass (oldest first), waiting until there are `n`."""
    async with asyncio.timeout(10):
        while True:
            await d.rt.flow.idle(5)
            await d.rt.services["access"].idle(5)
            rows = await d.rt.store.events(kind="access", limit=1000)
            mine = [r["data"] for r in rows if r["data"].get("pass_event") == pass_event]
            if len(mine) >= n:
                return mine[::-1]
            await asyncio.sleep(0.02)


async def api(d: Daemon, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{d.web.port}{path}"
    async with aiohttp.ClientSession() as s, s.request(
        method, url, data=None if body is None else json.dumps(body),
        headers={"Content-Type": "application/json", **daemon_headers(d)},
    ) as resp:  # fmt: skip
        return resp.status, await resp.json()
