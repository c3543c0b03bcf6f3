"""The GB/T 28181 device agent: register, stay alive, answer queries, push alarms, play.

One session = one transport (a UDP socket or a TCP connection) and one
registration:

- REGISTER with digest, always with the same Call-ID and From tag for the
  life of the process and CSeq increasing (wvp and others treat a new Call-ID
  as a new device registration), refreshed at 80 % of the granted Expires;
  `Expires: 0` on shutdown.
- A Keepalive MESSAGE every `keepalive_s`; `keepalive_max_missed` unanswered,
  or a 404/403 answer (a platform that forgot us, e.g. after its restart):
  register again at once on the same transport. A refused registration or a
  lost TCP connection ends the session; the link kit retries with backoff.
- Platform queries (Catalog, DeviceInfo, DeviceStatus, ConfigDownload,
  RecordInfo) get `200 OK` at once and the answer later as new MESSAGEs with
  the query's SN.
- Alarm events from this destination's outbox (the link kit's drain) become
  Alarm NOTIFY MESSAGEs, acknowledged when the platform answers 200, parked
  when it refuses one for good.
- A camera going offline or coming back is notified as a catalog change.
- INVITE/ACK/BYE are handed to `media.PlayManager`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from edge import __version__
from edge.actions import ActionRefused, Actor, ack_alarm
from edge.codecs import manscdp, sip, sipdigest
from edge.codecs.errors import ProtocolError
from edge.events import Event
from edge.payloads import AlarmPayload, PayloadError
from edge.runtime import Runtime
from edge.timefmt import site_tz
from edge.uplinks.gb28181.channels import Channels, OnlineProbe, live_state_probe
from edge.uplinks.gb28181.config import Gb28181UplinkConfig
from edge.uplinks.gb28181.media import ACK_TIMEOUT_S, Play, PlayManager
from edge.uplinks.gb28181.source import SourceProvider
from edge.uplinks.gb28181.transport import T1_S, T2_S, SipTimeout, SipTransport, TransportClosed
from edge.uplinks.link import Link
from edge.uplinks.outbox import PeerRefused

log = logging.getLogger(__name__)

USER_AGENT = f"compound-edge/{__version__}"
REFRESH_AT = 0.8  # of the granted Expires
CATALOG_POLL_S = 1.0
IDLE_DETAIL = "no server_host configured: alarms queue in the outbox, nothing is sent"
ANSWERED = ("Catalog", "DeviceInfo", "DeviceStatus", "RecordInfo", "ConfigDownload")
SEVERITY_PRIORITY = {"critical": 1, "major": 2, "warning": 3, "minor": 3, "info": 4}


class ReRegister(Exception):
    """The platform forgot us (404 to a keepalive, keepalives unanswered)."""


class RegisterRefused(Exception):
    """The platform refused the registration (wrong password, unknown device)."""


def _branch() -> str:
    return "z9hG4bK" + uuid.uuid4().hex[:16]


def _tag() -> str:
    return uuid.uuid4().hex[:10]


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
        self.call_id_part = uuid.uuid4().hex
        self.from_tag = _tag()
        self.reg_cseq = 0
        self.msg_cseq = 0
        self.sn = random.randrange(1, 100000)
        self.transport: SipTransport | None = None
        self.plays = PlayManager(
            device_id=cfg.device_id,
            media_host=cfg.media_host or cfg.local_host or "127.0.0.1",
            max_plays=cfg.max_plays,
            camera_of=lambda ch: c.id if (c := self.channels.camera(ch)) else None,
            sources=sources,
            hangup=self.hangup,
            **({"playable": playable} if playable is not None else {}),
        )
        self.granted_expires_s: int | None = None
        self.registrations = 0
        self.reregistrations = 0
        self.clock_offset_s: float | None = None
        """Platform clock minus ours, from the Date of the REGISTER answer (GB/T 28181
        §9.10 校时); shown, not applied: the gateway's clock is NTP's business."""
        self.keepalives_ok = 0
        self.keepalives_missed = 0
        self.alarms_sent = 0
        self.catalog_notifies = 0
        self.queries: dict[str, int] = {}
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
        extra: dict[str, Any] = {
            "device_id": self.cfg.device_id,
            "expires_s": self.granted_expires_s,
            "registrations": self.registrations,
            "reregistrations": self.reregistrations,
            "time_offset_s": self.clock_offset_s,
            "keepalives_ok": self.keepalives_ok,
            "keepalives_missed": self.keepalives_missed,
            "alarms_sent": self.alarms_sent,
            "catalog_notifies": self.catalog_notifies,
            "queries": dict(self.queries),
            "plays": self.plays.describe(),
            "plays_refused_busy": self.plays.refused_busy,
            "plays_ended": dict(self.plays.ended),
        }
        if not self.configured():
            extra["detail"] = IDLE_DETAIL
        return extra

    def encode(self, seq: int, event: Event) -> bytes | None:
        return self.alarm_body(seq, event)

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
        self.transport = transport
        if self.cfg.media_host is None:
            self.plays.media_host = transport.local_host
        registered = False
        try:
            expires = await self.register(self.cfg.expires_whole_s)
            registered = True
            self.connected()
            while True:
                try:
                    await _first_failure(
                        self._refresh_loop(expires),
                        self._keepalive_loop(),
                        self._catalog_watch(),
                        self.deliver(self._issue),
                        self._closed(transport),
                    )
                except ReRegister as exc:
                    # The platform forgot us: register again at once on the same
                    # transport (same Call-ID); a refusal ends the session.
                    log.warning("uplink %s: %s; registering again", self.name, exc)
                    self.reregistrations += 1
                    expires = await self.register(self.cfg.expires_whole_s)
        except asyncio.CancelledError:
            if registered:
                with contextlib.suppress(Exception):
                    await self.plays.stop_all(hangup=True)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.register(0), min(2.0, self.cfg.connect_timeout_s))
            raise
        finally:
            for task in list(self._tasks):
                task.cancel()
            await self.plays.stop_all()
            await transport.close()
            self.transport = None

    async def _closed(self, transport: SipTransport) -> None:
        await transport.closed.wait()
        raise TransportClosed("the platform closed the connection")

    # --- building requests ---------------------------------------------------------

    @property
    def _host(self) -> str:
        assert self.transport is not None
        return self.transport.local_host

    @property
    def _port(self) -> int:
        assert self.transport is not None
        return self.transport.local_port

    @property
    def contact(self) -> str:
        return f"<sip:{self.cfg.device_id}@{self._host}:{self._port}>"

    def _request(
        self, method: str, cseq: int, call_id: str, from_tag: str, uri: str | None = None
    ) -> sip.SipMessage:
        assert self.transport is not None
        realm = self.cfg.realm
        via = sip.Via(
            self.transport.via_transport, self._host, self._port, {"rport": "", "branch": _branch()}
        )
        return sip.SipMessage(
            method=method,
            uri=uri or f"sip:{self.cfg.server_id}@{realm}",
            headers=[
                ("Via", via.encode()),
                ("From", f"<sip:{self.cfg.device_id}@{realm}>;tag={from_tag}"),
                ("To", f"<sip:{self.cfg.server_id}@{realm}>"),
                ("Call-ID", call_id),
                ("CSeq", f"{cseq} {method}"),
                ("Max-Forwards", "70"),
                ("User-Agent", USER_AGENT),
            ],
        )

    def _register_msg(self, expires: int) -> sip.SipMessage:
        self.reg_cseq += 1
        msg = self._request(
            "REGISTER", self.reg_cseq, f"{self.call_id_part}@{self._host}", self.from_tag
        )
        msg.set("To", f"<sip:{self.cfg.device_id}@{self.cfg.realm}>")
        msg.add("Contact", self.contact)
        msg.add("Expires", str(expires))
        return msg

    async def register(self, expires: int) -> int:
        """Register (or unregister with 0); returns the Expires the platform granted."""
        assert self.transport is not None
        timeout = self.cfg.connect_timeout_s
        msg = self._register_msg(expires)
        answer = await self.transport.request(msg, timeout)
        if answer.status in (401, 407):
            header = answer.get("WWW-Authenticate") or answer.get("Proxy-Authenticate") or ""
            challenge = sipdigest.Challenge.parse(header)
            msg = self._register_msg(expires)
            msg.add(
                "Authorization" if answer.status == 401 else "Proxy-Authorization",
                sipdigest.authorization(
                    challenge,
                    method="REGISTER",
                    uri=msg.uri or "",
                    username=self.cfg.device_id,
                    password=self.cfg.password.get_secret_value(),
                    cnonce=uuid.uuid4().hex[:16],
                ),
            )
            answer = await self.transport.request(msg, timeout)
        if answer.status != 200:
            hint = (
                " (wrong password or device not configured?)" if answer.status in (401, 403) else ""
            )
            raise RegisterRefused(f"REGISTER answered {answer.status} {answer.reason}{hint}")
        if expires == 0:
            return 0
        self.registrations += 1
        self.clock_offset_s = _clock_offset(answer, self.tz)
        granted = _granted(answer, expires)
        self.granted_expires_s = granted
        return granted

    async def message(self, body: bytes, timeout_s: float | None = None) -> sip.SipMessage:
        """One out-of-dialog MESSAGE with a MANSCDP body; the platform's final answer."""
        assert self.transport is not None
        self.msg_cseq += 1
        msg = self._request("MESSAGE", self.msg_cseq, f"{uuid.uuid4().hex}@{self._host}", _tag())
        msg.add("Content-Type", manscdp.CONTENT_TYPE)
        msg.body = body
        return await self.transport.request(msg, timeout_s or self.cfg.connect_timeout_s)

    async def hangup(self, play: Play) -> None:
        """Our BYE for a play that ended on our side; the platform's answer is not awaited
        for long (it may be the reason the play ended)."""
        if self.transport is None:
            return
        via = sip.Via(
            self.transport.via_transport, self._host, self._port, {"rport": "", "branch": _branch()}
        )
        to_ours = (
            play.remote_to
            if "tag=" in play.remote_to
            else (f"{play.remote_to};tag={play.local_tag}")
        )
        msg = sip.SipMessage(
            method="BYE",
            uri=play.remote_target,
            headers=[
                ("Via", via.encode()),
                ("From", to_ours),
                ("To", play.remote_from),
                ("Call-ID", play.call_id),
                ("CSeq", "1 BYE"),
                ("Max-Forwards", "70"),
                ("User-Agent", USER_AGENT),
            ],
        )
        try:
            await self.transport.request(msg, min(2.0, self.cfg.connect_timeout_s))
        except (SipTimeout, TransportClosed, OSError) as exc:
            log.info("%s: BYE for %s not answered: %s", self.name, play.channel_id, exc)

    def next_sn(self) -> int:
        self.sn += 1
        return self.sn

    # --- loops ---------------------------------------------------------------------

    async def _refresh_loop(self, expires: int) -> None:
        while True:
            await asyncio.sleep(max(1.0, expires * REFRESH_AT))
            expires = await self.register(self.cfg.expires_whole_s)

    async def keepalive(self) -> sip.SipMessage:
        body = manscdp.keepalive(self.cfg.device_id, self.next_sn())
        return await self.message(body, min(self.cfg.connect_timeout_s, self.cfg.keepalive_s))

    async def _keepalive_loop(self) -> None:
        missed = 0
        while True:
            await asyncio.sleep(self.cfg.keepalive_s)
            try:
                answer = await self.keepalive()
            except SipTimeout:
                missed += 1
                self.keepalives_missed += 1
                if missed >= self.cfg.keepalive_max_missed:
                    raise ReRegister(f"{missed} keepalives unanswered") from None
                continue
            if answer.status in (404, 403, 401):
                raise ReRegister(f"the platform answered {answer.status} to a keepalive")
            missed = 0
            self.keepalives_ok += 1

    async def _catalog_watch(self) -> None:
        last = self.channels.states()
        while True:
            await asyncio.sleep(CATALOG_POLL_S)
            now = self.channels.states()
            changed = [c for c in self.channels.cameras if now[c.id] != last.get(c.id)]
            last = now
            if not changed:
                continue
            items = [
                self.channels.camera_item(c, event="ON" if now[c.id] else "OFF") for c in changed
            ]
            body = manscdp.catalog_notify(self.cfg.device_id, self.next_sn(), items)
            try:
                answer = await self.message(body)
            except SipTimeout:
                # Liveness is the keepalive's business; the next catalog query corrects it.
                log.info("%s: catalog change notify not answered", self.name)
                continue
            if answer.status == 200:
                self.catalog_notifies += 1

    # --- incoming ------------------------------------------------------------------

    async def on_request(self, msg: sip.SipMessage) -> sip.SipMessage | None:
        method = msg.method
        if method == "MESSAGE":
            return self._on_message(msg)
        if method == "INVITE":
            answer = await self.plays.invite(msg, self.contact)
            if answer.status == 200 and self.cfg.transport == "udp":
                self._spawn(self._resend_until_ack(msg.call_id, answer))
            return answer
        if method == "ACK":
            self.plays.ack(msg)
            return None
        if method == "BYE":
            return self.plays.bye(msg)
        if method == "OPTIONS":
            return sip.response_to(msg, 200, to_tag=_tag())
        return sip.response_to(
            msg, 405, to_tag=_tag(), extra=[("Allow", "INVITE, ACK, BYE, MESSAGE, OPTIONS")]
        )

    def _on_message(self, msg: sip.SipMessage) -> sip.SipMessage:
        try:
            doc = manscdp.parse(msg.body)
        except ProtocolError as exc:
            log.info("%s: MESSAGE body refused: %s", self.name, exc)
            return sip.response_to(msg, 400, to_tag=_tag())
        if doc.root == "Query":
            kind = doc.cmd_type if doc.cmd_type in ANSWERED else "other"
            self.queries[kind] = self.queries.get(kind, 0) + 1
            self._spawn(self._answer(doc))
        elif doc.root == "Control" and doc.cmd_type == "DeviceControl":
            self._spawn(self._control(doc))
        return sip.response_to(msg, 200, to_tag=_tag())

    async def _control(self, doc: manscdp.Manscdp) -> None:
        """DeviceControl: `AlarmCmd ResetAlarm` acknowledges the target's raised alarms (an
        audited action by the platform); anything else (reboot, PTZ, recording, guard) is
        answered Result ERROR, so the platform shows a refusal instead of waiting."""
        ok = False
        if doc.text("AlarmCmd") == "ResetAlarm":
            cam = self.channels.camera(doc.device_id)
            if cam is not None or doc.device_id == self.cfg.device_id:
                ok = True
                actor = Actor("gb28181", self.cfg.server_id)
                for alarm in await self.rt.store.alarms(state="raised", limit=1000):
                    if cam is None or alarm["source"] == cam.id:
                        with contextlib.suppress(ActionRefused):
                            await ack_alarm(
                                self.rt, alarm["id"], actor=actor, note="platform ResetAlarm"
                            )
        await self.message(manscdp.response_result("DeviceControl", doc.sn, doc.device_id, ok))

    async def _resend_until_ack(self, call_id: str, answer: sip.SipMessage) -> None:
        """RFC 3261 §13.3.1.4: over UDP the 200 to an INVITE is sent again (0.5 s, doubling
        to 4 s) until the ACK arrives, so a lost ACK or 200 does not lose the play."""
        interval = T1_S
        waited = 0.0
        while waited < ACK_TIMEOUT_S:
            await asyncio.sleep(interval)
            waited += interval
            play = self.plays.plays.get(call_id)
            if play is None or play.task is not None or self.transport is None:
                return
            self.transport.send(answer)
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

    async def _answer(self, doc: manscdp.Manscdp) -> None:
        device = self.cfg.device_id
        if doc.cmd_type == "Catalog":
            pages = manscdp.catalog_pages(device, doc.sn, self.channels.items(), self.cfg.page_size)
            for page in pages:
                await self.message(page)
        elif doc.cmd_type == "DeviceInfo":
            await self.message(
                manscdp.device_info(
                    doc.device_id,
                    doc.sn,
                    name=self.cfg.device_name,
                    manufacturer="compound-edge",
                    model="compound-edge gateway",
                    firmware=__version__,
                    channels=len(self.channels.cameras),
                )
            )
        elif doc.cmd_type == "DeviceStatus":
            cam = self.channels.camera(doc.device_id)
            online = True if cam is None else self.channels.online(cam.id)
            await self.message(
                manscdp.device_status(
                    doc.device_id,
                    doc.sn,
                    online=online,
                    device_time=datetime.now(self.tz).replace(tzinfo=None),
                    status_ok=online,
                )
            )
        elif doc.cmd_type == "RecordInfo":
            # No recordings on the gateway: an empty list, so the platform stops waiting.
            await self.message(
                manscdp.build(
                    "Response",
                    "RecordInfo",
                    doc.sn,
                    doc.device_id,
                    [
                        manscdp.Node("Name", self.cfg.device_name),
                        manscdp.Node("SumNum", 0),
                        manscdp.Node("RecordList", [], {"Num": "0"}),
                    ],
                )
            )
        elif doc.cmd_type == "ConfigDownload":
            if "BasicParam" in doc.text("ConfigType"):
                await self.message(
                    manscdp.config_download(
                        device,
                        doc.sn,
                        name=self.cfg.device_name,
                        expires_s=self.cfg.expires_whole_s,
                        heartbeat_s=int(self.cfg.keepalive_s),
                        heartbeat_count=self.cfg.keepalive_max_missed,
                    )
                )
            else:
                await self.message(manscdp.response_result("ConfigDownload", doc.sn, device, False))

    # --- alarms --------------------------------------------------------------------

    def alarm_body(self, seq: int, event: Event) -> bytes | None:
        """The Alarm NOTIFY for a raised alarm; None for what is not sent (acknowledged
        at once: acknowledged/closed transitions, other kinds, undecodable data)."""
        if event.kind != "alarm":
            return None
        try:
            alarm = AlarmPayload.from_data(event.data)
        except PayloadError as exc:
            log.warning("uplink %s: alarm seq %d not sendable: %s", self.name, seq, exc)
            return None
        if alarm.state != "raised":
            return None
        cam = next((c for c in self.channels.cameras if c.id == event.source), None)
        device = str(cam.gb_channel_id) if cam is not None else self.cfg.device_id
        ts = event.ts.astimezone(self.tz).replace(tzinfo=None)
        return manscdp.alarm_notify(
            device,
            self.next_sn(),
            priority=SEVERITY_PRIORITY.get(alarm.severity, 3),
            method=5 if cam is not None else 2,  # 5 video alarm, 2 device alarm
            time=ts,
            description=alarm.message[:200],
        )

    def _issue(self, body: bytes | None) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        if body is None:
            done: asyncio.Future[Any] = loop.create_future()
            done.set_result(None)
            return done
        return asyncio.ensure_future(self._send_alarm(body))

    async def _send_alarm(self, body: bytes) -> None:
        answer = await self.message(body)
        if answer.status == 200:
            self.alarms_sent += 1
        elif answer.status in (404, 403, 401):
            raise ReRegister(f"the platform answered {answer.status} to an alarm")
        else:
            # Refused for good: parked with the platform's reason (see `edge queue`).
            raise PeerRefused(f"platform answered {answer.status} {answer.reason}")


def _clock_offset(answer: sip.SipMessage, tz: tzinfo) -> float | None:
    """`Date: 2024-05-17T14:24:54.123` (local time, as GB/T 28181 platforms send it)."""
    text = answer.get("Date")
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return round((when - datetime.now(UTC)).total_seconds(), 3)


def _granted(answer: sip.SipMessage, asked: int) -> int:
    text = answer.get("Expires")
    if text is None:
        contact = answer.get("Contact")
        if contact:
            text = sip.parse_name_addr(contact).params.get("expires")
    try:
        return int(text) if text is not None else asked
    except ValueError:
        return asked


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
