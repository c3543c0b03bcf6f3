"""The daemon's entry point for `type: gb28181`: the agent with the daemon's packet sources.

Plays take their packets from the camera fan-out (one RTSP session per
camera, shared). A `file` camera pointing at a video file is demuxed directly
(no camera session is involved). Until the fan-out is present, an RTSP
camera cannot be played: its INVITE is answered 503 rather than opening a
second session to the camera.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.runtime import Runtime
from edge.uplinks.gb28181.agent import Gb28181Agent
from edge.uplinks.gb28181.config import Gb28181UplinkConfig
from edge.uplinks.gb28181.source import AvFileSource, PacketSource

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

    def playable(self, camera_id: str) -> bool:
        return self._video_file(camera_id) is not None

    async def open(self, camera_id: str) -> PacketSource:
        path = self._video_file(camera_id)
        if path is None:
            raise LookupError(f"camera {camera_id} has no packet source")
        return AvFileSource(path)


class Gb28181Uplink(Gb28181Agent):
    def __init__(self, name: str, cfg: Gb28181UplinkConfig, rt: Runtime) -> None:
        sources = DaemonSources(rt)
        super().__init__(name, cfg, rt, sources=sources.open, playable=sources.playable)
