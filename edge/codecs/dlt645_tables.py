"""What DL/T 645's numbers mean: editions, function codes, error bits and data identifiers.

Tables only, no wire format: the codec (`edge.codecs.dlt645`) re-exports every name here, so
callers keep importing from there. ``Version`` lives here because the tables are keyed by it;
the function codes come with it because each edition has its own.

Sources of the DI table: see ``docs/protocols/dlt645.md`` (which lists every DI here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntFlag, StrEnum

# Function codes.
BROADCAST_TIME = 0x08  # both versions, no reply
READ_DATA_2007 = 0x11
READ_FOLLOW_2007 = 0x12
READ_ADDRESS_2007 = 0x13
WRITE_DATA_2007 = 0x14
WRITE_ADDRESS_2007 = 0x15
FREEZE_2007 = 0x16
CHANGE_BAUD_2007 = 0x17
READ_DATA_1997 = 0x01
READ_FOLLOW_1997 = 0x02
WRITE_DATA_1997 = 0x04


class Version(StrEnum):
    V2007 = "2007"
    V1997 = "1997"

    @property
    def di_len(self) -> int:
        return 4 if self is Version.V2007 else 2

    @property
    def read_function(self) -> int:
        return READ_DATA_2007 if self is Version.V2007 else READ_DATA_1997

    @property
    def follow_function(self) -> int:
        return READ_FOLLOW_2007 if self is Version.V2007 else READ_FOLLOW_1997


class ErrorFlag(IntFlag):
    """Bits of the error byte in an abnormal reply (C | 0x40).

    2007 and 1997 share positions 2, 4, 5, 6; bits 0, 1, 3 differ in wording (see ``error_texts``).
    """

    OTHER = 0x01
    NO_DATA = 0x02
    UNAUTHORIZED = 0x04
    BAUD_FIXED = 0x08
    YEAR_ZONES_EXCEEDED = 0x10
    DAY_PERIODS_EXCEEDED = 0x20
    TARIFFS_EXCEEDED = 0x40


_ERROR_TEXT_2007 = {
    ErrorFlag.OTHER: "其他错误",
    ErrorFlag.NO_DATA: "无请求数据",
    ErrorFlag.UNAUTHORIZED: "密码错/未授权",
    ErrorFlag.BAUD_FIXED: "通信速率不能更改",
    ErrorFlag.YEAR_ZONES_EXCEEDED: "年时区数超",
    ErrorFlag.DAY_PERIODS_EXCEEDED: "日时段数超",
    ErrorFlag.TARIFFS_EXCEEDED: "费率数超",
}
_ERROR_TEXT_1997 = {
    ErrorFlag.OTHER: "非法数据",
    ErrorFlag.NO_DATA: "数据标识错",
    ErrorFlag.UNAUTHORIZED: "密码错",
    ErrorFlag.BAUD_FIXED: "保留",
    ErrorFlag.YEAR_ZONES_EXCEEDED: "年时区数超",
    ErrorFlag.DAY_PERIODS_EXCEEDED: "日时段数超",
    ErrorFlag.TARIFFS_EXCEEDED: "费率数超",
}


def error_texts(errors: int, version: Version = Version.V2007) -> list[str]:
    """The standard's wording for each set bit, lowest bit first (for logs and the CLI)."""
    table = _ERROR_TEXT_2007 if version is Version.V2007 else _ERROR_TEXT_1997
    return [text for flag, text in table.items() if errors & flag]


class Kind(StrEnum):
    NUMBER = "number"  # BCD with implied decimals
    DATE = "date"  # YYMMDDWW, sent WW DD MM YY
    TIME = "time"  # hhmmss, sent ss mm hh
    DIGITS = "digits"  # plain BCD digit string (addresses, meter numbers)


@dataclass(frozen=True, slots=True)
class DataId:
    """What one DI means. Blocks repeat an element ``size`` bytes wide, one per point."""

    di: int
    version: Version
    point: str
    name: str
    unit: str
    fmt: str
    size: int
    decimals: int = 0
    signed: bool = False
    kind: Kind = Kind.NUMBER
    points: tuple[str, ...] = ()  # for blocks: point name of each element
    rates: bool = False  # block of total + tariff rates, count set by the meter

    @property
    def is_block(self) -> bool:
        return bool(self.points) or self.rates

    def element_points(self, count: int) -> list[str]:
        if self.rates:
            return [f"{self.point}_total"] + [f"{self.point}_rate{k}" for k in range(1, count)]
        if self.points:
            return list(self.points[:count])
        return [self.point]


DI_TABLE: dict[tuple[Version, int], DataId] = {}


def _add(entry: DataId) -> None:
    DI_TABLE[(entry.version, entry.di)] = entry


def _number(
    version: Version,
    di: int,
    point: str,
    name: str,
    unit: str,
    fmt: str,
    *,
    signed: bool = False,
    size: int | None = None,
    points: Sequence[str] = (),
    rates: bool = False,
) -> None:
    digits = fmt.replace(".", "")
    decimals = len(fmt) - fmt.index(".") - 1 if "." in fmt else 0
    _add(
        DataId(
            di=di,
            version=version,
            point=point,
            name=name,
            unit=unit,
            fmt=fmt,
            size=size or (len(digits) + 1) // 2,
            decimals=decimals,
            signed=signed,
            points=tuple(points),
            rates=rates,
        )
    )


def _build_tables() -> None:
    v7, v97 = Version.V2007, Version.V1997
    energy = [
        (0x0000, "energy_active_combined", "组合有功", True),
        (0x0001, "energy_active_forward", "正向有功", False),
        (0x0002, "energy_active_reverse", "反向有功", False),
    ]
    for hi, point, zh, signed in energy:
        base = hi << 16
        _number(v7, base, f"{point}_total", f"{zh}总电能", "kWh", "XXXXXX.XX", signed=signed)
        for rate in range(1, 5):
            _number(
                v7,
                base | rate << 8,
                f"{point}_rate{rate}",
                f"{zh}费率{rate}电能",
                "kWh",
                "XXXXXX.XX",
                signed=signed,
            )
        _number(
            v7,
            base | 0xFF00,
            point,
            f"{zh}电能数据块",
            "kWh",
            "XXXXXX.XX",
            signed=signed,
            rates=True,
        )
    phases = ("a", "b", "c")
    zh_phases = ("A", "B", "C")
    for k, (p, zp) in enumerate(zip(phases, zh_phases, strict=True), start=1):
        _number(v7, 0x02010000 | k << 8, f"voltage_{p}", f"{zp}相电压", "V", "XXX.X")
        _number(v7, 0x02020000 | k << 8, f"current_{p}", f"{zp}相电流", "A", "XXX.XXX", signed=True)
    _number(
        v7,
        0x0201FF00,
        "voltage",
        "电压数据块",
        "V",
        "XXX.X",
        points=[f"voltage_{p}" for p in phases],
    )
    _number(
        v7,
        0x0202FF00,
        "current",
        "电流数据块",
        "A",
        "XXX.XXX",
        signed=True,
        points=[f"current_{p}" for p in phases],
    )
    powers = [
        (0x0203, "power_active", "有功功率", "kW", "XX.XXXX"),
        (0x0204, "power_reactive", "无功功率", "kvar", "XX.XXXX"),
        (0x0205, "power_apparent", "视在功率", "kVA", "XX.XXXX"),
        (0x0206, "power_factor", "功率因数", "", "X.XXX"),
    ]
    for hi, point, zh, unit, fmt in powers:
        base = hi << 16
        _number(v7, base, f"{point}_total", f"瞬时总{zh}", unit, fmt, signed=True)
        for k, (p, zp) in enumerate(zip(phases, zh_phases, strict=True), start=1):
            _number(v7, base | k << 8, f"{point}_{p}", f"瞬时{zp}相{zh}", unit, fmt, signed=True)
        _number(
            v7,
            base | 0xFF00,
            point,
            f"{zh}数据块",
            unit,
            fmt,
            signed=True,
            points=[f"{point}_{p}" for p in ("total", *phases)],
        )
    _number(v7, 0x02800002, "frequency", "电网频率", "Hz", "XX.XX")
    _add(DataId(0x04000101, v7, "date", "日期及星期", "", "YYMMDDWW", 4, kind=Kind.DATE))
    _add(DataId(0x04000102, v7, "time", "时间", "", "hhmmss", 3, kind=Kind.TIME))
    _add(
        DataId(0x04000401, v7, "comm_address", "通信地址", "", "NNNNNNNNNNNN", 6, kind=Kind.DIGITS)
    )
    _add(DataId(0x04000402, v7, "meter_number", "表号", "", "NNNNNNNNNNNN", 6, kind=Kind.DIGITS))

    for base, point, zh in [
        (0x9010, "energy_active_forward", "正向有功"),
        (0x9020, "energy_active_reverse", "反向有功"),
    ]:
        _number(v97, base, f"{point}_total", f"(当前){zh}总电能", "kWh", "XXXXXX.XX")
        for rate in range(1, 5):
            _number(
                v97,
                base + rate,
                f"{point}_rate{rate}",
                f"(当前){zh}费率{rate}电能",
                "kWh",
                "XXXXXX.XX",
            )
        _number(v97, base | 0x0F, point, f"(当前){zh}电能数据块", "kWh", "XXXXXX.XX", rates=True)
    for k, (p, zp) in enumerate(zip(phases, zh_phases, strict=True), start=1):
        _number(v97, 0xB610 + k, f"voltage_{p}", f"{zp}相电压", "V", "XXX", size=2)
        _number(v97, 0xB620 + k, f"current_{p}", f"{zp}相电流", "A", "XX.XX")
        _number(v97, 0xB630 + k, f"power_active_{p}", f"{zp}相有功功率", "kW", "XX.XXXX")
    _number(
        v97,
        0xB61F,
        "voltage",
        "电压数据块",
        "V",
        "XXX",
        size=2,
        points=[f"voltage_{p}" for p in phases],
    )
    _number(
        v97, 0xB62F, "current", "电流数据块", "A", "XX.XX", points=[f"current_{p}" for p in phases]
    )
    _number(v97, 0xB630, "power_active_total", "瞬时有功功率", "kW", "XX.XXXX")
    _number(
        v97,
        0xB63F,
        "power_active",
        "有功功率数据块",
        "kW",
        "XX.XXXX",
        points=[f"power_active_{p}" for p in ("total", *phases)],
    )
    _number(v97, 0xB640, "power_reactive_total", "瞬时无功功率", "kvar", "XX.XX")
    _number(v97, 0xB650, "power_factor_total", "总功率因数", "", "X.XXX")
    _add(DataId(0xC010, v97, "date", "日期及周次", "", "YYMMDDWW", 4, kind=Kind.DATE))
    _add(DataId(0xC011, v97, "time", "时间", "", "hhmmss", 3, kind=Kind.TIME))
    _add(DataId(0xC032, v97, "meter_number", "表号", "", "NNNNNNNNNNNN", 6, kind=Kind.DIGITS))


_build_tables()


def lookup(di: int, version: Version = Version.V2007) -> DataId | None:
    return DI_TABLE.get((version, di))


def di_for_point(point: str, version: Version = Version.V2007) -> int | None:
    """The single-value DI that carries ``point`` (so a driver config can name points)."""
    for (ver, di), entry in DI_TABLE.items():
        if ver is version and not entry.is_block and entry.point == point:
            return di
    return None


__all__ = [
    "BROADCAST_TIME",
    "CHANGE_BAUD_2007",
    "DI_TABLE",
    "FREEZE_2007",
    "READ_ADDRESS_2007",
    "READ_DATA_1997",
    "READ_DATA_2007",
    "READ_FOLLOW_1997",
    "READ_FOLLOW_2007",
    "WRITE_ADDRESS_2007",
    "WRITE_DATA_1997",
    "WRITE_DATA_2007",
    "DataId",
    "ErrorFlag",
    "Kind",
    "Version",
    "di_for_point",
    "error_texts",
    "lookup",
]
