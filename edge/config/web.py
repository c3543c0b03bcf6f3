from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, field_validator

from edge.config.types import Section


class MetricsConfig(Section):
    """`GET /metrics` (Prometheus text format): who may scrape it."""

    enabled: bool = Field(
        default=True,
        title="Metrics enabled",
        description="Serve /metrics on the local API (off: 404).",
    )
    token: SecretStr | None = Field(
        default=None,
        title="Bearer token",
        description="A scraper sending `Authorization: Bearer <token>` may read /metrics from "
        "any address (or give `token_file`). Never logged.",
    )
    allow: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        title="Allowed addresses",
        description="Networks (CIDR) that may scrape without a token; loopback by default. "
        "An empty list with no token closes /metrics to everyone.",
    )

    @field_validator("allow")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"expected a network like 10.0.0.0/8, got {net!r}") from None
        return v


class WebConfig(Section):
    """The local API and status page."""

    listen: str = Field(
        default="127.0.0.1:8080",
        title="Listen address",
        description="host:port for the local API and page; port 0 picks a free port.",
    )

    metrics: MetricsConfig = Field(
        default_factory=MetricsConfig,
        title="Metrics",
        description="Who may scrape /metrics (a bearer token, or an address allowlist).",
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
