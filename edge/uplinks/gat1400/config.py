"""The `type: gat1400` destination: a 视图库 (VIID) of the public-security video network."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator

from edge.config.police_ids import ViidSenderId
from edge.config.types import Bytes, HttpUrl, PositiveSeconds
from edge.uplinks.linkconfig import LinkConfig

KINDS = ("plate", "face")  # what GA/T 1400 has objects for: MotorVehicle, Face


ViidBaseUrl = Annotated[HttpUrl, AfterValidator(lambda v: v.rstrip("/"))]
"""The 视图库's base URL; paths (/VIID/...) are joined on with a slash of their own."""


class Gat1400Config(LinkConfig):
    """Face and vehicle passes with their images to a 视图库 over GA/T 1400 (HTTP + digest)."""

    type: Literal["gat1400"] = Field(title="Type", description="gat1400: a 视图库 (VIID).")
    url: ViidBaseUrl = Field(
        title="视图库 base URL",
        description="http://host:port (a path prefix before /VIID is kept).",
    )
    device_id: ViidSenderId = Field(
        title="Device ID (视图库 编码)",
        description="20 digits assigned by the police network: this gateway as the 视图库 "
        "knows it (type code 119/120/121 ... at digits 11-13). Sent as User-Identify.",
    )
    username: str | None = Field(
        default=None,
        title="Digest user name",
        description="The account for digest authentication; default: the device_id.",
    )
    password: SecretStr = Field(
        title="Digest password", description="Or `password_file`; never logged."
    )
    keepalive_s: PositiveSeconds = Field(
        default=60,
        title="Keepalive interval (s)",
        description="POST /VIID/System/Keepalive this often; a failed one re-registers.",
    )
    connect_timeout_s: PositiveSeconds = Field(
        default=15,
        title="Request timeout (s)",
        description="A request not answered in this time counts as failed; 3 × this without "
        "any acknowledgement while records are in flight ends the session.",
    )
    reconnect_initial_s: PositiveSeconds = Field(
        default=5,
        title="First retry delay (s)",
        description="After a failed registration or a lost session; doubles with jitter.",
    )
    reconnect_max_s: PositiveSeconds = Field(
        default=300,
        title="Longest retry delay (s)",
        description="Cap of the backoff (the standard suggests up to 300 s).",
    )
    time_sync: bool = Field(
        default=True,
        title="Time sync",
        description="Read GET /VIID/System/Time after registering and periodically; the "
        "offset corrects ShotTime and is shown in health.",
    )
    time_sync_interval_s: PositiveSeconds = Field(
        default=600, title="Time sync interval (s)", description="How often the time is read."
    )
    max_time_offset_s: PositiveSeconds = Field(
        default=10,
        title="Clock offset alarm (s)",
        description="Raise an alarm when the gateway's clock differs from the 视图库's by more "
        "(the police network rejects records with wrong times).",
    )
    batch_max_objects: int = Field(
        default=8,
        ge=1,
        le=500,
        title="Objects per POST",
        description="Face or vehicle objects sent in one list POST, at most.",
    )
    batch_max_bytes: Bytes = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        title="POST size cap",
        description="A POST is closed before it grows past this (an object alone may exceed it).",
    )
    posts_in_flight: int = Field(
        default=2,
        ge=1,
        le=32,
        title="Concurrent POSTs",
        description="List POSTs awaiting their answer at once.",
    )
    rate_limit_per_s: float = Field(
        default=0,
        ge=0,
        title="Rate limit (objects/s)",
        description="Objects sent per second at most, to spare a slow police line; 0: no limit.",
    )
    park_after_attempts: int = Field(
        default=20,
        ge=1,
        title="Attempts before parking",
        description="A record refused this many times with a transient StatusCode (1, 2, 3, 9) "
        "is parked; codes 4-8 (invalid) park it at once.",
    )
    tollgate_id: str | None = Field(
        default=None,
        title="Tollgate ID",
        description="TollgateID put on vehicle objects, when the 视图库 assigned one.",
    )
    kinds: list[str] | None = Field(
        default_factory=lambda: list(KINDS),
        title="Event kinds",
        description="plate (MotorVehicle) and face (Face); GA/T 1400 has no object for others.",
    )

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[str] | None) -> list[str]:
        if v is None:
            return list(KINDS)
        bad = [k for k in v if k not in KINDS]
        if bad:
            raise ValueError(f"GA/T 1400 carries only {', '.join(KINDS)}; not {', '.join(bad)}")
        return v

    @property
    def user(self) -> str:
        return self.username or self.device_id
