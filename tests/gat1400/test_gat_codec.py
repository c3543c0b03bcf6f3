"""The pure GA/T 1400 codec and HTTP digest beyond the shared vectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import cv2
import numpy as np
import pytest

from edge.codecs import gat1400 as g
from edge.codecs import gat1400_ids as ids
from edge.codecs import http_digest as hd
from edge.codecs.errors import ProtocolError
from edge.codecs.gat1400_objects import Face, SubImage, dumps_object, jpeg_size
from edge.codecs.gat1400_tables import image_type, plate_class, plate_color
from edge.codecs.gat1400_time import format_time, parse_time

CST = timezone(timedelta(hours=8))
APE = "32010600001190000001"


def test_digest_without_qop_uses_the_rfc2069_formula() -> None:
    ch = hd.Challenge.parse('Digest realm="3402000000", nonce="abc", algorithm=MD5')
    header = hd.authorization(
        ch, method="POST", uri="/VIID/System/Register", username="u", password="p"
    )
    creds = hd.Credentials.parse(header)
    assert creds.qop is None and creds.nc is None and creds.cnonce is None
    ha1, ha2 = hd.md5_hex("u:3402000000:p"), hd.md5_hex("POST:/VIID/System/Register")
    assert creds.response == hd.md5_hex(f"{ha1}:abc:{ha2}")
    assert creds.verify("POST", "p") and not creds.verify("POST", "q")


def test_digest_header_echoes_opaque_and_uses_a_fresh_cnonce() -> None:
    ch = hd.Challenge.parse('Digest realm="viid",qop="auth,auth-int",nonce="n1",opaque="op+/="')
    assert ch.qop == ("auth", "auth-int")
    a = hd.Credentials.parse(
        hd.authorization(ch, method="POST", uri="/x", username="u", password="p")
    )
    b = hd.Credentials.parse(
        hd.authorization(ch, method="POST", uri="/x", username="u", password="p")
    )
    assert a.opaque == "op+/=" and a.nc == "00000001" and a.qop == "auth"
    assert a.cnonce != b.cnonce


@pytest.mark.parametrize(
    "header",
    [
        'Basic realm="x"',
        'Digest realm="x"',  # no nonce
        'Digest realm="x", nonce="n", algorithm=SHA-256',
        'Digest realm="x", nonce="n", qop="auth-int"',
    ],
)
def test_unusable_challenges_are_refused(header: str) -> None:
    with pytest.raises(hd.DigestError):
        hd.Challenge.parse(header)


def test_a_server_refuses_an_unpadded_nc() -> None:
    bad = 'Digest username="u", realm="r", nonce="n", uri="/", qop=auth, nc=1, cnonce="c", response="x"'
    with pytest.raises(hd.DigestError, match="8 hex"):
        hd.Credentials.parse(bad)


@pytest.mark.parametrize(("raw", "code"), [(0, 0), ("0", 0), (" 4 ", 4), (2, 2)])
def test_status_code_as_number_or_string(raw: object, code: int) -> None:
    s = g.ResponseStatus.from_json({"Id": "x", "StatusCode": raw})
    assert s.status_code == code and s.ok == (code == 0)


def test_a_status_code_that_is_no_number_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        g.parse_response_status({"ResponseStatusObject": {"StatusCode": "busy"}})


def test_a_lone_status_object_answers_a_list_post() -> None:
    doc = {"ResponseStatusListObject": {"ResponseStatusObject": {"Id": "a", "StatusCode": "2"}}}
    (s,) = g.parse_response_status_list(doc)
    assert s.transient and s.describe().startswith("StatusCode 2 (busy)")


def test_time_format_is_local_and_round_trips() -> None:
    ts = datetime(2026, 12, 6, 1, 2, 3, tzinfo=UTC)
    assert format_time(ts, CST) == "20261206090203"
    assert parse_time("20261206090203", CST) == ts
    for bad in ("2026-12-06", "20261332090203", 20261206090203):
        with pytest.raises(ProtocolError):
            parse_time(bad, CST)  # type: ignore[arg-type]


def test_server_time_zone_forms() -> None:
    base = {"VIIDServerID": "1", "TimeMode": "1", "LocalTime": "20261206090203"}
    for zone in ("+08:00", "GMT+8", "Asia/Shanghai", None):
        st = g.SystemTime.from_json({"SystemTimeObject": {**base, "TimeZone": zone}})
        assert st.moment(CST) == datetime(2026, 12, 6, 1, 2, 3, tzinfo=UTC)


def test_record_ids_follow_gat1400_1_section_7_and_are_deterministic() -> None:
    ts_ms = 1765000000123
    local = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(CST)
    kw = dict(device_id=APE, event_id="0193aa-event", ts_ms=ts_ms, local_time=local)
    a = ids.record_ids(**kw, semantic="02", n_images=2)  # type: ignore[arg-type]
    b = ids.record_ids(**kw, semantic="02", n_images=2)  # type: ignore[arg-type]
    assert a == b
    assert len(a.source_id) == 41 and len(a.object_id) == 48
    assert a.source_id == a.image_ids[0] and a.object_id.startswith(a.source_id + "02")
    d = ids.decompose(a.image_ids[1])
    assert (d.device_id, d.basic_type, d.time) == (APE, "02", local.strftime("%Y%m%d%H%M%S"))
    assert d.seq[:3] == "123"  # the event's milliseconds
    assert len(set(a.image_ids)) == 2
    other = ids.record_ids(**{**kw, "event_id": "0193ab-other"}, semantic="06", n_images=1)  # type: ignore[arg-type]
    assert ids.decompose(other.object_id).semantic_type == "06"


def test_device_id_type_codes_are_checked() -> None:
    assert ids.check_device_id(APE, ids.APE_TYPES)
    with pytest.raises(ids.IdError, match="type code 216"):
        ids.check_device_id("32010600002160000001", ids.APE_TYPES, "ape_id")
    with pytest.raises(ids.IdError, match="20 digits"):
        ids.check_device_id("3201060000119000001")


def test_jpeg_size_reads_the_frame_header() -> None:
    img = np.zeros((123, 457, 3), np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    assert jpeg_size(buf.tobytes()) == (457, 123)
    with pytest.raises(ProtocolError):
        jpeg_size(b"\x89PNG....")


def test_code_tables() -> None:
    assert plate_color("blue") == "5" and plate_color("green") == "9"
    assert plate_color("mauve") == "99"
    assert plate_class("blue") == "02" and plate_class("new_energy_small") == "99"
    assert plate_class("hk_macao", "粤Z1234澳") == "27"
    assert image_type("plate", "scene") == "01" and image_type("face", "scene") == "14"
    assert image_type("plate", "plate_crop") == "02" and image_type("face", "crop") == "11"


def test_dumps_object_equals_plain_json_encoding() -> None:
    import json

    _, buf = cv2.imencode(".jpg", np.full((40, 60, 3), 7, np.uint8))
    img = SubImage(
        APE + "02" + "20261206090203" + "00001", APE, "14", "20261206090203", buf.tobytes(), 60, 40
    )
    face = Face(
        img.image_id + "0600001",
        img.image_id,
        APE,
        "20261206090203",
        "20261206090203",
        (1, 2, 3, 4),
        [img, img],
    )
    assert json.loads(dumps_object(face)) == face.to_json()
