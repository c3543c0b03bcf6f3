"""The encoded packets a camera session fans out: the camera's own H.264/H.265, never
re-encoded, for live view (WebRTC) and GB/T 28181 plays.

A `Packet` is plain Python (bytes and ints), copied out of PyAV on the demux thread:
no consumer ever holds an FFmpeg buffer, so nothing native outlives its thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from edge.camera.h26x import with_parameter_sets


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a consumer must know before the first packet of a connection."""

    camera_id: str
    codec: str
    """FFmpeg's codec name: `h264`, `hevc` (packets are Annex B for both)."""
    width: int
    height: int
    time_base: Fraction
    """Unit of `Packet.pts` / `dts` (RTSP: 1/90000; files: the container's)."""
    fps: float | None
    """What the stream declares, if anything."""
    parameter_sets: bytes
    """SPS/PPS (and VPS) sent out of band (SDP, MP4 box), Annex B; b"" if none."""
    epoch: int
    """Connection number. Timestamps restart (and may jump) when it changes: a consumer
    that muxes treats a new epoch as a discontinuity."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One access unit (a frame's NAL units), Annex B."""

    stream: StreamInfo
    data: bytes
    pts: int | None
    dts: int | None
    keyframe: bool
    """The demuxer's key flag: a decoder can start here (IDR / IRAP)."""
    seq: int
    """Counts every packet of the session, across reconnects: a gap means drops."""
    mono: float
    """time.monotonic() when it left the demuxer."""
    wall: float

    @property
    def codec(self) -> str:
        return self.stream.codec

    @property
    def time_base(self) -> Fraction:
        return self.stream.time_base

    @property
    def pts_s(self) -> float | None:
        return None if self.pts is None else float(self.pts * self.stream.time_base)

    def ticks(self, rate: int = 90_000) -> int | None:
        """pts in `rate` ticks (RTP video and MPEG PS clocks are 90 kHz)."""
        if self.pts is None:
            return None
        return int(self.pts * self.stream.time_base * rate)

    def annexb_with_parameter_sets(self) -> bytes:
        """The data, with the stream's out-of-band SPS/PPS in front of an IDR that lacks
        them (what a PS muxer or a WebRTC packetiser should send)."""
        return with_parameter_sets(self.data, self.stream.codec, self.stream.parameter_sets)
