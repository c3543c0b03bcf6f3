from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def pick_uplink(uplinks: Mapping[str, Any], kind: str, name: str | None) -> Any:
    """The `kind` destination an `edge uplink test` means: the one named, or the only one.
    ValueError with a sentence for the installer when that is not one entry."""
    found = {n: u for n, u in uplinks.items() if getattr(u, "type", None) == kind}
    have = ", ".join(found) or "none"
    if name:
        if name not in found:
            raise ValueError(f"no {kind} uplink named {name!r} (have: {have})")
        return found[name]
    if len(found) != 1:
        raise ValueError(f"say which uplink with --name ({kind} uplinks: {have})")
    return next(iter(found.values()))
