"""One camera's encoded packets, from its demux thread to every packet consumer.

The demux thread never waits for a consumer: it appends to a bounded hand-off and wakes
the loop only when that goes from empty to non-empty. On the loop each subscription has
its own bounded queue. Drop policy, per subscription: when its queue is full, everything
queued is dropped and so is every packet up to the next keyframe (a decoder cannot use
P-frames whose reference is gone), all counted in `dropped`; after a reconnect (a new
`StreamInfo`) each subscription also waits for a keyframe. A new subscription starts
at the most recent keyframe (the current GOP is kept, bounded) so a viewer or a GB/T
28181 play gets a decodable picture at once, not after the next IDR.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from edge.camera.errors import CameraError
from edge.camera.packets import Packet, StreamInfo

# Packets waiting for the loop (a stalled loop drops, counted, then resyncs on a keyframe).
HANDOFF_PACKETS = 256
# The GOP kept for late subscribers: a 4 s GOP at 25 fps is 100 packets.
GOP_MAX_PACKETS = 300
GOP_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    name: str
    maxsize: int
    queued: int
    delivered: int
    dropped: int
    """Packets this consumer never got: queue overflow and the wait for the next keyframe."""
    overflows: int
    """Times the queue was full (each starts a wait for a keyframe)."""


class PacketSubscription:
    """An async iterator of `Packet`s, starting on a keyframe; `close()` to leave.

    Iteration ends (StopAsyncIteration) when the subscription or the session closes.
    """

    def __init__(self, name: str, maxsize: int, on_close: Callable[[PacketSubscription], None]):
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.name = name
        self.maxsize = maxsize
        self.delivered = 0
        self.dropped = 0
        self.overflows = 0
        self._items: deque[Packet] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._waiting_keyframe = True
        self._last_stream: StreamInfo | None = None
        self._on_close = on_close

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def stream(self) -> StreamInfo | None:
        """The stream of the next packet queued, if any."""
        return self._items[0].stream if self._items else None

    def offer(self, packet: Packet) -> None:
        """Called on the loop by the fan-out, never blocks."""
        if self._closed:
            return
        if packet.stream is not self._last_stream:
            # a reconnect: the new connection's P-frames cannot use the old references
            self._last_stream = packet.stream
            self._waiting_keyframe = True
        if self._waiting_keyframe:
            if not packet.keyframe:
                self.dropped += 1
                return
            self._waiting_keyframe = False
        elif len(self._items) >= self.maxsize:
            self.overflows += 1
            self.dropped += len(self._items)
            self._items.clear()
            if not packet.keyframe:
                self._waiting_keyframe = True
                self.dropped += 1
                return
        self._items.append(packet)
        self._ready.set()

    def resync(self) -> None:
        """Packets were lost before reaching this queue: wait for the next keyframe."""
        self._waiting_keyframe = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._ready.set()
        self._on_close(self)

    def __aiter__(self) -> AsyncIterator[Packet]:
        return self

    async def __anext__(self) -> Packet:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        self.delivered += 1
        return self._items.popleft()

    def get_nowait(self) -> Packet | None:
        if not self._items:
            return None
        self.delivered += 1
        return self._items.popleft()

    def stats(self) -> SubscriptionStats:
        return SubscriptionStats(
            self.name,
            self.maxsize,
            len(self._items),
            self.delivered,
            self.dropped,
            self.overflows,
        )


class PacketFanout:
    """The thread-to-loop hand-off, the current GOP and the subscriptions of one camera."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self.packets_in = 0
        self.handoff_dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._handoff: deque[Packet] = deque()
        self._lost = False
        self._subs: list[PacketSubscription] = []
        self._gop: list[Packet] = []
        self._gop_bytes = 0
        self._stream: StreamInfo | None = None

    @property
    def stream(self) -> StreamInfo | None:
        """The stream of the latest packet (None before the first)."""
        return self._stream

    @property
    def subscriptions(self) -> list[PacketSubscription]:
        return list(self._subs)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # --- demux thread -----------------------------------------------------------------

    def put(self, packet: Packet) -> None:
        """From the demux thread: never blocks; drops the oldest when the loop lags.

        With nobody subscribed the packet only updates the kept GOP, on this thread: the
        loop is not woken for packets no one reads."""
        loop = self._loop
        if loop is None:
            return
        with self._lock:
            if not self._subs:
                self._stream = packet.stream
                self._keep(packet)
                return
            wake = not self._handoff
            if len(self._handoff) >= HANDOFF_PACKETS:
                self._handoff.popleft()
                self.handoff_dropped += 1
                self._lost = True
            self._handoff.append(packet)
        if wake:
            with contextlib.suppress(RuntimeError):  # loop closed: the session is going away
                loop.call_soon_threadsafe(self._drain)

    # --- loop ---------------------------------------------------------------------------

    def _drain(self) -> None:
        with self._lock:
            batch = list(self._handoff)
            self._handoff.clear()
            lost, self._lost = self._lost, False
            if lost:
                self._gop.clear()
                self._gop_bytes = 0
            for packet in batch:
                self._stream = packet.stream
                self._keep(packet)
        if lost:
            for sub in self._subs:
                sub.resync()
        for packet in batch:
            for sub in self._subs:
                sub.offer(packet)

    def _keep(self, packet: Packet) -> None:
        """Keep the GOP for late subscribers (under the lock: thread or loop side)."""
        self.packets_in += 1
        if self._gop and self._gop[0].stream is not packet.stream:
            self._gop.clear()  # a new connection: the old GOP's references are gone
            self._gop_bytes = 0
        if packet.keyframe:
            self._gop.clear()
            self._gop_bytes = 0
        elif not self._gop:
            return  # no keyframe seen yet: nothing a late subscriber could decode
        if len(self._gop) >= GOP_MAX_PACKETS or self._gop_bytes + len(packet.data) > GOP_MAX_BYTES:
            self._gop.clear()  # too long a GOP to replay: late subscribers wait for the next
            self._gop_bytes = 0
            return
        self._gop.append(packet)
        self._gop_bytes += len(packet.data)

    def subscribe(self, name: str, maxsize: int) -> PacketSubscription:
        sub = PacketSubscription(name, maxsize, self._unsubscribe)
        with self._lock:
            # packets already handed off but not drained are newer than the GOP: the
            # subscription sees them in the next drain, after the GOP, in order
            gop = list(self._gop) if len(self._gop) <= maxsize else []
            self._subs = [*self._subs, sub]
        for packet in gop:
            sub.offer(packet)
        return sub

    def _unsubscribe(self, sub: PacketSubscription) -> None:
        with self._lock:
            self._subs = [s for s in self._subs if s is not sub]

    def close(self) -> None:
        """The session ended: every subscription's iteration ends."""
        for sub in list(self._subs):
            sub.close()

    def stats(self) -> dict[str, Any]:
        return {
            "packets_in": self.packets_in,
            "handoff_dropped": self.handoff_dropped,
            "gop_packets": len(self._gop),
            "consumers": [dataclasses.asdict(s.stats()) for s in self._subs],
        }


class NoPacketsError(CameraError):
    """The camera kind delivers decoded pictures only (MJPEG, snapshots, still images)."""
