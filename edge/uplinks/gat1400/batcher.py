"""Objects to list POSTs: several per request, size-capped, rate-limited, judged one by one.

The outbox drain hands over one prepared record at a time (`add`, which
returns that record's future). Records of one kind go out together in one
`MotorVehicleListObject` / `FaceListObject` POST of at most
`batch_max_objects` objects and `batch_max_bytes`; at most `posts_in_flight`
POSTs wait for their answer at once. The answer's per-object
`ResponseStatusObject` settles each record's future:

- StatusCode 0: the future resolves: acknowledged, the record leaves the outbox;
- 4-8 (invalid), or a transient code repeated `park_after_attempts` times:
  the record is parked in the store's outbox with the StatusString (it stops
  holding the cursor back, `edge queue` lists it);
- 1, 2, 3, 9 (busy, rebooting ...): the future fails with `Refused`; the drain
  stops, the uplink waits with backoff and starts over from the stored cursor;
- a 401, an HTTP error or no answer fails every future of the POST.

An object the answer does not mention is not acknowledged (fails as `Refused`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from edge.codecs import gat1400 as g
from edge.uplinks.gat1400.encode import Prepared
from edge.uplinks.gat1400.parking import ParkingLot
from edge.uplinks.outbox import PeerRefused

log = logging.getLogger(__name__)

PostList = Callable[[str, bytes], Awaitable[list[g.ResponseStatus]]]


class Refused(Exception):
    """The 视图库 refused an object for now (busy, rebooting, other error)."""

    def __init__(self, status: g.ResponseStatus | None, text: str) -> None:
        super().__init__(text)
        self.status = status


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: float) -> None:
        self.rate = rate_per_s
        self.capacity = max(burst, 1.0)
        self.tokens = self.capacity
        self.at = time.monotonic()

    async def take(self, n: int) -> None:
        if self.rate <= 0:
            return
        while True:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= min(n, self.capacity):
                self.tokens -= n
                return
            await asyncio.sleep((min(n, self.capacity) - self.tokens) / self.rate)


class Batcher:
    def __init__(
        self,
        post: PostList,
        parking: ParkingLot,
        *,
        max_objects: int,
        max_bytes: int,
        posts_in_flight: int,
        rate_per_s: float,
        park_after_attempts: int,
    ) -> None:
        self.post = post
        self.parking = parking
        self.max_objects = max_objects
        self.max_bytes = max_bytes
        self.park_after = park_after_attempts
        self.bucket = TokenBucket(rate_per_s, max_objects)
        self._slots = asyncio.Semaphore(posts_in_flight)
        self._queue: deque[tuple[Prepared, int, asyncio.Future[None]]] = deque()
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.posts = 0
        self.objects_ok = 0
        self.refused = 0
        self.parked = 0
        self.last_refusal: str | None = None

    def add(self, p: Prepared, attempts: int) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if p.refused is not None:
            self._spawn(self._park(p, p.refused, None, fut))
        else:
            self._queue.append((p, attempts, fut))
            self._ready.set()
        return fut

    async def run(self) -> None:
        """Send until cancelled (then in-flight POSTs are cancelled too)."""
        try:
            while True:
                await self._ready.wait()
                batch = self._take() if self._queue else []
                if not batch:
                    self._ready.clear()
                    continue
                await self.bucket.take(len(batch))
                await self._slots.acquire()
                self._spawn(self._send(batch))
        finally:
            for t in list(self._tasks):
                t.cancel()
            for _p, _a, fut in self._queue:
                fut.cancel()
            self._queue.clear()

    def _take(self) -> list[tuple[Prepared, int, asyncio.Future[None]]]:
        """The oldest record and the ones after it of the same endpoint, within the caps."""
        endpoint = self._queue[0][0].endpoint
        batch: list[tuple[Prepared, int, asyncio.Future[None]]] = []
        size = 64
        keep: deque[tuple[Prepared, int, asyncio.Future[None]]] = deque()
        while self._queue:
            entry = self._queue.popleft()
            p = entry[0]
            if entry[2].done():  # cancelled by a drain that stopped: resent from the cursor
                continue
            fits = len(batch) < self.max_objects and (
                not batch or size + len(p.body) <= self.max_bytes
            )
            if p.endpoint == endpoint and fits:
                batch.append(entry)
                size += len(p.body) + 1
            else:
                keep.append(entry)
                if len(batch) >= self.max_objects:
                    break
        keep.extend(self._queue)
        self._queue = keep
        return batch

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[Prepared, int, asyncio.Future[None]]]) -> None:
        try:
            endpoint = batch[0][0].endpoint
            assert endpoint is not None
            body = g.list_body_bytes(endpoint, [p.body for p, _, _ in batch])
            try:
                statuses = await self.post(endpoint, body)
            except Exception as exc:  # every cause fails the whole POST
                for _p, _a, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            self.posts += 1
            by_id = {s.id: s for s in statuses}
            if len(statuses) == len(batch) and not all(p.object_id in by_id for p, _, _ in batch):
                # Some servers echo another ID (the SourceID, the first ImageID): go by position.
                by_id = {p.object_id: s for (p, _, _), s in zip(batch, statuses, strict=True)}
            for p, attempts, fut in batch:
                await self._settle(p, attempts, by_id.get(p.object_id), fut)
        finally:
            self._slots.release()

    async def _settle(
        self,
        p: Prepared,
        attempts: int,
        status: g.ResponseStatus | None,
        fut: asyncio.Future[None],
    ) -> None:
        if fut.done():
            return
        if status is not None and status.ok:
            self.objects_ok += 1
            fut.set_result(None)
            return
        text = status.describe() if status else f"no ResponseStatusObject for {p.object_id}"
        permanent = status is not None and status.status_code in g.PERMANENT_CODES
        if permanent or attempts + 1 >= self.park_after:
            why = text if permanent else f"{text} (refused {attempts + 1} times)"
            await self._park(p, why, status.status_code if status else None, fut)
            return
        self.refused += 1
        self.last_refusal = text
        fut.set_exception(Refused(status, f"{p.object_id}: {text}"))

    async def _park(
        self, p: Prepared, why: str, code: int | None, fut: asyncio.Future[None]
    ) -> None:
        await self.parking.park(
            seq=p.seq,
            event_id=p.event_id,
            kind=p.kind,
            object_id=p.object_id,
            reason=why,
            status_code=code,
        )
        self.parked += 1
        log.warning("parked event %s (%s %s): %s", p.event_id, p.kind, p.object_id, why)
        if not fut.done():  # the drain parks it in the store, with this reason
            fut.set_exception(PeerRefused(f"{p.object_id}: {why}"))
