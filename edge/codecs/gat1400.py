"""GA/T 1400 (视图库, VIID) transport and system side: endpoints, headers, status answers,
register/keepalive/time objects and subscription notifications. JSON dicts in and out, no I/O.

Modelled once here and used by the uplink, `edge uplink test`, the bench and the strict test
peer's expectations. Shapes and code tables come from ../shared/protocols/DIGEST.md §1 (sources
named there). The rest of the codec, one job a module: pass objects and list envelopes in
`gat1400_objects`, code tables in `gat1400_tables`, the time format in `gat1400_time`, IDs in
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

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import IntEnum
from typing import Any

from edge.codecs.errors import ProtocolError
from edge.codecs.gat1400_time import parse_time, zone

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
        return parse_time(self.local_time, zone(self.time_zone) or site)


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
