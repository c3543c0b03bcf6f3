"""The GA/T 1400 uplink: register, keep alive, sync time, push the outbox.

Lifecycle (one "session" per successful registration):
    register (digest) → time sync → [keepalive loop · time sync loop · outbox drain]
A failed keepalive, a 401 or a non-zero StatusCode on any system call, or a
POST without an answer ends the session; the next registration waits a
jittered backoff (retry_min_s doubling up to retry_max_s). A busy/rebooting
answer for an object only pauses the drain (same backoff), the registration
stays. On shutdown the uplink unregisters (a 403 there is logged, it means the
视图库 had already dropped us).

Structured like the link kit of SEAMS.md (state, since, last_error, counters,
health section, policy before encoding, the shared outbox drain) so that moving
onto `edge.uplinks.link.Link` replaces `run`/health plumbing only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp

from edge.backoff import Backoff
from edge.runtime import Runtime
from edge.store import OutboxItem
from edge.timefmt import site_tz
from edge.uplinks.gat1400.batcher import Batcher, Refused
from edge.uplinks.gat1400.client import RegisterRefused, SessionLost, ViidClient, ViidError
from edge.uplinks.gat1400.config import Gat1400Config
from edge.uplinks.gat1400.encode import Encoder, Prepared
from edge.uplinks.gat1400.parking import ParkingLot
from edge.uplinks.outbox import DrainError, OutboxDrain

log = logging.getLogger(__name__)

DOWN_IS_A_PROBLEM_S = 600.0
UNREGISTER_TIMEOUT_S = 3.0


def ape_ids(rt: Runtime) -> dict[str, str]:
    """Camera id -> its GA/T 1400 APE ID, for the cameras that have one."""
    out = {}
    for cam in rt.config.cameras:
        ape = getattr(cam, "ape_id", None)
        if ape:
            out[cam.id] = ape
    return out


class Gat1400Uplink:
    def __init__(self, name: str, cfg: Gat1400Config, rt: Runtime) -> None:
        self.name = name
        self.cfg = cfg
        self.rt = rt
        self.tz = site_tz(rt.config.site.utc_offset)
        self.encoder = Encoder(cfg, self.tz, rt.store.data_dir, ape_ids(rt))
        self.parking = ParkingLot()
        # A POST may wait for its answer request_timeout_s; beyond twice that with
        # nothing acknowledged the drain gives up on the session.
        self.drain: OutboxDrain[tuple[Prepared, int]] = OutboxDrain(
            rt.store,
            name,
            window=cfg.batch_max_objects * cfg.posts_in_flight * 4,
            fetch_max=cfg.batch_max_objects * cfg.posts_in_flight * 2,
            stall_s=cfg.request_timeout_s * 2 + 1,
        )
        self.batcher: Batcher | None = None
        self.state = "starting"
        self.since = time.time()
        self.connected_since: float | None = None
        self.down_since: float | None = None
        self.last_error: str | None = None
        self.registrations = 0
        self.keepalives = 0
        self.failed_attempts = 0
        self.time_offset_s: float | None = None
        self.time_synced_at: float | None = None
        self.server_id: str | None = None
        self.counts = {"posts": 0, "acked": 0, "refused": 0, "parked": 0}
        self._encode_thread = ThreadPoolExecutor(1, thread_name_prefix=f"uplink-{name}")
        self._backoff = Backoff(cfg.retry_min_s, cfg.retry_max_s)
        rt.add_health(f"uplink.{name}", self.health)

    # --- health -------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        b = self.batcher
        if b is not None:
            self.counts.update(
                posts=b.posts, acked=b.objects_ok, refused=b.refused, parked=b.parked
            )
        doc: dict[str, Any] = {
            "type": "gat1400",
            "state": self.state,
            "since": self.since,
            "url": self.cfg.url,
            "device_id": self.cfg.device_id,
            "server_id": self.server_id,
            "registrations": self.registrations,
            "failed_attempts": self.failed_attempts,
            "keepalives": self.keepalives,
            "connected_since": self.connected_since,
            "last_error": self.last_error,
            "time_offset_s": self.time_offset_s,
            "time_synced_at": self.time_synced_at,
            **self.drain.stats(),
            **self.counts,
            **self.parking.health(),
            "images_missing": self.encoder.images_missing,
        }
        problems = []
        if self.down_since is not None and time.time() - self.down_since > DOWN_IS_A_PROBLEM_S:
            minutes = (time.time() - self.down_since) / 60
            problems.append(
                f"视图库 {self.name} unreachable for {minutes:.0f} min: {self.last_error}"
            )
        if self.time_offset_s is not None and abs(self.time_offset_s) > self.cfg.max_time_offset_s:
            problems.append(f"clock differs from 视图库 {self.name} by {self.time_offset_s:+.1f} s")
        if problems:
            doc["problems"] = problems
        return doc

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.since = time.time()

    # --- lifecycle ------------------------------------------------------------------

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.cfg.posts_in_flight + 2)
        async with aiohttp.ClientSession(connector=connector) as http:
            client = ViidClient(
                http,
                self.cfg.url,
                self.cfg.device_id,
                self.cfg.user,
                self.cfg.password.get_secret_value(),
                self.cfg.request_timeout_s,
            )
            try:
                while True:
                    try:
                        await self._session(client)
                    except (ViidError, DrainError, aiohttp.ClientError, OSError) as exc:
                        self._lost(exc)
                    self._set_state("waiting")
                    await asyncio.sleep(self._backoff.next_delay())
            finally:
                registered = self.connected_since is not None
                self._set_state("stopped")
                self._encode_thread.shutdown(wait=False)
                if registered:
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.shield(self._unregister(client))

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

    def _lost(self, exc: BaseException) -> None:
        cause = exc.__cause__ if isinstance(exc, DrainError) and exc.__cause__ else exc
        text = f"{type(cause).__name__}: {cause}"
        self.failed_attempts += 1
        if self.connected_since is not None or self.failed_attempts == 1:
            log.warning("uplink %s: %s", self.name, text)
        else:
            log.debug("uplink %s: still failing: %s", self.name, text)
        self.connected_since = None
        if self.down_since is None:
            self.down_since = time.time()
        self.last_error = text

    async def _session(self, client: ViidClient) -> None:
        self._set_state("registering")
        status = await client.register()
        self.registrations += 1
        self.server_id = status.id or None
        self._registered()
        if self.cfg.time_sync:
            await self._sync_time(client)
        self.batcher = Batcher(
            client.post_list,
            self.parking,
            max_objects=self.cfg.batch_max_objects,
            max_bytes=self.cfg.batch_max_bytes,
            posts_in_flight=self.cfg.posts_in_flight,
            rate_per_s=self.cfg.rate_limit_per_s,
            park_after_attempts=self.cfg.park_after_attempts,
        )
        tasks = [self._keepalive_loop(client), self._push(self.batcher), self.batcher.run()]
        if self.cfg.time_sync:
            tasks.append(self._time_loop(client))
        await _until_first_failure(*tasks)

    def _registered(self) -> None:
        if self.failed_attempts:
            log.info(
                "uplink %s: registered with %s after %d failed attempt(s)",
                self.name,
                self.cfg.url,
                self.failed_attempts,
            )
        else:
            log.info("uplink %s: registered with %s", self.name, self.cfg.url)
        self.failed_attempts = 0
        self._backoff.reset()
        self._set_state("registered")
        self.connected_since = time.time()
        self.down_since = None
        self.last_error = None

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

    async def _push(self, batcher: Batcher) -> None:
        """The outbox drain; an object refused as busy pauses it (backoff), nothing more."""
        pause = Backoff(self.cfg.retry_min_s, self.cfg.retry_max_s)
        while True:
            try:
                await self.drain.run(self._prepare, lambda pa: batcher.add(*pa))
            except DrainError as exc:
                if not isinstance(exc.__cause__, Refused):
                    raise
                self.last_error = str(exc.__cause__)
                self._set_state("paused")
                log.info("uplink %s: %s; pausing", self.name, exc.__cause__)
                await asyncio.sleep(pause.next_delay())
                self._set_state("registered")

    async def _prepare(self, items: Sequence[OutboxItem]) -> list[tuple[Prepared, int]]:
        loop = asyncio.get_running_loop()
        prepared = await loop.run_in_executor(
            self._encode_thread, self.encoder.encode_batch, list(items)
        )
        return [(p, i.attempts) for p, i in zip(prepared, items, strict=True)]


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
    raise ViidError("uplink task ended unexpectedly")


__all__ = ["Gat1400Uplink", "RegisterRefused"]
