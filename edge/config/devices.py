from __future__ import annotations

from pydantic import Field

from edge.config.types import PositiveSeconds, Section


class DeviceBase(Section):
    """Fields every device has; each driver adds its own and a `type` literal."""

    id: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+$",
        title="Device ID",
        description="Stable, unique: events and readings are keyed by it.",
    )
    name: str = Field(default="", title="Name", description="Shown to guards, e.g. 3号楼电表.")
    enabled: bool = Field(
        default=True, title="Enabled", description="Off keeps the entry configured but idle."
    )
    poll_interval_s: PositiveSeconds = Field(
        default=60, title="Poll interval", description="Time from one poll's end to the next."
    )
