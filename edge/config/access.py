from __future__ import annotations

import re
from datetime import datetime, time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.config.types import PositiveSeconds, Section

GateMode = Literal["auto", "ask", "manual"]
PassKind = Literal["plate", "face"]
PASS_KINDS: tuple[PassKind, ...] = ("plate", "face")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ID = r"^[A-Za-z0-9_.-]+$"
_PAIR = re.compile(r"^\S\S$")


class ScheduleWindow(Section):
    """A gate's mode for part of the week, e.g. `ask` at night."""

    days: list[Day] = Field(
        default_factory=lambda: list(DAYS),
        title="Days",
        description="mon … sun; all days when left out.",
    )
    start: time = Field(title="From", description="Local time the window starts, e.g. 22:00.")
    end: time = Field(
        title="Until",
        description="Local time it ends; earlier than `start` means it runs past midnight.",
    )
    mode: GateMode = Field(title="Mode", description="The gate's mode inside this window.")


class GateConfig(Section):
    """A barrier or door: which device drives it, which cameras watch it, how it decides."""

    id: str = Field(pattern=_ID, title="Gate ID", description="Stable ID, e.g. east-in.")
    name: str = Field(default="", title="Name", description="Shown to guards, e.g. 东门入口.")
    device: str = Field(
        title="Device", description="ID of the device under `devices:` that opens it."
    )
    cameras: list[str] = Field(
        default_factory=list,
        title="Cameras",
        description="IDs of the cameras whose plate and face passes ask for this gate.",
    )
    direction: Literal["in", "out"] = Field(
        default="in", title="Direction", description="Whether passing it enters or leaves."
    )
    mode: GateMode = Field(
        default="auto",
        title="Mode",
        description="auto: residents and valid visitors open it, others are refused; "
        "ask: others are put to the guard; manual: only a guard opens it.",
    )
    schedule: list[ScheduleWindow] = Field(
        default_factory=list,
        title="Schedule",
        description="Windows with another mode (first match wins); `mode` applies outside.",
    )
    passes: list[PassKind] = Field(
        default_factory=lambda: list(PASS_KINDS),
        title="Passes",
        description="Which recognitions open it: plates for a barrier, faces for a door.",
    )
    car_park: str | None = Field(
        default=None,
        title="Car park",
        description="ID under `access.car_parks` whose count this gate's passes move.",
    )
    passback_group: str | None = Field(
        default=None,
        title="Anti-passback group",
        description="Gates sharing a group refuse a second entry without an exit between.",
    )
    fire_open: bool = Field(
        default=True,
        title="Opens in fire mode",
        description="Held open while fire mode is on (escape routes).",
    )


class VisitorPass(Section):
    """A time-boxed pass for a visitor's plate or face."""

    id: str = Field(pattern=_ID, title="Pass ID", description="Stable ID of the pass.")
    plate: str | None = Field(default=None, title="Plate", description="The visitor's plate.")
    face: str | None = Field(
        default=None,
        title="Face identity",
        description="Name the visitor's face is enrolled under in the `visitors` gallery.",
    )
    name: str = Field(default="", title="Name", description="Who is visiting, for the guard.")
    host: str = Field(default="", title="Host", description="Resident or unit visited.")
    valid_from: datetime = Field(
        title="Valid from", description="Local time or RFC 3339, e.g. 2026-12-06T09:00."
    )
    valid_until: datetime = Field(title="Valid until", description="When the pass ends.")
    entries: int | None = Field(
        default=1,
        ge=1,
        title="Entries",
        description="How many entries it allows; null for unlimited within its window.",
    )

    @model_validator(mode="after")
    def _check(self) -> VisitorPass:
        if not (self.plate or self.face):
            raise ValueError("a visitor pass needs a plate or a face")
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class PlateTolerance(Section):
    """Reader confusions forgiven for residents and visitors (never for the blacklist)."""

    enabled: bool = Field(
        default=False, title="Enabled", description="Off: plates must match exactly."
    )
    min_confidence: float = Field(
        default=0.9,
        ge=0,
        le=1,
        title="Minimum confidence",
        description="Reads below it must match exactly.",
    )
    pairs: list[str] = Field(
        default_factory=lambda: ["O0", "D0", "8B"],
        title="Confused pairs",
        description="Two-character pairs the reader mixes up, e.g. O0 (one substitution).",
    )
    any_one_char: bool = Field(
        default=False,
        title="Any one character",
        description="Forgive any single wrong character (not the province).",
    )

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, value: list[str]) -> list[str]:
        for pair in value:
            if not _PAIR.match(pair):
                raise ValueError(f"{pair!r} is not a pair of two characters")
        return value


class CarPark(Section):
    """A car park whose occupancy the gates' passes count."""

    id: str = Field(pattern=_ID, title="Car park ID", description="Stable ID, e.g. P1.")
    name: str = Field(default="", title="Name", description="Shown to guards, e.g. 地下车库.")
    capacity: int = Field(ge=0, title="Capacity", description="Spaces in it.")
    overstay_check_s: PositiveSeconds = Field(
        default=60,
        title="Overstay check",
        description="How often visitor cars still inside after their pass are looked for.",
    )


class FireMode(Section):
    """Doors held open during a fire alarm (from an input, the hub or the page)."""

    input_device: str | None = Field(
        default=None,
        title="Fire-alarm input device",
        description="Device whose reading turns fire mode on and off.",
    )
    input_point: str | None = Field(
        default=None, title="Fire-alarm input point", description="Its point, e.g. fire_alarm."
    )
    hold_s: PositiveSeconds = Field(
        default=10,
        title="Re-open interval",
        description="Open commands are repeated this often while fire mode is on.",
    )


class AccessConfig(Section):
    """Who may pass. The lists here seed the store; the page, the CLI and the hub's
    `cmd/allowlist` change them at run time."""

    plate_allowlist: list[str] = Field(
        default_factory=list, title="Resident plates", description="Plates that open the gate."
    )
    plate_blocklist: list[str] = Field(
        default_factory=list,
        title="Blacklisted plates",
        description="Plates that raise an alarm instead of opening.",
    )
    visitors: list[VisitorPass] = Field(
        default_factory=list,
        title="Visitor passes",
        description="Time-boxed passes seeded at first start.",
    )
    gates: list[GateConfig] = Field(
        default_factory=list, title="Gates", description="Barriers and doors and their rules."
    )
    tolerance: PlateTolerance = Field(
        default_factory=PlateTolerance,
        title="Plate tolerance",
        description="Which reader confusions still open for residents and visitors.",
    )
    repeat_window_s: PositiveSeconds = Field(
        default=30,
        title="Repeat window",
        description="The same plate or face at the same gate within this time does not "
        "open it again.",
    )
    pending_expiry_s: PositiveSeconds = Field(
        default=120,
        title="Guard's answer time",
        description="A pass put to the guard and not answered within this time expires "
        "(recorded, audited as the daemon): a later approve is refused, so the gate never "
        "opens for a vehicle that has left.",
    )
    passback_memory_s: PositiveSeconds = Field(
        default=86400,
        title="Anti-passback memory",
        description="How long an entry without an exit keeps refusing a second entry; kept "
        "in the store across restarts and forgotten after this time.",
    )
    car_parks: list[CarPark] = Field(
        default_factory=list, title="Car parks", description="Occupancy counted by the gates."
    )
    fire: FireMode = Field(
        default_factory=FireMode, title="Fire mode", description="Doors held open in a fire."
    )
    resident_galleries: list[str] = Field(
        default_factory=lambda: ["residents"],
        title="Resident galleries",
        description="Face galleries whose matches count as residents.",
    )
    visitor_gallery: str = Field(
        default="visitors",
        title="Visitor gallery",
        description="Face gallery where visitors with a face pass are enrolled.",
    )

    @model_validator(mode="after")
    def _check(self) -> AccessConfig:
        ids = [g.id for g in self.gates]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate gate id {dupes[0]!r}")
        parks = {p.id for p in self.car_parks}
        for gate in self.gates:
            if gate.car_park is not None and gate.car_park not in parks:
                raise ValueError(
                    f"gate {gate.id!r}: no car park {gate.car_park!r} (known: {sorted(parks)})"
                )
        if (self.fire.input_device is None) != (self.fire.input_point is None):
            raise ValueError("fire: give both input_device and input_point, or neither")
        return self
