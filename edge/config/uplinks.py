from __future__ import annotations

from pydantic import Field

from edge.config.types import Section


class UplinkBase(Section):
    """What every destination shares: whether it runs and which event kinds it is owed.

    The store gives each committed event a `seq` for every enabled destination
    whose `kinds` takes it, in the same transaction, so nothing is committed
    without being owed.
    """

    enabled: bool = Field(
        default=True, title="Enabled", description="Off keeps the entry configured but idle."
    )
    kinds: list[str] | None = Field(
        default=None,
        title="Event kinds",
        description="Kinds sent to this destination (plate, face, access, alarm, device, "
        "reading, ...); omit for all.",
    )

    def wants(self, kind: str) -> bool:
        return self.enabled and (self.kinds is None or kind in self.kinds)
