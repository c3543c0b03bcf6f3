"""H.264/H.265 NAL units as the PS muxer needs them: Annex B, with parameter sets.

A camera's packets reach us in one of two shapes. From RTSP (FFmpeg's RTP
depacketiser) they are Annex B with start codes; from MP4 files they are
length-prefixed (AVCC/HVCC) with SPS/PPS only in the stream's `extradata`.
MPEG-2 PS carries Annex B, and a platform joining mid-stream can decode only
from an IDR preceded by its SPS/PPS (VPS/SPS/PPS for H.265), so
`AccessUnits.annexb()` converts and, on keyframes that lack them, injects the
parameter sets from `extradata`. Nothing is decoded or re-encoded.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from edge.codecs.errors import ProtocolError

START = b"\x00\x00\x00\x01"
H264_PARAM_TYPES = {7, 8}  # SPS, PPS
H265_PARAM_TYPES = {32, 33, 34}  # VPS, SPS, PPS


class NalError(ProtocolError):
    """Bytes that are not H.264/H.265 NAL units in a shape we know."""


def is_annexb(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")


def split_annexb(data: bytes) -> Iterator[bytes]:
    """NAL unit payloads (without start codes) of an Annex B buffer."""
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        start = i + 3
        nxt = data.find(b"\x00\x00\x01", start)
        end = len(data) if nxt < 0 else nxt
        nal = data[start:end]
        if nxt >= 0 and nal.endswith(b"\x00"):
            nal = nal.rstrip(b"\x00")  # the leading zero of a 4-byte start code
        if nal:
            yield nal
        i = nxt


def split_length_prefixed(data: bytes, length_size: int = 4) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        if pos + length_size > len(data):
            raise NalError("truncated NAL length prefix")
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > len(data):
            raise NalError(f"NAL length {size} overruns the packet")
        yield data[pos : pos + size]
        pos += size


def nal_type(nal: bytes, hevc: bool) -> int:
    if not nal:
        raise NalError("empty NAL unit")
    return (nal[0] >> 1) & 0x3F if hevc else nal[0] & 0x1F


def parameter_sets(extradata: bytes, hevc: bool) -> tuple[list[bytes], int]:
    """(parameter-set NALs, NAL length size) from `extradata` (Annex B, avcC or hvcC)."""
    if not extradata:
        return [], 4
    if is_annexb(extradata):
        return list(split_annexb(extradata)), 4
    try:
        return _hvcc(extradata) if hevc else _avcc(extradata)
    except (IndexError, struct.error):
        raise NalError("truncated codec configuration record") from None


def _avcc(data: bytes) -> tuple[list[bytes], int]:
    if data[0] != 1:
        raise NalError("avcC version is not 1")
    length_size = (data[4] & 0x03) + 1
    nals: list[bytes] = []
    pos = 5
    for count_mask in (0x1F, 0xFF):
        count = data[pos] & count_mask
        pos = _sized_nals(data, pos + 1, count, nals)
    return nals, length_size


def _hvcc(data: bytes) -> tuple[list[bytes], int]:
    if data[0] != 1:
        raise NalError("hvcC version is not 1")
    length_size = (data[21] & 0x03) + 1
    arrays = data[22]
    pos = 23
    nals: list[bytes] = []
    for _ in range(arrays):
        pos += 1  # array_completeness, reserved, NAL_unit_type
        (count,) = struct.unpack_from(">H", data, pos)
        pos = _sized_nals(data, pos + 2, count, nals)
    return nals, length_size


def _sized_nals(data: bytes, pos: int, count: int, nals: list[bytes]) -> int:
    """`count` NAL units each after a 16-bit big-endian size (avcC and hvcC alike), appended
    to `nals`; the position after the last."""
    for _ in range(count):
        (size,) = struct.unpack_from(">H", data, pos)
        pos += 2
        nals.append(data[pos : pos + size])
        pos += size
    return pos


class AccessUnits:
    """Per stream: turns each packet into one Annex B access unit ready to mux."""

    def __init__(self, extradata: bytes = b"", *, hevc: bool = False) -> None:
        self.hevc = hevc
        self.params, self.length_size = parameter_sets(extradata, hevc)
        # An avcC/hvcC box says the stream's packets are length-prefixed. A packet cannot
        # say so itself: a 4-byte length of 256-511 is 00 00 01 xx, an Annex B start code.
        self.length_prefixed = bool(extradata) and not is_annexb(extradata)
        self.injected = 0

    def _nals(self, data: bytes) -> list[bytes]:
        if self.length_prefixed or not is_annexb(data):
            try:
                return list(split_length_prefixed(data, self.length_size))
            except NalError:
                if not is_annexb(data):
                    raise  # neither: a broken packet
        return list(split_annexb(data))  # (a box-declared stream sending Annex B, seen too)

    def annexb(self, data: bytes, keyframe: bool) -> bytes:
        nals = self._nals(data)
        kinds = {nal_type(n, self.hevc) for n in nals}
        wanted = H265_PARAM_TYPES if self.hevc else H264_PARAM_TYPES
        if kinds & wanted:
            # In-band parameter sets: remember the newest, in case a later IDR lacks them.
            self.params = [n for n in nals if nal_type(n, self.hevc) in wanted]
        elif keyframe and self.params:
            nals = [*self.params, *nals]
            self.injected += 1
        return b"".join(START + n for n in nals)
