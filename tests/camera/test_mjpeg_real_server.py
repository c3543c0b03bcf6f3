"""MJPEG from a real HTTP server stack, not from a server written in the test.

`test_http_sources.py` serves MJPEG and snapshots from an aiohttp app whose multipart
bytes the test writes itself (a fine peer for auth and fault cases, but our parser and
that writer were written by the same hands). Here the stream is made entirely by others:
FFmpeg's `mjpeg` encoder and `mpjpeg` muxer (the multipart format ffserver, many video
encoders and NVR "MJPEG push" outputs produce) served by Python's standard-library
`http.server`; the test only wires them together.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest

from edge.camera import Frame, SourceTiming
from edge.camera.mjpeg import MjpegSource
from edge.cli.main import main
from edge.sim.rtsp import read_bgr

FAST = SourceTiming(open_timeout_s=5, read_timeout_s=3, reconnect_min_s=0.1, reconnect_max_s=0.3)
FPS = 10


class FfmpegMjpegServer:
    """`http://127.0.0.1:<port>/video.mjpg`: the stills, JPEG-encoded and multipart-muxed
    by FFmpeg (via PyAV), one `mpjpeg` stream per client, at `FPS`."""

    def __init__(self, stills: list[Path]) -> None:
        self.stills = stills
        images = [img for p in stills if (img := read_bgr(p)) is not None]
        stop = threading.Event()
        self.stop = stop
        self.clients = 0
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server_self.clients += 1
                self.send_response(200)
                # the mpjpeg muxer's documented default boundary is "ffmpeg"
                self.send_header("Content-Type", "multipart/x-mixed-replace;boundary=ffmpeg")
                self.end_headers()
                try:
                    with av.open(self.wfile, "w", format="mpjpeg") as out:
                        stream = out.add_stream("mjpeg", rate=FPS)
                        height, width = images[0].shape[:2]
                        stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
                        i = 0
                        while not stop.wait(1 / FPS):  # the camera's frame clock
                            frame = av.VideoFrame.from_ndarray(images[i % len(images)], "bgr24")
                            out.mux(stream.encode(frame))
                            self.wfile.flush()
                            i += 1
                except (BrokenPipeError, ConnectionResetError, av.error.FFmpegError):
                    pass  # the client left

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mjpg"

    def __enter__(self) -> FfmpegMjpegServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server(stills_640: Path) -> Iterator[FfmpegMjpegServer]:
    with FfmpegMjpegServer(sorted(stills_640.glob("*.jpg"))[:4]) as srv:
        yield srv


async def test_frames_from_ffmpegs_mjpeg_stream(server: FfmpegMjpegServer) -> None:
    source = MjpegSource("lobby", server.url, FAST)
    frames: list[Frame] = []
    async with asyncio.timeout(20):
        async for frame in source.frames():
            frames.append(frame)
            if len(frames) >= 8:
                state = source.state
                source.close()
    assert all(f.image.shape == (360, 640, 3) for f in frames)
    assert [f.seq for f in frames] == list(range(1, 9))
    assert state.online and state.codec == "mjpeg"
    # the pictures are the stills (JPEG-compressed again): same scene, not noise
    first = read_bgr(server.stills[0])
    assert first is not None
    diffs = [float(abs(f.image.astype(int) - first.astype(int)).mean()) for f in frames[:4]]
    assert min(diffs) < 6.0, diffs
    assert server.clients == 1


async def test_probe_recognises_the_stream_as_mjpeg(
    server: FfmpegMjpegServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = tmp_path / "snap.jpg"
    code = await asyncio.to_thread(
        main, ["camera", "probe", server.url, "--frames", "5", "--snapshot", str(snap)]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "mjpeg" in out.out and "640x360" in out.out
    assert read_bgr(snap) is not None
