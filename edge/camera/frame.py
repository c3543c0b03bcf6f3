"""The decoded frame every source yields and every consumer reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded picture.

    `mono` (time.monotonic) orders frames and measures rates; `wall` (time.time) is
    what an event reports. Both are taken when the frame left the decoder, because a
    camera's own clock (the stream's pts) is often wrong and jumps on reconnect.
    """

    camera_id: str
    seq: int
    image: Image
    mono: float
    wall: float
    pts_s: float | None = None

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
