"""The reconnecting frame source every camera kind shares.

A subclass only knows how to run one connection (`_session`: connect, yield frames,
raise `CameraError` when it breaks). This base turns that into a stream that never
ends: it watches for stalls (no frame within `read_timeout_s`), records state, logs
a camera going offline once and coming back once, and reconnects with capped,
jittered exponential backoff.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge.backoff import Backoff
from edge.camera.errors import CameraError, CameraTimeout
from edge.camera.frame import Frame, Image
from edge.camera.redact import redact_url, scrub
from edge.camera.state import CameraState, StateTracker

if TYPE_CHECKING:
    from edge.camera.avreader import PacketSink

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceTiming:
    open_timeout_s: float = 10.0
    """Connect and first frame."""
    read_timeout_s: float = 5.0
    """Longest gap between frames before the camera counts as offline."""
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    max_output_fps: float | None = None
    """Deliver at most this rate (frames over it are counted but not converted/decoded
    where the source can skip that work); None = every frame."""


class FrameSource(ABC):
    kind: str = "?"
    encoded: bool = False
    """Whether this kind can hand out the camera's encoded packets (H.264/H.265)."""
    on_demand: bool = False
    """A replay (a file), not a live camera: worth starting only once its consumer is
    there (see `factory.open_session`)."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        timing: SourceTiming | None = None,
        *,
        secrets: Sequence[str | None] = (),
    ) -> None:
        timing = timing or SourceTiming()
        self.camera_id = camera_id
        self.timing = timing
        self.open_timeout_s = timing.open_timeout_s
        self.read_timeout_s = timing.read_timeout_s
        self.max_output_fps = timing.max_output_fps
        self.tracker = StateTracker(camera_id, self.kind, redact_url(url))
        self._url = url
        self._secrets = tuple(secrets)
        self._backoff = Backoff(timing.reconnect_min_s, timing.reconnect_max_s)
        self._closed = asyncio.Event()
        self._seq = itertools.count(1)
        self._packet_seq = itertools.count(1)
        self._epochs = itertools.count(1)
        self.packet_sink: PacketSink | None = None
        """Set by the camera session before `frames()`: receives every encoded packet on
        the demux thread (kinds with `encoded` only)."""

    @property
    def state(self) -> CameraState:
        return self.tracker.snapshot()

    async def frames(self) -> AsyncIterator[Frame]:
        """Frames until `close()`; connection failures are retried, never raised."""
        try:
            while not self._closed.is_set():
                self.tracker.connecting()
                try:
                    async for frame in self._one_session():
                        yield frame
                    if self._closed.is_set():
                        break
                    raise CameraError("stream ended")
                except CameraError as exc:
                    self._went_offline(str(exc))
                except (OSError, ValueError, RuntimeError) as exc:
                    self._went_offline(f"{type(exc).__name__}: {self._scrub(str(exc))}")
                if self._closed.is_set():
                    break
                delay = self._backoff.next_delay()
                log.debug("camera %s: reconnecting in %.1f s", self.camera_id, delay)
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), timeout=delay)
        finally:
            self.tracker.offline(None)

    async def single_session(self) -> AsyncGenerator[Frame, None]:
        """One connection and no reconnect, for probes: failures raise CameraError."""
        self.tracker.connecting()
        try:
            async with aclosing(self._one_session()) as frames:
                async for frame in frames:
                    yield frame
        except CameraError as exc:
            self.tracker.offline(str(exc))
            raise

    async def first_error(self) -> CameraError | None:
        """Connect once until the first frame: the error, or None if a frame came."""
        try:
            async with aclosing(self.single_session()) as frames:
                async for _ in frames:
                    return None
        except CameraError as exc:
            return exc
        return CameraError("stream ended before the first frame")

    def close(self) -> None:
        """Stop after the current frame; `frames()` then ends."""
        self._closed.set()

    async def _one_session(self) -> AsyncGenerator[Frame, None]:
        got_first = False
        async with aclosing(self._session()) as session:
            it = aiter(session)
            while not self._closed.is_set():
                limit = self.read_timeout_s if got_first else self.open_timeout_s
                try:
                    async with asyncio.timeout(limit):
                        frame = await anext(it)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    what = "no frame" if got_first else "no first frame"
                    raise CameraTimeout(f"{what} within {limit:g} s") from None
                if not got_first:
                    got_first = True
                    self._backoff.reset()
                    log.info(
                        "camera %s online: %s %sx%s",
                        self.camera_id,
                        self.tracker.snapshot().codec or self.kind,
                        frame.width,
                        frame.height,
                    )
                yield frame

    def _went_offline(self, reason: str) -> None:
        if self.tracker.offline(reason):
            log.warning("camera %s offline: %s", self.camera_id, reason)
        else:
            log.debug("camera %s still offline: %s", self.camera_id, reason)

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def make_frame(
        self, image: Image, mono: float, wall: float, pts_s: float | None = None
    ) -> Frame:
        """Build the next frame (safe from a decoder thread); record it with tracker.frame."""
        return Frame(self.camera_id, next(self._seq), image, mono, wall, pts_s)

    def av_job_args(self) -> dict[str, Any]:
        """What every PyAV connection of this source shares: the packet fan-out, and a
        packet numbering and connection epoch that run across reconnects."""
        return {
            "packet_sink": self.packet_sink,
            "camera_id": self.camera_id,
            "epoch": next(self._epochs),
            "next_packet_seq": self._packet_seq.__next__,
        }

    @abstractmethod
    def _session(self) -> AsyncGenerator[Frame, None]:
        """One connection: yield frames; raise CameraError (already scrubbed) on failure."""


def now_pair() -> tuple[float, float]:
    return time.monotonic(), time.time()
