"""Image decode and letterbox helpers shared by the face and plate pipelines.

Decoding goes through `np.fromfile` + `cv2.imdecode` because plate test images are named by
their plate text (`皖A12345.jpg`) and `cv2.imread` is not reliable with non-ASCII paths on
every platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

BGRImage = npt.NDArray[np.uint8]


class ImageDecodeError(ValueError):
    """The bytes or file are not an image OpenCV can decode."""


def decode_image(source: str | Path | bytes) -> BGRImage:
    """Decode a file path or encoded bytes into a BGR uint8 image."""
    if isinstance(source, bytes):
        buf = np.frombuffer(source, dtype=np.uint8)
        where = f"{len(source)} bytes"
    else:
        try:
            buf = np.fromfile(str(source), dtype=np.uint8)
        except OSError as exc:
            raise ImageDecodeError(f"{source}: {exc}") from exc
        where = str(source)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if img is None:
        raise ImageDecodeError(f"{where}: not a decodable image")
    return np.ascontiguousarray(img)


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a frame was fitted into a square model input, to map detections back."""

    scale: float
    left: int
    top: int

    def to_frame(self, xy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Map model-space x, y pairs (last axis even-length, x first) to frame pixels."""
        out = xy.astype(np.float32, copy=True)
        out[..., 0::2] = (out[..., 0::2] - self.left) / self.scale
        out[..., 1::2] = (out[..., 1::2] - self.top) / self.scale
        return out


def letterbox(
    img: BGRImage,
    size: int,
    *,
    centred: bool = True,
    pad_value: int = 0,
    interpolation: int = cv2.INTER_LINEAR,
) -> tuple[BGRImage, Letterbox]:
    """Fit `img` into a `size`×`size` square keeping the aspect ratio.

    INTER_LINEAR by default: 1080p to 320 takes 0.3 ms against 4-5 ms for INTER_AREA, and
    the plate detector found the same plates on the test scenes either way (the reader
    works on the full-resolution frame, so aliasing in the detector input costs little).
    """
    h, w = img.shape[:2]
    scale = min(size / h, size / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(img, (new_w, new_h), interpolation=interpolation) if scale != 1 else img
    left = (size - new_w) // 2 if centred else 0
    top = (size - new_h) // 2 if centred else 0
    canvas = np.full((size, size, 3), pad_value, dtype=np.uint8)
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, Letterbox(scale=scale, left=left, top=top)
