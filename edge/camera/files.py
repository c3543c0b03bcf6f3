"""Images or a video from disk, looped at a fixed rate: the demo's and tests' camera."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from concurrent.futures import Executor
from contextlib import aclosing
from pathlib import Path
from typing import cast

import cv2

from edge.camera.avreader import AvJob, stream_av
from edge.camera.errors import CameraError
from edge.camera.frame import Frame, Image
from edge.camera.source import FrameSource, SourceTiming

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})


class FileSource(FrameSource):
    kind = "file"
    on_demand = True

    def __init__(
        self,
        camera_id: str,
        path: Path,
        timing: SourceTiming | None = None,
        *,
        fps: float = 5.0,
        loop: bool = True,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(camera_id, str(path), timing)
        self.path = path
        self.fps = fps
        self.loop = loop
        self._executor = executor
        # a video file hands out its packets; a folder of stills has none
        self.encoded = self.path.suffix.lower() not in IMAGE_SUFFIXES and not self.path.is_dir()

    def _images(self) -> list[Path] | None:
        """The stills to play, or None when the path is a video."""
        if self.path.is_dir():
            files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise CameraError(f"no images in {self.path}")
            return files
        if not self.path.exists():
            raise CameraError(f"{self.path} does not exist")
        return [self.path] if self.path.suffix.lower() in IMAGE_SUFFIXES else None

    def _session(self) -> AsyncGenerator[Frame, None]:
        images = self._images()
        return self._stills(images) if images is not None else self._video()

    async def _stills(self, images: list[Path]) -> AsyncGenerator[Frame, None]:
        loop = asyncio.get_running_loop()
        self.tracker.stream_info(codec="jpeg", fps_nominal=self.fps)
        period = 1.0 / self.fps
        due: float | None = None
        while True:
            for path in images:
                image = await loop.run_in_executor(self._executor, _read, path)
                now = time.monotonic()
                due = now if due is None else max(due, now - period)
                # Playback pacing, not a wait for a condition: this is the camera's clock.
                await asyncio.sleep(max(0.0, due - now))
                due += period
                mono, wall = time.monotonic(), time.time()
                self.tracker.frame(mono, wall, image.shape[1], image.shape[0])
                yield self.make_frame(image, mono, wall)
            if not self.loop:
                return

    async def _video(self) -> AsyncGenerator[Frame, None]:
        job = AvJob(
            url=str(self.path),
            options={},
            open_timeout_s=self.open_timeout_s,
            read_timeout_s=self.read_timeout_s,
            tracker=self.tracker,
            make_frame=self.make_frame,
            scrub=self._scrub,
            max_output_fps=self.max_output_fps,
            realtime=True,
            pace_fps=self.fps,
            loop=self.loop,
            **self.av_job_args(),
        )
        # closed explicitly, so its decoder thread is joined now, not when the GC gets to it
        async with aclosing(stream_av(job, self.camera_id, 2, self.tracker.dropped)) as frames:
            async for frame in frames:
                yield frame


def _read(path: Path) -> Image:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise CameraError(f"cannot read image {path.name}")
    return cast(Image, image)
