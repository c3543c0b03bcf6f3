"""The GA/T 1400 uplink on the link kit: register, keep alive, sync time, push the outbox.

One link session is one registration:
    register (digest) → connected() → time sync →
        [keepalive loop · time sync loop · outbox drain through the batcher]
A failed keepalive, a 401 or a non-zero StatusCode on any system call, or a
POST without an answer ends the session; the kit reconnects (registers again)
after its jittered backoff (`reconnect_initial_s` doubling to
`reconnect_max_s`). An object answered busy/rebooting only pauses the drain
(the same backoff); the registration stays. A record refused for good is
parked by the shared drain with the 视图库's StatusString. On shutdown the
uplink unregisters (a 403 there is logged: the 视图库 had already dropped us).

The kit (`edge.uplinks.link.Link`) owns the state, backoff, policy, worker
thread and the `uplink.<name>` health section; this module only speaks GA/T 1400.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp

from edge.backoff import Backoff
from edge.events import Event
from edge.runtime import Runtime
from edge.timefmt import site_tz
from edge.uplinks.gat1400.batcher import Batcher, Refused
from edge.uplinks.gat1400.client import SessionLost, ViidClient, ViidError
from edge.uplinks.gat1400.config import Gat1400Config
from edge.uplinks.gat1400.encode import Encoder, Prepared
from edge.uplinks.link import Link, until_first_failure
from edge.uplinks.outbox import DrainError

log = logging.getLogger(__name__)

UNREGISTER_TIMEOUT_S = 3.0


def ape_ids(rt: Runtime) -> dict[str, str]:
    """Camera id -> its GA/T 1400 APE ID, for the cameras that have one."""
    return {c.id: str(c.ape_id) for c in rt.config.cameras if getattr(c, "ape_id", None)}


class Gat1400Uplink(Link[Prepared]):
    type = "gat1400"
    transient = (*Link.transient, ViidError, aiohttp.ClientError)

    def __init__(self, name: str, cfg: Gat1400Config, rt: Runtime) -> None:
        super().__init__(name, cfg, rt, window=cfg.batch_max_objects * cfg.posts_in_flight * 4)
        self.cfg: Gat1400Config = cfg
        self.tz = site_tz(rt.config.site.utc_offset)
        self.encoder = Encoder(cfg, self.tz, self.load_image, ape_ids(rt))
        self.batcher = Batcher(
            max_objects=cfg.batch_max_objects,
            max_bytes=cfg.batch_max_bytes,
            posts_in_flight=cfg.posts_in_flight,
            rate_per_s=cfg.rate_limit_per_s,
            park_after_attempts=cfg.park_after_attempts,
        )
        self.registrations = 0
        self.keepalives = 0
        self.server_id: str | None = None
        self.time_offset_s: float | None = None
        self.time_synced_at: float | None = None

    # --- the link kit's hooks ----------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self.cfg.url

    def encode(self, seq: int, event: Event) -> Prepared:
        return self.encoder.encode_event(seq, event)

    def health_extra(self) -> dict[str, Any]:
        b = self.batcher
        return {
            "url": self.cfg.url,
            "device_id": self.cfg.device_id,
            "server_id": self.server_id,
            "registrations": self.registrations,
            "keepalives": self.keepalives,
            "failed_attempts": self.failed_attempts,
            "time_offset_s": self.time_offset_s,
            "time_synced_at": self.time_synced_at,
            "posts": b.posts,
            "objects_acked": b.objects_ok,
            "objects_refused": b.refused,
            "objects_parked": b.parked,
            "last_object_refusal": b.last_refusal,
            "images_omitted": self.images_omitted + self.encoder.images_omitted,
        }

    def health(self) -> dict[str, Any]:
        doc = super().health()
        off = self.time_offset_s
        if off is not None and abs(off) > self.cfg.max_time_offset_s:
            doc.setdefault("problems", []).append(
                f"uplink {self.name}: clock differs from the 视图库 by {off:+.1f} s"
                f" (limit {self.cfg.max_time_offset_s:.0f} s)"
            )
        return doc

    # --- one registration ------------------------------------------------------------

    async def session(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.cfg.posts_in_flight + 2)
        async with aiohttp.ClientSession(connector=connector) as http:
            client = ViidClient(
                http,
                self.cfg.url,
                self.cfg.device_id,
                self.cfg.user,
                self.cfg.password.get_secret_value(),
                self.cfg.connect_timeout_s,
            )
            status = await client.register()
            self.registrations += 1
            self.server_id = status.id or None
            self.connected()
            try:
                if self.cfg.time_sync:
                    await self._sync_time(client)
                tasks = [
                    self._keepalive_loop(client),
                    self._push(),
                    self.batcher.run(client.post_list),
                ]
                if self.cfg.time_sync:
                    tasks.append(self._time_loop(client))
                await until_first_failure(*tasks, ended=ViidError("uplink task ended unexpectedly"))
            except asyncio.CancelledError:
                await asyncio.shield(self._unregister(client))
                raise

    async def _unregister(self, client: ViidClient) -> None:
        try:
            async with asyncio.timeout(UNREGISTER_TIMEOUT_S):
                answer = await client.unregister()
        except (ViidError, TimeoutError) as exc:
            log.info("uplink %s: unregister not answered: %s", self.name, exc)
            return
        if answer.status == 403:
            log.info(
                "uplink %s: unregister refused (403): already unknown to the 视图库", self.name
            )
        elif answer.status != 200:
            log.warning("uplink %s: unregister: %s", self.name, answer.summary())
        else:
            log.info("uplink %s: unregistered from %s", self.name, self.cfg.url)

    async def _keepalive_loop(self, client: ViidClient) -> None:
        while True:
            await asyncio.sleep(self.cfg.keepalive_s)
            await client.keepalive()
            self.keepalives += 1

    async def _time_loop(self, client: ViidClient) -> None:
        while True:
            await asyncio.sleep(self.cfg.time_sync_interval_s)
            await self._sync_time(client)

    async def _sync_time(self, client: ViidClient) -> None:
        try:
            reading = await client.system_time(self.tz)
        except SessionLost:
            raise
        except ViidError as exc:  # a 视图库 without the Time service still takes records
            log.info("uplink %s: time sync unavailable: %s", self.name, exc)
            return
        self.time_offset_s = reading.offset_s
        self.time_synced_at = time.time()
        self.encoder.offset_s = reading.offset_s
        key = f"gat1400:{self.name}:clock"
        if abs(reading.offset_s) > self.cfg.max_time_offset_s:
            await self.rt.store.raise_alarm(
                key,
                f"uplink.{self.name}",
                f"时钟偏差 gateway clock differs from 视图库 {self.name} by "
                f"{reading.offset_s:+.1f} s (limit {self.cfg.max_time_offset_s:.0f} s);"
                " ShotTime is corrected, fix NTP",
                severity="warning",
                data={"offset_s": reading.offset_s, "server_time": reading.server.local_time},
            )
        else:
            await self.rt.store.close_alarm_by_key(key, "system")

    async def _push(self) -> None:
        """The outbox drain; an object refused as busy pauses it (backoff), nothing more."""
        pause = Backoff(self.cfg.reconnect_initial_s, self.cfg.reconnect_max_s)
        while True:
            acked = self.drain.acked
            try:
                await self.deliver(self.batcher.add)
            except DrainError as exc:
                if not isinstance(exc.__cause__, Refused):
                    raise
                if self.drain.acked > acked:
                    pause.reset()  # it took records since the last pause: a new episode
                self.last_error = str(exc.__cause__)
                log.info("uplink %s: %s; pausing", self.name, exc.__cause__)
                await asyncio.sleep(pause.next_delay())
