"""Every entry of ../shared/protocols/vectors/gat1400.json, dispatched by its shape.

Dispatching by shape (not by name) means further vectors of the same kinds are
checked without editing this file; an entry of an unknown shape fails, so a new
kind cannot pass unnoticed.
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from viid_rules import check_face, check_motor_vehicle

from edge.codecs import gat1400 as g
from edge.codecs import gat1400_ids as ids
from edge.codecs import http_digest as hd
from edge.codecs.gat1400_objects import LISTS, list_objects
from edge.codecs.gat1400_tables import FILE_FORMATS, IMAGE_TYPES
from edge.codecs.gat1400_time import parse_time

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "protocols" / "vectors"
VECTORS: list[dict[str, Any]] = json.loads((SHARED / "gat1400.json").read_text("utf-8"))
DIGESTS = [v["json"] for v in VECTORS if isinstance(v["json"], dict) and "password" in v["json"]]


def shape(v: dict[str, Any]) -> str:
    j = v["json"]
    if isinstance(j, str):
        return "id"
    if "password" in j and "nonce" in j:
        return "digest"
    if "request1" in j:
        return "register_flow"
    if "headers" in j and "body" in j:
        return "push"
    keys = set(j)
    for k in ("RegisterObject", "KeepaliveObject", "UnRegisterObject"):
        if k in keys:
            return "system_body"
    if "ResponseStatusObject" in keys:
        return "status"
    if "ResponseStatusListObject" in keys:
        return "status_list"
    if "SystemTimeObject" in keys:
        return "time"
    if "SubscribeNotificationListObject" in keys:
        return "notification"
    if keys & {"MotorVehicleListObject", "FaceListObject"}:
        return "push"
    if len(keys) == 1 and next(iter(keys)).endswith("ListObject"):
        return "regional_list"
    return "unknown"


@pytest.fixture(params=VECTORS, ids=[v["name"][:60] for v in VECTORS])
def vector(request: pytest.FixtureRequest) -> dict[str, Any]:
    v: dict[str, Any] = request.param
    return v


def test_vector(vector: dict[str, Any]) -> None:
    kind = shape(vector)
    assert kind != "unknown", f"no check for this vector's shape: {sorted(vector['json'])}"
    globals()[f"_check_{kind}"](vector["json"], vector["decoded"])


def _check_digest(j: dict[str, Any], d: dict[str, Any]) -> None:
    parts = hd.compute(
        method=j["method"],
        uri=j["uri"],
        username=j["username"],
        password=j["password"],
        realm=j["realm"],
        nonce=j["nonce"],
        qop=j.get("qop"),
        nc=j["nc"],
        cnonce=j["cnonce"],
    )
    assert (parts.ha1, parts.ha2, parts.response) == (d["HA1"], d["HA2"], d["response"])
    # The header we would send, read back by a server, verifies with the password.
    challenge = hd.Challenge(j["realm"], j["nonce"], (j["qop"],) if j.get("qop") else ())
    header = hd.authorization(
        challenge,
        method=j["method"],
        uri=j["uri"],
        username=j["username"],
        password=j["password"],
        nc=int(j["nc"], 16),
        cnonce=j["cnonce"],
    )
    creds = hd.Credentials.parse(header)
    assert creds.response == d["response"] and creds.nc == j["nc"]
    assert creds.verify(j["method"], j["password"])
    assert not creds.verify(j["method"], j["password"] + "x")


def _check_register_flow(j: dict[str, Any], d: dict[str, Any]) -> None:
    r1, a1, r2, a2 = j["request1"], j["response1"], j["request2"], j["response2"]
    device = r1["body"]["RegisterObject"]["DeviceID"]
    assert r1["body"] == g.register_body(device) == r2["body"]
    assert r1["headers"]["User-Identify"] == device == r2["headers"]["User-Identify"]
    assert "Authorization" not in r1["headers"]
    assert a1["status"] == 401
    challenge = hd.Challenge.parse(a1["headers"]["WWW-Authenticate"])
    creds = hd.Credentials.parse(r2["headers"]["Authorization"])
    assert creds.uri == r1["path"] == g.REGISTER
    assert creds.nonce == challenge.nonce and creds.realm == challenge.realm
    assert creds.opaque == challenge.opaque, "opaque must be echoed"
    assert creds.nc is not None and re.fullmatch(r"[0-9a-f]{8}", creds.nc)
    # Where a digest vector holds this capture's password, our header is byte-identical.
    for dv in DIGESTS:
        if dv["nonce"] == creds.nonce and dv["username"] == creds.username:
            assert creds.verify(r1["method"], dv["password"])
            ours = hd.authorization(
                challenge,
                method=r1["method"],
                uri=creds.uri,
                username=creds.username,
                password=dv["password"],
                nc=int(creds.nc, 16),
                cnonce=creds.cnonce,
            )
            assert ours == r2["headers"]["Authorization"]
    status = g.parse_response_status(a2["body"])
    assert a2["status"] == 200 and status.ok and status.id == device
    assert parse_time(status.local_time, UTC)
    if "DeviceID" in str(d.get("note", "")) or "type code" in str(d.get("note", "")):
        m = re.search(r"type code (\d{3})", d["note"])
        if m:
            assert device[10:13] == m.group(1)


def _check_system_body(j: dict[str, Any], d: dict[str, Any]) -> None:
    (key,) = j
    device = j[key]["DeviceID"]
    builder = {
        "RegisterObject": g.register_body,
        "KeepaliveObject": g.keepalive_body,
        "UnRegisterObject": g.unregister_body,
    }[key]
    assert builder(device) == j
    ids.check_device_id(device)
    for k, text in d.items():
        if k.startswith("DeviceID_type"):
            assert device[10:13] == text.split()[0]
            assert ids.check_device_id(device, ids.SENDER_TYPES)


def _check_status(j: dict[str, Any], d: dict[str, Any]) -> None:
    s = g.parse_response_status(j)
    assert s.ok and s.id == j["ResponseStatusObject"]["Id"]
    assert parse_time(s.local_time, UTC)
    # The same answer with StatusCode as a string means the same.
    as_text = {"ResponseStatusObject": {**j["ResponseStatusObject"], "StatusCode": "0"}}
    assert g.parse_response_status(as_text) == s


def _check_status_list(j: dict[str, Any], d: dict[str, Any]) -> None:
    got = g.parse_response_status_list(j)
    raw = j["ResponseStatusListObject"]["ResponseStatusObject"]
    assert [s.id for s in got] == [r["Id"] for r in raw]
    assert [s.status_code for s in got] == [int(r["StatusCode"]) for r in raw]
    for s in got:
        if len(s.id) in (41, 48):
            ids.decompose(s.id)


def _check_time(j: dict[str, Any], d: dict[str, Any]) -> None:
    t = g.SystemTime.from_json(j)
    assert set(j["SystemTimeObject"]) == set(d["fields"].replace(" ", "").split(","))
    assert t.to_json() == j
    if re.fullmatch(r"\d{14}", t.local_time):
        assert t.moment(UTC)


def _check_id(j: str, d: dict[str, Any]) -> None:
    assert ids.decompose(j).as_vector() == d
    dec = ids.decompose(j)
    rebuilt = ids.basic_id(dec.device_id, dec.basic_type, dec.time, int(dec.seq))
    if dec.semantic_type is not None and dec.semantic_seq is not None:
        rebuilt = ids.semantic_id(rebuilt, dec.semantic_type, int(dec.semantic_seq))
    assert rebuilt == j


def _check_push(j: dict[str, Any], d: dict[str, Any]) -> None:
    body = j.get("body", j)
    if "headers" in j:
        h = {k.lower(): v for k, v in j["headers"].items()}
        assert h["content-type"].split(";")[0].lower() in g.ACCEPTED_CONTENT_TYPES
        ids.check_device_id(h["user-identify"])
    for endpoint, (outer, _inner) in LISTS.items():
        if outer not in body:
            continue
        objects = list_objects(endpoint, body)
        check = check_face if endpoint == g.FACES else check_motor_vehicle
        # The captures' image data is elided ("<base64 JPEG>"): check all but its bytes.
        for i, obj in enumerate(objects):
            problems = check(obj, f"{outer}[{i}]", data=False)
            non_standard = "non-standard" in str(d.get("note", ""))
            if non_standard:
                assert problems, "a payload the vector calls non-standard passed the strict checks"
            else:
                assert not problems, problems
                for im in obj["SubImageList"]["SubImageInfoObject"]:
                    assert im["Type"] in IMAGE_TYPES and im["FileFormat"] in FILE_FORMATS
            for key, want in d.items():
                if isinstance(want, dict) and key in obj and "seq_37_41" in want:
                    assert ids.decompose(obj[key]).as_vector() == want
        if "headers" in j:
            assert {o["DeviceID"] for o in objects} == {j["headers"]["User-Identify"]}
    if "SourceID_rule" in d:
        for obj in list_objects(g.FACES, body):
            scene = [
                im
                for im in obj["SubImageList"]["SubImageInfoObject"]
                if im["Type"] == "14"  # 场景图
            ]
            assert [im["ImageID"] for im in scene] == [obj["SourceID"]]


def _check_notification(j: dict[str, Any], d: dict[str, Any]) -> None:
    (n,) = g.parse_notifications(j)
    assert set(n.objects) == {"faces", "motor_vehicles"}
    listed = {m.split("{")[0].strip() for m in d["other_lists"].split(",")}
    known = {lst for lst, _ in g.NOTIFICATION_LISTS.values()}
    assert listed - {"TollgateObjectList", "LaneObjectList"} <= known


def _check_regional_list(j: dict[str, Any], d: dict[str, Any]) -> None:
    (outer,) = j
    (items,) = j[outer].values()
    for obj in items:
        for key, text in d.items():
            m = re.fullmatch(r"(\w+) type digits 11-13", key)
            if m and m.group(1) in obj:
                assert obj[m.group(1)][10:13] == text.split()[0]
                ids.check_device_id(obj[m.group(1)])
