"""Meters and sensors for the console: latest value of each point with its unit, the
threshold state (rules from the config, live state from the device's threshold engine), and
the last day's values for a sparkline, read from the committed `reading` events."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from edge.payloads import PayloadError, ReadingPayload
from edge.web.auth.policy import EVERYONE, add

DAY_MS = 86_400_000
# Reading events read per device for the sparkline: a 1 s poll has 86 400 a day, so the
# newest ones are sampled down to about this many points per series.
MAX_EVENTS = 2000
SPARK_POINTS = 96


async def list_meters(request: web.Request) -> web.Response:
    from edge.web.api import RT

    rt = request.app[RT]
    since = int(time.time() * 1000) - DAY_MS
    out = []
    for dev in rt.config.devices:
        engine = rt.thresholds.engines.get(dev.id)
        rules = engine.rules if engine else list(getattr(dev, "thresholds", None) or [])
        rows = await rt.store.events(
            kind="reading", since_ms=since, limit=MAX_EVENTS, source=dev.id
        )
        if not rows and not rules:
            continue
        series: dict[str, list[tuple[int, float]]] = {}
        latest: dict[str, dict[str, Any]] = {}
        for row in reversed(rows):  # oldest first
            try:
                payload = ReadingPayload.from_data(row["data"])
            except PayloadError:
                continue
            for v in payload.points:
                latest[v.point] = {"value": v.value, "unit": v.unit, "ts_ms": row["ts_ms"]}
                if isinstance(v.value, int | float) and not isinstance(v.value, bool):
                    series.setdefault(v.point, []).append((row["ts_ms"], float(v.value)))
        points = []
        for name, last in latest.items():
            values = series.get(name, [])
            step = max(1, len(values) // SPARK_POINTS)
            mine = [r for r in rules if r.point == name]
            points.append(
                {
                    "point": name,
                    **last,
                    "spark": [v for _, v in values[::step]],
                    "rules": [
                        {"above": r.above, "below": r.below, "severity": str(r.severity)}
                        for r in mine
                    ],
                    "alarm": any(engine.active(r) for r in mine) if engine else False,
                }
            )
        out.append({"id": dev.id, "name": getattr(dev, "name", "") or dev.id, "points": points})
    return web.json_response({"meters": out})


def routes(app: web.Application) -> None:
    add(app, "GET", "/api/meters", list_meters, EVERYONE)
