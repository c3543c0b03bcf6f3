"""QoS 1 publishing for the outbox window, beside aiomqtt's own `publish`.

aiomqtt 2.x's `publish` is right for the odd message (status, health,
replies), but per call it scans every pending call twice (`_pending_call`),
which makes a window of hundreds quadratic, and it wraps each wait in a task.
For the bulk path we hand the message to the same paho client aiomqtt drives
and resolve a future when paho reports the PUBACK (`on_publish`); anything
that is not ours is passed on to aiomqtt's handler, so both paths share one
connection and one message-ID space. paho's own in-flight limit is switched
off (0): the outbox window is the limit, and paho's limit would cost a scan
of all outgoing messages per acknowledgement. paho's per-packet debug logging
is switched off too.

This reaches into `aiomqtt.Client._client` (the paho client) and its
`on_publish` hook; both are checked at construction so an aiomqtt upgrade
that moves them fails loudly at connect time, not silently.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt
import paho.mqtt.client as paho


class WindowPublisher:
    def __init__(self, client: aiomqtt.Client) -> None:
        inner = getattr(client, "_client", None)
        if not isinstance(inner, paho.Client) or inner.on_publish is None:
            raise RuntimeError("this aiomqtt version does not expose its paho client as expected")
        self._paho: paho.Client = inner
        self._futures: dict[int, asyncio.Future[None]] = {}
        self._loop = asyncio.get_running_loop()
        self._fallback = inner.on_publish
        inner.on_publish = self._on_publish
        # paho formats a debug line per packet (a third of its time at thousands per
        # second); the uplink logs connection changes itself.
        inner.disable_logger()

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[None]:
        """Hand to paho now (so call order is wire order); the future completes on PUBACK."""
        fut: asyncio.Future[None] = self._loop.create_future()
        info = self._paho.publish(topic, payload, qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            fut.set_exception(aiomqtt.MqttCodeError(info.rc, "Could not publish message"))
        elif info.is_published():
            fut.set_result(None)
        else:
            self._futures[info.mid] = fut
        return fut

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, *rest: Any) -> None:
        fut = self._futures.pop(mid, None)
        if fut is None:
            self._fallback(client, userdata, mid, *rest)
        elif not fut.done():
            fut.set_result(None)

    def close(self) -> None:
        """Cancel what never got its PUBACK (the connection is gone)."""
        for fut in list(self._futures.values()):
            fut.cancel()
        self._futures.clear()
