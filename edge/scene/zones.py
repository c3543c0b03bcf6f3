"""Point-in-polygon for zones drawn in frame pixels."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edge.vision.objects.detect import Box


class Polygon:
    def __init__(self, points: Sequence[tuple[float, float]]) -> None:
        self.points = np.asarray(points, dtype=np.float32).reshape(-1, 1, 2)
        x, y, w, h = cv2.boundingRect(self.points)
        self.bounds = (x, y, x + w, y + h)

    def contains(self, x: float, y: float) -> bool:
        return cv2.pointPolygonTest(self.points, (float(x), float(y)), False) >= 0

    def holds(self, box: Box) -> bool:
        """An object is in the zone when its box centre is: a lift door or a lane edge cuts
        boxes in half, and the centre is where the object mostly is."""
        return self.contains((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
