"""What the device tells the platform unasked: Alarm NOTIFYs and catalog changes.

- Alarm events from this destination's outbox (the link kit's drain) become
  Alarm NOTIFY MESSAGEs, acknowledged when the platform answers 200, parked
  (`PeerRefused`) when it refuses one for good; a 404/403/401 means it forgot
  us (`ReRegister`).
- A camera going offline or coming back is notified as a catalog change.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import tzinfo
from typing import Any

from edge.codecs import manscdp
from edge.events import Event
from edge.payloads import AlarmPayload, PayloadError
from edge.uplinks.gb28181.channels import Channels
from edge.uplinks.gb28181.config import Gb28181UplinkConfig
from edge.uplinks.gb28181.registration import Registration, ReRegister
from edge.uplinks.gb28181.transport import SipTimeout
from edge.uplinks.outbox import PeerRefused

log = logging.getLogger(__name__)

CATALOG_POLL_S = 1.0
SEVERITY_PRIORITY = {"critical": 1, "major": 2, "warning": 3, "minor": 3, "info": 4}


class Notifier:
    def __init__(
        self,
        name: str,
        cfg: Gb28181UplinkConfig,
        tz: tzinfo,
        channels: Channels,
        registration: Registration,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.tz = tz
        self.channels = channels
        self.registration = registration
        self.alarms_sent = 0
        self.catalog_notifies = 0

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
            self.registration.next_sn(),
            priority=SEVERITY_PRIORITY.get(alarm.severity, 3),
            method=5 if cam is not None else 2,  # 5 video alarm, 2 device alarm
            time=ts,
            description=alarm.message[:200],
        )

    def issue(self, body: bytes | None) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        if body is None:
            done: asyncio.Future[Any] = loop.create_future()
            done.set_result(None)
            return done
        return asyncio.ensure_future(self._send_alarm(body))

    async def _send_alarm(self, body: bytes) -> None:
        answer = await self.registration.message(body)
        if answer.status == 200:
            self.alarms_sent += 1
        elif answer.status in (404, 403, 401):
            raise ReRegister(f"the platform answered {answer.status} to an alarm")
        else:
            # Refused for good: parked with the platform's reason (see `edge queue`).
            raise PeerRefused(f"platform answered {answer.status} {answer.reason}")

    # --- catalog changes -----------------------------------------------------------

    async def catalog_watch(self) -> None:
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
            body = manscdp.catalog_notify(self.cfg.device_id, self.registration.next_sn(), items)
            try:
                answer = await self.registration.message(body)
            except SipTimeout:
                # Liveness is the keepalive's business; the next catalog query corrects it.
                log.info("%s: catalog change notify not answered", self.name)
                continue
            if answer.status == 200:
                self.catalog_notifies += 1
