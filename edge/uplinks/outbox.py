"""Draining one destination's outbox: in `seq` order, a bounded window in flight.

The store's outbox is the only queue. This loop reads what is owed after the
last record it handed out, hands each record to the transport in `seq` order
(`issue` must start the send synchronously, so order on the wire is `seq`
order), and never has more than `window` records unacknowledged. When the
transport confirms a record (MQTT PUBACK, GA/T 1400 StatusCode 0) its seq is
acknowledged in the store in batches; the store moves the destination's
cursor over the contiguous acknowledged prefix, so acknowledgements arriving
out of order are safe. After a reconnect or a crash the loop starts again from
the stored cursor: whatever was in flight is sent again with the same id and
seq (at-least-once; receivers de-duplicate on id).

Transports share this loop through `edge.uplinks.link.Link.deliver`, each giving
its own `issue`. A record whose future raises `PeerRefused` is parked in the
store with the peer's reason (it stops holding the cursor back and is listed by
`edge queue`); any other exception means the connection is suspect: the record
stays owed and the caller reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

from edge.store import OutboxItem, Store

log = logging.getLogger(__name__)

ACK_COALESCE_S = 0.05

P = TypeVar("P")
Prepare = Callable[[Sequence[OutboxItem]], Awaitable[Sequence[P]]]
Issue = Callable[[P], "asyncio.Future[Any]"]


class RateMeter:
    """Events per second over the last `span_s` seconds, in one-second buckets."""

    def __init__(self, span_s: int = 10) -> None:
        self.span_s = span_s
        self._buckets: deque[list[float]] = deque()

    def add(self, n: int = 1, now: float | None = None) -> None:
        second = float(int(time.monotonic() if now is None else now))
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += n
        else:
            self._buckets.append([second, float(n)])
            while self._buckets and self._buckets[0][0] <= second - self.span_s:
                self._buckets.popleft()

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        start = now - self.span_s
        total = sum(n for t, n in self._buckets if t >= start)
        return round(total / self.span_s, 1)


class DrainError(Exception):
    """A send failed: the connection is suspect and the caller should reconnect."""


class PeerRefused(Exception):
    """The peer refused this record for good (not the connection): it is parked with
    this message as the reason, and delivery goes on with the next record."""


class OutboxDrain(Generic[P]):
    def __init__(
        self,
        store: Store,
        dest: str,
        window: int = 256,
        fetch_max: int = 500,
        stall_s: float = 30.0,
    ) -> None:
        self.store = store
        self.dest = dest
        self.window = window
        self.fetch_max = fetch_max
        self.stall_s = stall_s
        self._refill_at = max(1, min(window // 4, fetch_max))
        self._progress = time.monotonic()
        self.in_flight: dict[int, asyncio.Future[Any]] = {}
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.parked = 0
        self.last_refusal: str | None = None
        self.last_refusal_at: float | None = None  # wall clock
        self.acked_seq = 0
        self.rate = RateMeter()
        self._acks: list[int] = []
        self._room = asyncio.Event()
        self._failed = asyncio.Event()
        self._acks_ready = asyncio.Event()
        self._error: BaseException | None = None
        self._background: set[asyncio.Task[None]] = set()

    def stats(self) -> dict[str, Any]:
        return {
            "in_flight": len(self.in_flight),
            "window": self.window,
            "sent": self.sent,
            "acked": self.acked,
            "failed": self.failed,
            "parked_since_start": self.parked,
            "last_refusal": self.last_refusal,
            "acked_seq": self.acked_seq,
            "rate_per_s": self.rate.rate(),
        }

    async def run(self, prepare: Prepare[P], issue: Issue[P]) -> None:
        """Send until cancelled; raise DrainError when a send fails. Acknowledged
        seqs are always written to the store before this returns."""
        self._error = None
        self._failed.clear()
        cursor = self.acked_seq = await self.store.acked_seq(self.dest)
        signal = self.store.outbox_signal(self.dest)
        flusher = asyncio.create_task(self._flush_loop(), name=f"{self.dest}.acks")
        try:
            while True:
                if self._error is not None:
                    raise DrainError(str(self._error)) from self._error
                room = self.window - len(self.in_flight)
                if room < self._refill_at:
                    # Refill in chunks, not one record per acknowledgement: each
                    # fetch is a query, each ack batch a transaction.
                    self._room.clear()
                    await self._wait(self._room.wait())
                    continue
                signal.clear()
                items = await self.store.pending(self.dest, cursor, min(room, self.fetch_max))
                if not items:
                    await self._wait(signal.wait(), self._failed.wait())
                    continue
                if not self.in_flight:
                    self._progress = time.monotonic()
                for item, prepared in zip(items, await prepare(items), strict=True):
                    fut = issue(prepared)
                    self.in_flight[item.seq] = fut
                    fut.add_done_callback(self._completion(item.seq))
                    cursor = item.seq
                self.sent += len(items)
        finally:
            await self._stop(flusher)

    async def _wait(self, *aws: Awaitable[Any]) -> None:
        """Wait for any of `aws`; a peer that keeps the connection but stops
        acknowledging for `stall_s` is treated as a failed connection."""
        done = await _first(*aws, limit_s=self.stall_s)
        if not done and self.in_flight and time.monotonic() - self._progress > self.stall_s:
            raise DrainError(
                f"no acknowledgement for {self.stall_s:.0f} s with {len(self.in_flight)} in flight"
            )

    def _completion(self, seq: int) -> Callable[[asyncio.Future[Any]], None]:
        def done(fut: asyncio.Future[Any]) -> None:
            self.in_flight.pop(seq, None)
            self._progress = time.monotonic()
            if fut.cancelled():
                return
            exc = fut.exception()
            if isinstance(exc, PeerRefused):
                # Refused for good: kept (parked) with the peer's reason, never acked.
                self.parked += 1
                self.last_refusal = str(exc)
                self.last_refusal_at = time.time()
                log.warning("%s refused record seq %d for good: %s (parked)", self.dest, seq, exc)
                self._background_write(self.store.park(self.dest, seq, str(exc)))
            elif exc is not None:
                # Not delivered: it stays owed and is sent again after the reconnect.
                self.failed += 1
                if self._error is None:
                    self._error = exc
                    self._failed.set()
                    text = f"{type(exc).__name__}: {exc}"
                    self._background_write(self.store.record_failure(self.dest, [seq], text))
            else:
                self._acks.append(seq)
                self.rate.add()
                self._acks_ready.set()
            self._room.set()

        return done

    def _background_write(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _flush_loop(self) -> None:
        """Write acknowledgements in batches: at most one transaction per
        `ACK_COALESCE_S` unless a full fetch's worth is waiting. A crash loses at
        most that much acknowledgement, which only means a few resends."""
        while True:
            await self._acks_ready.wait()
            if len(self._acks) < self.fetch_max:
                await asyncio.sleep(ACK_COALESCE_S)
            self._acks_ready.clear()
            await asyncio.shield(self._flush())

    async def _flush(self) -> None:
        seqs, self._acks = self._acks, []
        if seqs:
            self.acked_seq = await self.store.ack(self.dest, seqs)
            self.acked += len(seqs)

    async def _stop(self, flusher: asyncio.Task[None]) -> None:
        for fut in list(self.in_flight.values()):
            fut.cancel()
        self.in_flight.clear()
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
        # What the peer confirmed (or refused for good) must reach the store even when
        # we are being cancelled, or the next connection would send it again.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._flush())
        if self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(asyncio.gather(*self._background, return_exceptions=True))


async def _first(*aws: Awaitable[Any], limit_s: float | None = None) -> bool:
    """True if one of `aws` finished, False on timeout."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        done, _ = await asyncio.wait(tasks, timeout=limit_s, return_when=asyncio.FIRST_COMPLETED)
        return bool(done)
    finally:
        for t in tasks:
            t.cancel()
