"""From a camera's frames to the few the recognisers look at.

rate (`analysis_fps`) -> motion gate -> ROI crop -> bounded queue (drop oldest).
The rate limit comes first so the motion gate compares frames one analysis period
apart, the same motion a recogniser would see, and so it runs a few times a second.
Everything here is cheap (< 1 ms per frame at 640x360) and runs on the loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass

from edge.camera.frame import Frame, Image
from edge.camera.motion import MotionGate, Reason
from edge.camera.queues import DropOldestQueue
from edge.camera.rate import RateGate
from edge.camera.roi import Roi


@dataclass(frozen=True, slots=True)
class Sample:
    """A frame chosen for analysis."""

    frame: Frame
    image: Image
    """What the recogniser should scan: the ROI crop, or the whole frame."""
    offset: tuple[int, int]
    """Top-left of `image` in the frame: add it to boxes found in `image`."""
    reason: Reason | None
    """Why the motion gate let it through (None without a gate)."""
    changed_pct: float | None


@dataclass(frozen=True, slots=True)
class SamplerStats:
    frames_in: int
    rate_skipped: int
    motion_skipped: int
    queued: int
    queue_dropped: int
    """Samples discarded because the recognisers were behind (the oldest went)."""


class Sampler:
    def __init__(
        self,
        analysis_fps: float,
        *,
        motion: MotionGate | None = None,
        roi: Roi | None = None,
        queue_frames: int = 2,
    ) -> None:
        self.rate = RateGate(analysis_fps)
        self.motion = motion
        self.roi = roi
        self.queue: DropOldestQueue[Sample] = DropOldestQueue(queue_frames)
        self._in = self._rate_skipped = self._motion_skipped = self._queued = 0
        self._mask_size: tuple[int, int] | None = None

    def offer(self, frame: Frame) -> Sample | None:
        """Consider one frame; the sample queued, or None if it was not wanted."""
        self._in += 1
        if not self.rate.passes(frame.mono):
            self._rate_skipped += 1
            return None
        reason: Reason | None = None
        pct: float | None = None
        if self.motion is not None:
            if self.roi is not None and self._mask_size != (frame.width, frame.height):
                self._mask_size = (frame.width, frame.height)
                self.motion.set_mask(self.roi.geometry(frame.width, frame.height).mask)
            result = self.motion.check(frame.image, frame.mono)
            reason, pct = result.reason, result.changed_pct
            if not result.passed:
                self._motion_skipped += 1
                return None
        image, offset = frame.image, (0, 0)
        if self.roi is not None:
            image, offset = self.roi.crop(frame.image)
        sample = Sample(frame, image, offset, reason, pct)
        self.queue.put_nowait(sample)
        self._queued += 1
        return sample

    async def run(self, frames: AsyncIterable[Frame]) -> None:
        """Feed the queue from a source's `frames()` until it ends."""
        async for frame in frames:
            self.offer(frame)

    async def get(self) -> Sample:
        return await self.queue.get()

    @property
    def stats(self) -> SamplerStats:
        return SamplerStats(
            frames_in=self._in,
            rate_skipped=self._rate_skipped,
            motion_skipped=self._motion_skipped,
            queued=self._queued,
            queue_dropped=self.queue.dropped,
        )
