"""A camera tile plays live over WebRTC in Debian's chromium, from the camera's own packets.

The camera is an MP4 file of High-profile H.264 whose SPS/PPS are only out of band (avcC), as
many real cameras deliver them; the gateway must put them before each IDR and send the
packets as they are (no decode, no encode per viewer).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from console_browser import login, shoot
from webauth import MINIMAL, PASSWORDS, with_users

from edge.app import Daemon
from edge.config import parse_config

pytestmark = pytest.mark.slow


def high_profile_mp4(path: Path, frames: int = 60, fps: int = 10) -> None:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = 640, 360
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "profile": "high", "g": "10", "bf": "0"}
        for i in range(frames):
            img = np.zeros((360, 640, 3), np.uint8)
            img[:, : (i * 10) % 640] = (40, 160, 220)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.fixture
async def camera_console(tmp_path: Path) -> AsyncIterator[tuple[Daemon, str]]:
    video = tmp_path / "cam.mp4"
    high_profile_mp4(video)
    text = with_users(MINIMAL.format(data_dir=tmp_path / "data")) + (
        f"cameras:\n  - {{id: cam1, name: 东门摄像机, kind: file, path: {video}, fps: 10}}\n"
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    yield d, f"http://127.0.0.1:{d.web.port}"
    await d.stop()


async def test_a_tile_opens_live_video_that_advances(
    browser: Any,
    camera_console: tuple[Daemon, str],
) -> None:
    d, url = camera_console
    session = d.rt.cameras.session("cam1")
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await ctx.new_page()
    await login(page, url, "zhang", PASSWORDS["zhang"])
    await page.wait_for_url(url + "/")
    tile = page.locator("#cameras .tile", has_text="东门摄像机")
    await tile.wait_for()
    assert session.fanout.subscriptions == [] or all(
        not s.name.startswith("webrtc") for s in session.fanout.subscriptions
    )  # nobody watches: nothing is read for live video
    await tile.click()
    video = page.locator("#viewer-video")
    await page.wait_for_function(
        "() => { const v = document.getElementById('viewer-video');"
        " return v.videoWidth > 0 && v.currentTime > 0.5; }",
        timeout=20000,
    )
    first = await video.evaluate("v => v.currentTime")
    await page.wait_for_function(
        f"() => document.getElementById('viewer-video').currentTime > {first} + 1",
        timeout=10000,
    )
    box = await video.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    assert await video.evaluate("v => v.videoWidth") == 640
    await shoot(page, "camera-live")
    assert any(s.name.startswith("webrtc.zhang") for s in session.fanout.subscriptions)
    await page.click("#viewer-close")
    await page.wait_for_function("() => document.getElementById('viewer').hidden")
    await ctx.close()
    # The peer is gone: its subscription closes and nothing more is read or sent for it.
    deadline = time.monotonic() + 15
    while any(s.name.startswith("webrtc") for s in session.fanout.subscriptions):
        assert time.monotonic() < deadline, "the viewer's packet subscription stayed open"
        await asyncio.sleep(0.1)
