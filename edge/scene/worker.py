"""The falling-object rules of a camera, at its full frame rate, in the daemon.

Every decoded frame goes into a small drop-oldest queue (a dropped frame is counted
and only shortens a trajectory); the worker hands whatever has queued to the CPU pool
in one call, so 25 frames/s cost a few pool round trips per second, not 25.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from edge.camera.frame import Frame
from edge.config.scene import FallingObjectRule, SceneRule
from edge.scene.falling import FallingObjects
from edge.scene.runner import Outcome, SceneActions, evidence

if TYPE_CHECKING:
    from edge.camera.session import CameraSession
    from edge.runtime import Runtime

QUEUE_FRAMES = 12


class FallingWorker:
    def __init__(
        self,
        rt: Runtime,
        session: CameraSession,
        rules: Sequence[SceneRule],
        actions: SceneActions,
    ) -> None:
        self.rt = rt
        self.session = session
        self.detectors = [FallingObjects(r) for r in rules if isinstance(r, FallingObjectRule)]
        self.actions = actions
        self.queue: deque[Frame] = deque()
        self.ready = asyncio.Event()
        self.frames = 0
        self.dropped = 0

    def stats(self) -> dict[str, Any]:
        return {"frames": self.frames, "dropped": self.dropped}

    def offer(self, frame: Frame) -> None:
        """On the loop, per decoded frame: queue it, dropping the oldest when full."""
        if len(self.queue) >= QUEUE_FRAMES:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append(frame)
        self.ready.set()

    def _feed(self, frames: list[Frame]) -> list[Outcome]:
        out = []
        for f in frames:
            for d in self.detectors:
                hit = d.feed(f.image, f.wall)
                if hit is not None:
                    out.append(evidence(hit, f.image))
        self.frames += len(frames)
        return out

    async def run(self) -> None:
        sub = self.session.subscribe_frames("scene.falling", self.offer)
        try:
            while True:
                await self.ready.wait()
                self.ready.clear()
                batch = list(self.queue)
                self.queue.clear()
                await self.actions.apply(await self.rt.cpu.run(self._feed, batch))
        finally:
            sub.close()
