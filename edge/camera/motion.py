"""A cheap "did anything move" test, so a static scene costs no inference.

Frame differencing on a tiny grey copy (160 px wide by default): shrinking averages
away sensor noise and JPEG/H.264 shimmer, and keeps the test well under a millisecond
at 640x360. A frame passes when enough of the (ROI) area changed, for `hold_s` after
that (a car stopped at the barrier is not moving but still needs reading), and, if
configured, once every `keepalive_s` regardless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import cv2
import numpy as np

from edge.camera.frame import Image

Reason = Literal["first", "motion", "hold", "keepalive", "static"]


@dataclass(frozen=True, slots=True)
class MotionResult:
    passed: bool
    reason: Reason
    changed_pct: float


class MotionGate:
    def __init__(
        self,
        *,
        threshold: int = 25,
        min_area_pct: float = 0.5,
        downscale_width_px: int = 160,
        hold_s: float = 2.0,
        keepalive_s: float = 0.0,
    ) -> None:
        self.threshold = threshold
        self.min_area_pct = min_area_pct
        self.width = downscale_width_px
        self.hold_s = hold_s
        self.keepalive_s = keepalive_s
        self._previous: Image | None = None
        self._last_motion: float | None = None
        self._last_pass: float | None = None
        self._mask: Image | None = None
        self._mask_area = 0
        self._mask_source: Image | None = None

    def set_mask(self, mask: Image | None) -> None:
        """Only pixels where `mask` is non-zero count (full-resolution mask, e.g. the ROI)."""
        self._mask_source = mask
        self._mask = None

    def check(self, image: Image, mono: float) -> MotionResult:
        small = self._small(image)
        previous, self._previous = self._previous, small
        if previous is None or previous.shape != small.shape:
            return self._pass("first", 100.0, mono, motion=True)
        diff = cv2.absdiff(small, previous)
        _, changed = cv2.threshold(diff, self.threshold, 255, cv2.THRESH_BINARY)
        if self._mask is not None:
            changed = cv2.bitwise_and(changed, self._mask)
            area = self._mask_area
        else:
            area = changed.size
        pct = 100.0 * cv2.countNonZero(changed) / max(1, area)
        if pct >= self.min_area_pct:
            return self._pass("motion", pct, mono, motion=True)
        if self._last_motion is not None and mono - self._last_motion <= self.hold_s:
            return self._pass("hold", pct, mono)
        if (
            self.keepalive_s > 0
            and self._last_pass is not None
            and mono - self._last_pass >= self.keepalive_s
        ):
            return self._pass("keepalive", pct, mono)
        return MotionResult(False, "static", pct)

    def _pass(
        self, reason: Reason, pct: float, mono: float, *, motion: bool = False
    ) -> MotionResult:
        if motion:
            self._last_motion = mono
        self._last_pass = mono
        return MotionResult(True, reason, pct)

    def _small(self, image: Image) -> Image:
        h, w = image.shape[:2]
        sw = min(self.width, w)
        sh = max(1, round(h * sw / w))
        # Nearest-neighbour on the full frame is the cheap step; the blur on the tiny
        # copy then does the noise averaging that INTER_AREA would have done.
        small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_NEAREST)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        grey = cv2.GaussianBlur(grey, (5, 5), 0)
        if self._mask_source is not None and (self._mask is None or self._mask.shape != grey.shape):
            mask = cast(
                Image, cv2.resize(self._mask_source, (sw, sh), interpolation=cv2.INTER_NEAREST)
            )
            self._mask, self._mask_area = mask, int(np.count_nonzero(mask))
        return cast(Image, grey)
