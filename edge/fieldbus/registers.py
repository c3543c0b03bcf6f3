"""Modbus register maps: which registers hold a point and how to turn words into a value.

A 32-bit value spans two registers. Devices disagree on both orders: `word_order`
says which register holds the high word, `byte_order` which byte of each
register comes first (big = as Modbus sends it). "CDAB" floats, common on
Chinese sensors, are `word_order: little, byte_order: big`.

Pure functions: the driver reads, the simulator writes, both through this file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, model_validator

from edge.config.types import Section

Function = Literal["coils", "discrete_inputs", "holding_registers", "input_registers"]
DataType = Literal["bool", "int16", "uint16", "int32", "uint32", "float32"]
Order = Literal["big", "little"]

BIT_FUNCTIONS: frozenset[str] = frozenset({"coils", "discrete_inputs"})
FUNCTION_CODES: dict[str, int] = {
    "coils": 1,
    "discrete_inputs": 2,
    "holding_registers": 3,
    "input_registers": 4,
}
WIDTH: dict[str, int] = {
    "bool": 1,
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
}
_STRUCT = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}
MAX_REGISTERS = 125  # per read request (Modbus spec)
MAX_BITS = 2000

Value = float | int | bool


class RegisterPoint(Section):
    """One point of a register map (`registers:` in a device or a profile)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", title="Point name", description="e.g. level")
    function: Function = Field(
        default="holding_registers", title="Modbus table", description="Which of the four tables."
    )
    address: int = Field(ge=0, le=65535, title="Address", description="0-based, as on the wire.")
    type: DataType = Field(
        default="uint16", title="Data type", description="How the register(s) are read."
    )
    count: int | None = Field(
        default=None,
        ge=1,
        le=2,
        title="Registers",
        description="Registers the value spans; implied by the type, checked if given.",
    )
    byte_order: Order = Field(
        default="big", title="Byte order", description="Within a register; big as Modbus sends."
    )
    word_order: Order = Field(
        default="big", title="Word order", description="32-bit types: little = low word first."
    )
    bit: int | None = Field(
        default=None, ge=0, le=15, title="Bit", description="For bool in a register: which bit."
    )
    scale: float = Field(default=1.0, title="Scale", description="value = raw × scale + offset")
    offset: float = Field(default=0.0, title="Offset", description="Added after scaling.")
    unit: str = Field(default="", title="Unit", description="e.g. m, °C, %LEL.")
    description: str = Field(default="", title="Description", description="For people.")

    @model_validator(mode="after")
    def _consistent(self) -> RegisterPoint:
        bits = self.function in BIT_FUNCTIONS
        if bits and self.type != "bool":
            raise ValueError(f"{self.function} hold single bits: type must be bool")
        if self.count is not None and self.count != self.width:
            raise ValueError(f"type {self.type} spans {self.width} register(s), not {self.count}")
        if self.bit is not None and (bits or self.type != "bool"):
            raise ValueError("bit applies to a bool read from a register")
        return self

    @property
    def width(self) -> int:
        return WIDTH[self.type]


def _words_to_bytes(words: list[int], byte_order: Order, word_order: Order) -> bytes:
    ordered = words if word_order == "big" else list(reversed(words))
    out = bytearray()
    for w in ordered:
        hi, lo = (w >> 8) & 0xFF, w & 0xFF
        out += bytes([hi, lo]) if byte_order == "big" else bytes([lo, hi])
    return bytes(out)


def _bytes_to_words(raw: bytes, byte_order: Order, word_order: Order) -> list[int]:
    words = []
    for k in range(0, len(raw), 2):
        hi, lo = (raw[k], raw[k + 1]) if byte_order == "big" else (raw[k + 1], raw[k])
        words.append(hi << 8 | lo)
    return words if word_order == "big" else list(reversed(words))


def decode_point(point: RegisterPoint, raw: list[int] | list[bool]) -> Value:
    """The engineering value of `point` from its own slice of registers or bits."""
    if point.function in BIT_FUNCTIONS:
        return bool(raw[0])
    words = [int(w) & 0xFFFF for w in raw[: point.width]]
    if len(words) != point.width:
        raise ValueError(f"{point.name}: needs {point.width} registers, got {len(words)}")
    if point.type == "bool":
        if point.bit is not None:
            return bool(words[0] >> point.bit & 1)
        return words[0] != 0
    (number,) = struct.unpack(
        _STRUCT[point.type], _words_to_bytes(words, point.byte_order, point.word_order)
    )
    if point.scale == 1.0 and point.offset == 0.0 and point.type != "float32":
        return int(number)
    return float(number) * point.scale + point.offset


def encode_point(point: RegisterPoint, value: Value) -> list[int] | list[bool]:
    """Registers (or bits) that decode to `value`; the simulator's half."""
    if point.function in BIT_FUNCTIONS:
        return [bool(value)]
    if point.type == "bool":
        on = bool(value)
        return [(1 << point.bit if on else 0) if point.bit is not None else int(on)]
    raw = (float(value) - point.offset) / point.scale if point.scale else 0.0
    if point.type == "float32":
        packed = struct.pack(">f", raw)
    else:
        fmt = _STRUCT[point.type]
        lo, hi = _range(point.type)
        packed = struct.pack(fmt, max(lo, min(hi, round(raw))))
    return _bytes_to_words(packed, point.byte_order, point.word_order)


def _range(data_type: str) -> tuple[int, int]:
    bits = 16 if data_type.endswith("16") else 32
    if data_type.startswith("u"):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@dataclass
class ReadBlock:
    """One request covering several points of the same table."""

    function: Function
    address: int
    count: int
    points: list[RegisterPoint] = field(default_factory=list)

    def slice_for(
        self, point: RegisterPoint, data: list[int] | list[bool]
    ) -> list[int] | list[bool]:
        start = point.address - self.address
        return data[start : start + point.width]


def plan_reads(points: list[RegisterPoint], max_gap: int = 8) -> list[ReadBlock]:
    """Coalesce points into as few requests as the spec allows.

    Neighbours closer than `max_gap` registers share a request: reading a few
    unused registers is cheaper than another round trip at 9600 baud.
    """
    blocks: list[ReadBlock] = []
    by_function: dict[str, list[RegisterPoint]] = {}
    for p in points:
        by_function.setdefault(p.function, []).append(p)
    for function, items in by_function.items():
        limit = MAX_BITS if function in BIT_FUNCTIONS else MAX_REGISTERS
        current: ReadBlock | None = None
        for p in sorted(items, key=lambda q: q.address):
            end = p.address + p.width
            if (
                current is not None
                and p.address <= current.address + current.count + max_gap
                and end - current.address <= limit
            ):
                current.count = max(current.count, end - current.address)
                current.points.append(p)
                continue
            current = ReadBlock(p.function, p.address, p.width, [p])
            blocks.append(current)
    return blocks
