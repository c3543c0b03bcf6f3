"""Sampler, motion gate, ROI and the drop-oldest queue on real frames."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import pytest

from edge.camera import DropOldestQueue, Frame
from edge.camera.factory import make_sampler
from edge.camera.frame import Image
from edge.camera.motion import MotionGate
from edge.camera.rate import RateGate
from edge.camera.roi import Roi
from edge.camera.sampler import Sampler
from edge.config.cameras import RtspCamera


@pytest.fixture
def scene(stills_640: Path) -> Image:
    return cast(Image, cv2.imread(str(sorted(stills_640.glob("*.jpg"))[0])))


def frame(image: Image, mono: float, seq: int = 1) -> Frame:
    return Frame("cam", seq, image, mono, 1.7e9 + mono)


def with_box(image: Image, x: int, y: int, size: int = 80) -> Image:
    """The scene with a bright 'car' moved to (x, y)."""
    out = image.copy()
    cv2.rectangle(out, (x, y), (x + size, y + size // 2), (255, 255, 255), -1)
    return out


def test_motion_gate_passes_change_and_drops_static(scene: Image) -> None:
    gate = MotionGate(hold_s=0.0)
    assert gate.check(scene, 0.0).reason == "first"
    noisy = cast(Image, cv2.add(scene, np.full_like(scene, 3)))  # sensor noise, shimmer
    static = gate.check(noisy, 0.25)
    assert not static.passed and static.reason == "static"
    moved = gate.check(with_box(noisy, 300, 200), 0.5)
    assert moved.passed and moved.reason == "motion"
    assert moved.changed_pct > 0.5


def test_motion_gate_holds_after_motion_then_keepalive(scene: Image) -> None:
    gate = MotionGate(hold_s=1.0, keepalive_s=5.0)
    gate.check(scene, 0.0)
    assert gate.check(with_box(scene, 100, 100), 0.25).reason == "motion"
    # The car stopped at the barrier: no change, but still read for hold_s.
    stopped = with_box(scene, 100, 100)
    assert gate.check(stopped, 0.5).reason == "hold"
    assert gate.check(stopped, 1.2).reason == "hold"
    assert not gate.check(stopped, 1.5).passed
    assert gate.check(stopped, 6.3).reason == "keepalive"


def test_motion_outside_the_roi_is_ignored(scene: Image) -> None:
    left_half = Roi([[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]])
    gate = MotionGate(hold_s=0.0)
    gate.set_mask(left_half.geometry(640, 360).mask)
    gate.check(scene, 0.0)
    assert not gate.check(with_box(scene, 500, 200), 0.25).passed  # right half
    assert gate.check(with_box(scene, 100, 200), 0.5).passed  # left half


def test_motion_gate_is_cheap(scene: Image) -> None:
    gate = MotionGate()
    moved = with_box(scene, 10, 10)
    n = 200
    started = time.perf_counter()
    for i in range(n):
        gate.check(scene if i % 2 else moved, i * 0.25)
    per_frame_ms = (time.perf_counter() - started) / n * 1000
    assert per_frame_ms < 1.0, per_frame_ms


def test_roi_crop_and_offset(scene: Image) -> None:
    triangle = [(0.5, 0.5), (1.0, 0.5), (1.0, 1.0)]  # upper-right half of the lower-right
    grey = np.full_like(scene, 200)
    crop, offset = Roi([triangle]).crop(grey)
    assert offset == (320, 180)
    assert crop.shape[0] == 180 and crop.shape[1] == 320
    assert crop[0, -1].tolist() == [200, 200, 200]  # inside: kept
    assert crop[-1, 0].tolist() == [0, 0, 0]  # outside the polygon: blacked out
    unmasked, _ = Roi([triangle], mask_outside=False).crop(scene)
    assert np.array_equal(unmasked, scene[180:360, 320:640])


def test_rate_gate_keeps_the_average_rate() -> None:
    gate = RateGate(4.0)
    passed = [t / 10 for t in range(100) if gate.passes(t / 10)]  # 10 fps for 10 s
    assert len(passed) == 40
    gate = RateGate(4.0)
    assert gate.passes(0.0) and not gate.passes(0.1)
    assert gate.passes(100.0) and not gate.passes(100.1)  # after a stall: no burst


def test_sampler_rate_motion_roi_and_queue(scene: Image) -> None:
    cfg = RtspCamera.model_validate(
        {
            "id": "gate",
            "kind": "rtsp",
            "url": "rtsp://cam/1",
            "analysis_fps": 5,
            "queue_frames": 2,
            "motion_gate": {"hold_s": 0},
            "roi": [{"points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}],
        }
    )
    sampler = make_sampler(cfg)
    t = 0.0
    frames = []
    for i in range(25):  # 25 fps for 1 s, the box moving in the left half
        frames.append(frame(with_box(scene, 10 + 8 * i, 100), t, i + 1))
        t += 0.04
    for i in range(25):  # then 1 s static
        frames.append(frame(with_box(scene, 10 + 8 * 24, 100), t, 26 + i))
        t += 0.04
    for f in frames:
        sampler.offer(f)
    stats = sampler.stats
    assert stats.frames_in == 50
    assert stats.rate_skipped == 40  # 5 of 25 per second pass the rate
    # 0.0-0.8 s moving, 1.0 s still differs from 0.8 s, then 4 static samples.
    assert stats.queued == 6 and stats.motion_skipped == 4
    assert stats.queue_dropped == 4  # queue of 2: the four oldest went
    newest = [sampler.queue.get_nowait(), sampler.queue.get_nowait()]
    assert [s.frame.seq for s in newest] == [21, 26]
    height, width = newest[0].image.shape[:2]
    assert height == 360 and width in (320, 321)  # the left half (edge inclusive)
    assert newest[0].offset == (0, 0)


def test_sampler_without_gate_passes_by_rate_only(scene: Image) -> None:
    sampler = Sampler(2.0, queue_frames=10)
    for i in range(10):
        sampler.offer(frame(scene, i * 0.1, i))
    assert sampler.stats.queued == 2
    assert sampler.queue.get_nowait().reason is None


async def test_drop_oldest_queue_counts() -> None:
    q: DropOldestQueue[int] = DropOldestQueue(3)
    kept = [q.put_nowait(i) for i in range(5)]
    assert kept == [True, True, True, False, False]
    assert q.dropped == 2
    assert [await q.get(), await q.get(), await q.get()] == [2, 3, 4]
    assert q.qsize() == 0


def test_rate_gate_passes_every_frame_of_a_stream_at_the_target_rate_despite_jitter() -> None:
    # a 2 fps camera analysed at 2 fps: decode timestamps wobble by a few ms either way
    jitter = [0.0, 0.012, -0.004, 0.03, 0.001, -0.008, 0.02, 0.0]
    gate = RateGate(2.0)
    times = [i * 0.5 + jitter[i % len(jitter)] for i in range(40)]
    assert all(gate.passes(t) for t in times)
