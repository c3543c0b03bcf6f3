"""The internal records every part of the daemon exchanges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from edge.ids import new_id


def utcnow() -> datetime:
    return datetime.now(UTC)


class EventKind(StrEnum):
    """The kinds the daemon produces and the uplinks' `kinds` filters name."""

    PLATE = "plate"
    FACE = "face"
    ACCESS = "access"
    ALARM = "alarm"
    READING = "reading"
    DEVICE = "device"


class ImageRole(StrEnum):
    """What a picture shows. One list for producers, the uplinks' data policy (which
    withholds roles such as `face_crop` by name), config validation and the docs: a
    role spelled differently in one place would slip past a privacy rule."""

    SCENE = "scene"
    PLATE_CROP = "plate_crop"
    FACE_CROP = "face_crop"
    VEHICLE_CROP = "vehicle_crop"
    OBJECT_CROP = "object_crop"
    CLIP = "clip"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A picture saved under the data dir; `path` is relative to it."""

    role: ImageRole
    path: str
    sha256: str
    size_bytes: int
    content_type: str = "image/jpeg"

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": str(self.role),
            "path": self.path,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "content_type": self.content_type,
        }


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    source: str
    data: dict[str, Any]
    images: tuple[ImageRef, ...] = ()
    ts: datetime = field(default_factory=utcnow)
    id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ValueError("Event.ts must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Reading:
    device: str
    point: str
    value: float | int | bool | str | None
    unit: str = ""
    ts: datetime = field(default_factory=utcnow)
    quality: str = "good"
