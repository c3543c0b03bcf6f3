"""RTSP against a real server (gst-rtsp-server streaming the sample images)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from edge.camera import CameraAuthError, CameraState, Frame, FrameSource, SourceTiming
from edge.camera.rtsp import RtspSource
from edge.sim.rtsp import RtspServer

WaitUntil = Callable[[Callable[[], bool], float, str], Awaitable[None]]

FAST = SourceTiming(open_timeout_s=8, read_timeout_s=2, reconnect_min_s=0.2, reconnect_max_s=0.5)


async def take(source: FrameSource, n: int) -> tuple[list[Frame], CameraState]:
    """The first `n` frames, and the state seen while the stream was still up."""
    frames: list[Frame] = []
    state = source.state
    async for frame in source.frames():
        frames.append(frame)
        if len(frames) >= n:
            state = source.state
            source.close()
    return frames, state


async def test_frames_and_state_from_a_live_stream(rtsp_server: RtspServer) -> None:
    source = RtspSource("gate-in", rtsp_server.url, FAST, probe_s=0.2)
    frames, state = await asyncio.wait_for(take(source, 20), 20)

    assert all(f.image.shape == (360, 640, 3) for f in frames)
    assert [f.seq for f in frames] == list(range(1, 21))
    monos = [f.mono for f in frames]
    assert monos == sorted(monos)
    assert state.online
    assert state.codec == "h264"
    assert state.resolution == "640x360"
    assert state.fps_nominal == pytest.approx(10, abs=0.5)
    assert 7.0 <= state.fps_received <= 13.0, state.fps_received
    assert state.frames_decoded >= 20
    assert state.first_frame_latency_s is not None and state.first_frame_latency_s < 5
    assert state.last_frame_wall is not None
    assert not source.state.online  # closed


async def test_dead_camera_goes_offline_and_comes_back(
    rtsp_server: RtspServer, wait_until: WaitUntil
) -> None:
    source = RtspSource("gate-in", rtsp_server.url, FAST, probe_s=0.2)
    seen = 0

    async def consume() -> None:
        nonlocal seen
        async for _ in source.frames():
            seen += 1

    task = asyncio.create_task(consume())
    try:
        await wait_until(lambda: source.state.online, 15, "the camera online")
        await rtsp_server.stop()  # SIGKILL: a power cut, no TEARDOWN
        await wait_until(lambda: not source.state.online, 5, "the camera offline")
        offline = source.state
        assert offline.last_error
        assert offline.fps_received == 0.0

        before = seen
        await rtsp_server.start()  # same port
        await wait_until(lambda: source.state.online and seen > before, 20, "a reconnect")
        state = source.state
        assert state.reconnects == 1
        assert state.connect_attempts >= 2
    finally:
        source.close()
        await asyncio.wait_for(task, 10)


async def test_silent_camera_is_detected_by_the_read_timeout() -> None:
    """A peer that accepts TCP but never answers (a hung camera) must not hang us. It needs
    no RTSP server (nor GStreamer): the peer is a socket that never speaks."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        await asyncio.Event().wait()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    timing = SourceTiming(open_timeout_s=1.0, read_timeout_s=1.0, reconnect_min_s=5)
    source = RtspSource("hung", f"rtsp://127.0.0.1:{port}/cam", timing)
    async with server:
        error = await asyncio.wait_for(source.first_error(), 10)
    assert error is not None
    assert "timed out" in str(error) or "no first frame" in str(error)
    assert not source.state.online


@pytest.mark.parametrize("auth", ["digest", "basic"])
async def test_credentials(
    stills_640: Path, gst_python: str, auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "p@ss:w0rd/x"
    server = RtspServer(
        stills_640,
        gop_frames=2,
        username="admin",
        password=password,
        auth=auth,
        python=gst_python,
    )
    async with server:
        good = RtspSource("c", server.url, FAST, username="admin", password=password)
        assert await asyncio.wait_for(good.first_error(), 15) is None
        assert good.state.resolution == "640x360"

        bad = RtspSource("c", server.url, FAST, username="admin", password="guess")
        error = await asyncio.wait_for(bad.first_error(), 15)
        assert isinstance(error, CameraAuthError)
        assert "401" in str(error) and "username/password" in str(error)
        assert bad.state.last_error == str(error)

        nobody = RtspSource("c", server.url, FAST)
        assert isinstance(await asyncio.wait_for(nobody.first_error(), 15), CameraAuthError)

    for text in [*caplog.messages, repr(good.state), repr(bad.state)]:
        assert password not in text and "p%40ss" not in text and "guess" not in text


async def test_720p_stream(stills_720p: Path, gst_python: str) -> None:
    async with RtspServer(stills_720p, fps=10, gop_frames=2, python=gst_python) as server:
        source = RtspSource("hd", server.url, FAST)
        frames, _ = await asyncio.wait_for(take(source, 3), 20)
    assert frames[-1].image.shape == (720, 1280, 3)
    assert source.state.resolution == "1280x720"


async def test_consumer_slower_than_camera_drops_oldest(
    rtsp_server: RtspServer, wait_until: WaitUntil
) -> None:
    """A stalled consumer must not grow memory or stall the decoder: frames are
    dropped (counted) and the next frame read is a fresh one."""
    source = RtspSource("slow", rtsp_server.url, FAST, probe_s=0.2)
    frames: AsyncIterator[Frame] = source.frames()
    try:
        first = await asyncio.wait_for(anext(frames), 15)
        decoded = source.state.frames_decoded
        await wait_until(
            lambda: source.state.frames_decoded >= decoded + 8, 10, "frames decoded meanwhile"
        )
        nxt = await asyncio.wait_for(anext(frames), 5)
        state = source.state
        assert state.frames_dropped >= 5
        assert nxt.seq - first.seq >= 6  # the stale ones were skipped
    finally:
        source.close()
        await frames.aclose()  # type: ignore[attr-defined]
