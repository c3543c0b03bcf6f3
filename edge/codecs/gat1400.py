"""GA/T 1400 (视图库, VIID) wire objects: JSON dicts in and out, no I/O.

Modelled once here and used by the uplink, `edge uplink test`, the bench and
the strict test peer's expectations. Shapes and code tables come from
../shared/protocols/DIGEST.md §1 (sources named there); the IDs are in
`gat1400_ids`.

Conventions a real 视图库 relies on:
- times are `yyyyMMddHHmmss` in the site's local time;
- `StatusCode` arrives as a number or a string ("0" == 0), and a data POST is
  answered per object (`ResponseStatusListObject`), so each object is judged
  on its own entry, matched by `Id`;
- images travel inline as base64 `Data` with `Width`/`Height`/`FileSize` of
  the decoded bytes.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import Any

from edge.codecs.errors import ProtocolError

# --- transport ---------------------------------------------------------------------

REGISTER = "/VIID/System/Register"
KEEPALIVE = "/VIID/System/Keepalive"
UNREGISTER = "/VIID/System/UnRegister"
TIME = "/VIID/System/Time"
FACES = "/VIID/Faces"
MOTOR_VEHICLES = "/VIID/MotorVehicles"

CONTENT_TYPE = "application/VIID+JSON;charset=UTF-8"
ACCEPT = "application/json,application/VIID+json"
# What servers answer with in the wild; a client accepts any of them.
ACCEPTED_CONTENT_TYPES = (
    "application/viid+json",
    "application/*+json",
    "application/json",
)


def headers(device_id: str) -> dict[str, str]:
    """What goes on every request, Register included."""
    return {"User-Identify": device_id, "Content-Type": CONTENT_TYPE, "Accept": ACCEPT}


# --- time --------------------------------------------------------------------------

TIME_FORMAT = "%Y%m%d%H%M%S"


def format_time(ts: datetime, tz: timezone) -> str:
    if ts.tzinfo is None:
        raise ValueError("format_time needs an aware datetime")
    return ts.astimezone(tz).strftime(TIME_FORMAT)


def parse_time(text: str, tz: timezone) -> datetime:
    if not isinstance(text, str) or len(text) != 14 or not text.isdigit():
        raise ProtocolError(f"time {text!r} is not yyyyMMddHHmmss")
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=tz)
    except ValueError:
        raise ProtocolError(f"time {text!r} is not a valid date") from None


# --- status ------------------------------------------------------------------------


class StatusCode(IntEnum):
    OK = 0
    OTHER_ERROR = 1
    BUSY = 2
    DEVICE_ERROR = 3
    INVALID_OPERATION = 4
    INVALID_XML_FORMAT = 5
    INVALID_XML_CONTENT = 6
    INVALID_JSON_FORMAT = 7
    INVALID_JSON_CONTENT = 8
    REBOOTING = 9


# The peer may succeed later with the same object: try again after a pause.
TRANSIENT_CODES = frozenset({1, 2, 3, 9})
# The object itself was refused: sending it again will not help.
PERMANENT_CODES = frozenset({4, 5, 6, 7, 8})


def status_code(value: Any) -> int:
    """0, "0", " 0 " -> 0; anything else non-integer is a protocol error."""
    if isinstance(value, bool):
        raise ProtocolError(f"StatusCode {value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ProtocolError(f"StatusCode {value!r} is not a number")


@dataclass(frozen=True)
class ResponseStatus:
    id: str
    status_code: int
    status_string: str = ""
    request_url: str = ""
    local_time: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code == 0

    @property
    def transient(self) -> bool:
        return self.status_code in TRANSIENT_CODES

    def describe(self) -> str:
        try:
            name = StatusCode(self.status_code).name.lower()
        except ValueError:
            name = "unknown"
        text = f" {self.status_string}" if self.status_string else ""
        return f"StatusCode {self.status_code} ({name}){text}"

    @classmethod
    def from_json(cls, obj: Any) -> ResponseStatus:
        if not isinstance(obj, dict) or "StatusCode" not in obj:
            raise ProtocolError("a ResponseStatusObject needs a StatusCode")
        return cls(
            id=str(obj.get("Id") or ""),
            status_code=status_code(obj["StatusCode"]),
            status_string=str(obj.get("StatusString") or ""),
            request_url=str(obj.get("RequestURL") or ""),
            local_time=str(obj.get("LocalTime") or ""),
        )

    def to_json(self, code_as_string: bool = False) -> dict[str, Any]:
        return {
            "Id": self.id,
            "RequestURL": self.request_url,
            "StatusCode": str(self.status_code) if code_as_string else self.status_code,
            "StatusString": self.status_string,
            "LocalTime": self.local_time,
        }


def parse_response_status(doc: Any) -> ResponseStatus:
    """The answer to Register / Keepalive / UnRegister."""
    if not isinstance(doc, dict) or "ResponseStatusObject" not in doc:
        raise ProtocolError("expected {'ResponseStatusObject': {...}}")
    return ResponseStatus.from_json(doc["ResponseStatusObject"])


def parse_response_status_list(doc: Any) -> list[ResponseStatus]:
    """The answer to a data POST: one entry per posted object.

    Some servers answer a single-object POST with a bare object instead of a
    one-element list, and some wrap a lone ResponseStatusObject at the top."""
    if isinstance(doc, dict) and "ResponseStatusListObject" in doc:
        inner = doc["ResponseStatusListObject"]
        items = inner.get("ResponseStatusObject") if isinstance(inner, dict) else None
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise ProtocolError("ResponseStatusListObject has no ResponseStatusObject list")
        return [ResponseStatus.from_json(i) for i in items]
    if isinstance(doc, dict) and "ResponseStatusObject" in doc:
        return [parse_response_status(doc)]
    raise ProtocolError("expected {'ResponseStatusListObject': {'ResponseStatusObject': [...]}}")


def response_status_list(statuses: list[ResponseStatus], **kw: Any) -> dict[str, Any]:
    return {
        "ResponseStatusListObject": {"ResponseStatusObject": [s.to_json(**kw) for s in statuses]}
    }


# --- system objects ------------------------------------------------------------------


def register_body(device_id: str) -> dict[str, Any]:
    return {"RegisterObject": {"DeviceID": device_id}}


def keepalive_body(device_id: str) -> dict[str, Any]:
    return {"KeepaliveObject": {"DeviceID": device_id}}


def unregister_body(device_id: str) -> dict[str, Any]:
    return {"UnRegisterObject": {"DeviceID": device_id}}


@dataclass(frozen=True)
class SystemTime:
    server_id: str
    time_mode: str
    local_time: str
    time_zone: str | None = None

    @classmethod
    def from_json(cls, doc: Any) -> SystemTime:
        obj = doc.get("SystemTimeObject") if isinstance(doc, dict) else None
        if not isinstance(obj, dict) or not obj.get("LocalTime"):
            raise ProtocolError("expected {'SystemTimeObject': {'LocalTime': ...}}")
        tz = obj.get("TimeZone")
        return cls(
            server_id=str(obj.get("VIIDServerID") or ""),
            time_mode=str(obj.get("TimeMode") or ""),
            local_time=str(obj["LocalTime"]),
            time_zone=None if tz in (None, "") else str(tz),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "SystemTimeObject": {
                "VIIDServerID": self.server_id,
                "TimeMode": self.time_mode,
                "LocalTime": self.local_time,
                "TimeZone": self.time_zone,
            }
        }

    def moment(self, site: timezone) -> datetime:
        """The server's clock as an aware datetime. Its LocalTime is in its own zone;
        when it names none, the site's zone is assumed (both are in China)."""
        return parse_time(self.local_time, _zone(self.time_zone) or site)


def _zone(text: str | None) -> timezone | None:
    """TimeZone as servers fill it: "+08:00", "GMT+8", "Asia/Shanghai" (taken as +08:00)."""
    if not text:
        return None
    t = text.strip().upper().removeprefix("UTC").removeprefix("GMT")
    if t in ("ASIA/SHANGHAI", "ASIA/CHONGQING", "CST", "PRC"):
        return timezone(timedelta(hours=8))
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    try:
        if ":" in t:
            h, m = t.split(":", 1)
            return timezone(sign * timedelta(hours=int(h), minutes=int(m)))
        return timezone(sign * timedelta(hours=int(t or 0)))
    except ValueError:
        return None


# --- code tables ----------------------------------------------------------------------

INFO_KIND_AUTO = 1  # InfoKind: 0 其他, 1 自动采集, 2 人工采集

# ColorType (PlateColor, VehicleColor): 1 黑 ... 13 透明, 99 其他.
COLOR_CODES: dict[str, str] = {
    "black": "1",
    "white": "2",
    "grey": "3",
    "gray": "3",
    "red": "4",
    "blue": "5",
    "yellow": "6",
    "orange": "7",
    "brown": "8",
    "green": "9",
    "purple": "10",
    "cyan": "11",
    "pink": "12",
    "transparent": "13",
}
COLOR_TABLE = frozenset({*COLOR_CODES.values(), "99"})

# 号牌种类 (GA 24.7) as this gateway's plate reader classifies plates. New-energy
# plates (51/52 in later editions) are not in the verified list: sent as 99.
PLATE_CLASS_CODES: dict[str, str] = {
    "blue": "02",
    "yellow": "01",
    "yellow_double": "01",
    "police": "23",
    "coach": "16",
    "trailer": "15",
    "embassy": "03",
    "consulate": "04",
    "military": "32",
    "farm": "14",
}
PLATE_CLASS_TABLE = frozenset(
    {f"{c:02d}" for c in (1, 2, 3, 4, 5, 6, 7, 8, 13, 14, 15, 16, 20, 21, 22, 23, 24, 26, 27)}
    | {"31", "32", "99"}
)

# GA 24.4 vehicle type: the reader does not classify bodies, so passes carry X99 (其他).
VEHICLE_CLASS_UNKNOWN = "X99"

# SubImageInfoObject.Type (ImageType, GA/T 1400.3).
IMAGE_TYPES: dict[str, str] = {
    "01": "车辆大图",
    "02": "车牌彩色小图",
    "03": "车牌二值化图",
    "04": "驾驶员面部特征图",
    "05": "副驾驶面部特征图",
    "06": "车标",
    "07": "违章合成图",
    "08": "过车合成图",
    "09": "车辆特写图",
    "10": "人员图",
    "11": "人脸图",
    "12": "非机动车图",
    "13": "物品图",
    "14": "场景图",
    "100": "一般图片",
}
FILE_FORMATS = ("Jpeg", "Png", "Bmp", "Gif")


def plate_color(colour: str | None) -> str:
    return COLOR_CODES.get((colour or "").lower(), "99")


def plate_class(plate_type: str | None, plate_no: str = "") -> str:
    if plate_type == "hk_macao":
        return "27" if plate_no.endswith("澳") else "26"
    return PLATE_CLASS_CODES.get(plate_type or "", "99")


def image_type(kind: str, role: str) -> str:
    """Our image roles to ImageType codes. The scene of a vehicle pass is its
    车辆大图 (01); of a face pass, the 场景图 (14)."""
    if role == "scene":
        return "01" if kind == "plate" else "14"
    if role == "plate_crop" or (kind == "plate" and role == "crop"):
        return "02"
    if role == "face_crop" or (kind == "face" and role == "crop"):
        return "11"
    if role == "vehicle_crop":
        return "09"
    return "100"


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


# Subscription notifications (a 视图库 pushing to a subscriber): parsed, not produced.
NOTIFICATION_LISTS: dict[str, tuple[str, str]] = {
    "faces": ("FaceObjectList", "FaceObject"),
    "motor_vehicles": ("MotorVehicleObjectList", "MotorVehicleObject"),
    "persons": ("PersonObjectList", "PersonObject"),
    "non_motor_vehicles": ("NonMotorVehicleObjectList", "NonMotorVehicleObject"),
    "devices": ("DeviceList", "APEObject"),
}


@dataclass(frozen=True)
class Notification:
    notification_id: str
    subscribe_id: str
    trigger_time: str
    objects: dict[str, list[Any]]


def parse_notifications(doc: Any) -> list[Notification]:
    outer = doc.get("SubscribeNotificationListObject") if isinstance(doc, dict) else None
    items = outer.get("SubscribeNotificationObject") if isinstance(outer, dict) else None
    if not isinstance(items, list):
        raise ProtocolError("expected SubscribeNotificationListObject.SubscribeNotificationObject")
    out = []
    for n in items:
        if not isinstance(n, dict):
            raise ProtocolError("a SubscribeNotificationObject must be an object")
        objects: dict[str, list[Any]] = {}
        for name, (lst, key) in NOTIFICATION_LISTS.items():
            inner = n.get(lst)
            if isinstance(inner, dict) and isinstance(inner.get(key), list):
                objects[name] = inner[key]
        out.append(
            Notification(
                str(n.get("NotificationID") or ""),
                str(n.get("SubscribeID") or ""),
                str(n.get("TriggerTime") or ""),
                objects,
            )
        )
    return out
