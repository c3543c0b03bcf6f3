"""A real RTSP camera for tests and the demo, built from still images.

The server is GStreamer's gst-rtsp-server (the same library many NVR test rigs use),
run as a subprocess of the system Python because PyGObject lives there and not in the
virtualenv. The pipeline turns a folder of JPEGs into a live H.264 stream, each image
held for `hold_s`, looped forever, paced by the clock like a real camera, with optional
basic or digest authentication. FFmpeg's `-rtsp_flags listen` cannot serve readers and
mediamtx is not in Debian, so this is the peer that installs from apt alone.

Debian packages: python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly.

    python -m edge.sim.rtsp --size 1280x720 --port 8554 --username demo --password demo
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import cast

import cv2
import numpy as np

from edge.camera.frame import Image

_SHARED = Path(os.environ.get("EDGE_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared"))
DEFAULT_IMAGE_DIRS = (
    _SHARED / "images" / "plates" / "scenes",
    _SHARED / "images" / "faces" / "deepface",
)
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
_SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")

# Runs under the system python3. Config comes in the environment (not argv, so a
# password is not on the process list); the bound port goes to stdout.
_GST_SERVER = r"""
import json, os, signal, sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

Gst.init(None)
cfg = json.loads(os.environ["EDGE_SIM_RTSP"])
encoders = [
    ("x264enc", "tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max={gop}"),
    ("openh264enc", "gop-size={gop} complexity=low"),
]
encoder = next(
    (name + " " + props.format(gop=cfg["gop"]) for name, props in encoders
     if Gst.ElementFactory.find(name)),
    None,
)
if encoder is None:
    sys.exit("no H.264 encoder: install gstreamer1.0-plugins-ugly (x264enc)")
launch = (
    '( multifilesrc location="{frames}/%05d.jpg" index=0 loop=true '
    'caps="image/jpeg,framerate=(fraction){image_rate}" '
    "! jpegdec ! videoconvert ! videorate ! video/x-raw,format=I420,framerate={fps}/1 "
    "! identity sync=true ! {encoder} ! h264parse "
    "! rtph264pay name=pay0 pt=96 config-interval=1 )"
).format(encoder=encoder, **cfg)
server = GstRtspServer.RTSPServer()
server.set_address(cfg["host"])
server.set_service(str(cfg["port"]))
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(launch)
factory.set_shared(True)
if cfg.get("username"):
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "viewer")
    if cfg["auth"] == "digest":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(cfg["username"], cfg["password"], token)
    else:
        basic = GstRtspServer.RTSPAuth.make_basic(cfg["username"], cfg["password"])
        auth.add_basic(basic, token)
    server.set_auth(auth)
    factory.add_role_from_structure(Gst.Structure.new_from_string(
        "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
    ))
server.get_mount_points().add_factory(cfg["path"], factory)


# One line per RTSP connection and per RTSP session (SETUP), so a test can count them.
def on_client(_server, client):
    print("CLIENT", flush=True)
    client.connect("new-session", lambda _c, _s: print("SESSION", flush=True))
    client.connect("closed", lambda _c: print("CLOSED", flush=True))


server.connect("client-connected", on_client)
if not server.attach(None):
    sys.exit("cannot listen on %s:%s" % (cfg["host"], cfg["port"]))
port = server.get_bound_port()
print("READY", port if port > 0 else cfg["port"], flush=True)
loop = GLib.MainLoop()
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
loop.run()
"""


def system_python() -> str | None:
    """The interpreter that has PyGObject and gst-rtsp-server, or None."""
    for candidate in (*_SYSTEM_PYTHONS, shutil.which("python3")):
        if not candidate or not Path(candidate).exists():
            continue
        probe = subprocess.run(
            [
                candidate,
                "-c",
                "import gi; gi.require_version('GstRtspServer', '1.0'); "
                "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
                "assert Gst.ElementFactory.find('x264enc') or "
                "Gst.ElementFactory.find('openh264enc'), 'no H.264 encoder'",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if probe.returncode == 0:
            return candidate
    return None


def unavailable_reason() -> str | None:
    """Why the RTSP peer cannot run here (for pytest.skip), or None when it can."""
    if system_python() is None:
        return (
            "RTSP test peer needs GStreamer's RTSP server for the system python3: apt-get "
            "install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base "
            "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly"
        )
    return None


def source_images(dirs: Sequence[Path] = DEFAULT_IMAGE_DIRS) -> list[Path]:
    files = [
        p
        for d in dirs
        if d.is_dir()
        for p in sorted(d.iterdir())
        if p.suffix.lower() in _IMAGE_SUFFIXES
    ]
    if not files:
        raise FileNotFoundError(f"no images in {', '.join(map(str, dirs))}")
    return files


def read_bgr(path: Path) -> Image | None:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else cast(Image, image)


def letterbox(image: Image, width: int, height: int) -> Image:
    """Scale to fit `width`x`height` keeping the aspect ratio; pad with black."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((height, width, 3), np.uint8)
    x, y = (width - nw) // 2, (height - nh) // 2
    out[y : y + nh, x : x + nw] = resized
    return out


def build_frames(
    out_dir: Path,
    size: tuple[int, int] = (640, 360),
    images: Sequence[Path] | None = None,
) -> list[Path]:
    """Write the stills as `00000.jpg`, ... at exactly `size` (the server's input)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = list(images if images is not None else source_images())
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # cv2 drops the GIL
        stills = list(pool.map(lambda p: _fitted(p, size), sources))
    written: list[Path] = []
    for image in stills:
        if image is None:
            continue
        dst = out_dir / f"{len(written):05d}.jpg"
        cv2.imwrite(str(dst), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        written.append(dst)
    if not written:
        raise FileNotFoundError("none of the images could be read")
    return written


def _fitted(path: Path, size: tuple[int, int]) -> Image | None:
    # Photos are up to 4600 px: let libjpeg decode at 1/4 or 1/2 scale when that is
    # still larger than the target, which is several times faster than a full decode.
    for flag in (cv2.IMREAD_REDUCED_COLOR_4, cv2.IMREAD_REDUCED_COLOR_2, cv2.IMREAD_COLOR):
        image = cv2.imread(str(path), flag)
        if image is None:
            return None
        h, w = image.shape[:2]
        if flag == cv2.IMREAD_COLOR or min(size[0] / w, size[1] / h) <= 1.0:
            return letterbox(cast(Image, image), *size)
    return None


def build_video(
    out_path: Path,
    frames: Sequence[Path],
    *,
    fps: int = 10,
    hold_frames: int = 5,
    crf: int | None = None,
) -> Path:
    """An H.264 MP4 of the stills (each held `hold_frames`, one keyframe a second), for
    the file source. `crf` (x264's quality, lower is better) defaults to x264's 23."""
    import av  # local: only the demo and tests make videos

    first = read_bgr(frames[0])
    if first is None:
        raise FileNotFoundError(frames[0])
    height, width = first.shape[:2]
    with av.open(str(out_path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(fps)}
        if crf is not None:
            stream.options = {**stream.options, "crf": str(crf)}
        for path in frames:
            image = read_bgr(path)
            if image is None or image.shape[:2] != (height, width):
                continue
            for _ in range(hold_frames):
                frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out_path


class RtspServer:
    """One simulated camera at `rtsp://127.0.0.1:<port>/<path>`.

    `stop()` kills it like a power cut (SIGKILL, no RTSP TEARDOWN); `start()` again
    brings it back on the same port, so a client's reconnect logic can be exercised.
    """

    def __init__(
        self,
        frames_dir: Path,
        *,
        fps: int = 10,
        hold_s: float = 0.5,
        gop_frames: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/cam",
        username: str | None = None,
        password: str | None = None,
        auth: str = "digest",
        python: str | None = None,
    ) -> None:
        if auth not in ("basic", "digest"):
            raise ValueError("auth must be basic or digest")
        self.frames_dir = frames_dir
        self.fps = fps
        self.hold_s = hold_s
        # A client's first picture waits for a keyframe: short GOPs make tests fast;
        # real cameras use 1-4 s.
        self.gop_frames = gop_frames or fps
        self.host = host
        self.port = port
        self.path = path if path.startswith("/") else "/" + path
        self.username = username
        self.password = password
        self.auth = auth
        self._python = python
        self._proc: asyncio.subprocess.Process | None = None
        self._events: asyncio.Task[None] | None = None
        self.clients_connected = 0
        """RTSP (TCP) connections accepted since the server was created."""
        self.clients_closed = 0
        self.sessions_created = 0
        """RTSP sessions (SETUP) since the server was created: one per stream reader."""
        # Server stderr, read back only to explain a failed start; lives as long as self.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115

    @property
    def url(self) -> str:
        """Without credentials (give them to the client separately)."""
        return f"rtsp://{self.host}:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self, timeout_s: float = 20.0) -> None:
        if self.running:
            return
        python = self._python or system_python()
        if python is None:
            raise RuntimeError(unavailable_reason())
        image_rate = _fraction(1.0 / self.hold_s)
        cfg = {
            "frames": str(self.frames_dir),
            "fps": self.fps,
            "gop": self.gop_frames,
            "image_rate": image_rate,
            "host": self.host,
            "port": self.port,
            "path": self.path,
            "username": self.username,
            "password": self.password,
            "auth": self.auth,
        }
        env = {**os.environ, "EDGE_SIM_RTSP": json.dumps(cfg)}
        self._proc = await asyncio.create_subprocess_exec(
            python,
            "-c",
            _GST_SERVER,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
        )
        assert self._proc.stdout is not None
        try:
            async with asyncio.timeout(timeout_s):
                line = await self._proc.stdout.readline()
        except TimeoutError:
            await self.stop()
            raise RuntimeError(f"RTSP server did not start: {self._stderr()}") from None
        if not line.startswith(b"READY"):
            await self.stop()
            raise RuntimeError(f"RTSP server failed: {self._stderr()}")
        self.port = int(line.split()[1])
        self._events = asyncio.create_task(self._count(self._proc.stdout))

    @property
    def clients_open(self) -> int:
        return self.clients_connected - self.clients_closed

    async def _count(self, stdout: asyncio.StreamReader) -> None:
        """Read the server's event lines (also keeps its stdout pipe from filling up)."""
        while line := await stdout.readline():
            word = line.strip()
            if word == b"CLIENT":
                self.clients_connected += 1
            elif word == b"SESSION":
                self.sessions_created += 1
            elif word == b"CLOSED":
                self.clients_closed += 1

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        events, self._events = self._events, None
        if events is not None:
            events.cancel()
            await asyncio.gather(events, return_exceptions=True)
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.wait()

    async def __aenter__(self) -> RtspServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _stderr(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()[-2000:]


def _fraction(rate: float) -> str:
    """GStreamer wants framerates as fractions."""
    from fractions import Fraction

    f = Fraction(rate).limit_denominator(1000)
    return f"{f.numerator}/{f.denominator}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve still images as an RTSP camera.")
    parser.add_argument("--size", default="640x360", help="WIDTHxHEIGHT (default 640x360)")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--hold-s", type=float, default=2.0, help="seconds per image")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--auth", choices=("basic", "digest"), default="digest")
    parser.add_argument("--images", type=Path, nargs="*", help="image folders")
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        parser.error("--size must be WIDTHxHEIGHT")
    return asyncio.run(_serve(args, (width, height)))


async def _serve(args: argparse.Namespace, size: tuple[int, int]) -> int:
    with tempfile.TemporaryDirectory(prefix="edge-rtsp-") as tmp:
        images = source_images(args.images) if args.images else None
        frames = build_frames(Path(tmp), size, images)
        server = RtspServer(
            Path(tmp),
            fps=args.fps,
            hold_s=args.hold_s,
            host=args.host,
            port=args.port,
            path=args.path,
            username=args.username,
            password=args.password,
            auth=args.auth,
        )
        async with server:
            print(f"serving {len(frames)} images at {server.url} ({size[0]}x{size[1]})")
            sys.stdout.flush()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()  # then the server is stopped with us, not orphaned
    return 0


if __name__ == "__main__":
    sys.exit(main())
