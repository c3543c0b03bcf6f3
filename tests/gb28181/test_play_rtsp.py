"""A play of a real RTSP camera (the demo's GStreamer simulator) through the shared session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from gb_helpers import CHANNELS, DEVICE, DaemonFactory
from gb_media import decode_ps
from gb_platform import Platform

from edge.sim import rtsp as sim


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"missing prerequisite under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
async def camera(tmp_path: Path) -> AsyncIterator[sim.RtspServer]:
    python = sim.system_python()
    if python is None:
        _missing(
            sim.unavailable_reason() or "gst-rtsp-server (python3-gi, gir1.2-gst-rtsp-server-1.0)"
        )
    frames = tmp_path / "frames"
    frames.mkdir()
    sim.build_frames(frames, (640, 360), sim.source_images([sim.DEFAULT_IMAGE_DIRS[0]])[:3])
    server = sim.RtspServer(frames, fps=10, hold_s=0.5, gop_frames=10, python=python)
    async with server:
        yield server


@pytest.mark.slow
@pytest.mark.parametrize("media", ["udp", "tcp-passive"])
async def test_rtsp_camera_is_played_without_a_second_session(
    udp_platform: Platform, daemon: DaemonFactory, camera: sim.RtspServer, media: str
) -> None:
    p = udp_platform
    cams = (
        "  - id: gate\n    kind: rtsp\n    read_timeout_s: 1\n"
        f"    url: {camera.url}\n    name: 北门\n"
        f'    gb_channel_id: "{CHANNELS[0]}"'
    )
    d = await daemon(p, cams)
    await p.until(lambda: p.registered(DEVICE), 15, "registration")
    await p.until(lambda: d.rt.cameras.session("gate").state.online, 20, "the camera online")
    play = await p.invite(DEVICE, CHANNELS[0], media)  # type: ignore[arg-type]
    assert play.answer is not None and play.answer.status == 200
    await p.until(lambda: play.frames_marked >= 15, 20, "frames from the camera")
    frames = decode_ps(bytes(play.ps))
    assert len(frames) >= 10 and frames[0].shape == (360, 640, 3)
    assert camera.sessions_created == 1  # analysis and the play share one RTSP session
    assert (await p.bye(play)).status == 200
    # The camera dies: the platform hears of it as a catalog change.
    await camera.stop()

    def off_notified() -> bool:
        return any(
            i.get("Event") == "OFF" and i["DeviceID"] == CHANNELS[0]
            for m in p.docs("Catalog", "Notify")
            for i in m.doc.items("DeviceList")
        )

    await p.until(off_notified, 20, "an OFF catalog notify")
    assert p.violations == []
