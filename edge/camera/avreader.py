"""PyAV decoding on a dedicated thread.

`container.decode` blocks (network reads, H.264 decode), so it never runs on the event
loop: each connection gets one thread that decodes, converts the frames the consumer
wants to BGR, and hands them over through a bounded drop-oldest buffer. PyAV's
`timeout=(open, read)` interrupt callback bounds every blocking call, so a dead camera
ends the thread within the read timeout even when the TCP connection hangs.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import cast

import av
import av.error

from edge.camera.errors import CameraAuthError, CameraError, CameraTimeout
from edge.camera.frame import Frame, Image
from edge.camera.queues import ThreadToLoopBuffer
from edge.camera.rate import RateGate
from edge.camera.state import StateTracker

MakeFrame = Callable[[Image, float, float, float | None], Frame]


@dataclass
class AvJob:
    url: str
    options: dict[str, str]
    open_timeout_s: float
    read_timeout_s: float
    tracker: StateTracker
    make_frame: MakeFrame
    scrub: Callable[[str], str]
    max_output_fps: float | None = None
    realtime: bool = False
    """Files: play at `pace_fps` (or the file's own rate) instead of decoder speed."""
    pace_fps: float | None = None
    loop: bool = False
    stop: threading.Event = field(default_factory=threading.Event)


async def stream_av(
    job: AvJob, camera_id: str, handoff_frames: int, on_drop: Callable[[int], None]
) -> AsyncGenerator[Frame, None]:
    """Decode `job` on a thread of its own and yield its frames on the loop.

    The thread notices `stop` within one frame or one read timeout; joining it here would
    block the loop, so it is left to finish on its own.
    """
    buffer: ThreadToLoopBuffer[Frame] = ThreadToLoopBuffer(
        asyncio.get_running_loop(), handoff_frames, on_drop=on_drop
    )
    thread = threading.Thread(
        target=run_av, args=(job, buffer), name=f"camera-{camera_id}", daemon=True
    )
    thread.start()
    try:
        while True:
            yield await buffer.get()
    finally:
        job.stop.set()


def run_av(job: AvJob, out: ThreadToLoopBuffer[Frame]) -> None:
    """Thread body: decode until stopped or broken; the last item put is an error."""
    try:
        while True:
            _decode_once(job, out)
            if not job.loop or job.stop.is_set():
                break
        out.put(CameraError("stream ended"))
    except CameraError as exc:
        out.put(exc)
    except av.error.FFmpegError as exc:
        out.put(translate_av_error(exc, job.scrub))
    except Exception as exc:  # a bug or an odd stream: report it, scrubbed, not crash silently
        out.put(CameraError(f"{type(exc).__name__}: {job.scrub(str(exc))}"))


def _decode_once(job: AvJob, out: ThreadToLoopBuffer[Frame]) -> None:
    container = av.open(
        job.url,
        options=job.options,
        timeout=(job.open_timeout_s, job.read_timeout_s),
    )
    try:
        if not container.streams.video:
            raise CameraError("no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        job.tracker.stream_info(
            codec=ctx.name,
            width=ctx.width,
            height=ctx.height,
            fps_nominal=float(rate) if rate else None,
        )
        thin = RateGate(job.max_output_fps)
        period = 0.0
        if job.realtime:
            period = 1.0 / (job.pace_fps or (float(rate) if rate else 25.0))
        next_due = time.monotonic()
        for av_frame in container.decode(stream):
            if job.stop.is_set():
                return
            if period:
                next_due += period
                delay = next_due - time.monotonic()
                if delay > 0 and job.stop.wait(delay):
                    return
            mono, wall = time.monotonic(), time.time()
            if not thin.passes(mono):
                job.tracker.frame(mono, wall, None, None)
                continue
            image = cast(Image, av_frame.to_ndarray(format="bgr24"))
            job.tracker.frame(mono, wall, int(image.shape[1]), int(image.shape[0]))
            pts = _seconds(av_frame.pts, av_frame.time_base)
            if not out.put(job.make_frame(image, mono, wall, pts)):
                return
    finally:
        container.close()


def _seconds(pts: int | None, time_base: Fraction | None) -> float | None:
    if pts is None or time_base is None:
        return None
    return float(pts * time_base)


def translate_av_error(exc: av.error.FFmpegError, scrub: Callable[[str], str]) -> CameraError:
    """A clear, credential-free message for the errors installers actually meet."""
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return CameraAuthError("401 Unauthorized: the camera refused the username/password")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return CameraError("404 Not Found: check the stream path in the url")
    if isinstance(exc, av.error.ConnectionRefusedError):
        return CameraError("connection refused: nothing listening at that address and port")
    if isinstance(exc, av.error.ExitError | av.error.TimeoutError):
        return CameraTimeout("timed out waiting for the camera")
    if isinstance(exc, av.error.EOFError):
        return CameraError("the camera closed the stream")
    text = scrub(getattr(exc, "strerror", None) or str(exc))
    return CameraError(f"{type(exc).__name__}: {text}")
