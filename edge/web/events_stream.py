"""`GET /api/events/stream[?kind=K]`: committed events as they happen, one JSON per line.

For `edge events tail` and scripts (curl -N). Fed by the live hub after the flow's reactors
ran, so a line means the event is in the store. A slow reader never slows the daemon: its
subscription keeps the newest 256 events and drops older ones (counted in the hub's stats,
and told to the reader as a `{"dropped": N}` line). An empty line every 15 s keeps proxies
and the client's read timeout from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from edge.events import Event, EventKind
from edge.timefmt import site_tz
from edge.web.auth import policy

KEEPALIVE_S = 15.0
QUEUE = 256


def event_doc(event: Event, tz: Any) -> dict[str, Any]:
    return {
        "id": event.id,
        "ts": event.ts.astimezone(tz).isoformat(timespec="milliseconds"),
        "ts_ms": int(event.ts.timestamp() * 1000),
        "kind": str(event.kind),
        "source": event.source,
        "data": event.data,
        "images": [i.as_dict() for i in event.images],
    }


async def stream(request: web.Request) -> web.StreamResponse:
    from edge.web.api import RT

    rt = request.app[RT]
    kind = request.query.get("kind", "")
    if kind and kind not in {k.value for k in EventKind}:
        return web.json_response({"error": f"unknown kind {kind!r}"}, status=400)
    tz = site_tz(rt.config.site.utc_offset)
    sub = rt.hub.subscribe(f"event/{kind}", maxsize=QUEUE, name="api.events.stream")
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    try:
        await resp.prepare(request)
        await resp.write(b"\n")  # headers out now: the client knows it is subscribed
        told = 0
        while True:
            try:
                _topic, item = await asyncio.wait_for(sub.get(), KEEPALIVE_S)
            except TimeoutError:
                await resp.write(b"\n")
                continue
            if sub.dropped != told:
                await resp.write(json.dumps({"dropped": sub.dropped - told}).encode() + b"\n")
                told = sub.dropped
            if isinstance(item, Event):
                line = json.dumps(event_doc(item, tz), ensure_ascii=False, default=str)
                await resp.write(line.encode() + b"\n")
    except (ConnectionResetError, StopAsyncIteration):
        pass
    finally:
        rt.hub.unsubscribe(sub)
    return resp


def routes(app: web.Application) -> None:
    policy.add(app, "GET", "/api/events/stream", stream, policy.EVERYONE)
