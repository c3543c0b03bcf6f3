from __future__ import annotations

from pydantic import Field

from edge.config.types import Section


class AccessConfig(Section):
    """Who may pass. The lists here seed the store; the hub's `cmd/allowlist`
    replaces or patches them at run time."""

    plate_allowlist: list[str] = Field(
        default_factory=list, title="Resident plates", description="Plates that open the gate."
    )
    plate_blocklist: list[str] = Field(
        default_factory=list,
        title="Blacklisted plates",
        description="Plates that raise an alarm instead of opening.",
    )
