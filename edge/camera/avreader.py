"""PyAV demuxing and decoding on a dedicated thread.

Demuxing and decoding block (network reads, H.264 decode), so they never run on the
event loop: each connection gets one thread that reads the camera's packets, hands a
copy of each to the packet fan-out (live view, GB/T 28181: the original H.264, Annex B),
decodes them, converts the frames the analysis wants to BGR, and hands those over
through a bounded drop-oldest buffer. Decoding stays on the thread that owns the
container and codec context, as it always was: no FFmpeg object crosses threads.
PyAV's `timeout=(open, read)` interrupt callback bounds every blocking call, so a dead
camera ends the thread within the read timeout even when the TCP connection hangs.

The thread is joined before `stream_av` returns: a decoder thread still inside FFmpeg
while the interpreter shuts down is what crashed `edge camera probe` (exit 139) now and
then after it had printed its result.
"""

from __future__ import annotations

import asyncio
import itertools
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
from edge.camera.h26x import length_prefixed_to_annexb, nal_length_size, parameter_sets
from edge.camera.packets import Packet, StreamInfo
from edge.camera.queues import ThreadToLoopBuffer
from edge.camera.rate import RateGate
from edge.camera.state import StateTracker

MakeFrame = Callable[[Image, float, float, float | None], Frame]
PacketSink = Callable[[Packet], None]

# Codecs whose packets the fan-out hands out; others (MJPEG over RTSP) are decoded only.
FANOUT_CODECS = frozenset({"h264", "hevc"})


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
    packet_sink: PacketSink | None = None
    """Called on the thread with every packet (H.264/H.265 only); must not block."""
    camera_id: str = ""
    epoch: int = 0
    """Connection number, stamped on the StreamInfo (file loops keep one epoch)."""
    next_packet_seq: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)
    stop: threading.Event = field(default_factory=threading.Event)


async def stream_av(
    job: AvJob, camera_id: str, handoff_frames: int, on_drop: Callable[[int], None]
) -> AsyncGenerator[Frame, None]:
    """Decode `job` on a thread of its own and yield its frames on the loop.

    On exit the thread is told to stop and joined (off the loop): it notices `stop`
    within one packet, or within the read timeout when blocked on the network.
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
        await asyncio.shield(
            asyncio.to_thread(thread.join, job.read_timeout_s + job.open_timeout_s + 1.0)
        )


def run_av(job: AvJob, out: ThreadToLoopBuffer[Frame]) -> None:
    """Thread body: decode until stopped or broken; the last item put is an error."""
    clock = _PtsClock()
    try:
        while True:
            _decode_once(job, out, clock)
            if not job.loop or job.stop.is_set():
                break
        out.put(CameraError("stream ended"))
    except CameraError as exc:
        out.put(exc)
    except av.error.FFmpegError as exc:
        out.put(translate_av_error(exc, job.scrub))
    except Exception as exc:  # a bug or an odd stream: report it, scrubbed, not crash silently
        out.put(CameraError(f"{type(exc).__name__}: {job.scrub(str(exc))}"))


class _PtsClock:
    """Packet timestamps that keep increasing when a file loops, so a consumer muxing
    the stream (PS, RTP) sees one continuous stream rather than a jump back to zero."""

    def __init__(self) -> None:
        self.offset = 0
        self.end = 0
        self.stream: StreamInfo | None = None

    def next_pass(self) -> None:
        self.offset = self.end

    def shift(self, ts: int | None, duration: int) -> int | None:
        if ts is None:
            return None
        ts += self.offset
        self.end = max(self.end, ts + max(duration, 1))
        return ts


def _decode_once(job: AvJob, out: ThreadToLoopBuffer[Frame], clock: _PtsClock) -> None:
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
        sink = job.packet_sink if ctx.name in FANOUT_CODECS else None
        extradata = bytes(ctx.extradata or b"")
        length_size = nal_length_size(extradata, ctx.name)
        if sink is not None and clock.stream is None:
            clock.stream = StreamInfo(
                camera_id=job.camera_id,
                codec=ctx.name,
                width=ctx.width,
                height=ctx.height,
                time_base=stream.time_base or Fraction(1, 90_000),
                fps=float(rate) if rate else None,
                parameter_sets=parameter_sets(extradata, ctx.name),
                epoch=job.epoch,
            )
        clock.next_pass()
        thin = RateGate(job.max_output_fps)
        period = 0.0
        if job.realtime:
            period = 1.0 / (job.pace_fps or (float(rate) if rate else 25.0))
        next_due = time.monotonic()
        for packet in container.demux(stream):
            if job.stop.is_set():
                return
            if period and packet.size:
                next_due += period
                delay = next_due - time.monotonic()
                if delay > 0 and job.stop.wait(delay):
                    return
            if sink is not None and clock.stream is not None and packet.size:
                sink(_copy(packet, clock, length_size, job))
            for av_frame in packet.decode():
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


def _copy(packet: av.Packet, clock: _PtsClock, length_size: int | None, job: AvJob) -> Packet:
    """A plain-Python copy of a demuxed packet, Annex B, loop-continuous timestamps."""
    data = bytes(packet)
    if length_size is not None:
        data = length_prefixed_to_annexb(data, length_size)
    duration = int(packet.duration or 0)
    assert clock.stream is not None
    return Packet(
        stream=clock.stream,
        data=data,
        pts=clock.shift(packet.pts, duration),
        dts=clock.shift(packet.dts, duration),
        keyframe=bool(packet.is_keyframe),
        seq=job.next_packet_seq(),
        mono=time.monotonic(),
        wall=time.time(),
    )


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
