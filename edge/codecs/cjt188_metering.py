"""CJ/T 188-2004 metering data (DI 901F): what water, gas and heat meters report, and its bytes.

The body after SER is a fixed layout chosen by its length: 19 bytes for water and gas
meters, 43 for heat meters. Quantities are 4 BCD bytes (low byte first) and a unit code;
FF-filled fields mean "not supported" and decode to None; times are 7 BCD bytes
(ss mm hh DD MM YYlo YYhi). The frame around it is `edge.codecs.cjt188`'s.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from edge.codecs import bcd
from edge.codecs.errors import BcdError, FrameError
from edge.codecs.values import Value

UNITS: dict[int, str] = {
    0x01: "J",
    0x02: "Wh",
    0x05: "kWh",
    0x08: "MWh",
    0x0A: "MWh*100",
    0x0B: "kJ",
    0x0E: "MJ",
    0x11: "GJ",
    0x13: "GJ*100",
    0x14: "W",
    0x17: "kW",
    0x1A: "MW",
    0x29: "L",
    0x2C: "m3",
    0x32: "L/h",
    0x35: "m3/h",
}
UNIT_CODES: dict[str, int] = {name: code for code, name in UNITS.items()}


def unit_name(code: int) -> str:
    return UNITS.get(code, f"unit_{code:02X}")


class Valve(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    ABNORMAL = "abnormal"
    UNKNOWN = "unknown"


_VALVE_BITS = {0: Valve.OPEN, 1: Valve.CLOSED, 3: Valve.ABNORMAL, 2: Valve.UNKNOWN}


@dataclass(frozen=True, slots=True)
class Status:
    """ST word (first wire byte is the low byte). Only valve (bits 0-1) and battery (bit 2) are
    read; the rest is vendor-defined and kept in ``raw``."""

    raw: int

    @property
    def valve(self) -> Valve:
        return _VALVE_BITS[self.raw & 0x03]

    @property
    def battery_low(self) -> bool:
        return bool(self.raw & 0x04)

    @classmethod
    def make(cls, valve: Valve = Valve.OPEN, battery_low: bool = False, other: int = 0) -> Status:
        bits = {v: k for k, v in _VALVE_BITS.items()}[valve]
        return cls((other & ~0x07) | bits | (0x04 if battery_low else 0))


@dataclass(frozen=True, slots=True)
class Quantity:
    value: float | None  # None when the meter sends FF (not supported)
    unit_code: int

    @property
    def unit(self) -> str:
        return unit_name(self.unit_code)


@dataclass(frozen=True, slots=True)
class WaterData:
    """901F reply of water and gas meters (19 bytes after SER)."""

    current: Quantity  # 当前累积流量
    settlement: Quantity  # 结算日累积流量
    time: dt.datetime | None  # 实时时间 (None if FF-filled or not a valid date)
    status: Status

    def values(self) -> list[Value]:
        return [
            Value("flow_total", self.current.value, self.current.unit, "当前累积流量"),
            Value("flow_settlement", self.settlement.value, self.settlement.unit, "结算日累积流量"),
        ]


@dataclass(frozen=True, slots=True)
class HeatData:
    """901F reply of heat meters (43 bytes after SER). **[INFERRED]** layout, see the docs."""

    settlement_heat: Quantity  # 结算日热量
    current_heat: Quantity  # 当前热量
    heat_power: Quantity  # 热功率
    flow_rate: Quantity  # 流量 (4 decimals)
    total_flow: Quantity  # 累积流量
    supply_temp: float | None  # 供水温度 °C
    return_temp: float | None  # 回水温度 °C
    working_hours: int | None  # 累计工作时间 h
    time: dt.datetime | None
    status: Status

    def values(self) -> list[Value]:
        q = [
            ("heat_settlement", self.settlement_heat, "结算日热量"),
            ("heat_total", self.current_heat, "当前热量"),
            ("heat_power", self.heat_power, "热功率"),
            ("flow_rate", self.flow_rate, "流量"),
            ("flow_total", self.total_flow, "累积流量"),
        ]
        out = [Value(point, item.value, item.unit, name) for point, item, name in q]
        out.append(Value("temp_supply", self.supply_temp, "°C", "供水温度"))
        out.append(Value("temp_return", self.return_temp, "°C", "回水温度"))
        hours = None if self.working_hours is None else float(self.working_hours)
        out.append(Value("working_hours", hours, "h", "累计工作时间"))
        return out


MeteringData = WaterData | HeatData

WATER_BODY_LEN = 19
HEAT_BODY_LEN = 43


def _bcd_number(raw: bytes, decimals: int) -> float | None:
    """Little-endian BCD; all-FF is "not supported"."""
    if bcd.is_unsupported(raw):
        return None
    return int(bcd.to_digits(raw)) / 10**decimals


def _to_bcd(value: float | None, size: int, decimals: int) -> bytes:
    if value is None:
        return b"\xff" * size
    scaled = round(value * 10**decimals)
    if not 0 <= scaled < 10 ** (size * 2):
        raise ValueError(f"{value} does not fit {size} BCD bytes with {decimals} decimals")
    return bcd.from_int(scaled, size)


def _quantity(raw: bytes, decimals: int = 2) -> Quantity:
    return Quantity(_bcd_number(raw[:4], decimals), raw[4])


def _quantity_bytes(q: Quantity, decimals: int = 2) -> bytes:
    return _to_bcd(q.value, 4, decimals) + bytes([q.unit_code & 0xFF])


def _time(raw: bytes) -> dt.datetime | None:
    """ss mm hh DD MM YYlo YYhi; FF anywhere means "not supported"."""
    if 0xFF in raw:
        return None
    for b in raw:
        if not bcd.is_bcd(b):
            raise BcdError(f"time byte {b:02X} is not BCD")
    ss, mm, hh, day, month, ylo, yhi = (int(f"{b:02X}") for b in raw)
    try:
        return dt.datetime(yhi * 100 + ylo, month, day, hh, mm, ss)
    except ValueError:
        return None  # meters with an unset clock send zeros or out-of-range fields


def _time_bytes(when: dt.datetime | None) -> bytes:
    if when is None:
        return b"\xff" * 7
    fields = (
        when.second,
        when.minute,
        when.hour,
        when.day,
        when.month,
        when.year % 100,
        when.year // 100,
    )
    return bytes(int(f"{v:02d}", 16) for v in fields)


def decode_metering(body: bytes) -> MeteringData:
    """Typed 901F reply body (after SER): the layout is chosen by its length."""
    if len(body) == WATER_BODY_LEN:
        return WaterData(
            current=_quantity(body[0:5]),
            settlement=_quantity(body[5:10]),
            time=_time(body[10:17]),
            status=Status(int.from_bytes(body[17:19], "little")),
        )
    if len(body) == HEAT_BODY_LEN:
        return HeatData(
            settlement_heat=_quantity(body[0:5]),
            current_heat=_quantity(body[5:10]),
            heat_power=_quantity(body[10:15]),
            flow_rate=_quantity(body[15:20], decimals=4),
            total_flow=_quantity(body[20:25]),
            supply_temp=_bcd_number(body[25:28], 2),
            return_temp=_bcd_number(body[28:31], 2),
            working_hours=_int_or_none(_bcd_number(body[31:34], 0)),
            time=_time(body[34:41]),
            status=Status(int.from_bytes(body[41:43], "little")),
        )
    raise FrameError(
        f"901F body of {len(body)} bytes is neither water/gas ({WATER_BODY_LEN}) "
        f"nor heat ({HEAT_BODY_LEN})"
    )


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)


def encode_metering(data: MeteringData) -> bytes:
    """Inverse of ``decode_metering`` (used by the simulator)."""
    st = (data.status.raw & 0xFFFF).to_bytes(2, "little")
    if isinstance(data, WaterData):
        return (
            _quantity_bytes(data.current)
            + _quantity_bytes(data.settlement)
            + _time_bytes(data.time)
            + st
        )
    return (
        _quantity_bytes(data.settlement_heat)
        + _quantity_bytes(data.current_heat)
        + _quantity_bytes(data.heat_power)
        + _quantity_bytes(data.flow_rate, decimals=4)
        + _quantity_bytes(data.total_flow)
        + _to_bcd(data.supply_temp, 3, 2)
        + _to_bcd(data.return_temp, 3, 2)
        + _to_bcd(data.working_hours, 3, 0)
        + _time_bytes(data.time)
        + st
    )
