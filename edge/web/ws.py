"""Live events for the console over a WebSocket, from the flow's live hub.

Each socket has its own hub subscription (bounded, oldest dropped and counted by the hub), so
a slow phone never slows the flow or other viewers; the page reloads the list after a gap.
Only logged-in users connect (the gatekeeper checked the session and the Origin).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web

from edge.events import Event
from edge.hub import Subscription
from edge.web.auth.policy import EVERYONE, add

# Items a socket may fall behind before the oldest are dropped (a burst of 100/s for 2 s).
QUEUE = 200
MAX_SOCKETS = 100


def event_doc(event: Event) -> dict[str, Any]:
    ts_ms = int(event.ts.timestamp() * 1000)
    return {
        "id": event.id,
        "kind": event.kind,
        "source": event.source,
        "ts_ms": ts_ms,
        "data": event.data,
        "images": [im.as_dict() for im in event.images],
    }


async def live(request: web.Request) -> web.StreamResponse:
    from edge.web.api import RT

    rt = request.app[RT]
    sockets = request.app[SOCKETS]
    if len(sockets) >= MAX_SOCKETS:
        return web.json_response({"error": "too many live viewers"}, status=503)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
    await ws.prepare(request)
    sockets.add(ws)
    sub = rt.hub.subscribe("event/", maxsize=QUEUE, name=f"ws.{id(ws):x}")
    try:
        dropped = 0
        async for _topic, item in _until_closed(ws, sub):
            if isinstance(item, Event):
                doc: dict[str, Any] = {"type": "event", "event": event_doc(item)}
                if sub.dropped != dropped:
                    doc["gap"], dropped = True, sub.dropped
                await ws.send_str(json.dumps(doc, ensure_ascii=False, default=str))
    finally:
        rt.hub.unsubscribe(sub)
        sockets.discard(ws)
    return ws


async def _until_closed(ws: web.WebSocketResponse, sub: Subscription) -> AsyncIterator[Any]:
    """Hub items until the client goes away (its reads are watched beside the hub)."""
    closed = asyncio.ensure_future(_client_gone(ws))
    try:
        while not closed.done():
            got = asyncio.ensure_future(sub.get())
            done, _ = await asyncio.wait({got, closed}, return_when=asyncio.FIRST_COMPLETED)
            if got in done:
                yield got.result()
            else:
                got.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await got
    finally:
        closed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await closed


async def _client_gone(ws: web.WebSocketResponse) -> None:
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break


class Sockets(set[web.WebSocketResponse]):
    """The open live sockets, closed at shutdown so a stop does not wait on them."""


SOCKETS = web.AppKey("live_sockets", Sockets)


def routes(app: web.Application) -> None:
    app[SOCKETS] = Sockets()

    async def close_all(app: web.Application) -> None:
        sockets: Sockets = app[SOCKETS]
        for sock in list(sockets):
            await sock.close()

    app.on_shutdown.append(close_all)
    add(app, "GET", "/api/live", live, EVERYONE)
