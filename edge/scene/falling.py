"""高空抛物: a small blob falling down a still façade, found without a neural network.

Every frame of the camera (not the analysis sample rate: a dropped object crosses a
floor in a fraction of a second) is cut to the zone, scaled to `scale_px` wide and
grayscale, and a MOG2 background model marks what moves. Small blobs are chained into
trajectories by nearest neighbour; a trajectory of at least `min_frames` points whose
height fits y = ½·a·t² + v·t + y0 with a within `g_tolerance` of g (in pixels/s² through
`metres_per_px`), going down, with little sideways drift, is a falling object. A bird
or anything gliding sideways has no such acceleration and never matches.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.config.scene import FallingObjectRule
from edge.scene.rules import Raise
from edge.scene.zones import Polygon

G = 9.81
STRIP_FRAMES = 8
WARMUP_FRAMES = 5


@dataclass(slots=True)
class _Trajectory:
    points: list[tuple[float, float, float]] = field(default_factory=list)
    """(t, x, y) in zone-scaled pixels."""
    missed: int = 0


@dataclass(frozen=True, slots=True)
class Fit:
    accel_px_s2: float
    """Downward acceleration in full-frame pixels/s²."""
    drift_ratio: float
    """Sideways travel over downward travel."""
    residual_px: float


def fit(points: list[tuple[float, float, float]], scale: float) -> Fit:
    """Least-squares parabola through y(t) (and the sideways drift), in frame pixels."""
    t = np.array([p[0] for p in points]) - points[0][0]
    x = np.array([p[1] for p in points]) / scale
    y = np.array([p[2] for p in points]) / scale
    coef, res, *_ = np.polyfit(t, y, 2, full=True)
    fall = max(1e-6, float(y[-1] - y[0]))
    residual = float(np.sqrt(res[0] / len(t))) if len(res) else 0.0
    return Fit(2 * float(coef[0]), abs(float(x[-1] - x[0])) / fall, residual)


class FallingObjects:
    """One camera's falling-object detector; feed it every decoded frame in order."""

    def __init__(self, cfg: FallingObjectRule) -> None:
        self.cfg = cfg
        self.name = cfg.name or cfg.type
        zone = Polygon(cfg.zone.points)
        self.x1, self.y1, self.x2, self.y2 = zone.bounds
        self.scale = min(1.0, cfg.scale_px / max(1, self.x2 - self.x1))
        self.mask: np.ndarray | None = None
        self._points = zone.points
        self.bg = cv2.createBackgroundSubtractorMOG2(
            history=200, varThreshold=25, detectShadows=False
        )
        self.tracks: list[_Trajectory] = []
        self.strip: deque[np.ndarray] = deque(maxlen=STRIP_FRAMES)
        self.frames = 0
        self.last_raised: float | None = None
        self.g_px = G / cfg.metres_per_px

    def _roi(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        roi = frame[max(0, self.y1) : min(h, self.y2), max(0, self.x1) : min(w, self.x2)]
        if self.scale < 1.0:
            roi = cv2.resize(roi, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        if self.mask is None or self.mask.shape != roi.shape[:2]:
            pts = ((self._points - (self.x1, self.y1)) * self.scale).astype(np.int32)
            self.mask = np.zeros(roi.shape[:2], np.uint8)
            cv2.fillPoly(self.mask, [pts], 255)
        return roi

    def feed(self, frame: np.ndarray, ts: float) -> Raise | None:
        roi = self._roi(frame)
        gray = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY) if roi.ndim == 3 else roi
        fg = self.bg.apply(gray, learningRate=-1)
        self.frames += 1
        self.strip.append(roi)
        if self.frames <= WARMUP_FRAMES:
            return None
        assert self.mask is not None
        fg = cv2.bitwise_and(fg, self.mask)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        n, _, stats, centroids = cv2.connectedComponentsWithStats(fg)
        limit = self.cfg.max_blob_pct / 100 * fg.size
        blobs = [
            (float(centroids[i][0]), float(centroids[i][1]))
            for i in range(1, n)
            if 2 <= stats[i, cv2.CC_STAT_AREA] <= limit
        ]
        return self._follow(blobs, ts)

    def _follow(self, blobs: list[tuple[float, float]], ts: float) -> Raise | None:
        gate = max(8.0, 0.25 * self.mask.shape[0]) if self.mask is not None else 20.0
        free = list(blobs)
        for tr in self.tracks:
            _, lx, ly = tr.points[-1]
            best = min(free, key=lambda b: (b[0] - lx) ** 2 + (b[1] - ly) ** 2, default=None)
            if best is not None and ((best[0] - lx) ** 2 + (best[1] - ly) ** 2) ** 0.5 <= gate:
                tr.points.append((ts, *best))
                tr.missed = 0
                free.remove(best)
            else:
                tr.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= 1] + [
            _Trajectory([(ts, *b)]) for b in free
        ]
        for tr in self.tracks:
            if len(tr.points) >= self.cfg.min_frames:
                hit = self._judge(tr, ts)
                if hit is not None:
                    self.tracks.remove(tr)
                    return hit
            if len(tr.points) > 4 * self.cfg.min_frames:
                tr.points = tr.points[-2 * self.cfg.min_frames :]
        return None

    def _judge(self, tr: _Trajectory, ts: float) -> Raise | None:
        f = fit(tr.points[-4 * self.cfg.min_frames :], self.scale)
        tol = self.cfg.g_tolerance
        falls = tr.points[-1][2] > tr.points[0][2]
        if not (falls and abs(f.accel_px_s2 - self.g_px) <= tol * self.g_px):
            return None
        if f.drift_ratio > 0.5 or f.residual_px > 0.05 * self.g_px:
            return None
        if self.last_raised is not None and ts - self.last_raised < self.cfg.cooldown_s:
            return None
        self.last_raised = ts
        strip = self._strip(tr)
        first, last = tr.points[0], tr.points[-1]
        return Raise(
            self.name,
            self.cfg.type,
            f"高空抛物 falling object in {self.cfg.zone.name}: "
            f"{f.accel_px_s2 * self.cfg.metres_per_px:.1f} m/s² over {len(tr.points)} frames",
            None,
            {
                "rule": self.name,
                "type": self.cfg.type,
                "zone": self.cfg.zone.name,
                "frames": len(tr.points),
                "accel_m_s2": round(f.accel_px_s2 * self.cfg.metres_per_px, 2),
                "from_xy": [
                    round(self.x1 + first[1] / self.scale, 1),
                    round(self.y1 + first[2] / self.scale, 1),
                ],
                "to_xy": [
                    round(self.x1 + last[1] / self.scale, 1),
                    round(self.y1 + last[2] / self.scale, 1),
                ],
            },
            strip=strip,
        )

    def _strip(self, tr: _Trajectory) -> np.ndarray:
        """The last frames side by side with the fitted path drawn in: the evidence a guard
        reads at a glance (which window, which way it fell)."""
        frames = [
            f.copy() if f.ndim == 3 else cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) for f in self.strip
        ]
        pts = np.array([(p[1], p[2]) for p in tr.points], np.int32).reshape(-1, 1, 2)
        for f in frames:
            cv2.polylines(f, [pts], False, (0, 0, 255), 1)
        return np.hstack(frames)
