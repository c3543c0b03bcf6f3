"""CJ/T 188 water, heat and gas meters on an RS-485 (or M-Bus via converter) line."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from edge.codecs import cjt188
from edge.events import Reading, utcnow
from edge.fieldbus.config import BusDeviceConfig, meter_address
from edge.fieldbus.meters import read_cjt188, value_reading
from edge.fieldbus.polling import SerialDevice

MeterKind = Literal[
    "cold_water", "hot_water", "drinking_water", "reclaimed_water", "heat", "cooling", "gas"
]


class Cjt188Config(BusDeviceConfig):
    """A water (水表), heat (热量表) or gas (燃气表) meter speaking CJ/T 188-2004."""

    type: Literal["cjt188"] = Field(title="Type", description="A CJ/T 188 water/heat/gas meter.")
    address: str = Field(title="Meter address", description="14 digits, as printed.")
    meter_type: MeterKind = Field(
        default="cold_water", title="Meter type", description="The T byte of its frames."
    )
    di_order: cjt188.DiOrder = Field(
        default=cjt188.DiOrder.HIGH_FIRST,
        title="DI byte order",
        description="high_first sends 90 1F; many heat meters want low_first (1F 90).",
    )

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, value: Any) -> str:
        return meter_address(value, cjt188.normalize_address)

    @property
    def type_code(self) -> int:
        return int(cjt188.MeterType[self.meter_type.upper()])


class Cjt188Meter(SerialDevice):
    config: Cjt188Config

    async def poll(self, attempts: int | None) -> list[Reading]:
        assert self.bus is not None
        ts = utcnow()
        result = await read_cjt188(
            self.bus,
            self.config.address,
            self.config.type_code,
            di_order=self.config.di_order,
            attempts=attempts,
        )
        readings = [value_reading(self.id, v, ts) for v in result.values]
        if result.status is not None:
            readings.append(Reading(self.id, "valve", result.status.valve.value, "", ts))
            readings.append(Reading(self.id, "battery_low", result.status.battery_low, "", ts))
        return readings


CONFIG = Cjt188Config
DRIVER = Cjt188Meter
