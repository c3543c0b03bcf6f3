"""Where a play's packets come from: the camera's own encoded H.264/H.265.

`PacketSource` is the small interface the sender needs (an async iterator of
`MediaPacket`, closed when the play ends). The camera fan-out (one RTSP
session per camera, shared by analysis, live view and plays) provides it in
the daemon; a play must never open a second session to the camera.
`AvFileSource` plays a video file (the `file` camera kind) paced at its own
frame rate, which is also what the tests and the benchmark feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

QUEUE_PACKETS = 64  # a play that cannot keep up drops to the next keyframe


@dataclass(frozen=True, slots=True)
class MediaPacket:
    data: bytes
    pts_90k: int
    keyframe: bool
    codec: str = "h264"
    extradata: bytes = b""
    """Out-of-band parameter sets (Annex B, avcC or hvcC); b"" when in band."""


class PacketSource(Protocol):
    def __aiter__(self) -> AsyncIterator[MediaPacket]: ...

    async def aclose(self) -> None: ...


SourceProvider = Callable[[str], Awaitable[PacketSource]]
"""camera id → a new source for one play (raises `LookupError` if none)."""


class AvFileSource:
    """A video file demuxed by PyAV in a thread, looped, paced like a live camera."""

    def __init__(self, path: Path, *, loop: bool = True, pace: bool = True) -> None:
        self.path = path
        self.loop = loop
        self.pace = pace
        self.dropped = 0
        self._queue: asyncio.Queue[MediaPacket | None] = asyncio.Queue(QUEUE_PACKETS)
        self._stop = threading.Event()
        self._aloop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=f"gb-file-{path.name}", daemon=True)
        self._thread.start()

    def _put(self, item: MediaPacket | None) -> None:
        def put() -> None:
            if self._queue.full() and item is not None:
                self.dropped += 1  # the consumer re-syncs on the next keyframe
                return
            self._queue.put_nowait(item)

        with contextlib.suppress(RuntimeError):  # loop closed during shutdown
            self._aloop.call_soon_threadsafe(put)

    def _run(self) -> None:
        import av

        offset = 0
        try:
            while not self._stop.is_set():
                last = 0
                with av.open(str(self.path)) as container:
                    stream = container.streams.video[0]
                    codec = stream.codec_context.name
                    extradata = bytes(stream.codec_context.extradata or b"")
                    tb = stream.time_base
                    began = time.monotonic()
                    for pkt in container.demux(stream):
                        if self._stop.is_set():
                            return
                        if pkt.size == 0 or pkt.pts is None or tb is None:
                            continue
                        ticks = int(pkt.pts * tb * 90000)
                        if self.pace:
                            delay = began + ticks / 90000 - time.monotonic()
                            if delay > 0 and self._stop.wait(delay):
                                return
                        last = ticks
                        self._put(
                            MediaPacket(
                                bytes(pkt), offset + ticks, bool(pkt.is_keyframe), codec, extradata
                            )
                        )
                if not self.loop:
                    break
                offset += last + 3600
        finally:
            self._put(None)

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MediaPacket]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def aclose(self) -> None:
        self._stop.set()
        await asyncio.to_thread(self._thread.join, 5)


class FanoutSource:
    """A camera session's packet subscription (edge.camera.fanout) as a play's source.

    The fan-out's packets are Annex B with the stream's out-of-band parameter
    sets beside them; the PS muxer injects those before IDRs that lack them.
    """

    def __init__(self, subscription: Any) -> None:
        self.subscription = subscription

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MediaPacket]:
        async for packet in self.subscription:
            ticks = packet.ticks(90000)
            if ticks is None:
                continue
            stream = packet.stream
            yield MediaPacket(
                packet.data,
                int(ticks),
                bool(packet.keyframe),
                stream.codec,
                stream.parameter_sets,
            )

    async def aclose(self) -> None:
        self.subscription.close()
