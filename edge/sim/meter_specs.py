"""What the simulated meter bus holds: meter specs (protocol, address, loads, clock skew),
faults injected at run time, and the bus settings (baud, turnaround) loaded from YAML."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from edge.codecs import cjt188, dlt645
from edge.codecs.cjt188 import DiOrder, Valve
from edge.codecs.dlt645 import ErrorFlag, Version


class Protocol(StrEnum):
    DLT645_2007 = "dlt645-2007"
    DLT645_1997 = "dlt645-1997"
    CJT188 = "cjt188"


class FaultKind(StrEnum):
    NONE = "none"
    SILENT = "silent"  # never answers
    LATE = "late"  # answers after delay_s (without holding up the rest of the bus)
    GARBLED = "garbled"  # random bytes, as long as the real reply
    BAD_CHECKSUM = "bad_checksum"  # the real reply with CS off by one
    ERROR_REPLY = "error_reply"  # abnormal reply: DL/T 645 error byte / CJ/T 188 ST = error_bits


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind = FaultKind.NONE
    delay_s: float = 1.0
    error_bits: int = int(ErrorFlag.NO_DATA)

    @classmethod
    def from_value(cls, value: Fault | str | Mapping[str, Any] | None) -> Fault:
        if value is None:
            return cls()
        if isinstance(value, Fault):
            return value
        if isinstance(value, str):
            return cls(FaultKind(value))
        extra = set(value) - {"kind", "delay_s", "error_bits"}
        if extra:
            raise ValueError(f"unknown fault keys: {sorted(extra)}")
        return cls(
            FaultKind(value.get("kind", "none")),
            float(value.get("delay_s", 1.0)),
            int(value.get("error_bits", int(ErrorFlag.NO_DATA))),
        )


@dataclass(slots=True)
class MeterSpec:
    """One meter on the simulated bus; the defaults make a plausible household meter."""

    address: str
    protocol: Protocol = Protocol.DLT645_2007
    # Electricity (DL/T 645)
    energy_kwh: float = 1000.0  # forward active energy at start
    reverse_kwh: float = 0.0
    power_kw: float = 1.5  # mean load; swings ±30 % with a 10 min period
    voltage_v: float = 220.0
    frequency_hz: float = 50.0
    power_factor: float = 0.95
    max_data_len: int = dlt645.MAX_DATA_LEN  # longer answers go out as follow-on frames
    echo_wildcard: bool = False  # some 1997 meters answer a wildcard with the wildcard
    # CJ/T 188
    meter_type: int = cjt188.MeterType.COLD_WATER
    di_order: DiOrder | None = None  # None: answer in the order the request used
    flow_total_m3: float = 100.0
    flow_rate_m3h: float = 0.5
    heat_kwh: float = 5000.0  # heat meters
    heat_power_kw: float = 4.0
    supply_temp_c: float = 60.0
    return_temp_c: float = 45.0
    valve: Valve = Valve.OPEN
    battery_low: bool = False
    # Both
    clock_offset_s: float = 0.0  # meter clock minus gateway clock
    fault: Fault = field(default_factory=Fault)

    def __post_init__(self) -> None:
        self.protocol = Protocol(self.protocol)
        self.valve = Valve(self.valve)
        if self.di_order is not None:
            self.di_order = DiOrder(self.di_order)
        self.fault = Fault.from_value(self.fault)
        if self.protocol is Protocol.CJT188:
            self.address = cjt188.normalize_address(self.address)
        else:
            self.address = dlt645.normalize_address(self.address)
        if any(self.address[i : i + 2] == "AA" for i in range(0, len(self.address), 2)):
            raise ValueError(f"a meter's own address cannot contain wildcards: {self.address}")

    @property
    def version(self) -> Version | None:
        return {Protocol.DLT645_2007: Version.V2007, Protocol.DLT645_1997: Version.V1997}.get(
            self.protocol
        )


@dataclass(slots=True)
class SimConfig:
    meters: list[MeterSpec]
    baud: int | None = None  # emulate wire time at this rate; None = as fast as the transport
    turnaround_s: float = 0.0  # meter processing time before it answers
    time_scale: float = 1.0  # simulated seconds per real second, to see drift quickly
    seed: int = 0

    def __post_init__(self) -> None:
        addresses = [m.address for m in self.meters]
        if len(set(addresses)) != len(addresses):
            raise ValueError("meter addresses must be unique")
        if self.baud is not None and self.baud <= 0:
            raise ValueError("baud must be positive")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown simulator keys: {sorted(extra)}")
        meter_keys = {f.name for f in dataclasses.fields(MeterSpec)}
        meters = []
        for k, item in enumerate(data.get("meters") or []):
            bad = set(item) - meter_keys
            if bad:
                raise ValueError(f"meters[{k}]: unknown keys {sorted(bad)}")
            meters.append(MeterSpec(**item))
        rest = {k: v for k, v in data.items() if k != "meters"}
        return cls(meters=meters, **rest)

    @classmethod
    def load(cls, path: str | Path) -> SimConfig:
        return cls.from_dict(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


def demo_config() -> SimConfig:
    """One meter of each kind: what the demo and ``--meters`` omitted start with."""
    return SimConfig(
        meters=[
            MeterSpec("000000000161", Protocol.DLT645_2007, energy_kwh=1234.56),
            MeterSpec("000000060507", Protocol.DLT645_1997, energy_kwh=93.64, power_kw=0.8),
            MeterSpec("00201809230001", Protocol.CJT188, flow_total_m3=0.6),
            MeterSpec(
                "11110012345678",
                Protocol.CJT188,
                meter_type=cjt188.MeterType.HEAT,
                di_order=DiOrder.LOW_FIRST,
            ),
        ]
    )
