"""Cameras polled for one JPEG at a time (`/ISAPI/Streaming/channels/101/picture`,
`/cgi-bin/snapshot.cgi`, ...): no video decoder, works through any HTTP proxy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from concurrent.futures import Executor

from edge.camera.errors import CameraError
from edge.camera.frame import Frame
from edge.camera.http import HttpCamera
from edge.camera.jpeg import decode_jpeg_async
from edge.camera.source import FrameSource, SourceTiming

_MAX_SNAPSHOT_BYTES = 20 * 1024 * 1024


class SnapshotSource(FrameSource):
    kind = "snapshot"

    def __init__(
        self,
        camera_id: str,
        url: str,
        timing: SourceTiming | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        poll_interval_s: float = 1.0,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(camera_id, url, timing, secrets=(password, username))
        self.poll_interval_s = poll_interval_s
        self._http = HttpCamera(
            url,
            username,
            password,
            open_timeout_s=self.open_timeout_s,
            read_timeout_s=self.read_timeout_s,
        )
        self._executor = executor

    async def _session(self) -> AsyncGenerator[Frame, None]:
        self.tracker.stream_info(codec="jpeg")
        async with self._http.session() as session:
            while True:
                started = time.monotonic()
                async with self._http.get(session) as resp:
                    ctype = resp.headers.get("Content-Type", "")
                    if not ctype.lower().startswith("image/"):
                        raise CameraError(f"not an image (Content-Type {ctype or 'missing'})")
                    if (resp.content_length or 0) > _MAX_SNAPSHOT_BYTES:
                        raise CameraError(f"snapshot larger than {_MAX_SNAPSHOT_BYTES} bytes")
                    data = await resp.read()
                mono, wall = time.monotonic(), time.time()
                image = await decode_jpeg_async(data, self._executor)
                self.tracker.frame(mono, wall, image.shape[1], image.shape[0])
                yield self.make_frame(image, mono, wall)
                # Fixed rate from the request start; a slow camera is polled back to back.
                await asyncio.sleep(max(0.0, started + self.poll_interval_s - time.monotonic()))
