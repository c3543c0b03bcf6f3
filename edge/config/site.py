from __future__ import annotations

from pydantic import Field

from edge.config.types import GbId, Section


class SiteConfig(Section):
    """Who this gateway is: the compound and the IDs upstream platforms know it by."""

    name: str = Field(title="Compound name", description="Shown on the page and in uplinks.")
    site_id: GbId = Field(
        title="Site ID", description="20-digit GB/T 28181 code of the compound (civil code first)."
    )
    gateway_id: GbId = Field(
        title="Gateway ID", description="20-digit GB/T 28181 code of this gateway device."
    )
    utc_offset: str = Field(
        default="+08:00",
        pattern=r"^[+-]\d{2}:\d{2}$",
        title="UTC offset",
        description="Offset used when times are written out (RFC 3339), e.g. +08:00.",
    )
