"""Fields shared by every device that sits on a bus and is polled."""

from __future__ import annotations

from pydantic import Field

from edge.config.devices import DeviceBase
from edge.rules.config import ThresholdRule


class BusDeviceConfig(DeviceBase):
    bus: str = Field(title="Bus", description="The `id` of the bus (line or endpoint) it is on.")
    thresholds: list[ThresholdRule] = Field(
        default_factory=list,
        title="Threshold alarms",
        description="Alarm rules on this device's points (a profile may supply defaults).",
    )
