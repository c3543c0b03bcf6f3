"""From a `cameras:` entry to its source (via the kinds table), session and sampler."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import TYPE_CHECKING

from edge.camera.kinds import open_configured
from edge.camera.motion import MotionGate
from edge.camera.roi import Roi
from edge.camera.sampler import Sampler
from edge.camera.session import CameraSession
from edge.camera.source import FrameSource, SourceTiming

if TYPE_CHECKING:  # the camera layer needs the models' shape, not the config package
    from edge.config.cameras import AnyCamera


def open_source(
    cfg: AnyCamera,
    *,
    executor: Executor | None = None,
    max_output_fps: float | None = None,
) -> FrameSource:
    """The source for one camera. Nothing connects until `frames()` is iterated.

    `max_output_fps` thins delivery (skipping BGR conversion / JPEG decode of frames
    nobody will look at); pass the camera's `analysis_fps` when only the sampler reads.
    `executor` runs JPEG decodes (default: the loop's default executor).
    """
    timing = SourceTiming(
        open_timeout_s=cfg.open_timeout_s,
        read_timeout_s=cfg.read_timeout_s,
        reconnect_min_s=cfg.reconnect_min_s,
        reconnect_max_s=cfg.reconnect_max_s,
        max_output_fps=max_output_fps,
    )
    return open_configured(cfg, timing, executor)


def open_session(cfg: AnyCamera, *, executor: Executor | None = None) -> CameraSession:
    """The shared session of one camera: its source, thinned to the analysis rate. A
    replayed source (a file) with recognisers waits for the analysis to subscribe; a live
    camera, or a file nobody analyses, runs at once (its state is what a platform sees)."""
    # a falling-object rule needs every frame (a dropped object crosses a floor in 0.3 s)
    full_rate = any(r.type == "falling_object" for r in cfg.rules)
    fps = None if full_rate else cfg.analysis_fps
    source = open_source(cfg, executor=executor, max_output_fps=fps)
    wait = bool(cfg.pipelines) or full_rate
    return CameraSession(source, wait_for_consumer=source.on_demand and wait)


def make_sampler(cfg: AnyCamera) -> Sampler:
    """The sampler configured by the camera's analysis_fps, motion_gate and roi."""
    gate = cfg.motion_gate
    motion = (
        MotionGate(
            threshold=gate.threshold,
            min_area_pct=gate.min_area_pct,
            downscale_width_px=gate.downscale_width_px,
            hold_s=gate.hold_s,
            keepalive_s=gate.keepalive_s,
        )
        if gate.enabled
        else None
    )
    roi = Roi([p.points for p in cfg.roi], mask_outside=cfg.roi_mask_outside) if cfg.roi else None
    return Sampler(cfg.analysis_fps, motion=motion, roi=roi, queue_frames=cfg.queue_frames)
