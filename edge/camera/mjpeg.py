"""HTTP MJPEG cameras (multipart/x-mixed-replace), parsed as bytes arrive."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from concurrent.futures import Executor

from edge.camera.errors import CameraError
from edge.camera.frame import Frame
from edge.camera.http import HttpCamera
from edge.camera.jpeg import decode_jpeg_async
from edge.camera.mjpeg_parser import MjpegParseError, MjpegParser
from edge.camera.rate import RateGate
from edge.camera.source import FrameSource, SourceTiming

_READ_CHUNK = 64 * 1024


class MjpegSource(FrameSource):
    kind = "mjpeg"

    def __init__(
        self,
        camera_id: str,
        url: str,
        timing: SourceTiming | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(camera_id, url, timing, secrets=(password, username))
        self._http = HttpCamera(
            url,
            username,
            password,
            open_timeout_s=self.open_timeout_s,
            read_timeout_s=self.read_timeout_s,
        )
        self._executor = executor

    async def _session(self) -> AsyncGenerator[Frame, None]:
        thin = RateGate(self.max_output_fps)
        async with self._http.session() as session, self._http.get(session) as resp:
            ctype = resp.headers.get("Content-Type", "")
            if not ctype.lower().startswith("multipart/"):
                raise CameraError(f"not an MJPEG stream (Content-Type {ctype or 'missing'})")
            try:
                boundary = _boundary(ctype)
                first = b""
                if boundary is None:
                    # No boundary parameter: the stream's first line is the boundary.
                    first = await resp.content.readline()
                    boundary = first.decode("latin-1").strip()
                parser = MjpegParser(boundary)
                parser.feed(first)
                self.tracker.stream_info(codec="mjpeg")
                while True:
                    chunk = await resp.content.read(_READ_CHUNK)
                    if not chunk:
                        raise CameraError("the camera closed the stream")
                    for jpeg in parser.feed(chunk):
                        mono, wall = time.monotonic(), time.time()
                        if not thin.passes(mono):
                            self.tracker.frame(mono, wall, None, None)
                            continue
                        image = await decode_jpeg_async(jpeg, self._executor)
                        self.tracker.frame(mono, wall, image.shape[1], image.shape[0])
                        yield self.make_frame(image, mono, wall)
            except MjpegParseError as exc:
                raise CameraError(f"bad MJPEG stream: {exc}") from None


def _boundary(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"')
    return None
