"""One session per camera, shared by every consumer.

A camera is opened once (one RTSP session, one file reader). Its demux thread hands
each encoded packet to the packet fan-out (live view, GB/T 28181 plays: the original
H.264/H.265, see `fanout.py` for the drop policy) and decodes for the analysis, whose
frames go to the frame consumers on the loop (the sampler: rate, motion gate, ROI, its
own drop-oldest queue). Adding a consumer never opens a second connection.

    session = rt.cameras.session("gate-north")
    frames = session.subscribe_frames("analysis", sampler.offer)   # called on the loop
    with session.packets(64, "gb28181:play-1") as packets:
        async for packet in packets: ...                             # starts on a keyframe
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from edge.camera.errors import CameraError
from edge.camera.fanout import NoPacketsError, PacketFanout, PacketSubscription
from edge.camera.frame import Frame
from edge.camera.packets import StreamInfo
from edge.camera.source import FrameSource
from edge.camera.state import CameraState

log = logging.getLogger(__name__)

FrameConsumer = Callable[[Frame], object]


class FrameSubscription:
    """A frame consumer's membership: `close()` to stop receiving frames."""

    def __init__(self, name: str, fn: FrameConsumer, on_close: Callable[[str], None]) -> None:
        self.name = name
        self.fn = fn
        self.frames = 0
        self.errors = 0
        self._on_close = on_close

    def close(self) -> None:
        self._on_close(self.name)


class CameraSession:
    def __init__(self, source: FrameSource, *, wait_for_consumer: bool = False) -> None:
        """`wait_for_consumer`: open only once someone subscribed (a file camera whose
        analysis first loads its models plays its scenes from the start, not into the void).
        """
        self.source = source
        self.wait_for_consumer = wait_for_consumer
        self.camera_id = source.camera_id
        self.fanout = PacketFanout(source.camera_id)
        self._frames: dict[str, FrameSubscription] = {}
        self._running = False
        self._consumer = asyncio.Event()

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def encoded(self) -> bool:
        """Whether packets can be subscribed (H.264/H.265 kinds)."""
        return self.source.encoded

    @property
    def state(self) -> CameraState:
        return self.source.state

    @property
    def stream(self) -> StreamInfo | None:
        """The encoded stream seen last (codec, size, SPS/PPS); None before a packet."""
        return self.fanout.stream

    @property
    def connections(self) -> int:
        """Connection attempts so far (one per reconnect, never one per consumer)."""
        return self.source.state.connect_attempts

    def subscribe_frames(self, name: str, fn: FrameConsumer) -> FrameSubscription:
        """Call `fn(frame)` on the loop for every decoded frame (at the camera's analysis
        rate). `fn` must be quick and not block: the sampler queues and returns."""
        if name in self._frames:
            raise ValueError(f"frame consumer {name!r} already subscribed to {self.camera_id}")
        sub = FrameSubscription(name, fn, self._drop_frames)
        self._frames[name] = sub
        self._consumer.set()
        return sub

    def _drop_frames(self, name: str) -> None:
        self._frames.pop(name, None)

    def subscribe_packets(self, maxsize: int = 128, name: str = "packets") -> PacketSubscription:
        """The camera's encoded packets from the latest keyframe on; see `fanout.py`."""
        if not self.encoded:
            raise NoPacketsError(
                f"camera {self.camera_id} ({self.kind}) has no H.264/H.265 stream to share"
            )
        self._consumer.set()
        return self.fanout.subscribe(name, maxsize)

    @contextmanager
    def packets(self, maxsize: int = 128, name: str = "packets") -> Iterator[PacketSubscription]:
        """`subscribe_packets` that unsubscribes on exit."""
        sub = self.subscribe_packets(maxsize, name)
        try:
            yield sub
        finally:
            sub.close()

    async def run(self) -> None:
        """The session's supervised task: connect, reconnect, fan out, until cancelled."""
        if self._running:
            raise CameraError(f"camera {self.camera_id}: session already running")
        self._running = True
        if self.wait_for_consumer:
            await self._consumer.wait()
        self.fanout.bind(asyncio.get_running_loop())
        if self.encoded:
            self.source.packet_sink = self.fanout.put
        try:
            async for frame in self.source.frames():
                for sub in list(self._frames.values()):
                    sub.frames += 1
                    try:
                        sub.fn(frame)
                    except Exception:
                        sub.errors += 1
                        if sub.errors == 1:
                            log.exception(
                                "camera %s: frame consumer %s failed", self.camera_id, sub.name
                            )
        finally:
            self.source.packet_sink = None
            self._running = False

    def close(self) -> None:
        """Stop the session; every packet subscription's iteration ends."""
        self.source.close()
        self.fanout.close()

    def health(self) -> dict[str, Any]:
        fan = self.fanout.stats()
        stream = self.stream
        return {
            "kind": self.kind,
            "encoded": self.encoded,
            "connections": self.connections,
            "codec": stream.codec if stream else None,
            "parameter_sets_out_of_band": bool(stream and stream.parameter_sets),
            "frame_consumers": {
                s.name: {"frames": s.frames, "errors": s.errors} for s in self._frames.values()
            },
            "packets_in": fan["packets_in"],
            "packet_handoff_dropped": fan["handoff_dropped"],
            "packet_consumers": fan["consumers"],
        }


class UnknownCamera(KeyError):
    pass


class Cameras:
    """The daemon's camera sessions by camera id (`rt.cameras`)."""

    def __init__(self) -> None:
        self._sessions: dict[str, CameraSession] = {}

    def add(self, session: CameraSession) -> None:
        if session.camera_id in self._sessions:
            raise ValueError(f"camera {session.camera_id} already has a session")
        self._sessions[session.camera_id] = session

    def session(self, camera_id: str) -> CameraSession:
        try:
            return self._sessions[camera_id]
        except KeyError:
            raise UnknownCamera(camera_id) from None

    def __contains__(self, camera_id: object) -> bool:
        return camera_id in self._sessions

    def __iter__(self) -> Iterator[CameraSession]:
        return iter(self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)

    def ids(self) -> list[str]:
        return list(self._sessions)
