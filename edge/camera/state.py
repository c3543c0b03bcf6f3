"""What is known about a camera right now: the health the page shows and the video
metadata the uplinks send (GB/T 28181 device status, GA/T 1400 device info).

`StateTracker` is written from the decoder thread and from the event loop, so it
takes a lock; readers get an immutable `CameraState` snapshot.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

_FPS_WINDOW_S = 5.0


@dataclass(frozen=True, slots=True)
class CameraState:
    camera_id: str
    kind: str
    url: str
    """Redacted: never carries credentials."""
    online: bool
    width: int | None
    height: int | None
    codec: str | None
    fps_nominal: float | None
    """What the stream declares (SDP / container), if anything."""
    fps_received: float
    """Measured over the last few seconds."""
    last_frame_wall: float | None
    last_frame_age_s: float | None
    online_since_wall: float | None
    first_frame_latency_s: float | None
    """From the start of the last connection attempt to its first frame."""
    connect_attempts: int
    reconnects: int
    """Times the stream came back after having been online."""
    frames_decoded: int
    frames_dropped: int
    """Decoded frames discarded because the consumer was slower (oldest first)."""
    last_error: str | None
    last_error_wall: float | None

    @property
    def resolution(self) -> str | None:
        return f"{self.width}x{self.height}" if self.width and self.height else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["resolution"] = self.resolution
        return data


class StateTracker:
    def __init__(self, camera_id: str, kind: str, url: str) -> None:
        self._lock = threading.Lock()
        self.camera_id = camera_id
        self.kind = kind
        self.url = url
        self._online = False
        self._width: int | None = None
        self._height: int | None = None
        self._codec: str | None = None
        self._fps_nominal: float | None = None
        self._last_mono: float | None = None
        self._last_wall: float | None = None
        self._online_since: float | None = None
        self._attempt_mono: float | None = None
        self._first_latency: float | None = None
        self._attempts = 0
        self._sessions = 0
        self._decoded = 0
        self._dropped = 0
        self._last_error: str | None = None
        self._last_error_wall: float | None = None
        self._times: deque[float] = deque(maxlen=512)

    def connecting(self) -> None:
        with self._lock:
            self._attempts += 1
            self._attempt_mono = time.monotonic()

    def stream_info(
        self,
        *,
        codec: str | None = None,
        width: int | None = None,
        height: int | None = None,
        fps_nominal: float | None = None,
    ) -> None:
        with self._lock:
            if codec is not None:
                self._codec = codec
            if width and height:
                self._width, self._height = width, height
            if fps_nominal:
                self._fps_nominal = fps_nominal

    def frame(self, mono: float, wall: float, width: int | None, height: int | None) -> None:
        """One frame received (called for every frame, whether or not it is delivered;
        size None when a frame was skipped undecoded)."""
        with self._lock:
            self._decoded += 1
            if width and height:
                self._width, self._height = width, height
            self._last_mono, self._last_wall = mono, wall
            self._times.append(mono)
            if not self._online:
                self._online = True
                self._online_since = wall
                self._sessions += 1
                if self._attempt_mono is not None:
                    self._first_latency = mono - self._attempt_mono

    def dropped(self, n: int = 1) -> None:
        with self._lock:
            self._dropped += n

    def offline(self, error: str | None) -> bool:
        """Record the loss of the stream; True if it had been online (worth a log line)."""
        with self._lock:
            was = self._online
            self._online = False
            self._online_since = None
            self._times.clear()
            if error is not None:
                self._last_error = error
                self._last_error_wall = time.time()
            return was

    @property
    def online(self) -> bool:
        return self._online

    def snapshot(self) -> CameraState:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._times if now - t <= _FPS_WINDOW_S]
            fps = 0.0
            if self._online and len(recent) >= 2 and recent[-1] > recent[0]:
                fps = (len(recent) - 1) / (recent[-1] - recent[0])
            return CameraState(
                camera_id=self.camera_id,
                kind=self.kind,
                url=self.url,
                online=self._online,
                width=self._width,
                height=self._height,
                codec=self._codec,
                fps_nominal=self._fps_nominal,
                fps_received=round(fps, 2),
                last_frame_wall=self._last_wall,
                last_frame_age_s=None if self._last_mono is None else now - self._last_mono,
                online_since_wall=self._online_since,
                first_frame_latency_s=self._first_latency,
                connect_attempts=self._attempts,
                reconnects=max(0, self._sessions - 1),
                frames_decoded=self._decoded,
                frames_dropped=self._dropped,
                last_error=self._last_error,
                last_error_wall=self._last_error_wall,
            )
