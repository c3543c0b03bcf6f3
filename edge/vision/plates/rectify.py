"""Perspective rectification of a detected plate from its four corners.

The output keeps the plate's own size (longest opposite sides) so small plates are not
up-sampled twice; readers resize to their own input afterwards. A small sideways margin (2 %
of the width per side) keeps a suffix such as 警, printed right at the plate edge, from being
clipped by corners that are a pixel or two short; wider or vertical margins let rivets and
frame edges in and cost more reads than they save (measured on the 12 scenes at three sizes).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edge.vision.image import BGRImage

F32 = npt.NDArray[np.float32]


def expand_quad(corners: F32, margin_x: float, margin_y: float) -> F32:
    """Push the TL, TR, BR, BL quad outwards by fractions of its width and height."""
    tl, tr, br, bl = corners.astype(np.float32)
    right = ((tr - tl) + (br - bl)) / 2
    down = ((bl - tl) + (br - tr)) / 2
    dx, dy = right * margin_x, down * margin_y
    return np.stack([tl - dx - dy, tr + dx - dy, br + dx + dy, bl - dx + dy]).astype(np.float32)


def rectify(bgr: BGRImage, corners: F32, margin_x: float = 0.0, margin_y: float = 0.0) -> BGRImage:
    """Warp the quad to an upright rectangle (height at least 8 px)."""
    quad = expand_quad(corners, margin_x, margin_y) if (margin_x or margin_y) else corners
    quad = quad.astype(np.float32)
    tl, tr, br, bl = quad
    w = max(float(np.linalg.norm(tr - tl)), float(np.linalg.norm(br - bl)))
    h = max(float(np.linalg.norm(bl - tl)), float(np.linalg.norm(br - tr)))
    w_i, h_i = max(8, round(w)), max(8, round(h))
    dst = np.array([[0, 0], [w_i, 0], [w_i, h_i], [0, h_i]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(quad, dst)
    out = cv2.warpPerspective(
        bgr, m, (w_i, h_i), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.ascontiguousarray(out)


def split_double_row(plate: BGRImage, top_fraction: float = 0.4) -> tuple[BGRImage, BGRImage]:
    """Top row (province + letter) and bottom row of a double-row plate."""
    h = plate.shape[0]
    line = max(1, min(h - 1, round(h * top_fraction)))
    return plate[:line], plate[line:]


def side_by_side(plate: BGRImage, top_fraction: float = 0.4) -> BGRImage:
    """Lay a double-row plate out as one text line: top row, scaled to the bottom's height,
    on the left of the bottom row.
    """
    top, bottom = split_double_row(plate, top_fraction)
    bh = bottom.shape[0]
    tw = max(1, round(top.shape[1] * bh / top.shape[0]))
    top_r = cv2.resize(top, (tw, bh), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(np.hstack([top_r, bottom]))
