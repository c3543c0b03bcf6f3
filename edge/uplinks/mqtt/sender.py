"""The MQTT uplink: one connection to the hub, reconnected with backoff.

Per connection: publish `status` online (retained; the broker publishes the
retained `offline` will if the link dies), subscribe to `cmd/+`, then run
three tasks until one fails: the outbox drain (edge.uplinks.outbox), the
command loop (which is also what notices a lost connection first), and the
periodic `health`. A failure ends the connection; the next one resumes from
the store's acknowledged `seq`.

Ordering on the wire: the drain calls `issue` for records in seq order and
`issue` hands each message to paho synchronously (see publisher.py), and
paho writes in call order, so the broker receives messages in seq order even
with hundreds in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiomqtt

from edge import __version__
from edge.backoff import Backoff
from edge.ids import new_id
from edge.redact import redact_url
from edge.runtime import Runtime
from edge.store import OutboxItem
from edge.store.writer import now_ms
from edge.timefmt import rfc3339, site_tz
from edge.uplinks.mqtt.commands import CommandProcessor
from edge.uplinks.mqtt.config import MqttUplinkConfig
from edge.uplinks.mqtt.encode import Encoder, Outgoing, dumps
from edge.uplinks.mqtt.hubhealth import health_data
from edge.uplinks.mqtt.publisher import WindowPublisher
from edge.uplinks.mqtt.wire import SCHEMA
from edge.uplinks.outbox import DrainError, OutboxDrain

log = logging.getLogger(__name__)

DOWN_IS_A_PROBLEM_S = 300.0  # a broker gone longer than this makes the gateway "degraded"

INCOMING_MAX = 1000  # commands queued in aiomqtt; beyond it aiomqtt drops (and logs) them


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


class MqttUplink:
    def __init__(self, name: str, cfg: MqttUplinkConfig, rt: Runtime) -> None:
        self.name = name
        self.cfg = cfg
        self.rt = rt
        site = rt.config.site
        self.site_id, self.gateway_id = site.site_id, site.gateway_id
        self.tz = site_tz(site.utc_offset)
        self.prefix = cfg.prefix(site.site_id, site.gateway_id)
        self.encoder = Encoder(cfg, self.prefix, site.site_id, self.tz, rt.store.data_dir)
        self.drain: OutboxDrain[Outgoing] = OutboxDrain(
            rt.store,
            name,
            window=cfg.inflight,
            fetch_max=min(cfg.inflight, 500),
            stall_s=cfg.connect_timeout_s * 3,
        )
        self.commands = (
            CommandProcessor(name, cfg.commands, rt, site.site_id, self.tz, self.health_data)
            if cfg.commands.enabled
            else None
        )
        self.state = "starting"
        self.connected_since: float | None = None
        self.down_since: float | None = None
        self.last_error: str | None = None
        self.failed_attempts = 0
        self.connections = 0
        self.puback_short_path: bool | None = None
        self._encode_thread = ThreadPoolExecutor(1, thread_name_prefix=f"uplink-{name}")
        rt.add_health(f"uplink.{name}", self.health)

    # --- health -----------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": "mqtt",
            "state": self.state,
            "url": redacted_url(self.cfg.url),
            "topic_prefix": self.prefix,
            "connections": self.connections,
            "connected_since": self.connected_since,
            "last_error": self.last_error,
            **self.drain.stats(),
            "puback_short_path": self.puback_short_path,
            "truncated": self.encoder.truncated,
            "images_omitted": self.encoder.images_omitted,
        }
        if not self.cfg.url:
            doc["detail"] = "no broker url configured: events queue in the outbox, none are sent"
        elif self.down_since is not None and time.time() - self.down_since > DOWN_IS_A_PROBLEM_S:
            minutes = (time.time() - self.down_since) / 60
            doc["problems"] = [
                f"uplink {self.name} disconnected for {minutes:.0f} min: {self.last_error}"
            ]
        if self.commands is not None:
            doc["commands"] = dict(self.commands.counts)
        return doc

    async def health_data(self) -> dict[str, Any]:
        return await health_data(self.rt)

    # --- lifecycle --------------------------------------------------------------

    async def run(self) -> None:
        if not self.cfg.url:
            self.state = "off"
            log.info("uplink %s has no url: its events are kept in the outbox, not sent", self.name)
            await asyncio.Event().wait()
        backoff = Backoff(self.cfg.reconnect_initial_s, self.cfg.reconnect_max_s)
        try:
            while True:
                began = self.connections
                try:
                    await self._session()
                except (aiomqtt.MqttError, DrainError, OSError, ssl.SSLError) as exc:
                    self._lost(exc)
                if self.connections != began:
                    backoff.reset()
                self.state = "waiting"
                await asyncio.sleep(backoff.next_delay())
        finally:
            self.state = "stopped"
            self._encode_thread.shutdown(wait=False)

    def _lost(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        self.failed_attempts += 1
        if self.connected_since is not None or self.failed_attempts == 1:
            log.warning("uplink %s: connection to %s lost: %s", self.name, self.cfg.host, text)
        else:
            log.debug("uplink %s: still down: %s", self.name, text)
        self.connected_since = None
        if self.down_since is None:
            self.down_since = time.time()
        self.last_error = text

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
        return aiomqtt.Client(
            cfg.host,
            cfg.port,
            identifier=cfg.identifier(self.gateway_id),
            username=cfg.username,
            password=cfg.password.get_secret_value() if cfg.password else None,
            will=aiomqtt.Will(f"{self.prefix}/status", self._status("offline"), qos=1, retain=True),
            clean_session=True,
            keepalive=cfg.keepalive_s,
            timeout=cfg.connect_timeout_s,
            max_inflight_messages=0,  # unlimited in paho: the outbox window bounds it
            max_queued_incoming_messages=INCOMING_MAX,
            tls_context=ctx,
            tls_insecure=True if cfg.tls.insecure else None,
        )

    async def _session(self) -> None:
        self.state = "connecting"
        loop = asyncio.get_running_loop()
        ctx = await loop.run_in_executor(None, tls_context, self.cfg) if self.cfg.use_tls else None
        client = self._client(ctx)
        async with client:
            window = WindowPublisher(client)
            self.puback_short_path = window.short_path
            await client.publish(f"{self.prefix}/status", self._status("online"), 1, True)
            if self.commands is not None:
                await client.subscribe(f"{self.prefix}/cmd/+", qos=1)
            self._connected()
            try:
                await _until_first_failure(
                    self.drain.run(self._prepare, lambda out: self._issue(window, out)),
                    self._command_loop(client),
                    self._health_loop(client),
                )
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):  # a clean stop: say so before leaving
                    await client.publish(
                        f"{self.prefix}/status", self._status("offline"), 1, True, timeout=2
                    )
                raise
            finally:
                window.close()

    def _connected(self) -> None:
        self.connections += 1
        if self.failed_attempts:
            log.info(
                "uplink %s: connected to %s after %d failed attempt(s)",
                self.name,
                self.cfg.host,
                self.failed_attempts,
            )
        else:
            log.info("uplink %s: connected to %s", self.name, redacted_url(self.cfg.url))
        self.failed_attempts = 0
        self.state = "connected"
        self.connected_since = time.time()
        self.down_since = None

    # --- the three tasks ------------------------------------------------------------

    async def _prepare(self, items: Sequence[OutboxItem]) -> list[Outgoing]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._encode_thread, self.encoder.encode_batch, list(items)
        )

    def _issue(self, window: WindowPublisher, out: Outgoing) -> asyncio.Future[Any]:
        futs = [window.publish(topic, payload) for topic, payload in out.messages]
        return futs[0] if len(futs) == 1 else asyncio.gather(*futs)

    async def _command_loop(self, client: aiomqtt.Client) -> None:
        """Handle commands one at a time (so a repeated request ID is seen as one);
        ends with MqttError when the connection drops, even with no commands."""
        cmd_prefix = f"{self.prefix}/cmd/"
        async for message in client.messages:
            topic = str(message.topic)
            if self.commands is None or not topic.startswith(cmd_prefix):
                continue
            raw = message.payload
            payload = bytes(raw) if isinstance(raw, bytes | bytearray) else str(raw).encode()
            reply = await self.commands.handle(topic[len(cmd_prefix) :], payload)
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


async def _until_first_failure(*coros: Any) -> None:
    """Run together; the first to raise (or return) stops the others, then re-raise."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for t in done:
        if not t.cancelled() and t.exception() is not None:
            raise t.exception()
    raise aiomqtt.MqttError("uplink task ended unexpectedly")
