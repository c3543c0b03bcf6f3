"""RTP (RFC 3550) packets for PS video, and RFC 4571 framing for RTP over TCP.

GB/T 28181 sends PS on payload type 96 with the SSRC the platform chose in
the SDP `y=` line, a 90 kHz timestamp, and the PS bytes of one frame cut into
payloads of at most 1400 bytes (under a 1500-byte MTU with IP/UDP/RTP
headers) with the marker bit on the frame's last packet. Over TCP each packet
is prefixed by its 16-bit length (RFC 4571), which is how ZLMediaKit reads it.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from edge.codecs.errors import FrameError, ProtocolError

PT_PS = 96
MAX_PAYLOAD = 1400
HEADER = struct.Struct(">BBHII")


class RtpError(ProtocolError):
    """Bytes that are not an RTP packet."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse(data: bytes) -> RtpPacket:
    if len(data) < HEADER.size:
        raise RtpError(f"{len(data)} bytes is shorter than an RTP header")
    b0, b1, seq, ts, ssrc = HEADER.unpack_from(data)
    if b0 >> 6 != 2:
        raise RtpError(f"RTP version {b0 >> 6}, expected 2")
    pos = HEADER.size + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension
        if len(data) < pos + 4:
            raise RtpError("truncated header extension")
        (words,) = struct.unpack_from(">H", data, pos + 2)
        pos += 4 + 4 * words
    end = len(data)
    if b0 & 0x20:  # padding
        end -= data[-1]
    if pos > end:
        raise RtpError("header longer than the packet")
    return RtpPacket(b1 & 0x7F, bool(b1 & 0x80), seq, ts, ssrc, data[pos:end])


class Packetiser:
    """One outgoing stream: sequence numbers continue across frames."""

    def __init__(
        self,
        ssrc: int,
        *,
        payload_type: int = PT_PS,
        max_payload: int = MAX_PAYLOAD,
        seq: int | None = None,
    ) -> None:
        if not 0 <= ssrc < 2**32:
            raise ValueError("ssrc must fit 32 bits")
        if max_payload < 1:
            raise ValueError("max_payload must be positive")
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.max_payload = max_payload
        self.seq = random.randrange(0, 0x10000) if seq is None else seq & 0xFFFF
        self.packets = 0

    def packetise(self, frame: bytes, timestamp_90k: int) -> list[bytes]:
        """RTP packets for one frame's bytes, the marker set on the last."""
        out: list[bytes] = []
        ts = timestamp_90k & 0xFFFFFFFF
        count = max(1, -(-len(frame) // self.max_payload))
        for i in range(count):
            chunk = frame[i * self.max_payload : (i + 1) * self.max_payload]
            marker = 0x80 if i == count - 1 else 0
            out.append(
                HEADER.pack(0x80, marker | self.payload_type, self.seq, ts, self.ssrc) + chunk
            )
            self.seq = (self.seq + 1) & 0xFFFF
        self.packets += len(out)
        return out


def frame_tcp(packet: bytes) -> bytes:
    """RFC 4571: a 16-bit big-endian length, then the packet."""
    if len(packet) > 0xFFFF:
        raise FrameError("an RTP packet over TCP is at most 65535 bytes")
    return struct.pack(">H", len(packet)) + packet


class TcpDeframer:
    """RTP packets out of an RFC 4571 byte stream."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._buf += data
        while len(self._buf) >= 2:
            (size,) = struct.unpack_from(">H", self._buf)
            if len(self._buf) < 2 + size:
                return
            packet = bytes(self._buf[2 : 2 + size])
            del self._buf[: 2 + size]
            yield packet
