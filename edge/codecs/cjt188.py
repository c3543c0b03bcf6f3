"""CJ/T 188-2004 frames for water, heat and gas meters (M-Bus or RS-485): bytes in, dataclasses out.

Wire layout::

    [FE x n] 68 T A0..A6 C L DATA(L bytes) CS 16      DATA = DI(2) SER(1) payload

``T`` is the meter type (10H cold water ... 20H heat, 30H gas, AAH wildcard), the address is
7 BCD bytes low byte first, CS is the byte sum from 68 through DATA, and there is *no* +33H
offset (unlike DL/T 645). Vendors disagree on the DI byte order: some send ``90 1F``, others
(and most heat meters) ``1F 90``. Receiving accepts both; sending takes a ``DiOrder`` so it can
be set per meter. FF-filled fields mean "not supported" and decode to None. Finding frames in a
receive buffer is shared with DL/T 645 (`edge.codecs.framing`). The 901F metering data (units,
water/heat layouts) is in `edge.codecs.cjt188_metering`, re-exported here.

No I/O here: the field-bus layer owns timing, retries and the serial port.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import ClassVar

from edge.codecs import addresses, framing
from edge.codecs.cjt188_metering import (
    HEAT_BODY_LEN,
    UNIT_CODES,
    UNITS,
    WATER_BODY_LEN,
    HeatData,
    MeteringData,
    Quantity,
    Status,
    Valve,
    WaterData,
    decode_metering,
    encode_metering,
    unit_name,
)
from edge.codecs.errors import FrameError
from edge.codecs.framing import END, ERROR_BIT, PREAMBLE_BYTE, REPLY_BIT, START, checksum

HEADER_LEN = 11  # 68 T A0..A6 C L
MIN_FRAME_LEN = 13  # header + CS + 16 with L = 0

WILDCARD_ADDRESS = "AAAAAAAAAAAAAA"

# Control byte: D7 direction and D6 abnormal reply as in `framing`, D5..D0 function.
FUNCTION_MASK = 0x3F

READ_DATA = 0x01
READ_ADDRESS = 0x03
WRITE_DATA = 0x04
READ_KEY_VERSION = 0x09
WRITE_ADDRESS = 0x15
WRITE_SYNC = 0x16

DI_METERING = 0x901F
DI_ADDRESS = 0x810A
DI_WRITE_ADDRESS = 0xA018


class MeterType(IntEnum):
    COLD_WATER = 0x10
    HOT_WATER = 0x11
    DRINKING_WATER = 0x12
    RECLAIMED_WATER = 0x13
    HEAT = 0x20
    COOLING = 0x21
    GAS = 0x30
    ELECTRICITY = 0x40
    WILDCARD = 0xAA


def meter_family(meter_type: int) -> str:
    """``water``, ``heat``, ``gas``, ``electricity`` or ``unknown`` from the type byte's range."""
    return {0x10: "water", 0x20: "heat", 0x30: "gas", 0x40: "electricity"}.get(
        meter_type & 0xF0, "unknown"
    )


class DiOrder(StrEnum):
    HIGH_FIRST = "high_first"  # 90 1F
    LOW_FIRST = "low_first"  # 1F 90


KNOWN_DIS: dict[int, str] = {
    DI_METERING: "计量数据",
    **{0xD120 + k: f"历史计量数据{k + 1}" for k in range(12)},
    **{di: "读数据" for di in range(0x8102, 0x810A)},
    DI_ADDRESS: "读地址",
    **{di: "写数据" for di in range(0xA010, 0xA01A)},
}


# --------------------------------------------------------------------------------------------
# Addresses


def normalize_address(address: str | int) -> str:
    """14 upper-case characters; each byte two decimal digits or the wildcard ``AA``."""
    return addresses.normalize(address, 14)


address_matches = addresses.matches


# --------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True)
class Frame(framing.ControlByte):
    function_mask: ClassVar[int] = FUNCTION_MASK
    meter_type: int
    address: str
    control: int
    data: bytes = b""
    preamble: int = 0  # FE bytes seen before it (parse) or to send (encode)


@dataclass(frozen=True, slots=True)
class Message:
    """DATA split into its fields; ``di`` is normalised (901F) whatever order it came in."""

    di: int
    di_order: DiOrder
    ser: int
    body: bytes


def di_wire(di: int, order: DiOrder) -> bytes:
    if not 0 <= di <= 0xFFFF:
        raise ValueError(f"DI {di:X} is not two bytes")
    return di.to_bytes(2, "big" if order is DiOrder.HIGH_FIRST else "little")


def read_di(raw: bytes) -> tuple[int, DiOrder]:
    """The DI and the order it was sent in; unknown DIs are taken as sent (high byte first)."""
    if len(raw) < 2:
        raise FrameError("DATA too short for a DI")
    high = raw[0] << 8 | raw[1]
    low = raw[1] << 8 | raw[0]
    if high not in KNOWN_DIS and low in KNOWN_DIS:
        return low, DiOrder.LOW_FIRST
    return high, DiOrder.HIGH_FIRST


def split(frame: Frame) -> Message:
    """DI, SER and the rest of DATA (for normal requests and replies)."""
    if len(frame.data) < 3:
        raise FrameError(f"DATA has {len(frame.data)} bytes, needs DI and SER")
    di, order = read_di(frame.data[:2])
    return Message(di, order, frame.data[2], frame.data[3:])


def encode(frame: Frame, preamble: int | None = None) -> bytes:
    """Wire bytes for ``frame``, with ``preamble`` FE bytes (default: ``frame.preamble``)."""
    if len(frame.data) > 0xFF:
        raise ValueError(f"DATA too long for one frame: {len(frame.data)} bytes")
    if not (0 <= frame.meter_type <= 0xFF and 0 <= frame.control <= 0xFF):
        raise ValueError("meter type and control must be single bytes")
    body = (
        bytes([START, frame.meter_type])
        + addresses.to_wire(frame.address, 14)
        + bytes([frame.control, len(frame.data)])
        + frame.data
    )
    return framing.wrap(body, frame.preamble if preamble is None else preamble)


def _build(body: bytes, preamble: int) -> Frame:
    """The frame in ``body`` (68 through DATA), its markers and checksum already checked."""
    return Frame(
        meter_type=body[1],
        address=addresses.from_wire(body[2:9]),
        control=body[9],
        data=body[HEADER_LEN:],
        preamble=preamble,
    )


LAYOUT = framing.Layout(header_len=HEADER_LEN, address_at=2, address_len=7, build=_build)


parse = LAYOUT.parse  # exactly one frame: any number of FE first, nothing after the 16
scan = LAYOUT.scan  # find_frame's answer, and why well-shaped candidates were rejected
find_frame = LAYOUT.find  # (frame | None, consumed) from a receive buffer; never raises


class FrameReader(framing.FrameReader[Frame]):
    """Accumulates serial bytes and yields CJ/T 188 frames; bounded, drop-oldest, counted."""

    def __init__(self, max_buffer: int = 1024) -> None:
        super().__init__(LAYOUT, max_buffer)


# --------------------------------------------------------------------------------------------
# Requests and replies


def _frame_bytes(
    meter_type: int,
    address: str,
    control: int,
    di: int,
    ser: int,
    body: bytes,
    order: DiOrder,
    preamble: int,
) -> bytes:
    data = di_wire(di, order) + bytes([ser & 0xFF]) + body
    return encode(Frame(meter_type, normalize_address(address), control, data), preamble)


def build_read(
    address: str,
    meter_type: int = MeterType.COLD_WATER,
    di: int = DI_METERING,
    *,
    ser: int = 0,
    di_order: DiOrder = DiOrder.HIGH_FIRST,
    preamble: int = 3,
) -> bytes:
    """Read data (C=01H), by default the 901F metering block."""
    return _frame_bytes(meter_type, address, READ_DATA, di, ser, b"", di_order, preamble)


def build_read_address(
    *,
    meter_type: int = MeterType.WILDCARD,
    ser: int = 0,
    di_order: DiOrder = DiOrder.HIGH_FIRST,
    preamble: int = 3,
) -> bytes:
    """Read address (C=03H, DI 810A) to the wildcard: only valid with one meter on the bus."""
    return _frame_bytes(
        meter_type, WILDCARD_ADDRESS, READ_ADDRESS, DI_ADDRESS, ser, b"", di_order, preamble
    )


def build_reply(
    meter_type: int,
    address: str,
    di: int,
    ser: int,
    body: bytes = b"",
    *,
    function: int = READ_DATA,
    di_order: DiOrder = DiOrder.HIGH_FIRST,
    preamble: int = 0,
) -> bytes:
    """A meter's normal reply (C = function | 80H) echoing DI and SER."""
    control = REPLY_BIT | (function & FUNCTION_MASK)
    return _frame_bytes(meter_type, address, control, di, ser, body, di_order, preamble)


def build_metering_reply(
    meter_type: int,
    address: str,
    data: MeteringData,
    ser: int = 0,
    *,
    di_order: DiOrder = DiOrder.HIGH_FIRST,
    preamble: int = 0,
) -> bytes:
    body = encode_metering(data)
    return build_reply(
        meter_type, address, DI_METERING, ser, body, di_order=di_order, preamble=preamble
    )


def build_address_reply(
    meter_type: int,
    address: str,
    ser: int = 0,
    *,
    di_order: DiOrder = DiOrder.HIGH_FIRST,
    preamble: int = 0,
) -> bytes:
    """Reply to read-address (83H): the meter's type and address are in the header."""
    return build_reply(
        meter_type,
        address,
        DI_ADDRESS,
        ser,
        function=READ_ADDRESS,
        di_order=di_order,
        preamble=preamble,
    )


def build_error_reply(
    meter_type: int,
    address: str,
    ser: int,
    status: int,
    *,
    function: int = READ_DATA,
    preamble: int = 0,
) -> bytes:
    """Abnormal reply (C = function | C0H): DATA = SER ST(2) — **[INFERRED]** layout."""
    control = REPLY_BIT | ERROR_BIT | (function & FUNCTION_MASK)
    data = bytes([ser & 0xFF]) + (status & 0xFFFF).to_bytes(2, "little")
    return encode(Frame(meter_type, normalize_address(address), control, data), preamble)


@dataclass(frozen=True, slots=True)
class Request:
    meter_type: int
    address: str
    function: int
    di: int
    di_order: DiOrder
    ser: int
    body: bytes = b""


def decode_request(frame: Frame) -> Request:
    if frame.is_reply:
        raise FrameError(f"control {frame.control:02X} is a reply, not a request")
    msg = split(frame)
    return Request(
        frame.meter_type, frame.address, frame.function, msg.di, msg.di_order, msg.ser, msg.body
    )


@dataclass(frozen=True, slots=True)
class DataReply:
    meter_type: int
    address: str
    di: int
    di_order: DiOrder
    ser: int
    data: MeteringData | None  # typed for 901F, None for DIs this codec does not type
    body: bytes


@dataclass(frozen=True, slots=True)
class AddressReply:
    meter_type: int
    address: str
    ser: int


@dataclass(frozen=True, slots=True)
class ErrorReply:
    meter_type: int
    address: str
    function: int
    ser: int | None
    status: Status | None


@dataclass(frozen=True, slots=True)
class AckReply:
    meter_type: int
    address: str
    function: int
    ser: int
    body: bytes


Reply = DataReply | AddressReply | ErrorReply | AckReply


def decode_reply(frame: Frame) -> Reply:
    if not frame.is_reply:
        raise FrameError(f"control {frame.control:02X} is a request, not a reply")
    if frame.is_error:
        # Seen as SER ST(2); some meters echo DI first (DI SER ST): take the last three bytes.
        if len(frame.data) >= 3:
            tail = frame.data[-3:]
            return ErrorReply(
                frame.meter_type,
                frame.address,
                frame.function,
                tail[0],
                Status(int.from_bytes(tail[1:3], "little")),
            )
        return ErrorReply(frame.meter_type, frame.address, frame.function, None, None)
    msg = split(frame)
    if frame.function == READ_ADDRESS:
        address = frame.address
        if len(msg.body) == 7:  # some meters repeat the address in DATA
            address = addresses.from_wire(msg.body)
        return AddressReply(frame.meter_type, address, msg.ser)
    if frame.function == READ_DATA:
        typed = decode_metering(msg.body) if msg.di == DI_METERING else None
        return DataReply(
            frame.meter_type, frame.address, msg.di, msg.di_order, msg.ser, typed, msg.body
        )
    return AckReply(frame.meter_type, frame.address, frame.function, msg.ser, msg.body)


__all__ = [
    "DI_ADDRESS",
    "DI_METERING",
    "END",
    "HEAT_BODY_LEN",
    "KNOWN_DIS",
    "PREAMBLE_BYTE",
    "START",
    "UNITS",
    "UNIT_CODES",
    "WATER_BODY_LEN",
    "WILDCARD_ADDRESS",
    "AckReply",
    "AddressReply",
    "DataReply",
    "DiOrder",
    "ErrorReply",
    "Frame",
    "FrameReader",
    "HeatData",
    "Message",
    "MeterType",
    "MeteringData",
    "Quantity",
    "Reply",
    "Request",
    "Status",
    "Valve",
    "WaterData",
    "address_matches",
    "build_address_reply",
    "build_error_reply",
    "build_metering_reply",
    "build_read",
    "build_read_address",
    "build_reply",
    "checksum",
    "decode_metering",
    "decode_reply",
    "decode_request",
    "di_wire",
    "encode",
    "encode_metering",
    "find_frame",
    "meter_family",
    "normalize_address",
    "parse",
    "read_di",
    "scan",
    "split",
    "unit_name",
]
