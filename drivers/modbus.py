"""Modbus sensors (smoke, water level, gas, temperature/humidity), RTU on a line or TCP.

`profile: water_level` brings the register map and default thresholds from
edge/fieldbus/builtin_profiles/; `registers:` / `thresholds:` on the device replace them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from edge.events import Reading, utcnow
from edge.fieldbus.config import BusDeviceConfig
from edge.fieldbus.modbus import ModbusLink
from edge.fieldbus.polling import PolledDevice
from edge.fieldbus.profiles import load_profile
from edge.fieldbus.registers import ReadBlock, RegisterPoint, decode_point, plan_reads
from edge.fieldbus.registry import BusRegistry


class ModbusDeviceConfig(BusDeviceConfig):
    """A Modbus unit: a register map (own or from a profile) read every poll."""

    type: Literal["modbus"] = Field(title="Type", description="A Modbus RTU or TCP unit.")
    unit: int = Field(default=1, ge=0, le=247, title="Unit ID", description="Slave/unit address.")
    profile: str | None = Field(
        default=None,
        title="Profile",
        description="smoke_detector, water_level, combustible_gas, temp_humidity, ...",
    )
    registers: list[RegisterPoint] = Field(
        default_factory=list,
        title="Register map",
        description="Points to read; replaces the profile's map when given.",
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_profile(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("profile"):
            return data
        profile = load_profile(str(data["profile"]))
        merged = dict(data)
        if "registers" not in merged:
            merged["registers"] = [p.model_dump() for p in profile.registers]
        if "thresholds" not in merged:
            merged["thresholds"] = [r.model_dump() for r in profile.thresholds]
        return merged

    @model_validator(mode="after")
    def _check(self) -> ModbusDeviceConfig:
        if not self.registers:
            raise ValueError("give registers: or a profile:")
        names = [p.name for p in self.registers]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate register point names: {sorted(dupes)}")
        for rule in self.thresholds:
            if rule.point not in names:
                raise ValueError(f"threshold on unknown point {rule.point!r} (points: {names})")
        return self


class ModbusSensor(PolledDevice):
    config: ModbusDeviceConfig

    def __init__(self, config: ModbusDeviceConfig, runtime: Any) -> None:
        super().__init__(config, runtime)
        self.blocks: list[ReadBlock] = plan_reads(config.registers)
        self.link: ModbusLink | None = None

    async def attach(self, registry: BusRegistry) -> None:
        self.link = registry.modbus(self.config.bus)

    async def poll(self, attempts: int | None) -> list[Reading]:
        assert self.link is not None
        ts = utcnow()
        readings: list[Reading] = []
        for block in self.blocks:
            data = await self.link.read(
                block.function, block.address, block.count, self.config.unit, attempts=attempts
            )
            for point in block.points:
                value = decode_point(point, block.slice_for(point, data))
                readings.append(Reading(self.id, point.name, value, point.unit, ts))
        return readings


CONFIG = ModbusDeviceConfig
DRIVER = ModbusSensor
