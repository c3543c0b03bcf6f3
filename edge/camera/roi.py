"""Regions of interest: polygons in frame fractions, turned into a mask and a crop.

Recognisers get the bounding-box crop of the polygons (less to scan, fewer false
plates from parked cars) plus its offset, so they can report boxes in full-frame
coordinates. The mask is cached per resolution, since streams rarely change size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np

from edge.camera.frame import Image

Polygon = Sequence[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class RoiGeometry:
    mask: Image
    """Full-frame, 255 inside any polygon."""
    x0: int
    y0: int
    x1: int
    y1: int


class Roi:
    def __init__(self, polygons: Sequence[Polygon], *, mask_outside: bool = True) -> None:
        if not polygons:
            raise ValueError("an ROI needs at least one polygon")
        self.polygons = [list(p) for p in polygons]
        self.mask_outside = mask_outside
        self._cache: dict[tuple[int, int], RoiGeometry] = {}

    def geometry(self, width: int, height: int) -> RoiGeometry:
        key = (width, height)
        geo = self._cache.get(key)
        if geo is None:
            mask = np.zeros((height, width), np.uint8)
            pts = [
                np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in poly])
                .astype(np.int32)
                .reshape(-1, 1, 2)
                for poly in self.polygons
            ]
            cv2.fillPoly(mask, pts, 255)
            ys, xs = np.nonzero(mask)
            if len(xs) == 0:
                raise ValueError("the ROI polygons cover no pixel")
            geo = RoiGeometry(
                mask, int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
            )
            self._cache = {key: geo}
        return geo

    def crop(self, image: Image) -> tuple[Image, tuple[int, int]]:
        """The ROI's bounding box (pixels outside the polygons blacked out if configured)
        and the crop's top-left corner in the frame."""
        geo = self.geometry(image.shape[1], image.shape[0])
        crop = image[geo.y0 : geo.y1, geo.x0 : geo.x1]
        if self.mask_outside:
            m = geo.mask[geo.y0 : geo.y1, geo.x0 : geo.x1]
            crop = cast(Image, cv2.bitwise_and(crop, crop, mask=m))
        else:
            crop = crop.copy()
        return crop, (geo.x0, geo.y0)
