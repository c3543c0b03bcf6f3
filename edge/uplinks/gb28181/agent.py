"""The GB/T 28181 device agent: one device on the link kit, made of one job a module.

One session = one transport (a UDP socket or a TCP connection) and one
registration:

- `registration`: REGISTER, refresh, keepalives, and every request sent under
  the registration; a platform that forgot us is registered again at once on
  the same transport. A refused registration or a lost TCP connection ends the
  session; the link kit retries with backoff.
- `queries`: platform queries (Catalog, DeviceInfo, DeviceStatus,
  ConfigDownload, RecordInfo) get `200 OK` at once here and the answer later
  as new MESSAGEs with the query's SN; DeviceControl likewise.
- `notify`: alarm events from this destination's outbox become Alarm NOTIFY
  MESSAGEs; cameras going offline or coming back, catalog changes.
- INVITE/ACK/BYE are handed to `media.PlayManager`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from edge.codecs import manscdp, sip
from edge.codecs.errors import ProtocolError
from edge.events import Event
from edge.runtime import Runtime
from edge.timefmt import site_tz
from edge.uplinks.gb28181.channels import Channels, OnlineProbe, live_state_probe
from edge.uplinks.gb28181.config import Gb28181UplinkConfig
from edge.uplinks.gb28181.media import ACK_TIMEOUT_S, PlayManager
from edge.uplinks.gb28181.notify import Notifier
from edge.uplinks.gb28181.queries import QueryAnswers
from edge.uplinks.gb28181.registration import (
    RegisterRefused,
    Registration,
    ReRegister,
    new_tag,
)
from edge.uplinks.gb28181.source import SourceProvider
from edge.uplinks.gb28181.transport import T1_S, T2_S, SipTimeout, SipTransport, TransportClosed
from edge.uplinks.link import Link

log = logging.getLogger(__name__)

IDLE_DETAIL = "no server_host configured: alarms queue in the outbox, nothing is sent"


class Gb28181Agent(Link[bytes | None]):
    """One GB/T 28181 device on the link kit: a session is one transport and registration."""

    type = "gb28181"
    transient = (*Link.transient, RegisterRefused, ProtocolError, ReRegister)

    def __init__(
        self,
        name: str,
        cfg: Gb28181UplinkConfig,
        rt: Runtime,
        *,
        sources: SourceProvider | None = None,
        online: OnlineProbe | None = None,
        playable: Callable[[str], bool] | None = None,
    ) -> None:
        # Alarms go one MESSAGE each, answered in a few ms: a small window is plenty and
        # keeps a UDP platform from being flooded after an outage.
        super().__init__(name, cfg, rt, window=8)
        self.cfg: Gb28181UplinkConfig = cfg
        self.tz = site_tz(rt.config.site.utc_offset)
        self.channels = Channels(rt, cfg, online or live_state_probe(rt))
        self.registration = Registration(name, cfg, self.tz)
        self.answers = QueryAnswers(cfg, rt, self.tz, self.channels, self.registration)
        self.notifier = Notifier(name, cfg, self.tz, self.channels, self.registration)
        self.plays = PlayManager(
            device_id=cfg.device_id,
            media_host=cfg.media_host or cfg.local_host or "127.0.0.1",
            max_plays=cfg.max_plays,
            camera_of=lambda ch: c.id if (c := self.channels.camera(ch)) else None,
            sources=sources,
            hangup=self.registration.hangup,
            **({"playable": playable} if playable is not None else {}),
        )
        self._tasks: set[asyncio.Task[None]] = set()

    # --- link kit ------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return (
            f"sip:{self.cfg.server_id}@{self.cfg.server_host}:{self.cfg.server_port}"
            f";transport={self.cfg.transport}"
        )

    def configured(self) -> bool:
        return bool(self.cfg.server_host)

    def health_extra(self) -> dict[str, Any]:
        reg = self.registration
        extra: dict[str, Any] = {
            "device_id": self.cfg.device_id,
            "expires_s": reg.granted_expires_s,
            "registrations": reg.registrations,
            "reregistrations": reg.reregistrations,
            "time_offset_s": reg.clock_offset_s,
            "keepalives_ok": reg.keepalives_ok,
            "keepalives_missed": reg.keepalives_missed,
            "alarms_sent": self.notifier.alarms_sent,
            "catalog_notifies": self.notifier.catalog_notifies,
            "queries": dict(self.answers.queries),
            "plays": self.plays.describe(),
            "plays_refused_busy": self.plays.refused_busy,
            "plays_ended": dict(self.plays.ended),
        }
        if not self.configured():
            extra["detail"] = IDLE_DETAIL
        return extra

    def encode(self, seq: int, event: Event) -> bytes | None:
        return self.notifier.alarm_body(seq, event)

    # --- lifecycle -----------------------------------------------------------------

    async def session(self) -> None:
        transport = SipTransport(
            self.cfg.transport,
            (self.cfg.server_host, self.cfg.server_port),
            local_host=self.cfg.local_host,
            local_port=self.cfg.local_port,
            on_request=self.on_request,
        )
        await transport.open(self.cfg.connect_timeout_s)
        self.registration.transport = transport
        if self.cfg.media_host is None:
            self.plays.media_host = transport.local_host
        registered = False
        try:
            expires = await self.registration.register(self.cfg.expires_whole_s)
            registered = True
            self.connected()
            while True:
                try:
                    await _first_failure(
                        self.registration.refresh_loop(expires),
                        self.registration.keepalive_loop(),
                        self.notifier.catalog_watch(),
                        self.deliver(self.notifier.issue),
                        self._closed(transport),
                    )
                except ReRegister as exc:
                    # The platform forgot us: register again at once on the same
                    # transport (same Call-ID); a refusal ends the session.
                    log.warning("uplink %s: %s; registering again", self.name, exc)
                    self.registration.reregistrations += 1
                    expires = await self.registration.register(self.cfg.expires_whole_s)
        except asyncio.CancelledError:
            if registered:
                with contextlib.suppress(Exception):
                    await self.plays.stop_all(hangup=True)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self.registration.register(0), min(2.0, self.cfg.connect_timeout_s)
                    )
            raise
        finally:
            for task in list(self._tasks):
                task.cancel()
            await self.plays.stop_all()
            await transport.close()
            self.registration.transport = None

    async def _closed(self, transport: SipTransport) -> None:
        await transport.closed.wait()
        raise TransportClosed("the platform closed the connection")

    # --- incoming ------------------------------------------------------------------

    async def on_request(self, msg: sip.SipMessage) -> sip.SipMessage | None:
        method = msg.method
        if method == "MESSAGE":
            return self._on_message(msg)
        if method == "INVITE":
            answer = await self.plays.invite(msg, self.registration.contact)
            if answer.status == 200 and self.cfg.transport == "udp":
                self._spawn(self._resend_until_ack(msg.call_id, answer))
            return answer
        if method == "ACK":
            self.plays.ack(msg)
            return None
        if method == "BYE":
            return self.plays.bye(msg)
        if method == "CANCEL":
            return self.plays.cancel(msg)
        if method == "OPTIONS":
            return sip.response_to(msg, 200, to_tag=new_tag())
        return sip.response_to(
            msg,
            405,
            to_tag=new_tag(),
            extra=[("Allow", "INVITE, ACK, BYE, CANCEL, MESSAGE, OPTIONS")],
        )

    def _on_message(self, msg: sip.SipMessage) -> sip.SipMessage:
        try:
            doc = manscdp.parse(msg.body)
        except ProtocolError as exc:
            log.info("%s: MESSAGE body refused: %s", self.name, exc)
            return sip.response_to(msg, 400, to_tag=new_tag())
        if doc.root == "Query":
            self.answers.count(doc)
            self._spawn(self.answers.answer(doc))
        elif doc.root == "Control" and doc.cmd_type == "DeviceControl":
            self._spawn(self.answers.control(doc))
        return sip.response_to(msg, 200, to_tag=new_tag())

    async def _resend_until_ack(self, call_id: str, answer: sip.SipMessage) -> None:
        """RFC 3261 §13.3.1.4: over UDP the 200 to an INVITE is sent again (0.5 s, doubling
        to 4 s) until the ACK arrives, so a lost ACK or 200 does not lose the play."""
        interval = T1_S
        waited = 0.0
        while waited < ACK_TIMEOUT_S:
            await asyncio.sleep(interval)
            waited += interval
            play = self.plays.plays.get(call_id)
            transport = self.registration.transport
            if play is None or play.task is not None or transport is None:
                return
            transport.send(answer)
            interval = min(interval * 2, T2_S)

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except (SipTimeout, TransportClosed, OSError) as exc:
                log.info("%s: answering a query failed: %s", self.name, exc)

        task = asyncio.create_task(guarded(), name=f"{self.name}.answer")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _first_failure(*coros: Awaitable[None]) -> None:
    """Run together until one ends (raising its error); the others are cancelled."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
