from __future__ import annotations

from pydantic import Field, field_validator

from edge.config.types import Section


class WebConfig(Section):
    """The local API and status page."""

    listen: str = Field(
        default="127.0.0.1:8080",
        title="Listen address",
        description="host:port for the local API and page; port 0 picks a free port.",
    )

    allowed_hosts: list[str] = Field(
        default_factory=list,
        title="Allowed host names",
        description=(
            "Names the gateway answers to in the HTTP Host header besides loopback names "
            "(localhost) and IP addresses, e.g. the box's DNS or mDNS name "
            "(gateway.local). A request naming any other host is refused (403), so a web "
            "page cannot reach the API through DNS rebinding."
        ),
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not name or any(c in name for c in ":/ @[]") or name != name.strip():
                raise ValueError(f"expected a bare host name (no port or scheme), got {name!r}")
        return v

    @field_validator("listen")
    @classmethod
    def _hostport(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"expected host:port, got {v!r}")
        return v

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])
