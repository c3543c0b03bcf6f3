"""Camera sources (RTSP, HTTP MJPEG, HTTP snapshot, file), sampling, motion gate, ROI.

source = open_source(cfg)                # cfg: a `cameras:` entry
sampler = make_sampler(cfg)
task = asyncio.create_task(sampler.run(source.frames()))
sample = await sampler.get()             # Sample(frame, image, offset, ...)
source.state                             # CameraState snapshot for page/uplinks
"""

from edge.camera.errors import CameraAuthError, CameraError, CameraTimeout
from edge.camera.factory import make_sampler, open_source
from edge.camera.frame import Frame
from edge.camera.motion import MotionGate, MotionResult
from edge.camera.queues import DropOldestQueue
from edge.camera.roi import Roi
from edge.camera.sampler import Sample, Sampler, SamplerStats
from edge.camera.source import FrameSource, SourceTiming
from edge.camera.state import CameraState

__all__ = [
    "CameraAuthError",
    "CameraError",
    "CameraState",
    "CameraTimeout",
    "DropOldestQueue",
    "Frame",
    "FrameSource",
    "MotionGate",
    "MotionResult",
    "Roi",
    "Sample",
    "Sampler",
    "SamplerStats",
    "SourceTiming",
    "make_sampler",
    "open_source",
]
