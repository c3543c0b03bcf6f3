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
