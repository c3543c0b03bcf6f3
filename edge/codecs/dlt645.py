"""DL/T 645-2007 and DL/T 645-1997 frames for RS-485 energy meters: bytes in, dataclasses out.

Wire layout (both versions)::

    [FE x n] 68 A0..A5 68 C L DATA(L bytes, each +33H) CS 16

The address is 6 BCD bytes, low byte first, where any byte may be the wildcard ``AA``. CS is the
byte sum from the first 68 through DATA. The 2007 DI is 4 bytes, the 1997 DI 2 bytes, both low
byte first and inside the +33H offset. Meters put 0..7 ``FE`` before a reply and serial
converters add junk on open, so ``find_frame`` resynchronises on every ``68`` rather than
trusting the first byte it sees (the scanner is shared with CJ/T 188: `edge.codecs.framing`).
What each DI, function code and error bit means is in `edge.codecs.dlt645_tables`, re-exported
here.

No I/O here: the field-bus layer owns timing, retries and the serial port.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from edge.codecs import addresses, bcd, framing
from edge.codecs.dlt645_tables import (
    BROADCAST_TIME,
    CHANGE_BAUD_2007,
    DI_TABLE,
    FREEZE_2007,
    READ_ADDRESS_2007,
    READ_DATA_1997,
    READ_DATA_2007,
    READ_FOLLOW_1997,
    READ_FOLLOW_2007,
    WRITE_ADDRESS_2007,
    WRITE_DATA_1997,
    WRITE_DATA_2007,
    DataId,
    ErrorFlag,
    Kind,
    Version,
    di_for_point,
    error_texts,
    lookup,
)
from edge.codecs.errors import FrameError, UnknownDataIdError
from edge.codecs.framing import END, ERROR_BIT, PREAMBLE_BYTE, REPLY_BIT, START, checksum
from edge.codecs.values import Value

OFFSET = 0x33
HEADER_LEN = 10  # 68 A0..A5 68 C L
MIN_FRAME_LEN = 12  # header + CS + 16 with L = 0

WILDCARD_ADDRESS = "AAAAAAAAAAAA"
BROADCAST_ADDRESS = "999999999999"

# Control byte: D7 direction and D6 abnormal reply as in `framing`, D5 more frames follow,
# D4..D0 function code.
MORE_BIT = 0x20
FUNCTION_MASK = 0x1F

# The standard caps a reply's DATA at 200 bytes; longer answers are split into follow-on frames.
MAX_DATA_LEN = 200


# --------------------------------------------------------------------------------------------
# Addresses


def normalize_address(address: str | int, width: int = 12) -> str:
    """Canonical address string: ``width`` digits, upper case, left-padded with zeros.

    Each byte (two characters) is two decimal digits or the wildcard ``AA``.
    """
    return addresses.normalize(address, width)


address_matches = addresses.matches


# --------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True)
class Frame(framing.ControlByte):
    """One link-layer frame. ``data`` has the +33H offset already removed."""

    function_mask: ClassVar[int] = FUNCTION_MASK
    address: str
    control: int
    data: bytes = b""
    preamble: int = 0  # FE bytes seen before it (parse) or to send (encode)

    @property
    def more_follows(self) -> bool:
        return self.is_reply and bool(self.control & MORE_BIT)

    @property
    def version(self) -> Version | None:
        """Which edition the function code belongs to; None for codes both share (08H)."""
        fn = self.function
        if fn == BROADCAST_TIME:
            return None
        return Version.V2007 if fn > 0x10 else Version.V1997


def encode(frame: Frame, preamble: int | None = None) -> bytes:
    """Wire bytes for ``frame``, with ``preamble`` FE bytes (default: ``frame.preamble``)."""
    if not 0 <= frame.control <= 0xFF:
        raise ValueError(f"control byte out of range: {frame.control}")
    if len(frame.data) > 0xFF:
        raise ValueError(f"DATA too long for one frame: {len(frame.data)} bytes")
    body = (
        bytes([START])
        + addresses.to_wire(frame.address, 12)
        + bytes([START, frame.control, len(frame.data)])
        + bytes((b + OFFSET) & 0xFF for b in frame.data)
    )
    return framing.wrap(body, frame.preamble if preamble is None else preamble)


def _build(body: bytes, preamble: int) -> Frame:
    """The frame in ``body`` (68 through DATA), its markers and checksum already checked."""
    address = addresses.from_wire(body[1:7])
    data = bytes((b - OFFSET) & 0xFF for b in body[HEADER_LEN:])
    return Frame(address=address, control=body[8], data=data, preamble=preamble)


LAYOUT = framing.Layout(
    header_len=HEADER_LEN, address_at=1, address_len=6, second_start=7, build=_build
)


parse = LAYOUT.parse  # exactly one frame: any number of FE first, nothing after the 16
scan = LAYOUT.scan  # find_frame's answer, and why well-shaped candidates were rejected
find_frame = LAYOUT.find  # (frame | None, consumed) from a receive buffer; never raises


class FrameReader(framing.FrameReader[Frame]):
    """Accumulates serial bytes and yields DL/T 645 frames; bounded, drop-oldest, counted."""

    def __init__(self, max_buffer: int = 1024) -> None:
        super().__init__(LAYOUT, max_buffer)


# --------------------------------------------------------------------------------------------
# Requests and replies


def _di_bytes(di: int, version: Version) -> bytes:
    size = version.di_len
    if not 0 <= di < 1 << (8 * size):
        raise ValueError(f"DI {di:X} does not fit the {version} DI width")
    return di.to_bytes(size, "little")


def build_read(
    address: str, di: int, version: Version = Version.V2007, *, preamble: int = 4
) -> bytes:
    """Read one data identifier (2007: C=11H, 1997: C=01H)."""
    frame = Frame(normalize_address(address), version.read_function, _di_bytes(di, version))
    return encode(frame, preamble)


def build_read_follow(
    address: str, di: int, seq: int = 1, version: Version = Version.V2007, *, preamble: int = 4
) -> bytes:
    """Ask for the next frame after a reply with the more-follows bit (2007 12H, 1997 02H).

    2007 carries a frame sequence number after the DI (1 for the first follow-on); 1997 has none.
    """
    data = _di_bytes(di, version)
    if version is Version.V2007:
        data += bytes([seq & 0xFF])
    return encode(Frame(normalize_address(address), version.follow_function, data), preamble)


def build_read_address(*, preamble: int = 4) -> bytes:
    """2007 read-address (13H) to the wildcard: only valid with a single meter on the bus."""
    return encode(Frame(WILDCARD_ADDRESS, READ_ADDRESS_2007), preamble)


def build_data_reply(
    address: str,
    di: int,
    payload: bytes,
    version: Version = Version.V2007,
    *,
    follow: bool = False,
    more: bool = False,
    seq: int | None = None,
    preamble: int = 0,
) -> bytes:
    """A meter's normal reply to a read (``follow`` for the answer to a follow-on read)."""
    function = version.follow_function if follow else version.read_function
    control = REPLY_BIT | function | (MORE_BIT if more else 0)
    data = _di_bytes(di, version) + bytes(payload)
    if follow and version is Version.V2007:
        data += bytes([(seq or 0) & 0xFF])
    return encode(Frame(normalize_address(address), control, data), preamble)


def build_error_reply(
    address: str,
    errors: int,
    version: Version = Version.V2007,
    *,
    function: int | None = None,
    preamble: int = 0,
) -> bytes:
    """An abnormal reply (C = function | C0H) carrying one error byte."""
    fn = version.read_function if function is None else function
    control = REPLY_BIT | ERROR_BIT | (fn & FUNCTION_MASK)
    return encode(Frame(normalize_address(address), control, bytes([errors & 0x7F])), preamble)


def build_address_reply(address: str, *, preamble: int = 0) -> bytes:
    """Reply to read-address (93H): the address is both in the header and in DATA."""
    addr = normalize_address(address)
    frame = Frame(addr, REPLY_BIT | READ_ADDRESS_2007, addresses.to_wire(addr, 12))
    return encode(frame, preamble)


@dataclass(frozen=True, slots=True)
class Request:
    """A master's request as a meter sees it."""

    address: str
    version: Version | None
    function: int
    di: int | None = None
    seq: int | None = None
    data: bytes = b""


def decode_request(frame: Frame) -> Request:
    if frame.is_reply:
        raise FrameError(f"control {frame.control:02X} is a reply, not a request")
    version = frame.version
    fn = frame.function
    di: int | None = None
    seq: int | None = None
    if fn in (READ_DATA_2007, READ_FOLLOW_2007, READ_DATA_1997, READ_FOLLOW_1997):
        assert version is not None
        size = version.di_len
        need = size + 1 if fn == READ_FOLLOW_2007 else size
        if len(frame.data) < need:
            raise FrameError(f"read request carries {len(frame.data)} bytes, needs {need}")
        di = int.from_bytes(frame.data[:size], "little")
        if fn == READ_FOLLOW_2007:
            seq = frame.data[size]
    return Request(frame.address, version, fn, di, seq, frame.data)


@dataclass(frozen=True, slots=True)
class DataReply:
    """A normal reply to a read: ``payload`` is the value bytes after the DI (and before SEQ)."""

    address: str
    version: Version
    di: int
    payload: bytes
    more: bool = False
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class ErrorReply:
    address: str
    version: Version | None
    function: int
    errors: ErrorFlag

    @property
    def texts(self) -> list[str]:
        return error_texts(self.errors, self.version or Version.V2007)


@dataclass(frozen=True, slots=True)
class AddressReply:
    address: str  # from DATA, the meter's own address even if the header used a wildcard


@dataclass(frozen=True, slots=True)
class AckReply:
    """A normal reply to a command (write, freeze, ...) with no data of interest."""

    address: str
    function: int
    data: bytes


Reply = DataReply | ErrorReply | AddressReply | AckReply


def decode_reply(frame: Frame) -> Reply:
    if not frame.is_reply:
        raise FrameError(f"control {frame.control:02X} is a request, not a reply")
    fn = frame.function
    version = frame.version
    if frame.is_error:
        if not frame.data:
            raise FrameError("abnormal reply without an error byte")
        return ErrorReply(frame.address, version, fn, ErrorFlag(frame.data[0] & 0x7F))
    if fn == READ_ADDRESS_2007:
        if len(frame.data) != 6:
            raise FrameError(f"read-address reply carries {len(frame.data)} bytes, not 6")
        return AddressReply(addresses.from_wire(frame.data))
    if fn in (READ_DATA_2007, READ_FOLLOW_2007, READ_DATA_1997, READ_FOLLOW_1997):
        assert version is not None
        size = version.di_len
        with_seq = fn == READ_FOLLOW_2007
        if len(frame.data) < size + (1 if with_seq else 0):
            raise FrameError(f"read reply carries {len(frame.data)} bytes, shorter than its DI")
        di = int.from_bytes(frame.data[:size], "little")
        payload = frame.data[size:-1] if with_seq else frame.data[size:]
        seq = frame.data[-1] if with_seq else None
        return DataReply(frame.address, version, di, payload, frame.more_follows, seq)
    return AckReply(frame.address, fn, frame.data)


# --------------------------------------------------------------------------------------------
# Values


def bcd_digits(payload: bytes) -> str:
    """Digits of a little-endian BCD field, for DIs the table does not know."""
    return bcd.to_digits(payload)


def _decode_element(entry: DataId, raw: bytes) -> float | str | None:
    if bcd.is_unsupported(raw):
        return None
    if entry.kind is Kind.NUMBER:
        negative = False
        if entry.signed and raw[-1] & 0x80:
            negative = True
            raw = raw[:-1] + bytes([raw[-1] & 0x7F])
        magnitude = int(bcd.to_digits(raw)) / 10**entry.decimals
        return -magnitude if negative else magnitude
    digits = bcd.to_digits(raw)
    if entry.kind is Kind.DATE:  # YYMMDDWW
        return f"20{digits[0:2]}-{digits[2:4]}-{digits[4:6]}"
    if entry.kind is Kind.TIME:  # hhmmss
        return f"{digits[0:2]}:{digits[2:4]}:{digits[4:6]}"
    return digits


def decode_data(di: int, data: bytes, version: Version = Version.V2007) -> list[Value]:
    """Typed values for a read reply's payload (the bytes after the DI, offset removed)."""
    entry = lookup(di, version)
    if entry is None:
        raise UnknownDataIdError(
            di, f"unknown {version} data identifier {di:0{version.di_len * 2}X}"
        )
    size = entry.size
    count, rest = divmod(len(data), size)
    limit = len(entry.points) if entry.points else (64 if entry.rates else 1)
    if rest or count < 1 or count > limit:
        raise FrameError(
            f"DI {di:X} payload of {len(data)} bytes is not 1..{limit} elements of {size} bytes"
        )
    points = entry.element_points(count)
    return [
        Value(
            point, _decode_element(entry, data[k * size : (k + 1) * size]), entry.unit, entry.name
        )
        for k, point in enumerate(points)
    ]


def _encode_element(entry: DataId, value: float | str | None) -> bytes:
    if value is None:
        return b"\xff" * entry.size
    if entry.kind is Kind.NUMBER:
        if isinstance(value, str):
            raise ValueError(f"{entry.point} needs a number, got {value!r}")
        scaled = round(abs(value) * 10**entry.decimals)
        if value < 0 and not entry.signed:
            raise ValueError(f"{entry.point} is unsigned, got {value}")
        # A signed field gives up bit 7 of its top byte, so its top digit is at most 7.
        limit = 8 * 10 ** (entry.size * 2 - 1) if entry.signed else 10 ** (entry.size * 2)
        if scaled >= limit:
            raise ValueError(f"{value} does not fit {entry.fmt}")
        raw = bcd.from_int(scaled, entry.size)
        if value < 0 and scaled:
            raw = raw[:-1] + bytes([raw[-1] | 0x80])
        return raw
    text = str(value)
    if entry.kind is Kind.DATE:
        day = dt.date.fromisoformat(text)
        week = day.isoweekday() % 7  # the standard counts Sunday as 0
        digits = f"{day.year % 100:02d}{day.month:02d}{day.day:02d}{week:02d}"
    elif entry.kind is Kind.TIME:
        digits = text.replace(":", "")
    else:
        digits = text
    if len(digits) != entry.size * 2 or not digits.isdigit():
        raise ValueError(f"{entry.point} needs {entry.fmt}, got {value!r}")
    return bcd.from_digits(digits)


def encode_data(
    di: int, values: Iterable[float | str | None], version: Version = Version.V2007
) -> bytes:
    """Payload bytes for ``values`` (inverse of ``decode_data``; used by the simulator)."""
    entry = lookup(di, version)
    if entry is None:
        raise ValueError(f"unknown {version} data identifier {di:X}")
    items = list(values)
    limit = len(entry.points) if entry.points else (64 if entry.rates else 1)
    if not 1 <= len(items) <= limit:
        raise ValueError(f"DI {di:X} takes 1..{limit} values, got {len(items)}")
    return b"".join(_encode_element(entry, v) for v in items)


__all__ = [
    "BROADCAST_ADDRESS",
    "BROADCAST_TIME",
    "CHANGE_BAUD_2007",
    "DI_TABLE",
    "END",
    "FREEZE_2007",
    "PREAMBLE_BYTE",
    "READ_ADDRESS_2007",
    "READ_DATA_1997",
    "READ_DATA_2007",
    "READ_FOLLOW_1997",
    "READ_FOLLOW_2007",
    "START",
    "WILDCARD_ADDRESS",
    "WRITE_ADDRESS_2007",
    "WRITE_DATA_1997",
    "WRITE_DATA_2007",
    "AckReply",
    "AddressReply",
    "DataId",
    "DataReply",
    "ErrorFlag",
    "ErrorReply",
    "Frame",
    "FrameReader",
    "Kind",
    "Reply",
    "Request",
    "Value",
    "Version",
    "address_matches",
    "bcd_digits",
    "build_address_reply",
    "build_data_reply",
    "build_error_reply",
    "build_read",
    "build_read_address",
    "build_read_follow",
    "checksum",
    "decode_data",
    "decode_reply",
    "decode_request",
    "di_for_point",
    "encode",
    "encode_data",
    "error_texts",
    "find_frame",
    "lookup",
    "normalize_address",
    "parse",
    "scan",
]
