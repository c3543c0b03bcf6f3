"""`type: gb28181`: the gateway as one GB/T 28181 device whose channels are its cameras.

The platform answers to what our Via and Contact headers say, so the address
we advertise must be one it can reach: `local_host` (or, when omitted, the
local address the OS routes to the server) and never a wildcard.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, field_validator

from edge.config.types import GbIdOf, PositiveSeconds
from edge.uplinks.linkconfig import LinkConfig

if TYPE_CHECKING:
    PlatformId = str
    DeviceId = str
else:
    PlatformId = GbIdOf(range(200, 300), what="platform SIP server code")
    DeviceId = GbIdOf(range(111, 300), what="device code")


def _not_wildcard(host: str | None, what: str) -> str | None:
    if host is None:
        return None
    try:
        if ipaddress.ip_address(host).is_unspecified:
            raise ValueError(
                f"{what} {host} is a wildcard: the platform replies to the address we "
                "advertise, so give the gateway's own address on the platform's network"
            )
    except ValueError as exc:
        if "wildcard" in str(exc):
            raise
    return host


class Gb28181UplinkConfig(LinkConfig):
    """A GB/T 28181 platform (公安视频专网, 雪亮工程, wvp-style) this gateway registers to."""

    type: Literal["gb28181"] = Field(title="Type", description="GB/T 28181 device agent.")
    kinds: list[str] | None = Field(
        default_factory=lambda: ["alarm"],
        title="Event kinds",
        description="Only alarms travel over GB/T 28181 (as Alarm NOTIFY MESSAGEs).",
    )
    server_id: PlatformId = Field(
        title="Platform SIP ID", description="20-digit ID of the platform's SIP server."
    )
    server_host: str = Field(
        title="Platform host",
        description="IP or name of the SIP server; empty keeps the entry idle (alarms queue "
        "in its outbox, nothing is sent).",
    )
    server_port: int = Field(
        default=5060, ge=1, le=65535, title="Platform SIP port", description="Usually 5060."
    )
    domain: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9.:-]{1,64}$",
        title="SIP domain",
        description="The platform's domain (realm), usually the first 10 digits of its ID; "
        "omitted: those 10 digits.",
    )
    device_id: DeviceId = Field(
        title="Device ID",
        description="This gateway's 20-digit ID as configured on the platform "
        "(type code 118 NVR or 111 DVR is what platforms expect of a multi-channel device).",
    )
    password: SecretStr = Field(
        title="Password",
        description="Registration password (or `password_file`); never logged.",
    )
    transport: Literal["udp", "tcp"] = Field(
        default="udp",
        title="SIP transport",
        description="UDP, or one persistent TCP connection framed by Content-Length.",
    )
    expires_s: PositiveSeconds = Field(
        default=3600,
        ge=10,
        le=86400,
        title="Registration lifetime (s)",
        description="Expires asked for (seconds, or like 1h); refreshed at 80 % of what the "
        "platform granted.",
    )
    keepalive_s: PositiveSeconds = Field(
        default=60,
        title="Keepalive interval (s)",
        description="Time between Keepalive MESSAGEs (the platform's heartbeat interval).",
    )
    keepalive_max_missed: int = Field(
        default=3,
        ge=1,
        le=100,
        title="Missed keepalives before re-register",
        description="Unanswered keepalives in a row after which the gateway registers again.",
    )
    local_host: str | None = Field(
        default=None,
        title="Advertised address",
        description="Address put in Via and Contact; omitted: the local address routed to "
        "the platform. Never 0.0.0.0.",
    )
    local_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        title="Local SIP port",
        description="Port to bind (UDP) or connect from (TCP); 0 picks a free one.",
    )
    media_host: str | None = Field(
        default=None,
        title="Media address",
        description="Address RTP is sent from and announced in SDP; omitted: the SIP address.",
    )
    max_plays: int = Field(
        default=4,
        ge=0,
        le=64,
        title="Concurrent live plays",
        description="Plays beyond this are answered 486 Busy Here (each costs uplink "
        "bandwidth: one camera's bit rate).",
    )
    catalog_page_size: int | None = Field(
        default=None,
        ge=1,
        le=100,
        title="Catalog items per MESSAGE",
        description="The catalog is sent in pages of this many items; omitted: 1 over UDP "
        "(an item is ~0.5 kB, so each datagram stays under the MTU, as cameras do) and 20 "
        "over TCP.",
    )
    device_name: str = Field(
        default="compound-edge gateway",
        title="Device name",
        description="DeviceName in DeviceInfo and the gateway's catalog entry.",
    )
    civil_code: str | None = Field(
        default=None,
        pattern=r"^\d{2,12}$",
        title="Civil code",
        description="行政区划 code of the channels; omitted: the first 6 digits of device_id.",
    )

    @field_validator("local_host", "media_host")
    @classmethod
    def _advertisable(cls, host: str | None) -> str | None:
        return _not_wildcard(host, "address")

    @property
    def expires_whole_s(self) -> int:
        """The SIP Expires header takes whole seconds."""
        return round(self.expires_s)

    @property
    def page_size(self) -> int:
        if self.catalog_page_size is not None:
            return self.catalog_page_size
        return 1 if self.transport == "udp" else 20

    @property
    def realm(self) -> str:
        return self.domain or self.server_id[:10]

    @property
    def civil(self) -> str:
        return self.civil_code or self.device_id[:6]
