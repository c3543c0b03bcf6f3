"""Camera sources (RTSP, HTTP MJPEG, HTTP snapshot, file), one shared session per
camera, sampling, motion gate, ROI.

    session = CameraSession(open_source(cfg, max_output_fps=cfg.analysis_fps))
    sampler = make_sampler(cfg)                       # edge.camera.factory
    session.subscribe_frames("analysis", sampler.offer)
    packets = session.subscribe_packets(64, "viewer")  # H.264/H.265, from a keyframe
    supervisor.spawn("camera.x", session.run)
    sample = await sampler.get()                      # Sample(frame, image, offset, ...)
    session.state                                     # CameraState for page/uplinks

This package root imports nothing heavy (no PyAV, OpenCV or aiohttp): the runtime holds
the sessions even on a gateway without cameras. Sources, the sampler and the kinds
table live in their modules (`edge.camera.kinds`, `edge.camera.factory`, ...).
"""

from edge.camera.errors import CameraAuthError, CameraError, CameraTimeout
from edge.camera.frame import Frame
from edge.camera.packets import Packet, StreamInfo
from edge.camera.queues import DropOldestQueue
from edge.camera.session import Cameras, CameraSession
from edge.camera.source import FrameSource, SourceTiming
from edge.camera.state import CameraState

__all__ = [
    "CameraAuthError",
    "CameraError",
    "CameraSession",
    "CameraState",
    "CameraTimeout",
    "Cameras",
    "DropOldestQueue",
    "Frame",
    "FrameSource",
    "Packet",
    "SourceTiming",
    "StreamInfo",
]
