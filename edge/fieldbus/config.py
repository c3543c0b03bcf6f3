"""Fields shared by every device that sits on a bus and is polled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from edge.config.devices import DeviceBase
from edge.config.types import refuse_yaml_number
from edge.rules.config import ThresholdRule


class BusDeviceConfig(DeviceBase):
    bus: str = Field(title="Bus", description="The `id` of the bus (line or endpoint) it is on.")
    thresholds: list[ThresholdRule] = Field(
        default_factory=list,
        title="Threshold alarms",
        description="Alarm rules on this device's points (a profile may supply defaults).",
    )


def meter_address(value: Any, normalize: Callable[[str | int], str]) -> str:
    """A configured meter's own address, normalised by its codec.

    The wildcard ``AA`` is refused: a poll to it would take any meter's answer as this one's.
    An unquoted `0x161` or `1_61` is refused too: YAML made it a different number.
    """
    refuse_yaml_number(value, "meter address")
    text = normalize(value if isinstance(value, int | str) else str(value))
    if "AA" in [text[i : i + 2] for i in range(0, len(text), 2)]:
        raise ValueError("a meter's address cannot contain the wildcard AA")
    return text
