"""Objects to list POSTs: several per request, size-capped, rate-limited, judged one by one.

The outbox drain hands over one prepared record at a time (`add`, which
returns that record's future). Records of one kind go out together in one
`MotorVehicleListObject` / `FaceListObject` POST of at most
`batch_max_objects` objects and `batch_max_bytes`; at most `posts_in_flight`
POSTs wait for their answer at once. The answer's per-object
`ResponseStatusObject` settles each record's future:

- StatusCode 0: the future resolves: acknowledged, the record leaves the outbox;
- 4-8 (invalid), or a transient code repeated `park_after_attempts` times:
  the future raises `PeerRefused`, and the shared drain parks the record in the
  store's outbox with the StatusString (it stops holding the cursor back,
  `edge queue` lists it);
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
from edge.codecs.gat1400_objects import list_body_bytes
from edge.uplinks.gat1400.encode import Prepared
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
    """One per uplink (the refusal counts outlive a session); `run(post)` per session."""

    def __init__(
        self,
        *,
        max_objects: int,
        max_bytes: int,
        posts_in_flight: int,
        rate_per_s: float,
        park_after_attempts: int,
    ) -> None:
        self.post: PostList | None = None
        self.max_objects = max_objects
        self.max_bytes = max_bytes
        self.park_after = park_after_attempts
        self.bucket = TokenBucket(rate_per_s, max_objects)
        self.posts_in_flight = posts_in_flight
        self._slots = asyncio.Semaphore(posts_in_flight)
        self._queue: deque[tuple[Prepared, asyncio.Future[None]]] = deque()
        self._refusals: dict[int, int] = {}  # seq -> transient refusals so far
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.posts = 0
        self.objects_ok = 0
        self.refused = 0
        self.parked = 0
        self.last_refusal: str | None = None

    def add(self, p: Prepared) -> asyncio.Future[None]:
        """The drain's `issue`: the future settles when the 视图库 answered for `p`."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if p.refused is not None:
            self._park(p, p.refused, fut)
        else:
            self._queue.append((p, fut))
            self._ready.set()
        return fut

    async def run(self, post: PostList) -> None:
        """Send through `post` until cancelled (then in-flight POSTs are cancelled too)."""
        self.post = post
        # Fresh per session: a POST task cancelled before it started never releases its slot.
        self._slots = asyncio.Semaphore(self.posts_in_flight)
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
            for _p, fut in self._queue:
                fut.cancel()
            self._queue.clear()

    def _take(self) -> list[tuple[Prepared, asyncio.Future[None]]]:
        """The oldest record and the ones after it of the same endpoint, within the caps."""
        endpoint = self._queue[0][0].endpoint
        batch: list[tuple[Prepared, asyncio.Future[None]]] = []
        size = 64
        keep: deque[tuple[Prepared, asyncio.Future[None]]] = deque()
        while self._queue:
            entry = self._queue.popleft()
            p = entry[0]
            if entry[1].done():  # cancelled by a drain that stopped: resent from the cursor
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

    async def _send(self, batch: list[tuple[Prepared, asyncio.Future[None]]]) -> None:
        try:
            endpoint = batch[0][0].endpoint
            assert endpoint is not None and self.post is not None
            body = list_body_bytes(endpoint, [p.body for p, _ in batch])
            try:
                statuses = await self.post(endpoint, body)
            except Exception as exc:  # every cause fails the whole POST
                for _p, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            self.posts += 1
            by_id = {s.id: s for s in statuses}
            if len(statuses) == len(batch) and not all(p.object_id in by_id for p, _ in batch):
                # Some servers echo another ID (the SourceID, the first ImageID): go by position.
                by_id = {p.object_id: s for (p, _), s in zip(batch, statuses, strict=True)}
            for p, fut in batch:
                self._settle(p, by_id.get(p.object_id), fut)
        finally:
            self._slots.release()

    def _settle(
        self, p: Prepared, status: g.ResponseStatus | None, fut: asyncio.Future[None]
    ) -> None:
        if fut.done():
            return
        if status is not None and status.ok:
            self.objects_ok += 1
            self._refusals.pop(p.seq, None)
            fut.set_result(None)
            return
        text = status.describe() if status else f"no ResponseStatusObject for {p.object_id}"
        permanent = status is not None and status.status_code in g.PERMANENT_CODES
        times = self._refusals[p.seq] = self._refusals.get(p.seq, 0) + 1
        if permanent or times >= self.park_after:
            self._park(p, text if permanent else f"{text} (refused {times} times)", fut)
            return
        self.refused += 1
        self.last_refusal = text
        fut.set_exception(Refused(status, f"{p.object_id}: {text}"))

    def _park(self, p: Prepared, why: str, fut: asyncio.Future[None]) -> None:
        """The drain parks it in the store's outbox with this reason (the object ID
        first: the store knows the event, not the GA/T 1400 object)."""
        self._refusals.pop(p.seq, None)
        self.parked += 1
        if not fut.done():
            fut.set_exception(PeerRefused(f"{p.object_id or p.kind}: {why}"))
