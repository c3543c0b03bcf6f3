"""The `type: mqtt` destination: the district hub."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from edge.config.tls import load_tls_files
from edge.config.topics import check_topic_prefix
from edge.config.types import AtKey, Bytes, KeyProblems, MqttUrl, PositiveSeconds, Section
from edge.uplinks.linkconfig import LinkConfig

CommandName = Literal["allowlist", "gate_open", "diag", "fire_mode"]
COMMANDS: tuple[CommandName, ...] = ("allowlist", "gate_open", "diag", "fire_mode")


class TlsFiles(Section):
    """Server verification and the client certificate (mutual TLS)."""

    ca_file: Path | None = Field(
        default=None, title="CA bundle", description="Verifies the broker; default: system CAs."
    )
    cert_file: Path | None = Field(
        default=None,
        title="Client certificate (PEM)",
        description="Presented to the broker for mutual TLS; needs key_file.",
    )
    key_file: Path | None = Field(
        default=None, title="Client private key (PEM)", description="The cert_file's key."
    )
    insecure: bool = Field(
        default=False,
        title="Skip host name check",
        description="Accept a broker certificate for another name (lab use only).",
    )

    @model_validator(mode="after")
    def _pair(self) -> TlsFiles:
        if (self.cert_file is None) != (self.key_file is None):
            missing = "key_file" if self.key_file is None else "cert_file"
            raise AtKey(missing, "give both cert_file and key_file, or neither")
        problems = load_tls_files(self.ca_file, self.cert_file, self.key_file)
        if problems:
            raise KeyProblems(problems)
        return self


class CommandsConfig(Section):
    """Downlink commands from the hub: how they are authenticated and which run."""

    enabled: bool = Field(
        default=True,
        title="Accept commands",
        description="Subscribe to cmd/+ and run what passes authentication.",
    )
    auth: Literal["hmac", "mtls"] = Field(
        default="hmac",
        title="Authentication",
        description="hmac: every command is signed with `secret`; mtls: the broker's ACLs "
        "(with client certificates) are trusted to let only the hub publish to cmd/.",
    )
    secret: SecretStr | None = Field(
        default=None,
        title="HMAC secret",
        description="Shared with the hub (or `secret_file`). Required for auth: hmac.",
    )
    allowed: list[CommandName] = Field(
        default_factory=lambda: list(COMMANDS),
        title="Commands this gateway runs",
        description="Others are refused with a reply (allowlist, gate_open, diag, fire_mode).",
    )
    max_bytes: Bytes = Field(
        default=256 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        title="Largest command",
        description="Bigger messages on cmd/ are dropped unread (counted), before any parsing.",
    )
    per_operator_per_min: int = Field(
        default=60,
        ge=1,
        le=100000,
        title="Commands per operator per minute",
        description="Authenticated commands beyond this rate (per `by`, bursts of the same "
        "size allowed) are refused with a reply, so one runaway client cannot starve others.",
    )
    max_age_s: PositiveSeconds = Field(
        default=300,
        title="Command lifetime",
        description="Commands older (or further in the future) than this are refused, so a "
        "gate_open delayed by an outage is not acted on late.",
    )

    @model_validator(mode="after")
    def _secret(self) -> CommandsConfig:
        weak = self.secret is None or len(self.secret.get_secret_value()) < 16
        if self.enabled and self.auth == "hmac" and weak:
            raise AtKey("secret", "commands with auth: hmac need a secret of 16+ characters")
        return self


class MqttUplinkConfig(LinkConfig):
    """The district hub over MQTT (QoS 1, TLS, retained status with a last will)."""

    type: Literal["mqtt"] = Field(title="Type", description="mqtt: the district hub.")
    url: MqttUrl = Field(
        default="",
        title="Broker URL",
        description="mqtt://host:1883 or mqtts://host:8883. Empty: the destination keeps "
        "queueing events but does not connect.",
    )
    protocol: Literal["5", "3.1.1"] = Field(
        default="5",
        title="MQTT version",
        description="5: a publish the broker refuses (ACL, size) is seen and the record "
        "parked with the broker's reason; 3.1.1 brokers acknowledge refused publishes "
        "like accepted ones, so a refusal there is invisible to the gateway.",
    )
    client_id: str | None = Field(
        default=None,
        title="Client ID",
        description="Default: compound-edge-<gateway_id>. Must be unique on the broker.",
    )
    username: str | None = Field(
        default=None, title="User name", description="For the broker's password check."
    )
    password: SecretStr | None = Field(
        default=None, title="Password", description="Or `password_file`."
    )
    tls: TlsFiles = Field(
        default_factory=TlsFiles,
        title="TLS files",
        description="CA bundle and client certificate, used with mqtts://.",
    )
    topic_prefix: str = Field(
        default="compound/{site_id}",
        title="Topic prefix",
        description="{site_id} and {gateway_id} are replaced.",
    )
    keepalive_s: int = Field(
        default=30,
        ge=5,
        le=3600,
        title="Keep-alive (s)",
        description="MQTT keep-alive; the broker declares the link dead after 1.5 × this.",
    )
    inflight: int = Field(
        default=500,
        ge=1,
        le=65000,
        title="In-flight window",
        description="Outbox records published and not yet acknowledged (PUBACK), at most.",
    )
    images: Literal["send", "reference", "none"] = Field(
        default="reference",
        title="Images",
        description="send: each image as its own message on images/{event_id}; reference: "
        "metadata only (sha256, size); none: not mentioned at all.",
    )
    max_payload_bytes: Bytes = Field(
        default=256 * 1024,
        ge=4096,
        title="Payload cap",
        description="Larger images are referenced instead of sent; a larger event has its "
        "`data` replaced by a truncation marker.",
    )
    health_interval_s: PositiveSeconds = Field(
        default=60, title="Health interval", description="How often `health` is published."
    )
    commands: CommandsConfig = Field(
        default_factory=lambda: CommandsConfig(enabled=False),
        title="Downlink commands",
        description="cmd/allowlist, cmd/gate_open, cmd/diag; off unless configured.",
    )

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix(cls, v: str) -> str:
        return check_topic_prefix(v)

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol(cls, v: object) -> object:
        return str(v) if isinstance(v, int | float) else v  # `protocol: 5` unquoted

    @model_validator(mode="after")
    def _mtls_needs_tls(self) -> MqttUplinkConfig:
        mtls = self.commands.enabled and self.commands.auth == "mtls" and bool(self.url)
        if mtls and (not self.use_tls or self.tls.cert_file is None):
            raise ValueError(
                "commands.auth: mtls trusts the broker's certificate-based ACLs: it needs "
                "an mqtts:// url and tls.cert_file/key_file (or use auth: hmac)"
            )
        return self

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        u = urlsplit(self.url)
        return u.port or (8883 if u.scheme == "mqtts" else 1883)

    @property
    def use_tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    def prefix(self, site_id: str, gateway_id: str) -> str:
        return self.topic_prefix.format(site_id=site_id, gateway_id=gateway_id).rstrip("/")

    def identifier(self, gateway_id: str) -> str:
        return self.client_id or f"compound-edge-{gateway_id}"
