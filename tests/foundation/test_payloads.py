"""Typed payloads: what producers write is what consumers read back, per kind."""

from __future__ import annotations

from typing import Any

import pytest

from edge.events import Event
from edge.payloads import (
    AccessPayload,
    AlarmPayload,
    DevicePayload,
    FacePayload,
    PayloadError,
    PlatePayload,
    ReadingPayload,
    payload_of,
)

STORED: dict[str, dict[str, Any]] = {  # as the first wave's producers wrote them
    "plate": {
        "camera": "gate1",
        "track_id": 3,
        "plate": "粤ZR066港",
        "colour": "black",
        "plate_type": "hk_macau",
        "valid": True,
        "double_row": False,
        "confidence": 0.97,
        "reads": 5,
        "box": [10.0, 20.0, 110.0, 50.0],
        "first_seen": 1.5,
        "last_seen": 2.5,
    },
    "face": {
        "camera": "door2",
        "track_id": 1,
        "match": {
            "result": "resident",
            "gallery": "residents",
            "name": "李四",
            "person_id": "r-1",
            "distance": 0.41,
        },
        "confidence": 0.99,
        "quality": 0.8,
        "observations": 4,
        "box": [1.0, 2.0, 3.0, 4.0],
        "first_seen": 1.0,
        "last_seen": 2.0,
    },
    "alarm": {
        "alarm_id": "a1",
        "key": "smoke:b1",
        "state": "acknowledged",
        "severity": "critical",
        "message": "烟感",
        "data": {"point": "smoke"},
        "by": "王工",
    },
    "reading": {
        "device": "m1",
        "points": [{"point": "energy", "value": 12.5, "unit": "kWh", "quality": "good"}],
    },
    "device": {"device": "m1", "available": False, "error": "timeout"},
    "access": {"gate": "g1", "decision": "granted", "card": "123"},
}


@pytest.mark.parametrize("kind", sorted(STORED))
def test_stored_data_round_trips_through_its_type(kind: str) -> None:
    payload = payload_of(Event(kind, "src", STORED[kind]))
    assert payload.as_data() == STORED[kind]


def test_fields_are_typed_and_unknown_keys_kept() -> None:
    plate = payload_of(Event("plate", "gate1", STORED["plate"]))
    assert isinstance(plate, PlatePayload) and plate.plate == "粤ZR066港"
    face = payload_of(Event("face", "door2", STORED["face"]))
    assert isinstance(face, FacePayload) and face.match.name == "李四"
    reading = payload_of(Event("reading", "m1", STORED["reading"]))
    assert isinstance(reading, ReadingPayload) and reading.points[0].value == 12.5
    access = payload_of(Event("access", "g1", STORED["access"]))
    assert isinstance(access, AccessPayload) and access.extra == {"card": "123"}
    assert isinstance(payload_of(Event("alarm", "x", STORED["alarm"])), AlarmPayload)
    assert isinstance(payload_of(Event("device", "m1", STORED["device"])), DevicePayload)


@pytest.mark.parametrize(
    ("kind", "data", "says"),
    [
        ("plate", {**STORED["plate"], "confidence": "high"}, "'confidence'"),
        ("plate", {"camera": "c"}, "'plate'"),
        ("face", {"camera": "c"}, "'match'"),
        ("face", {**STORED["face"], "match": {"result": "maybe"}}, "match.result"),
        ("alarm", {**STORED["alarm"], "state": "snoozed"}, "'state'"),
        ("device", {"device": "m1", "available": "yes"}, "'available'"),
        ("reading", {"device": "m1", "points": [{"value": 1}]}, "points"),
        ("parcel", {}, "unknown event kind"),
    ],
)
def test_data_that_does_not_fit_its_kind_is_refused(
    kind: str, data: dict[str, Any], says: str
) -> None:
    with pytest.raises(PayloadError, match=says):
        payload_of(Event(kind, "src", data))
