"""GA/T 1400 pass objects: MotorVehicle and Face with their inline images, and the list
envelopes a data POST carries them in. JSON dicts in and out, no I/O.

Images travel inline as base64 `Data` with `Width`/`Height`/`FileSize` of the decoded bytes;
`dumps_object` splices the base64 in after encoding the rest, because escaping-scanning
hundreds of kilobytes per image costs more than the base64 itself.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from typing import Any

from edge.codecs.errors import ProtocolError
from edge.codecs.gat1400 import FACES, MOTOR_VEHICLES
from edge.codecs.gat1400_tables import INFO_KIND_AUTO, VEHICLE_CLASS_UNKNOWN

# --- images -----------------------------------------------------------------------------


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's SOF marker, without decoding it."""
    if data[:2] != b"\xff\xd8":
        raise ProtocolError("not a JPEG (no SOI marker)")
    pos = 2
    n = len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            raise ProtocolError(f"JPEG marker expected at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > n:
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    raise ProtocolError("JPEG has no frame header (SOF)")


@dataclass(frozen=True)
class SubImage:
    image_id: str
    device_id: str
    type: str
    shot_time: str
    data: bytes
    width: int
    height: int
    file_format: str = "Jpeg"
    event_sort: int | None = None

    def to_json(self, data: str | None = None) -> dict[str, Any]:
        """`data` replaces the base64 (a placeholder for `dumps_object`)."""
        out: dict[str, Any] = {"ImageID": self.image_id}
        if self.event_sort is not None:
            out["EventSort"] = self.event_sort
        out.update(
            {
                "DeviceID": self.device_id,
                "Type": self.type,
                "FileFormat": self.file_format,
                "ShotTime": self.shot_time,
                "Width": self.width,
                "Height": self.height,
                "FileSize": len(self.data),
                "Data": base64.b64encode(self.data).decode("ascii") if data is None else data,
            }
        )
        return out


def _sub_image_list(images: list[SubImage], placeholders: bool = False) -> dict[str, Any]:
    return {
        "SubImageInfoObject": [
            i.to_json(_PLACEHOLDER % n if placeholders else None) for n, i in enumerate(images)
        ]
    }


_PLACEHOLDER = "@@viid-data-%d@@"


def dumps_object(obj: MotorVehicle | Face) -> bytes:
    """The object's JSON, with each image's base64 spliced in as bytes.

    json.dumps scans every character of a string for escapes: for a 1080p scene
    that is 400 kB per image, twice the cost of the base64 itself. Base64 needs
    no escaping, so the images go in after the (small) rest is encoded."""
    doc = obj.to_json(placeholders=True)
    out = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    for n, im in enumerate(obj.images):
        out = out.replace((_PLACEHOLDER % n).encode(), base64.b64encode(im.data), 1)
    return out


Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class MotorVehicle:
    motor_vehicle_id: str
    source_id: str
    device_id: str
    plate_no: str
    plate_color: str
    plate_class: str
    pass_time: str
    appear_time: str
    disappear_time: str
    box: Box | None = None
    vehicle_class: str = VEHICLE_CLASS_UNKNOWN
    plate_reliability: int | None = None
    tollgate_id: str | None = None
    images: list[SubImage] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.motor_vehicle_id

    def to_json(self, placeholders: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "MotorVehicleID": self.motor_vehicle_id,
            "InfoKind": INFO_KIND_AUTO,
            "SourceID": self.source_id,
            "DeviceID": self.device_id,
        }
        if self.tollgate_id:
            out["TollgateID"] = self.tollgate_id
        if self.box is not None:
            out.update(_box(self.box))
        out.update(
            {
                "MarkTime": self.pass_time,
                "AppearTime": self.appear_time,
                "DisappearTime": self.disappear_time,
                "PassTime": self.pass_time,
                "HasPlate": "1" if self.plate_no else "0",
                "PlateClass": self.plate_class,
                "PlateColor": self.plate_color,
                "PlateNo": self.plate_no,
                "VehicleClass": self.vehicle_class,
            }
        )
        if self.plate_reliability is not None:
            out["PlateReliability"] = str(self.plate_reliability)
        out["SubImageList"] = _sub_image_list(self.images, placeholders)
        return out


@dataclass(frozen=True)
class Face:
    face_id: str
    source_id: str
    device_id: str
    appear_time: str
    disappear_time: str
    box: Box | None = None
    images: list[SubImage] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.face_id

    def to_json(self, placeholders: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "FaceID": self.face_id,
            "InfoKind": INFO_KIND_AUTO,
            "SourceID": self.source_id,
            "DeviceID": self.device_id,
        }
        if self.box is not None:
            out.update(_box(self.box))
        out.update(
            {
                "LocationMarkTime": self.appear_time,
                "FaceAppearTime": self.appear_time,
                "FaceDisAppearTime": self.disappear_time,
                "IsDriver": 0,
                "IsForeigner": 0,
                "IsSuspectedTerrorist": 0,
                "IsCriminalInvolved": 0,
                "IsDetainees": 0,
                "IsVictim": 0,
                "IsSuspiciousPerson": 0,
                "SubImageList": _sub_image_list(self.images, placeholders),
            }
        )
        return out


def _box(box: Box) -> dict[str, int]:
    x1, y1, x2, y2 = box
    return {"LeftTopX": x1, "LeftTopY": y1, "RightBtmX": x2, "RightBtmY": y2}


# Per endpoint: the list envelope and the object key.
LISTS: dict[str, tuple[str, str]] = {
    MOTOR_VEHICLES: ("MotorVehicleListObject", "MotorVehicleObject"),
    FACES: ("FaceListObject", "FaceObject"),
}


def list_body(endpoint: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    outer, inner = LISTS[endpoint]
    return {outer: {inner: objects}}


def list_body_bytes(endpoint: str, encoded: list[bytes]) -> bytes:
    """The same envelope around objects already JSON-encoded (each once, off the loop)."""
    outer, inner = LISTS[endpoint]
    return b'{"%s":{"%s":[' % (outer.encode(), inner.encode()) + b",".join(encoded) + b"]}}"


def list_objects(endpoint: str, doc: Any) -> list[dict[str, Any]]:
    """The objects of a posted list (the test peer's side)."""
    outer, inner = LISTS[endpoint]
    body = doc.get(outer) if isinstance(doc, dict) else None
    items = body.get(inner) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ProtocolError(f"expected {{'{outer}': {{'{inner}': [...]}}}}")
    return items
