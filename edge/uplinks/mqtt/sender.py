"""The MQTT uplink: only what is MQTT. The link kit (`edge.uplinks.link.Link`) does the
reconnecting, state, health, policy, images and the outbox.

Per connection: publish `status` online (retained; the broker publishes the
retained `offline` will if the link dies), subscribe to `cmd/+`, then run until
one fails: the outbox delivery, the command intake (which is also what notices
a lost connection first), the command worker and the periodic `health`.

Ordering on the wire: the drain calls `issue` for records in seq order and
`issue` hands each message to paho synchronously (see publisher.py), and
paho writes in call order, so the broker receives messages in seq order even
with hundreds in flight.

MQTT 5 (the default) lets the broker refuse one publish (PUBACK reason code,
e.g. "Not authorized" by an ACL): such a record is parked with that reason
(`PeerRefused`). MQTT 3.1.1 brokers acknowledge refused publishes like accepted
ones, so there a refusal cannot be seen at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

import aiomqtt
import paho.mqtt.client as paho

from edge import __version__
from edge.events import Event
from edge.ids import new_id
from edge.redact import redact_url
from edge.runtime import Runtime
from edge.store import now_ms
from edge.timefmt import rfc3339, site_tz
from edge.uplinks.link import Link, until_first_failure
from edge.uplinks.mqtt.commands import CommandProcessor
from edge.uplinks.mqtt.config import MqttUplinkConfig
from edge.uplinks.mqtt.encode import Encoder, Outgoing, dumps
from edge.uplinks.mqtt.hubhealth import health_data
from edge.uplinks.mqtt.publisher import WindowPublisher
from edge.uplinks.mqtt.wire import SCHEMA

log = logging.getLogger(__name__)

# Messages aiomqtt would hold for its iterator; commands bypass it (see _command_intake).
INCOMING_MAX = 1000
WORK_MAX = 64  # authenticated commands waiting for the worker; beyond: refused "busy"


def redacted_url(url: str) -> str:
    return redact_url(url)


def tls_context(cfg: MqttUplinkConfig) -> ssl.SSLContext:
    """Blocking (reads files): call from a worker thread."""
    ctx = ssl.create_default_context(cafile=str(cfg.tls.ca_file) if cfg.tls.ca_file else None)
    if cfg.tls.cert_file and cfg.tls.key_file:
        ctx.load_cert_chain(str(cfg.tls.cert_file), str(cfg.tls.key_file))
    if cfg.tls.insecure:
        ctx.check_hostname = False
    return ctx


class MqttUplink(Link[Outgoing]):
    type = "mqtt"
    transient = (*Link.transient, aiomqtt.MqttError, ssl.SSLError)

    def __init__(self, name: str, cfg: MqttUplinkConfig, rt: Runtime) -> None:
        super().__init__(name, cfg, rt, window=cfg.inflight)
        self.cfg: MqttUplinkConfig = cfg
        site = rt.config.site
        self.site_id, self.gateway_id = site.site_id, site.gateway_id
        self.tz = site_tz(site.utc_offset)
        self.prefix = cfg.prefix(site.site_id, site.gateway_id)
        self.encoder = Encoder(cfg, self.prefix, site.site_id, self.tz, self.load_image)
        self.commands = (
            CommandProcessor(name, cfg.commands, rt, site.site_id, self.tz)
            if cfg.commands.enabled
            else None
        )
        self.puback_short_path: bool | None = None

    # --- the link kit's hooks ----------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return redacted_url(self.cfg.url)

    def configured(self) -> bool:
        return bool(self.cfg.url)

    def encode(self, seq: int, event: Event) -> Outgoing:
        return self.encoder.encode(seq, event)

    def health_extra(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "url": redacted_url(self.cfg.url),
            "protocol": self.cfg.protocol,
            "topic_prefix": self.prefix,
            "puback_short_path": self.puback_short_path,
            "truncated": self.encoder.truncated,
        }
        if not self.cfg.url:
            doc["detail"] = "no broker url configured: events queue in the outbox, none are sent"
        if self.commands is not None:
            doc["commands"] = dict(self.commands.counts)
        return doc

    async def health_data(self) -> dict[str, Any]:
        return await health_data(self.rt)

    # --- one connection -------------------------------------------------------------

    def _status(self, state: str) -> bytes:
        return dumps(
            {
                "schema": SCHEMA,
                "site": self.site_id,
                "ts": rfc3339(now_ms(), self.tz),
                "state": state,
                "gateway": self.gateway_id,
                "version": __version__,
            }
        )

    def _client(self, ctx: ssl.SSLContext | None) -> aiomqtt.Client:
        cfg = self.cfg
        v5 = cfg.protocol == "5"
        return aiomqtt.Client(
            cfg.host,
            cfg.port,
            identifier=cfg.identifier(self.gateway_id),
            username=cfg.username,
            password=cfg.password.get_secret_value() if cfg.password else None,
            will=aiomqtt.Will(f"{self.prefix}/status", self._status("offline"), qos=1, retain=True),
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            clean_session=None if v5 else True,
            # A fresh session each time (the outbox is the memory); paho refuses any other
            # clean_start value than its default for 3.1.1, where clean_session says it.
            clean_start=True if v5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
            keepalive=cfg.keepalive_s,
            timeout=cfg.connect_timeout_s,
            max_inflight_messages=0,  # unlimited in paho: the outbox window bounds it
            max_queued_incoming_messages=INCOMING_MAX,
            tls_context=ctx,
            tls_insecure=True if cfg.tls.insecure else None,
        )

    async def session(self) -> None:
        loop = asyncio.get_running_loop()
        ctx = await loop.run_in_executor(None, tls_context, self.cfg) if self.cfg.use_tls else None
        client = self._client(ctx)
        errors = _socket_errors(client)
        try:
            await self._connected_session(client)
        except aiomqtt.MqttError as exc:
            raise _with_cause(exc, errors) from exc

    async def _connected_session(self, client: aiomqtt.Client) -> None:
        async with client:
            window = WindowPublisher(client)  # also stops paho's per-packet logging
            self.puback_short_path = window.short_path
            await client.publish(f"{self.prefix}/status", self._status("online"), 1, True)
            if self.commands is not None:
                await client.subscribe(f"{self.prefix}/cmd/+", qos=1)
            self.connected()
            work: asyncio.Queue[tuple[str, str]] = asyncio.Queue(WORK_MAX)
            try:
                await until_first_failure(
                    self.deliver(window.publish_all),
                    self._command_intake(client, work),
                    self._command_worker(client, work),
                    self._health_loop(client),
                    ended=aiomqtt.MqttError("uplink task ended unexpectedly"),
                )
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):  # a clean stop: say so before leaving
                    await client.publish(
                        f"{self.prefix}/status", self._status("offline"), 1, True, timeout=2
                    )
                raise
            finally:
                window.close()

    # --- commands and health ---------------------------------------------------------

    async def _command_intake(
        self, client: aiomqtt.Client, work: asyncio.Queue[tuple[str, str]]
    ) -> None:
        """Screen every command inside paho's own message callback, as it is read off the
        socket: a forgery costs a size check, a flat JSON parse and an HMAC, and never
        reaches a queue (aiomqtt's message iterator needs several loop turns a message,
        so a flood read in at one a turn would overflow it). Only authenticated commands
        go on to the worker. The iterator stays only to notice a lost connection."""
        cmd_prefix = f"{self.prefix}/cmd/"
        inner = getattr(client, "_client", None)
        if self.commands is not None and isinstance(inner, paho.Client):
            commands = self.commands

            def on_command(_c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
                name = message.topic[len(cmd_prefix) :]
                body = commands.screen(name, bytes(message.payload))
                if body is None:
                    return
                try:
                    work.put_nowait((name, body))
                except asyncio.QueueFull:
                    commands.busy(name, body)

            inner.message_callback_add(f"{cmd_prefix}+", on_command)
        async for _message in client.messages:
            pass  # nothing else is subscribed

    async def _command_worker(
        self, client: aiomqtt.Client, work: asyncio.Queue[tuple[str, str]]
    ) -> None:
        """Run authenticated commands one at a time (so a repeated request ID is seen as one)."""
        assert self.commands is not None or work.empty()
        while True:
            name, body = await work.get()
            assert self.commands is not None
            reply = await self.commands.handle(name, body)
            await client.publish(
                f"{self.prefix}/cmd-reply/{reply.request_id}", dumps(reply.body), qos=1
            )

    async def _health_loop(self, client: aiomqtt.Client) -> None:
        while True:
            doc = {
                "schema": SCHEMA,
                "id": new_id(),
                "site": self.site_id,
                "ts": rfc3339(now_ms(), self.tz),
                "kind": "health",
                "data": await self.health_data(),
            }
            await client.publish(f"{self.prefix}/health", dumps(doc), qos=1, retain=True)
            await asyncio.sleep(self.cfg.health_interval_s)


def _socket_errors(client: aiomqtt.Client) -> list[str]:
    """Collect paho's socket-level error lines (paho logs them, then reports only
    "connection lost"). Uses the paho client aiomqtt wraps, as publisher.py does."""
    errors: list[str] = []
    inner = getattr(client, "_client", None)
    if isinstance(inner, paho.Client):

        def on_log(_c: paho.Client, _u: Any, level: int, text: str) -> None:
            if level == paho.MQTT_LOG_ERR and len(errors) < 5:
                errors.append(text)

        inner.on_log = on_log
    return errors


def _with_cause(exc: aiomqtt.MqttError, errors: list[str]) -> aiomqtt.MqttError:
    """aiomqtt reports a connection the broker cut during CONNECT (e.g. the TLS 1.3
    alert "certificate required", which arrives after the handshake) as "Operation
    timed out"; paho's own error line says what really happened."""
    if not errors:
        return exc
    return aiomqtt.MqttError(f"{exc} ({errors[-1]})")
