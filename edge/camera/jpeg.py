"""JPEG decoding off the event loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import cast

import cv2
import numpy as np

from edge.camera.errors import CameraError
from edge.camera.frame import Image


def decode_jpeg(data: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise CameraError(f"not a decodable image ({len(data)} bytes)")
    return cast(Image, image)


async def decode_jpeg_async(data: bytes, executor: Executor | None = None) -> Image:
    """A 1080p JPEG takes ~10 ms to decode: far too long for the loop."""
    return await asyncio.get_running_loop().run_in_executor(executor, decode_jpeg, data)
