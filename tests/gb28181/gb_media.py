"""Real H.264 for the media tests: stills from ../shared encoded by libx264 (PyAV).

Two shapes, as cameras deliver them: Annex B with in-band SPS/PPS (what
FFmpeg's RTSP client yields) and MP4-style length-prefixed packets with the
SPS/PPS only in `extradata` (what the muxer must inject before each IDR).
And the reference demuxer: FFmpeg's own `mpeg` (PS) demuxer via PyAV.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SCENES = SHARED / "images" / "plates" / "scenes"


@dataclass(frozen=True)
class Pkt:
    data: bytes
    pts: int  # 90 kHz
    keyframe: bool


@dataclass
class Clip:
    packets: list[Pkt]
    extradata: bytes
    width: int
    height: int


def stills(size: tuple[int, int], count: int) -> list[np.ndarray]:
    paths = sorted(SCENES.glob("*.jpg"))[:count]
    if not paths:
        raise RuntimeError(f"no images under {SCENES}")
    out = []
    for path in paths:
        img = cv2.imread(str(path))
        out.append(cv2.resize(img, size))
    return out


def encode(
    size: tuple[int, int] = (320, 240),
    frames: int = 20,
    fps: int = 10,
    gop: int = 10,
    container: str = "h264",
    images: int = 4,
    codec: str = "libx264",
) -> Clip:
    """Encode `frames` frames (each still held a few frames) and demux them back."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        _encode_stills(out, codec, size, frames, fps, gop, images)
    buf.seek(0)
    packets: list[Pkt] = []
    with av.open(buf, "r", format=container) as inp:
        vs = inp.streams.video[0]
        extradata = bytes(vs.codec_context.extradata or b"")
        for i, packet in enumerate(inp.demux(vs)):
            if packet.size == 0:
                continue
            pts = packet.pts if packet.pts is not None else i
            tb = packet.time_base or Fraction(1, fps)
            pts90 = i * 90000 // fps if container == "h264" else int(pts * tb * 90000)
            packets.append(Pkt(bytes(packet), pts90, bool(packet.is_keyframe)))
    return Clip(packets, extradata, size[0], size[1])


def decode_ps(ps: bytes) -> list[np.ndarray]:
    """Frames FFmpeg's PS demuxer and H.264 decoder get out of `ps`."""
    frames: list[np.ndarray] = []
    with av.open(io.BytesIO(ps), "r", format="mpeg") as inp:
        if not inp.streams.video:
            return frames
        vs = inp.streams.video[0]
        for packet in inp.demux(vs):
            try:
                for frame in packet.decode():
                    frames.append(frame.to_ndarray(format="bgr24"))
            except av.error.InvalidDataError:
                continue
    return frames


def ps_codec(ps: bytes) -> str | None:
    with av.open(io.BytesIO(ps), "r", format="mpeg") as inp:
        return inp.streams.video[0].codec_context.name if inp.streams.video else None


def write_video(
    path: Path,
    size: tuple[int, int] = (320, 240),
    frames: int = 40,
    fps: int = 10,
    gop: int = 10,
    codec: str = "libx264",
) -> Path:
    """An MP4 of real stills (parameter sets only in the avcC/hvcC box, as in camera files)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        _encode_stills(out, codec, size, frames, fps, gop, images=4)
    path.write_bytes(buf.getvalue())
    return path


def _encode_stills(
    out: av.container.OutputContainer,
    codec: str,
    size: tuple[int, int],
    frames: int,
    fps: int,
    gop: int,
    images: int,
) -> None:
    """`frames` frames of `images` stills (each held a few frames) into the open container
    `out`, one keyframe every `gop` frames and no B-frames (what cameras send live)."""
    stream = out.add_stream(codec, rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    if codec == "libx265":
        params = f"keyint={gop}:min-keyint={gop}:bframes=0:log-level=error"
        stream.options = {"preset": "ultrafast", "x265-params": params}
    else:
        stream.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "g": str(gop),
            "bf": "0",
        }
    pics = stills(size, images)
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(pics[(i * len(pics)) // frames], format="bgr24")
        frame.pts = i
        frame.time_base = Fraction(1, fps)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
