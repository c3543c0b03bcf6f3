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

PUBACKs of our own messages take a short path: paho decodes each one into
reason-code and properties objects under two locks before calling back, which
is half the client's CPU at thousands per second. For a successful PUBACK (an
MQTT 3.1.1 one; an MQTT 5 one without a reason code or with one below 0x80,
such as "No matching subscribers") whose ID is one of ours, we drop paho's
record of the message and complete the future directly; anything else (other
packet types, IDs aiomqtt is waiting for, MQTT 5 failure codes) goes through
paho's own handler unchanged. A failure reason code fails
the future: with `PeerRefused` (the record is parked) when the broker refused
that message for good, with `PublishFailed` (reconnect and resend) otherwise.

This reaches into `aiomqtt.Client._client` (the paho client) and, for the
short path, into paho's `_handle_pubackcomp`, `_in_packet`, `_out_messages`
and `_out_message_mutex`. Everything is checked at construction: if an
upgrade moves them, the short path is not installed (and a missing paho
client fails loudly at connect time), never silently wrong.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from edge.uplinks.link import PeerRefused
from edge.uplinks.mqtt.encode import Outgoing

# PUBACK reason codes that refuse this message whatever the connection: not
# authorized (ACL), topic name invalid, packet too large, payload format invalid.
REFUSED_FOR_GOOD = frozenset({0x87, 0x90, 0x95, 0x99})


class PublishFailed(aiomqtt.MqttError):
    """The broker did not take the message now (quota, unspecified error): resend later."""


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
        inner.on_log = None  # (sender.py listens during CONNECT only)
        self.short_path = _can_short_path(inner)
        if self.short_path:
            self._paho_puback = inner._handle_pubackcomp
            inner._handle_pubackcomp = self._puback  # type: ignore[method-assign]

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

    def publish_all(self, out: Outgoing) -> asyncio.Future[Any]:
        """One outbox record's messages (images, then the event), in order."""
        futs = [self.publish(topic, payload) for topic, payload in out.messages]
        return futs[0] if len(futs) == 1 else asyncio.gather(*futs)

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, *rest: Any) -> None:
        fut = self._futures.pop(mid, None)
        if fut is None:
            self._fallback(client, userdata, mid, *rest)
        elif not fut.done():
            reason = rest[0] if rest else None
            if isinstance(reason, ReasonCode) and reason.is_failure:
                text = f"broker refused the publish: {reason} (0x{reason.value:02x})"
                if reason.value in REFUSED_FOR_GOOD:
                    fut.set_exception(PeerRefused(text))
                else:
                    fut.set_exception(PublishFailed(text))
            else:
                fut.set_result(None)

    def _puback(self, cmd: Literal["PUBACK", "PUBCOMP"]) -> paho.MQTTErrorCode:
        inner = self._paho
        packet = inner._in_packet["packet"]
        # Two bytes: success (3.1.1, or MQTT 5 without a reason code). MQTT 5 success
        # codes below 0x80 ("No matching subscribers" when the hub is not listening yet)
        # too; a failure code goes through paho, which gives on_publish its reason.
        if cmd != "PUBACK" or len(packet) < 2 or (len(packet) > 2 and packet[2] >= 0x80):
            return self._paho_puback(cmd)
        mid = (packet[0] << 8) | packet[1]
        fut = self._futures.pop(mid, None)
        if fut is None:
            return self._paho_puback(cmd)
        with inner._out_message_mutex:
            if inner._out_messages.pop(mid, None) is not None:
                inner._inflight_messages -= 1
        if not fut.done():
            fut.set_result(None)
        return paho.MQTT_ERR_SUCCESS

    def close(self) -> None:
        """Cancel what never got its PUBACK (the connection is gone)."""
        for fut in list(self._futures.values()):
            fut.cancel()
        self._futures.clear()


def _can_short_path(inner: paho.Client) -> bool:
    needed = ("_handle_pubackcomp", "_in_packet", "_out_messages", "_out_message_mutex")
    return (
        all(hasattr(inner, a) for a in needed)
        and isinstance(getattr(inner, "_inflight_messages", None), int)
        and getattr(inner, "_protocol", None) in (paho.MQTTv311, paho.MQTTv5)
        and inner.max_inflight_messages == 0
    )
