"""MPEG-2 Program Stream muxing (ISO/IEC 13818-1 §2.5) for GB/T 28181 live video.

GB/T 28181 Appendix C carries video as PS over RTP. Every frame is one pack:
a pack header (SCR = the frame's 90 kHz time), then on keyframes a system
header and a program stream map (PSM: which stream id carries which codec,
0x1B H.264 or 0x24 H.265), then the frame's Annex B bytes in video PES
packets (stream id 0xE0). A PES packet's length field is 16 bits, so a large
IDR is split over several PES packets; only the first carries the PTS.
Platforms (ZLMediaKit behind wvp) locate the codec in the PSM, so a player
joining mid-stream can start at the next keyframe.
"""

from __future__ import annotations

import struct

STREAM_ID_VIDEO = 0xE0
STREAM_TYPE_H264 = 0x1B
STREAM_TYPE_H265 = 0x24
MUX_RATE = 0x3FFFFF >> 4  # units of 50 bytes/s; informative, players ignore it

PACK_START = b"\x00\x00\x01\xba"
SYSTEM_START = b"\x00\x00\x01\xbb"
PSM_START = b"\x00\x00\x01\xbc"
PES_VIDEO_START = b"\x00\x00\x01\xe0"
MAX_PES_PAYLOAD = 0xFFFF - 8  # 16-bit length minus flags (3) and a PTS (5)


def crc32_mpeg(data: bytes) -> int:
    """CRC-32/MPEG-2 (poly 0x04C11DB7, no reflection, init 0xFFFFFFFF, no xor-out)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def pack_header(scr: int, mux_rate: int = MUX_RATE) -> bytes:
    scr &= (1 << 33) - 1
    ext = 0
    return PACK_START + bytes(
        [
            0x44 | ((scr >> 27) & 0x38) | ((scr >> 28) & 0x03),
            (scr >> 20) & 0xFF,
            ((scr >> 12) & 0xF8) | 0x04 | ((scr >> 13) & 0x03),
            (scr >> 5) & 0xFF,
            ((scr << 3) & 0xF8) | 0x04 | ((ext >> 7) & 0x03),
            ((ext << 1) & 0xFE) | 0x01,
            (mux_rate >> 14) & 0xFF,
            (mux_rate >> 6) & 0xFF,
            ((mux_rate << 2) & 0xFC) | 0x03,
            0xF8,  # reserved bits, no stuffing
        ]
    )


def system_header(rate_bound: int = MUX_RATE) -> bytes:
    body = bytes(
        [
            0x80 | ((rate_bound >> 15) & 0x7F),
            (rate_bound >> 7) & 0xFF,
            ((rate_bound << 1) & 0xFE) | 0x01,
            0x00,  # audio_bound 0, fixed 0, CSPS 0
            0xE1,  # audio lock, video lock, marker, video_bound 1
            0xFF,  # packet rate restriction, reserved
            STREAM_ID_VIDEO,
            0xE0 | 0x08,  # '11', buffer bound scale 1 (kB), size high bits
            0x00,  # P-STD buffer size bound 2048 kB
        ]
    )
    return SYSTEM_START + struct.pack(">H", len(body)) + body


def program_stream_map(stream_type: int, version: int = 0) -> bytes:
    es_map = bytes([stream_type, STREAM_ID_VIDEO, 0x00, 0x00])
    inner = bytes([0x80 | 0x60 | (version & 0x1F), 0xFF]) + struct.pack(">H", 0)
    inner += struct.pack(">H", len(es_map)) + es_map
    length = len(inner) + 4
    head = PSM_START + struct.pack(">H", length) + inner
    return head + struct.pack(">I", crc32_mpeg(head))


def _pts_bytes(pts: int) -> bytes:
    pts &= (1 << 33) - 1
    return bytes(
        [
            0x21 | ((pts >> 29) & 0x0E),
            (pts >> 22) & 0xFF,
            ((pts >> 14) & 0xFE) | 0x01,
            (pts >> 7) & 0xFF,
            ((pts << 1) & 0xFE) | 0x01,
        ]
    )


def pes_packets(payload: bytes, pts: int) -> list[bytes]:
    """Video PES packets for one access unit; the first carries the PTS."""
    out: list[bytes] = []
    first = payload[:MAX_PES_PAYLOAD]
    header = bytes([0x84, 0x80, 0x05]) + _pts_bytes(pts)  # data-aligned, PTS only
    out.append(PES_VIDEO_START + struct.pack(">H", len(header) + len(first)) + header + first)
    pos = len(first)
    while pos < len(payload):
        chunk = payload[pos : pos + MAX_PES_PAYLOAD + 5]
        header = bytes([0x80, 0x00, 0x00])
        out.append(PES_VIDEO_START + struct.pack(">H", len(header) + len(chunk)) + header + chunk)
        pos += len(chunk)
    return out


class PsMuxer:
    """One PS stream: `frame()` turns an Annex B access unit into a pack's bytes."""

    def __init__(self, *, hevc: bool = False) -> None:
        self.stream_type = STREAM_TYPE_H265 if hevc else STREAM_TYPE_H264
        self._psm = program_stream_map(self.stream_type)
        self._system = system_header()

    def frame(self, annexb: bytes, pts_90k: int, keyframe: bool) -> bytes:
        parts = [pack_header(pts_90k)]
        if keyframe:
            parts += [self._system, self._psm]
        parts += pes_packets(annexb, pts_90k)
        return b"".join(parts)
