"""Typed event payloads, one per kind: what `Event.data` holds, written down once.

`Event.data` stays a plain dict in the record (it is stored as JSON and owed to
uplinks as such), but producers build it from these types and consumers (the
uplinks' encoders, the API, reactors) read it through `payload_of(event)`, so a
field renamed in one place fails type checking everywhere it is used.

Keys a payload does not know are kept in `extra` and written back by `as_data()`:
a local system posting an `access` event with its own fields loses nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self, Union, get_args, get_origin, get_type_hints

from edge.events import Event, EventKind

AlarmState = Literal["raised", "acknowledged", "closed"]


class PayloadError(ValueError):
    """`data` does not fit its kind's payload (a missing or mistyped field)."""


Check = Callable[[Any], bool]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _checker(hint: Any) -> Check:
    """A shallow check of a JSON value against a field's annotation, built once per field."""
    origin = get_origin(hint)
    if origin is Literal:
        allowed = frozenset(get_args(hint))
        return lambda v: v in allowed
    if origin in (Union, types.UnionType):
        checks = [_checker(a) for a in get_args(hint)]
        return lambda v: any(c(v) for c in checks)
    if hint is type(None):
        return lambda v: v is None
    if hint is float:
        return _is_number
    if hint is int:
        return _is_int
    base = origin if origin is not None else hint
    if base in (str, bool, list, dict):
        return lambda v: isinstance(v, base)
    return lambda v: True


@functools.cache
def _spec(cls: type) -> tuple[tuple[str, Check, bool], ...]:
    """(name, annotation, required) per field but `extra`, worked out once per class
    (`get_type_hints` evaluates string annotations: far too slow for every event)."""
    hints = get_type_hints(cls)
    return tuple(
        (
            f.name,
            _checker(hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if f.name != "extra"
    )


class _Payload:
    """from_data / as_data for flat payload dataclasses; nested ones override."""

    kind: ClassVar[EventKind]
    extra: dict[str, Any]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        if not isinstance(data, dict):
            raise PayloadError(f"{cls.kind} data must be an object")
        known: dict[str, Any] = {}
        for name, check, required in _spec(cls):  # type: ignore[arg-type]
            if name not in data:
                if required:
                    raise PayloadError(f"{cls.kind} data needs {name!r}")
                continue
            value = cls._convert(name, data[name])
            if not check(value):
                raise PayloadError(f"{cls.kind} data: {name!r} has the wrong type")
            known[name] = value
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**known, extra=extra)  # type: ignore[call-arg]

    @classmethod
    def _convert(cls, name: str, value: Any) -> Any:
        return value

    def as_data(self) -> dict[str, Any]:
        """The JSON object stored in `Event.data` (optional fields left unset are omitted)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is None and f.default is None:
                continue
            out[f.name] = value.as_data() if hasattr(value, "as_data") else value
        return {**out, **self.extra}

    def event(self, source: str, **kw: Any) -> Event:
        """The event carrying this payload (kw: images, ts, id)."""
        return Event(kind=str(self.kind), source=source, data=self.as_data(), **kw)


@dataclass(frozen=True, slots=True, kw_only=True)  # kw_only: fields in the stored order
class PlatePayload(_Payload):
    """One vehicle pass: the voted read of a plate track."""

    kind: ClassVar[EventKind] = EventKind.PLATE
    camera: str | None = None  # our cameras always say; a bridge posting a pass may not
    track_id: int | None = None
    plate: str
    colour: str | None = None
    plate_type: str | None = None
    valid: bool | None = None
    double_row: bool | None = None
    confidence: float  # of the voted read, 0..1
    reads: int | None = None
    box: list[float] | None = None  # x1, y1, x2, y2 in the camera frame's pixels
    first_seen: float | None = None  # epoch seconds
    last_seen: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FaceMatch:
    """Who a face pass matched: a resident, a watchlist entry, or nobody (`unknown`)."""

    result: Literal["resident", "watchlist", "unknown"]
    gallery: str | None = None
    name: str | None = None
    person_id: str | None = None
    distance: float | None = None
    nearest_distance: float | None = None

    @classmethod
    def from_data(cls, data: Any) -> FaceMatch:
        if not isinstance(data, dict) or data.get("result") not in (
            "resident",
            "watchlist",
            "unknown",
        ):
            raise PayloadError("face data: match.result is resident, watchlist or unknown")
        return cls(
            data["result"],
            data.get("gallery"),
            data.get("name"),
            data.get("person_id"),
            data.get("distance"),
            data.get("nearest_distance"),
        )

    def as_data(self) -> dict[str, Any]:
        if self.result == "unknown":
            return {"result": "unknown", "nearest_distance": self.nearest_distance}
        return {
            "result": self.result,
            "gallery": self.gallery,
            "name": self.name,
            "person_id": self.person_id,
            "distance": self.distance,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FacePayload(_Payload):
    """One person's pass in front of a camera, with the gallery match."""

    kind: ClassVar[EventKind] = EventKind.FACE
    camera: str | None = None
    track_id: int | None = None
    match: FaceMatch
    confidence: float | None = None
    quality: float | None = None
    observations: int | None = None
    box: list[float] | None = None
    first_seen: float | None = None
    last_seen: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def _convert(cls, name: str, value: Any) -> Any:
        return FaceMatch.from_data(value) if name == "match" else value


@dataclass(frozen=True, slots=True)
class AccessPayload(_Payload):
    """A pass at a gate or door. Access control decides these next; local systems (a door
    controller's bridge) post them today, so every field is optional and others are kept."""

    kind: ClassVar[EventKind] = EventKind.ACCESS
    gate: str | None = None
    direction: str | None = None  # "in" | "out"
    decision: str | None = None  # "granted" | "denied" | "pending" | "ignored" | "expired"
    reason: str | None = None
    plate: str | None = None
    person_id: str | None = None
    actor: str | None = None
    # Set by the gate reactor (edge.access.reactor) and the guard's approve/deny:
    pass_event: str | None = None  # id of the plate or face event that asked
    camera: str | None = None
    rule: str | None = None  # the rule that decided: resident_plate, blacklist, ...
    category: str | None = None  # resident | visitor | blacklisted | unknown
    decided_by: str | None = None  # "rule:<gate>" or the guard, e.g. "user:li"
    opened: bool | None = None  # the gate's answer: True opened, False did not
    gate_error: str | None = None  # why it did not open
    alert: str | None = None  # a near-miss to the blacklist
    pending_id: str | None = None  # the approval a guard answers
    visitor_id: str | None = None
    matched: str | None = None  # the list entry matched (a tolerant read names the entry)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlarmPayload(_Payload):
    """One step of an alarm's life: raised → acknowledged → closed."""

    kind: ClassVar[EventKind] = EventKind.ALARM
    alarm_id: str
    key: str
    state: AlarmState
    severity: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PointValue:
    point: str
    value: float | int | bool | str | None
    unit: str = ""
    quality: str = "good"

    def as_data(self) -> dict[str, Any]:
        return {
            "point": self.point,
            "value": self.value,
            "unit": self.unit,
            "quality": self.quality,
        }


@dataclass(frozen=True, slots=True)
class ReadingPayload(_Payload):
    """One poll of one device: every point it read."""

    kind: ClassVar[EventKind] = EventKind.READING
    device: str
    points: list[PointValue]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def _convert(cls, name: str, value: Any) -> Any:
        if name != "points":
            return value
        if not isinstance(value, list) or not all(
            isinstance(p, dict) and isinstance(p.get("point"), str) for p in value
        ):
            raise PayloadError("reading data: points is a list of {point, value, unit}")
        return [
            PointValue(p["point"], p.get("value"), p.get("unit", ""), p.get("quality", "good"))
            for p in value
        ]

    def as_data(self) -> dict[str, Any]:
        return {"device": self.device, "points": [p.as_data() for p in self.points], **self.extra}


@dataclass(frozen=True, slots=True)
class DevicePayload(_Payload):
    """A device's availability changed."""

    kind: ClassVar[EventKind] = EventKind.DEVICE
    device: str
    available: bool
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_data(self) -> dict[str, Any]:  # `error: null` is part of the wire record
        return {
            "device": self.device,
            "available": self.available,
            "error": self.error,
            **self.extra,
        }


Payload = PlatePayload | FacePayload | AccessPayload | AlarmPayload | ReadingPayload | DevicePayload

PAYLOADS: dict[str, type[_Payload]] = {
    str(cls.kind): cls
    for cls in (
        PlatePayload,
        FacePayload,
        AccessPayload,
        AlarmPayload,
        ReadingPayload,
        DevicePayload,
    )
}


def payload_of(event: Event) -> Payload:
    """The event's data as its kind's type; PayloadError for an unknown kind or bad data."""
    cls = PAYLOADS.get(event.kind)
    if cls is None:
        raise PayloadError(f"unknown event kind {event.kind!r} (known: {', '.join(PAYLOADS)})")
    payload: Payload = cls.from_data(event.data)  # type: ignore[assignment]
    return payload
