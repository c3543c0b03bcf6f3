"""Shared by the GA/T 1400 tests (a uniquely named module: test folders share one namespace)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.app import Daemon
from edge.events import Event

REPO = Path(__file__).resolve().parents[2]
SHARED_IMAGES = Path(__file__).resolve().parents[2].parent / "shared" / "images"
GATEWAY_DEVICE = "32010600001200000001"  # type 120: 采集系统
APE = "32010600001190000009"  # type 119: the gate camera's APE ID

DaemonFactory = Callable[..., Awaitable[Daemon]]


def config_text(data_dir: Path, url: str, extra: str = "", password: str = "hik12345") -> str:
    return f"""
config_version: 1
site:
  name: Test Compound
  site_id: "32010600002160000001"
  gateway_id: "32010600001180000001"
  utc_offset: "+08:00"
storage:
  data_dir: {data_dir}
web:
  listen: "127.0.0.1:0"
logging:
  level: WARNING
cameras:
  - id: gate-in
    kind: file
    enabled: false
    path: {data_dir}
    ape_id: "{APE}"
uplinks:
  viid:
    type: gat1400
    url: "{url}"
    device_id: "{GATEWAY_DEVICE}"
    username: hik
    password: "{password}"
    connect_timeout_s: 2
    reconnect_initial_s: 0.05
    reconnect_max_s: 0.3
{extra}
"""


def jpeg(path: Path, width: int | None = None, height: int | None = None) -> bytes:
    img = cv2.imread(str(path))
    assert img is not None, f"cannot read {path}"
    if width and height:
        img = cv2.resize(img, (width, height))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return bytes(buf.tobytes())


def scene_jpeg(width: int = 640, height: int = 360) -> bytes:
    return jpeg(SHARED_IMAGES / "objects" / "coco_000000000036.jpg", width, height)


def plate_jpeg() -> bytes:
    return jpeg(next(iter(sorted((SHARED_IMAGES / "plates" / "crops").glob("*.jpg")))))


def face_jpeg() -> bytes:
    return jpeg(SHARED_IMAGES / "faces" / "deepface" / "img1.jpg", 160, 160)


def blank_jpeg(width: int, height: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((height, width, 3), 128, np.uint8))
    assert ok
    return bytes(buf.tobytes())


async def add_plate(d: Daemon, n: int = 0, source: str = "gate-in", **data: Any) -> Event:
    scene = await d.store.save_image(scene_jpeg(), "scene")
    crop = await d.store.save_image(plate_jpeg(), "plate_crop")
    body = {
        "camera": source,
        "plate": f"苏A{n:05d}",
        "colour": "blue",
        "plate_type": "blue",
        "confidence": 0.97,
        "box": [100.0, 200.0, 220.0, 240.0],
        **data,
    }
    return await d.store.add_event(Event("plate", source, body, (scene, crop)))


async def add_face(d: Daemon, source: str = "gate-in") -> Event:
    scene = await d.store.save_image(scene_jpeg(), "scene")
    crop = await d.store.save_image(face_jpeg(), "face_crop")
    body = {
        "camera": source,
        "match": {"result": "unknown"},
        "confidence": 0.91,
        "box": [10, 20, 110, 140],
    }
    return await d.store.add_event(Event("face", source, body, (crop, scene)))


async def backlog(d: Daemon, dest: str = "viid") -> int:
    stats = {o["dest"]: o for o in await d.store.outbox_stats()}
    return int(stats[dest]["backlog"])


async def wait_backlog(d: Daemon, n: int, timeout_s: float, dest: str = "viid") -> None:
    """Wait until the destination owes exactly `n` records (polling, no fixed sleep)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    while (got := await backlog(d, dest)) != n:
        if time.monotonic() > deadline:
            raise AssertionError(f"backlog of {dest} is {got}, expected {n}")
        await asyncio.sleep(0.05)
