"""H.264 / H.265 access units as the live-media consumers need them: Annex B, with the
parameter sets a decoder must see before an IDR.

Pure functions over bytes. Cameras differ in where SPS/PPS travel: most repeat them in
band before every IDR, some send them only out of band (RTSP `sprop-parameter-sets`,
the MP4 `avcC` box), and MP4 files carry length-prefixed NAL units, not start codes.
A GB/T 28181 PS stream or a WebRTC track needs Annex B with SPS/PPS before each IDR,
so every packet the fan-out hands out is Annex B and `with_parameter_sets` adds the
out-of-band sets only when the access unit lacks them.
"""

from __future__ import annotations

START_CODE = b"\x00\x00\x00\x01"

# NAL unit types: parameter sets, and the pictures a decoder can start from.
_PARAMETER_SETS = {"h264": frozenset({7, 8}), "hevc": frozenset({32, 33, 34})}
_AUD = {"h264": 9, "hevc": 35}
_IRAP = {"h264": frozenset({5}), "hevc": frozenset(range(16, 22))}


def nal_type(nal: bytes, codec: str) -> int:
    """The NAL unit type of one NAL unit (without start code)."""
    if not nal:
        return -1
    return (nal[0] >> 1) & 0x3F if codec == "hevc" else nal[0] & 0x1F


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream (3- or 4-byte start codes), start codes removed."""
    units: list[bytes] = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        begin = i + 3
        nxt = data.find(b"\x00\x00\x01", begin)
        end = len(data) if nxt < 0 else nxt
        unit = data[begin:end]
        if nxt >= 0:
            unit = unit.rstrip(b"\x00")  # the next start code's leading zero(s)
        if unit:
            units.append(unit)
        i = nxt
    return units


def is_annexb(data: bytes) -> bool:
    return data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"))


def join_annexb(units: list[bytes]) -> bytes:
    return b"".join(START_CODE + u for u in units)


def length_prefixed_to_annexb(data: bytes, length_size: int = 4) -> bytes:
    """MP4/Matroska samples (big-endian NAL lengths) to Annex B."""
    out = bytearray()
    i = 0
    while i + length_size <= len(data):
        n = int.from_bytes(data[i : i + length_size], "big")
        i += length_size
        if n == 0 or i + n > len(data):
            raise ValueError("truncated length-prefixed NAL unit")
        out += START_CODE
        out += data[i : i + n]
        i += n
    if i != len(data):
        raise ValueError("trailing bytes after the last NAL unit")
    return bytes(out)


def nal_length_size(extradata: bytes, codec: str) -> int | None:
    """Bytes of each NAL length when `extradata` is an avcC/hvcC box; None for Annex B."""
    if not extradata or is_annexb(extradata):
        return None
    if codec == "h264" and len(extradata) >= 7 and extradata[0] == 1:
        return (extradata[4] & 0x03) + 1
    if codec == "hevc" and len(extradata) >= 23 and extradata[0] == 1:
        return (extradata[21] & 0x03) + 1
    return None


def parameter_sets(extradata: bytes, codec: str) -> bytes:
    """The SPS/PPS (and VPS) carried out of band, as Annex B; b"" when there are none.

    `extradata` is what the demuxer gives: Annex B (RTSP's sprop-parameter-sets) or an
    avcC / hvcC box (MP4)."""
    if not extradata or codec not in _PARAMETER_SETS:
        return b""
    if is_annexb(extradata):
        units = split_annexb(extradata)
    elif codec == "h264":
        units = _avcc_units(extradata)
    else:
        units = _hvcc_units(extradata)
    wanted = _PARAMETER_SETS[codec]
    return join_annexb([u for u in units if nal_type(u, codec) in wanted])


def _avcc_units(box: bytes) -> list[bytes]:
    units: list[bytes] = []
    if len(box) < 7:
        return units
    i = 5
    for count_mask in (0x1F, 0xFF):  # SPS count (low 5 bits), then PPS count
        if i >= len(box):
            break
        count = box[i] & count_mask
        i += 1
        for _ in range(count):
            n = int.from_bytes(box[i : i + 2], "big")
            units.append(box[i + 2 : i + 2 + n])
            i += 2 + n
    return [u for u in units if u]


def _hvcc_units(box: bytes) -> list[bytes]:
    units: list[bytes] = []
    if len(box) < 23:
        return units
    arrays, i = box[22], 23
    for _ in range(arrays):
        if i + 3 > len(box):
            break
        count = int.from_bytes(box[i + 1 : i + 3], "big")
        i += 3
        for _ in range(count):
            n = int.from_bytes(box[i : i + 2], "big")
            units.append(box[i + 2 : i + 2 + n])
            i += 2 + n
    return [u for u in units if u]


def has_parameter_sets(data: bytes, codec: str) -> bool:
    """Whether an Annex B access unit carries its own SPS and PPS in band."""
    wanted = _PARAMETER_SETS.get(codec)
    if not wanted:
        return False
    found = {nal_type(u, codec) for u in split_annexb(data)}
    return {7, 8} <= found if codec == "h264" else {33, 34} <= found


def starts_decoding(data: bytes, codec: str) -> bool:
    """Whether the access unit holds an IDR/IRAP picture (a decoder can start here)."""
    irap = _IRAP.get(codec, frozenset())
    return any(nal_type(u, codec) in irap for u in split_annexb(data))


def with_parameter_sets(data: bytes, codec: str, sets: bytes) -> bytes:
    """`data` with the out-of-band `sets` added when it is an IDR access unit without
    its own (after a leading access unit delimiter, where the standard puts them); any
    other access unit is returned unchanged."""
    if not sets or not starts_decoding(data, codec) or has_parameter_sets(data, codec):
        return data
    units = split_annexb(data)
    if units and nal_type(units[0], codec) == _AUD[codec]:
        return join_annexb(units[:1]) + sets + join_annexb(units[1:])
    return sets + data
