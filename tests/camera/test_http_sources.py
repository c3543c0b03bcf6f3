"""MJPEG and snapshot sources against a local aiohttp camera (digest/basic auth).

The camera here is written in this test: aiohttp serves it over real sockets with real
JPEGs, but the multipart framing and the digest challenge are this file's own bytes, so
a misreading of the format shared by this writer and our parser would pass. It is the
peer for auth and fault cases; `test_mjpeg_real_server.py` checks the parser against a
stream made by FFmpeg's muxer and served by another HTTP stack."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from edge.camera import CameraAuthError, Frame, FrameSource, SourceTiming
from edge.camera.mjpeg import MjpegSource
from edge.camera.snapshot import SnapshotSource

WaitUntil = Callable[[Callable[[], bool], float, str], Awaitable[None]]
FAST = SourceTiming(open_timeout_s=3, read_timeout_s=1, reconnect_min_s=0.1, reconnect_max_s=0.3)
USER, PASSWORD, REALM, NONCE = "admin", "Hik:v1s!on", "IP Camera", "5f1d2c3b4a"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _digest_ok(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Digest "):
        return False
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', header[7:]))
    ha1 = _md5(f"{p.get('username')}:{REALM}:{PASSWORD}")
    ha2 = _md5(f"{request.method}:{p.get('uri')}")
    expect = _md5(f"{ha1}:{p.get('nonce')}:{p.get('nc')}:{p.get('cnonce')}:{p.get('qop')}:{ha2}")
    return p.get("username") == USER and p.get("response") == expect


def _basic_ok(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    return header == aiohttp.encode_basic_auth(USER, PASSWORD)


class Camera:
    """An HTTP camera written for the tests: real sockets and JPEGs from the sample images,
    hand-written multipart framing and digest challenge."""

    def __init__(self, jpegs: list[bytes]) -> None:
        self.jpegs = jpegs
        self.requests = 0
        self.runner: web.AppRunner | None = None
        self.port = 0
        app = web.Application()
        app.router.add_get("/mjpeg", self.mjpeg)
        app.router.add_get("/mjpeg-bare", self.mjpeg_bare)
        app.router.add_get("/snapshot", self.snapshot_digest)
        app.router.add_get("/snapshot-basic", self.snapshot_basic)
        app.router.add_get("/text", self.text)
        self.app = app

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _stream(
        self, request: web.Request, ctype: str, head: bytes, lengths: bool
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": ctype})
        await resp.prepare(request)
        i = 0
        while True:
            jpeg = self.jpegs[i % len(self.jpegs)]
            length = f"Content-Length: {len(jpeg)}\r\n".encode() if lengths else b""
            await resp.write(
                head + b"Content-Type: image/jpeg\r\n" + length + b"\r\n" + jpeg + b"\r\n"
            )
            i += 1
            await asyncio.sleep(0.02)  # the camera's own frame clock (50 fps)

    async def mjpeg(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(
            request, "multipart/x-mixed-replace; boundary=myboundary", b"--myboundary\r\n", True
        )

    async def mjpeg_bare(self, request: web.Request) -> web.StreamResponse:
        # No boundary parameter, no Content-Length, bare boundary line: cheap encoders.
        return await self._stream(request, "multipart/x-mixed-replace", b"--frame\r\n", False)

    async def snapshot_digest(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not _digest_ok(request):
            challenge = f'Digest realm="{REALM}", nonce="{NONCE}", qop="auth", algorithm=MD5'
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        return web.Response(
            body=self.jpegs[self.requests % len(self.jpegs)], content_type="image/jpeg"
        )

    async def snapshot_basic(self, request: web.Request) -> web.Response:
        if not _basic_ok(request):
            return web.Response(status=401, headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})
        return web.Response(body=self.jpegs[0], content_type="image/jpeg")

    async def text(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")


@pytest.fixture
def jpegs(stills_640: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(stills_640.glob("*.jpg"))[:8]]


@pytest.fixture
async def camera(jpegs: list[bytes]) -> AsyncIterator[Camera]:
    cam = Camera(jpegs)
    await cam.start()
    yield cam
    await cam.stop()


async def take(source: FrameSource, n: int) -> list[Frame]:
    frames: list[Frame] = []
    async for frame in source.frames():
        frames.append(frame)
        if len(frames) >= n:
            source.close()
    return frames


@pytest.mark.parametrize("path", ["/mjpeg", "/mjpeg-bare"])
async def test_mjpeg_stream(camera: Camera, path: str) -> None:
    source = MjpegSource("m", camera.url(path), FAST)
    frames = await asyncio.wait_for(take(source, 12), 10)
    assert all(f.image.shape == (360, 640, 3) for f in frames)
    # Each part decoded whole: consecutive frames are the consecutive stills.
    assert frames[0].image.mean() != frames[1].image.mean()
    assert source.tracker.snapshot().codec == "mjpeg"
    assert source.state.frames_decoded >= 12


async def test_mjpeg_thinning_skips_decodes(camera: Camera) -> None:
    timing = SourceTiming(open_timeout_s=3, read_timeout_s=1, max_output_fps=5)
    source = MjpegSource("m", camera.url("/mjpeg"), timing)
    frames = await asyncio.wait_for(take(source, 4), 10)
    span = frames[-1].mono - frames[0].mono
    assert span >= 0.5  # 4 frames at <= 5 fps, from a 50 fps camera
    assert source.state.frames_decoded > len(frames) * 3


async def test_mjpeg_rejects_non_stream(camera: Camera) -> None:
    source = MjpegSource("m", camera.url("/text"), FAST)
    error = await source.first_error()
    assert error is not None and "not an MJPEG stream" in str(error)


async def test_snapshot_with_digest(camera: Camera, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    source = SnapshotSource(
        "s", camera.url("/snapshot"), FAST, username=USER, password=PASSWORD, poll_interval_s=0.05
    )
    frames = await asyncio.wait_for(take(source, 3), 10)
    assert [f.image.shape for f in frames] == [(360, 640, 3)] * 3
    bad = SnapshotSource("s", camera.url("/snapshot"), FAST, username=USER, password="nope")
    error = await bad.first_error()
    assert isinstance(error, CameraAuthError)
    assert "401" in str(error)
    assert all(PASSWORD not in m for m in caplog.messages)


async def test_snapshot_falls_back_to_basic_when_asked(camera: Camera) -> None:
    source = SnapshotSource(
        "s",
        camera.url("/snapshot-basic"),
        FAST,
        username=USER,
        password=PASSWORD,
        poll_interval_s=0.05,
    )
    frames = await asyncio.wait_for(take(source, 2), 10)
    assert frames[0].image.shape == (360, 640, 3)
    assert source.state.connect_attempts == 1  # no reconnect needed for the switch


async def test_snapshot_camera_outage(camera: Camera, wait_until: WaitUntil) -> None:
    source = SnapshotSource(
        "s", camera.url("/snapshot"), FAST, username=USER, password=PASSWORD, poll_interval_s=0.05
    )
    seen = 0

    async def consume() -> None:
        nonlocal seen
        async for _ in source.frames():
            seen += 1

    task = asyncio.create_task(consume())
    try:
        await wait_until(lambda: source.state.online, 5, "online")
        await camera.stop()
        await wait_until(lambda: not source.state.online, 5, "offline")
        assert "connection failed" in (source.state.last_error or "")
        before = seen
        await camera.start()
        await wait_until(lambda: source.state.online and seen > before, 5, "back online")
        assert source.state.reconnects == 1
    finally:
        source.close()
        await asyncio.wait_for(task, 5)
