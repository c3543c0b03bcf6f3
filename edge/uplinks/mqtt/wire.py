"""The hub's wire format: one pydantic model per message, the source of
`docs/schemas/*.json` and of `docs/uplink.md`.

Every JSON message carries `schema` (this module's version string) so the hub
can route by version. Messages drawn from the outbox also carry `id` (the
event's stable ID: de-duplicate on it) and `seq` (gap-free per destination:
a gap means records were pruned before delivery, which also raised an alarm).
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.events import ImageRole

SCHEMA: Final = "compound-edge/uplink/1"
CMD_SCHEMA: Final = "compound-edge/cmd/1"

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageInfo(_Msg):
    """An image of the event: always described, sent only by configuration."""

    role: ImageRole = Field(description="What the image shows (edge.events.ImageRole).")
    sha256: str = Field(description="SHA-256 of the image bytes, lower-case hex.")
    size_bytes: int
    content_type: str = Field(description="MIME type, e.g. image/jpeg.")
    topic: str | None = Field(
        default=None,
        description="Where the bytes were published (images/{event_id}), or null when only "
        "referenced.",
    )
    omitted: Literal["too_large", "missing"] | None = Field(
        default=None, description="Why the bytes were not sent, when images: send."
    )


class EventMessage(_Msg):
    """On `events/{kind}` (and `readings` for kind `reading`): one record of the outbox."""

    schema_: Literal["compound-edge/uplink/1"] = Field(alias="schema", default=SCHEMA)
    id: str = Field(description="Stable event ID (UUIDv7); the same on every resend.")
    seq: int = Field(ge=1, description="Strictly increasing per destination; gaps mean loss.")
    site: str = Field(description="The compound's 20-digit site ID.")
    ts: str = Field(description="Event time, RFC 3339 with the site's UTC offset.")
    kind: str = Field(description="plate, face, access, alarm, device, reading, ...")
    source: str = Field(description="The device, camera or subsystem that produced it.")
    data: dict[str, Any] = Field(
        description="Kind-specific body (data-{kind}.json for the kinds the gateway "
        "produces), after this destination's data policy."
    )
    images: list[ImageInfo] = Field(default_factory=list)
    truncated: bool = Field(
        default=False,
        description="True when `data` exceeded the payload cap and was replaced by "
        '{"truncated_bytes": N}.',
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ImageData(_Msg):
    role: ImageRole
    index: int = Field(ge=0, description="Position in the event's `images` list.")
    sha256: str
    content_type: str
    size_bytes: int
    b64: str = Field(description="The image bytes, base64.")


class ImageMessage(_Msg):
    """On `images/{event_id}`, published just before the event that lists it."""

    schema_: Literal["compound-edge/uplink/1"] = Field(alias="schema", default=SCHEMA)
    id: str = Field(description="The event's ID.")
    seq: int = Field(ge=1, description="The event's seq.")
    site: str
    ts: str
    kind: Literal["image"] = "image"
    data: ImageData

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StatusMessage(_Msg):
    """On `status`, retained: `online` on connect; `offline` as the last will (or on a
    clean stop). For the will, `ts` is when the connection that left it was opened."""

    schema_: Literal["compound-edge/uplink/1"] = Field(alias="schema", default=SCHEMA)
    site: str
    ts: str
    state: Literal["online", "offline"]
    gateway: str = Field(description="The gateway's 20-digit ID.")
    version: str = Field(description="compound-edge version.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TaskHealth(_Msg):
    name: str
    state: str = Field(description="running, restarting, failed, ...")
    restarts: int
    last_error: str | None = None


class OutboxHealth(_Msg):
    dest: str
    backlog: int = Field(description="Records owed and not yet acknowledged.")
    acked_seq: int
    next_seq: int
    dropped: int = Field(description="Owed records pruned before delivery (seq gaps).")
    oldest_unacked_age_s: float | None


class DiskHealth(_Msg):
    free_bytes: int
    total_bytes: int


class DevicesHealth(_Msg):
    total: int
    online: int
    offline: list[str] = Field(description="IDs of devices currently unavailable.")


class HealthData(_Msg):
    status: Literal["ok", "degraded"]
    problems: list[str]
    version: str
    uptime_s: float
    tasks: list[TaskHealth]
    devices: DevicesHealth
    outbox: list[OutboxHealth]
    disk: DiskHealth


class HealthMessage(_Msg):
    """On `health`, retained, every `health_interval_s` (and the reply to `cmd/diag`)."""

    schema_: Literal["compound-edge/uplink/1"] = Field(alias="schema", default=SCHEMA)
    id: str = Field(description="A fresh ID per message.")
    site: str
    ts: str
    kind: Literal["health"] = "health"
    data: HealthData

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CommandEnvelope(_Msg):
    """What the hub publishes on `cmd/{name}`: the body as JSON *text* and an
    HMAC-SHA256 over exactly those UTF-8 bytes, so no canonical JSON is needed."""

    body: str = Field(description="A CommandBody, serialised as JSON text.")
    signature: str | None = Field(
        default=None,
        description="Lower-case hex HMAC-SHA256(secret, body). Required unless auth: mtls.",
    )


class PlateEntry(_Msg):
    model_config = ConfigDict(extra="allow")
    plate: str
    name: str | None = None
    unit: str | None = None


class ResidentEntry(_Msg):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1)
    name: str | None = None
    unit: str | None = None


class ListChangeArgs(_Msg):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Literal["plates", "plate_blocklist", "residents", "visitors"] = Field(
        alias="list",
        description="Which list: plates (allowlist), plate_blocklist, residents, visitors "
        "(passes: {id, plate or face, valid_from, valid_until, entries?, name?, host?}).",
    )
    mode: Literal["replace", "patch"]
    entries: list[str | PlateEntry | ResidentEntry] = Field(
        default_factory=list, description="replace: the whole new list."
    )
    add: list[str | PlateEntry | ResidentEntry] = Field(
        default_factory=list, description="patch: entries added or updated."
    )
    remove: list[str] = Field(
        default_factory=list, description="patch: plates or resident IDs removed."
    )


class AllowlistArgs(_Msg):
    """Changes applied in one transaction: all or none."""

    changes: list[ListChangeArgs] = Field(min_length=1)


class GateOpenArgs(_Msg):
    gate: str = Field(min_length=1, description="The gate's device ID.")
    reason: str = Field(min_length=1, max_length=500, description="Recorded in the audit log.")


class DiagArgs(_Msg):
    pass


class FireModeArgs(_Msg):
    on: bool = Field(
        description="true: fire mode on (every fire_open gate held open until cleared); "
        "false: cleared."
    )
    reason: str = Field(min_length=1, max_length=500, description="Recorded in the audit log.")


class CommandBody(_Msg):
    schema_: Literal["compound-edge/cmd/1"] = Field(alias="schema")
    request_id: str = Field(
        pattern=REQUEST_ID.pattern,
        description="Unique per request; a repeat gets the first reply again, not a rerun.",
    )
    name: Literal["allowlist", "gate_open", "diag", "fire_mode"] = Field(
        description="Must match the topic's {name}."
    )
    site: str = Field(description="The target site ID (a command for another site is refused).")
    ts: str = Field(description="When issued, RFC 3339; too old or too far ahead is refused.")
    by: str | None = Field(default=None, max_length=100, description="Operator, for the audit.")
    args: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CommandReply(_Msg):
    """On `cmd-reply/{request_id}` (QoS 1)."""

    schema_: Literal["compound-edge/cmd/1"] = Field(alias="schema", default=CMD_SCHEMA)
    request_id: str
    site: str
    ts: str
    name: str | None
    ok: bool
    status: Literal["done", "rejected", "failed"] = Field(
        description="done: executed; rejected: not executed (signature, schema, age, site, "
        "not allowed); failed: accepted but the action failed."
    )
    error: str | None = None
    duplicate: bool = Field(
        default=False, description="True when this request ID was already handled: no rerun."
    )
    result: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


ARGS: dict[str, type[BaseModel]] = {
    "allowlist": AllowlistArgs,
    "gate_open": GateOpenArgs,
    "diag": DiagArgs,
    "fire_mode": FireModeArgs,
}

# Every model the documentation and docs/schemas/ cover, by file stem.
MESSAGES: dict[str, type[BaseModel]] = {
    "event": EventMessage,
    "image": ImageMessage,
    "status": StatusMessage,
    "health": HealthMessage,
    "command-envelope": CommandEnvelope,
    "command-body": CommandBody,
    "command-allowlist-args": AllowlistArgs,
    "command-gate_open-args": GateOpenArgs,
    "command-diag-args": DiagArgs,
    "command-fire_mode-args": FireModeArgs,
    "command-reply": CommandReply,
}
