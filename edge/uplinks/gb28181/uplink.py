"""The daemon's entry point for `type: gb28181`: the agent with the daemon's packet sources.

Plays take their packets from the camera fan-out (`rt.cameras`: one session
per camera shared by analysis, live view and plays; a subscription starts on
a keyframe and drops to the next keyframe when the play falls behind). A
camera without an encoded stream is answered 503. A runtime without camera
sessions (the CLI probe, a bare test runtime) can still play a `file`
camera's video file, demuxed directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.runtime import Runtime
from edge.uplinks.gb28181.agent import Gb28181Agent
from edge.uplinks.gb28181.config import Gb28181UplinkConfig
from edge.uplinks.gb28181.source import AvFileSource, FanoutSource, PacketSource

FANOUT_QUEUE = 128  # packets: ~5 s at 25 fps before the play drops to the next keyframe
VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".h264", ".264", ".h265", ".265", ".ts", ".flv"}


class DaemonSources:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cameras = {c.id: c for c in rt.config.cameras}

    def _video_file(self, camera_id: str) -> Path | None:
        cam = self.cameras.get(camera_id)
        path: Any = getattr(cam, "path", None)
        if cam is None or cam.kind != "file" or path is None:
            return None
        path = Path(path)
        return path if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES else None

    def _session(self, camera_id: str) -> Any:
        cameras: Any = getattr(self.rt, "cameras", None)
        if cameras is None or camera_id not in cameras:
            return None
        session = cameras.session(camera_id)
        return session if getattr(session, "encoded", False) else None

    def playable(self, camera_id: str) -> bool:
        if getattr(self.rt, "cameras", None) is not None:
            return self._session(camera_id) is not None
        return self._video_file(camera_id) is not None

    async def open(self, camera_id: str) -> PacketSource:
        session = self._session(camera_id)
        if session is not None:
            return FanoutSource(
                session.subscribe_packets(maxsize=FANOUT_QUEUE, name=f"gb28181.{camera_id}")
            )
        path = self._video_file(camera_id)
        if path is None:
            raise LookupError(f"camera {camera_id} has no packet source")
        return AvFileSource(path)


class Gb28181Uplink(Gb28181Agent):
    def __init__(self, name: str, cfg: Gb28181UplinkConfig, rt: Runtime) -> None:
        sources = DaemonSources(rt)
        super().__init__(name, cfg, rt, sources=sources.open, playable=sources.playable)
