from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from edge.config.tls import load_tls_files
from edge.config.types import PositiveSeconds, Section

# A user name is also the audit log's actor: keep it to what reads plainly in a log line.
USER_NAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,32}$")


class Role(StrEnum):
    """What a login may do: guards watch and act (alarms, gates); installers and maintainers
    also see the technical views (devices, queues, tasks, config check)."""

    GUARD = "guard"
    INSTALLER = "installer"
    MAINTAINER = "maintainer"


class WebUser(Section):
    """One login for the console."""

    role: Literal["guard", "installer", "maintainer"] = Field(
        title="Role", description="guard, installer or maintainer (see Role)."
    )
    password_hash: str = Field(
        title="Password hash",
        description="An argon2id hash as written by `edge user add` (never a plain password).",
        pattern=r"^\$argon2id\$",
    )
    display_name: str = Field(
        default="",
        title="Display name",
        description="Shown in the page header; defaults to the login name.",
    )


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

    users: dict[str, WebUser] = Field(
        default_factory=dict,
        title="Users",
        description=(
            "Console logins by name. `edge user add` writes them to the users file instead; "
            "both are read, and an entry here wins over one of the same name there."
        ),
    )

    users_file: Path | None = Field(
        default=None,
        title="Users file",
        description=(
            "YAML file of further users (same shape as `users`), kept by `edge user` with "
            "mode 0600; default <data_dir>/users.yaml. Re-read when it changes, no restart."
        ),
    )

    session_idle_s: PositiveSeconds = Field(
        default=1800.0,
        title="Session idle timeout (s)",
        description="A console session unused this long must log in again (30m by default).",
    )

    session_max_s: PositiveSeconds = Field(
        default=43200.0,
        title="Session lifetime (s)",
        description="A session ends this long after login however busy (a 12-hour shift).",
    )

    login_attempts: int = Field(
        default=5,
        ge=1,
        le=100,
        title="Failed logins allowed",
        description=(
            "Failed logins per user name and per client address within login_window_s; "
            "more are refused (429) until the window has passed."
        ),
    )

    login_window_s: PositiveSeconds = Field(
        default=300.0,
        title="Login rate window (s)",
        description="The window over which failed logins are counted.",
    )

    tls_cert_file: Path | None = Field(
        default=None,
        title="TLS certificate",
        description="PEM certificate (chain) to serve HTTPS; needs tls_key_file. Unset = HTTP.",
    )

    tls_key_file: Path | None = Field(
        default=None,
        title="TLS key",
        description="Unencrypted PEM private key for tls_cert_file, readable only by edge.",
    )

    token_file: Path | None = Field(
        default=None,
        title="Local API token file",
        description=(
            "Where the daemon writes, at each start, the token the `edge` CLI on this box "
            "authenticates with (mode 0600, owned by the service user); "
            "default <data_dir>/api.token."
        ),
    )

    @field_validator("users")
    @classmethod
    def _user_names(cls, v: dict[str, WebUser]) -> dict[str, WebUser]:
        for name in v:
            if not USER_NAME.fullmatch(name):
                raise ValueError(f"user name {name!r}: 1-32 letters, digits, _ . - or Chinese")
        return v

    @model_validator(mode="after")
    def _tls_pair(self) -> WebConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if self.tls_cert_file is not None:
            problems = load_tls_files(None, self.tls_cert_file, self.tls_key_file)
            if problems:
                raise ValueError("; ".join(msg for _, msg in problems))
        if self.session_idle_s > self.session_max_s:
            raise ValueError("session_idle_s cannot exceed session_max_s")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

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
