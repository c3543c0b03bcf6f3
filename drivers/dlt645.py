"""DL/T 645-2007 / 1997 electricity meters on an RS-485 line.

Each listed data identifier is one request; a poll reads them in order and,
while the meter is down, stops at the first failure so a dead meter costs the
line one timeout per backoff period.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from edge.codecs import dlt645
from edge.events import Reading, utcnow
from edge.fieldbus.config import BusDeviceConfig, meter_address
from edge.fieldbus.meters import read_dlt645_values, value_reading
from edge.fieldbus.polling import SerialDevice

DEFAULT_POINTS = {
    "2007": ["energy_active_forward_total", "voltage", "current", "power_active_total"],
    "1997": ["energy_active_forward_total", "voltage", "current", "power_active_total"],
}


def resolve_di(item: str, version: dlt645.Version) -> int:
    """A point name from the codec's table (block names too) or a DI in hex."""
    for (ver, di), entry in dlt645.DI_TABLE.items():
        if ver is version and entry.point == item:
            return di
    text = item.lower().removeprefix("0x")
    try:
        di = int(text, 16)
    except ValueError:
        raise ValueError(f"unknown DL/T 645-{version} point {item!r}") from None
    if dlt645.lookup(di, version) is None:
        raise ValueError(f"DI {item} is not in the DL/T 645-{version} table")
    return di


class Dlt645Config(BusDeviceConfig):
    """An electricity meter (电表) speaking DL/T 645."""

    type: Literal["dlt645"] = Field(title="Type", description="A DL/T 645 electricity meter.")
    address: str = Field(title="Meter address", description="12 digits, as printed on the meter.")
    version: Literal["2007", "1997"] = Field(
        default="2007", title="Protocol edition", description="2007, or 1997 for older meters."
    )
    points: list[str] = Field(
        default_factory=list,
        title="Points",
        description="Point names (energy_active_forward_total, voltage, ...) or DIs in hex; "
        "default: forward energy, voltages, currents, active power.",
    )

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, value: Any) -> str:
        return meter_address(value, dlt645.normalize_address)

    @model_validator(mode="after")
    def _points(self) -> Dlt645Config:
        if not self.points:
            self.points = list(DEFAULT_POINTS[self.version])
        for p in self.points:
            resolve_di(p, dlt645.Version(self.version))
        return self

    @property
    def dis(self) -> list[int]:
        version = dlt645.Version(self.version)
        return [resolve_di(p, version) for p in self.points]


class Dlt645Meter(SerialDevice):
    config: Dlt645Config

    def __init__(self, config: Dlt645Config, runtime: Any) -> None:
        super().__init__(config, runtime)
        self.version = dlt645.Version(config.version)
        self.dis = config.dis

    async def poll(self, attempts: int | None) -> list[Reading]:
        assert self.bus is not None
        ts = utcnow()
        readings: list[Reading] = []
        for di in self.dis:
            values = await read_dlt645_values(
                self.bus, self.config.address, di, self.version, attempts=attempts
            )
            readings += [value_reading(self.id, v, ts) for v in values]
        return readings


CONFIG = Dlt645Config
DRIVER = Dlt645Meter
