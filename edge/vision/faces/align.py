"""Face alignment: a similarity transform of 5 landmarks onto the embedder's template.

The template and padding come from the embedder's manifest entry, because each embedding
model was trained on chips cut a particular way (dlib: its mean face with 25 % padding,
ArcFace: its own 112x112 points and no padding). A similarity transform (rotation, uniform
scale, translation) keeps the face's proportions, which the embedding relies on.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from edge.vision.models import resize_image


def template_pixels(
    template: Sequence[Sequence[float]], padding: float, width: int, height: int
) -> npt.NDArray[np.float64]:
    """Template points (fractions of the unpadded face square) in chip pixels."""
    t = np.asarray(template, dtype=np.float64)
    out = (t + padding) / (1.0 + 2.0 * padding)
    out[:, 0] *= width
    out[:, 1] *= height
    return out


def similarity_transform(
    src: npt.NDArray[np.floating], dst: npt.NDArray[np.floating]
) -> npt.NDArray[np.float64]:
    """Least-squares 2x3 similarity matrix mapping src points onto dst (Umeyama, no flip)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[1, 1] = -1.0
    rot = u @ fix @ vt
    var_s = (s**2).sum() / len(src)
    scale = float(np.trace(np.diag(sig) @ fix) / var_s) if var_s > 0 else 1.0
    shift = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, shift[:, None]])


def align_face(
    image: npt.NDArray[np.uint8],
    landmarks: npt.NDArray[np.floating],
    template_px: npt.NDArray[np.float64],
    width: int,
    height: int,
) -> npt.NDArray[np.uint8]:
    """Cut the aligned chip out of a BGR image; out-of-image parts are black.

    A face much larger than the chip is first shrunk (Gaussian pyramid) around its
    footprint: bilinear sampling alone would alias (skip pixels) at strong downscaling.
    """
    matrix = similarity_transform(landmarks, template_px)
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if scale < 0.5:
        image, matrix = _shrink_around(image, matrix, scale * 2.0, width, height)
    chip = cv2.warpAffine(
        image,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return np.asarray(chip, dtype=np.uint8)


def _shrink_around(
    image: npt.NDArray[np.uint8],
    matrix: npt.NDArray[np.float64],
    factor: float,
    width: int,
    height: int,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64]]:
    """Crop the chip's footprint, shrink it by `factor` (anti-aliased), fix the matrix."""
    inv = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], float)
    src = corners @ inv.T
    h, w = image.shape[:2]
    x0 = int(max(0, np.floor(src[:, 0].min()) - 2))
    y0 = int(max(0, np.floor(src[:, 1].min()) - 2))
    x1 = int(min(w, np.ceil(src[:, 0].max()) + 2))
    y1 = int(min(h, np.ceil(src[:, 1].max()) + 2))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return image, matrix
    crop = image[y0:y1, x0:x1]
    nw, nh = max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor))
    small = resize_image(np.ascontiguousarray(crop), nw, nh)
    sx, sy = nw / (x1 - x0), nh / (y1 - y0)
    # Pixel centres: small(u, v) = image(x0 + (u + 0.5) / sx - 0.5, ...); compose that in.
    to_image = np.array(
        [[1 / sx, 0, x0 + 0.5 / sx - 0.5], [0, 1 / sy, y0 + 0.5 / sy - 0.5], [0, 0, 1]],
        dtype=np.float64,
    )
    return small, matrix @ to_image
