"""SIP, digest, MANSCDP and SDP codecs against the shared GB/T 28181 vectors."""

from __future__ import annotations

import json

import pytest
from gb_media import SHARED

from edge.codecs import manscdp, sdp, sip, sipdigest
from edge.codecs.errors import ProtocolError

VECTORS = json.loads((SHARED / "protocols" / "vectors" / "gb28181.json").read_text("utf-8"))


def _named(prefix: str) -> list[dict]:
    return [v for v in VECTORS if v["name"].startswith(prefix)]


@pytest.mark.parametrize(
    "vec", _named("REGISTER digest") + _named("UNREGISTER"), ids=lambda v: v["name"][:40]
)
def test_digest_vectors(vec: dict) -> None:
    j, d = vec["json"], vec["decoded"]
    parts = sipdigest.compute(
        method=j["method"],
        uri=j["uri"],
        username=j["username"],
        realm=j["realm"],
        password=j["password"],
        nonce=j["nonce"],
        algorithm=j["algorithm"],
    )
    assert (parts.ha1, parts.ha2, parts.response) == (d["HA1"], d["HA2"], d["response"])


@pytest.mark.parametrize("vec", _named("REGISTER digest"), ids=lambda v: v["name"][:40])
def test_authorization_header_verifies(vec: dict) -> None:
    j, d = vec["json"], vec["decoded"]
    challenge = sipdigest.Challenge.parse(
        f'Digest realm="{j["realm"]}", nonce="{j["nonce"]}", algorithm=MD5'
    )
    header = sipdigest.authorization(
        challenge,
        method="REGISTER",
        uri=j["uri"],
        username=j["username"],
        password=j["password"],
    )
    assert f'response="{d["response"]}"' in header
    assert sipdigest.verify(
        header, method="REGISTER", password=j["password"], realm=j["realm"], nonce=j["nonce"]
    )
    assert not sipdigest.verify(
        header, method="REGISTER", password="wrong", realm=j["realm"], nonce=j["nonce"]
    )


def test_qop_auth_form() -> None:
    # RFC 2617 §3.5's worked example (an HTTP digest, same arithmetic).
    parts = sipdigest.compute(
        method="GET",
        uri="/dir/index.html",
        username="Mufasa",
        realm="testrealm@host.com",
        password="Circle Of Life",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert parts.response == "6629fae49393a05397450978507c4ef1"
    challenge = sipdigest.Challenge.parse(
        'Digest realm="3402000000", nonce="abc", qop="auth", algorithm=MD5, opaque="o"'
    )
    header = sipdigest.authorization(
        challenge,
        method="REGISTER",
        uri="sip:x@3402000000",
        username="u",
        password="p",
        nc=2,
        cnonce="c1",
    )
    assert "qop=auth" in header and "nc=00000002" in header and 'opaque="o"' in header
    assert sipdigest.verify(
        header, method="REGISTER", password="p", realm="3402000000", nonce="abc"
    )


def test_dahua_register_flow_structure() -> None:
    vec = _named("REGISTER flow")[0]["json"]
    msg = sip.parse(vec["register1"].encode())
    assert msg.method == "REGISTER"
    assert msg.uri == "sip:34020000002000000010@192.168.6.106:5062"
    assert msg.call_id == "1881196343@192.168.6.71"
    assert msg.cseq == (1, "REGISTER")
    assert msg.get("Expires") == "3600"
    via = sip.parse_via(msg.require("Via"))
    assert (via.transport, via.host, via.port) == ("UDP", "192.168.6.71", 5060)
    assert via.branch == "z9hG4bK1251336551" and "rport" in via.params
    frm = sip.parse_name_addr(msg.require("From"))
    assert frm.user == "34020000001320000002" and frm.tag == "2088733642"
    auth = sipdigest.parse_auth(vec["register2_authorization"])
    assert auth["realm"] == "34020000" and auth["uri"] == msg.uri
    challenge = sipdigest.Challenge.parse(vec["challenge"].split("WWW-Authenticate: ", 1)[1])
    assert challenge.realm == "34020000" and challenge.nonce == "1715926053"
    assert challenge.qop is None
    # Round trip keeps everything the platform reads.
    again = sip.parse(msg.encode())
    assert again.headers == msg.headers and again.uri == msg.uri


def test_keepalive_capture_parses_with_spaced_content_length() -> None:
    vec = _named("MESSAGE Keepalive (device")[0]
    raw = vec["json"].encode("gb2312")
    msg = sip.parse(raw)
    assert msg.method == "MESSAGE" and msg.cseq == (20, "MESSAGE")
    assert msg.get("content-type") == manscdp.CONTENT_TYPE
    assert len(msg.body) == 180
    body = manscdp.parse(msg.body)
    d = vec["decoded"]
    assert (body.root, body.cmd_type, body.sn, body.device_id, body.text("Status")) == (
        d["root"],
        d["CmdType"],
        d["SN"],
        d["DeviceID"],
        d["Status"],
    )
    reply = sip.response_to(msg, 200, to_tag="t1")
    wire = sip.parse(reply.encode())
    assert wire.status == 200 and wire.body == b"" and wire.get("Content-Length") == "0"
    assert wire.call_id == msg.call_id and wire.get("CSeq") == "20 MESSAGE"
    assert wire.get("To", "").endswith(";tag=t1")


def test_compact_headers_and_lf_only() -> None:
    raw = (
        b"MESSAGE sip:a@b SIP/2.0\nv: SIP/2.0/TCP 1.2.3.4:5060;branch=z9hG4bKx\n"
        b"f: <sip:1@b>;tag=1\nt: <sip:a@b>\ni: cid\nCSeq: 3 MESSAGE\nc: Application/MANSCDP+xml"
        b"\nl: 4\n\nabcdEXTRA"
    )
    msg = sip.parse(raw)
    assert msg.get("Via", "").startswith("SIP/2.0/TCP") and msg.call_id == "cid"
    assert msg.get("Content-Type") == "Application/MANSCDP+xml" and msg.body == b"abcd"


def test_multiple_vias_split_and_echoed_in_order() -> None:
    raw = (
        b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1, SIP/2.0/UDP p2;"
        b"branch=z9hG4bK2\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\n"
        b"CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    )
    msg = sip.parse(raw)
    assert [sip.parse_via(v).host for v in msg.get_all("Via")] == ["p1", "p2"]
    assert sip.response_to(msg, 200).get_all("Via") == msg.get_all("Via")


@pytest.mark.parametrize(
    "raw",
    [
        b"REGISTER sip:a SIP/2.0\r\nCSeq: 1 REGISTER\r\nContent-Length: 10\r\n\r\nshort",
        b"HELLO\r\n\r\n",
        b"REGISTER sip:a HTTP/1.1\r\n\r\n",
        b"SIP/2.0 99x OK\r\n\r\n",
        b"REGISTER sip:a SIP/2.0\r\nbad header\r\n\r\n",
        b"REGISTER sip:a SIP/2.0\r\nContent-Length: x\r\n\r\n",
        b"no blank line",
    ],
)
def test_malformed_messages_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        sip.parse(raw)


def test_stream_framer_cuts_by_content_length_across_chunks() -> None:
    a = sip.SipMessage(
        method="MESSAGE", uri="sip:a@b", headers=[("CSeq", "1 MESSAGE")], body=b"<x>1</x>"
    )
    b = sip.SipMessage(status=200, reason="OK", headers=[("CSeq", "1 MESSAGE")])
    stream = b"\r\n\r\n" + a.encode() + b"\r\n" + b.encode() + a.encode()
    framer = sip.StreamFramer()
    got = []
    for i in range(0, len(stream), 7):
        got += list(framer.feed(stream[i : i + 7]))
    assert [m.method or m.status for m in got] == ["MESSAGE", 200, "MESSAGE"]
    assert got[0].body == b"<x>1</x>" and got[1].body == b""


def test_serialise_always_has_content_length() -> None:
    msg = sip.SipMessage(method="REGISTER", uri="sip:x@y", headers=[("Content-Length", "99")])
    assert msg.encode().endswith(b"Content-Length: 0\r\n\r\n")


# --- MANSCDP ----------------------------------------------------------------------


def test_legacy_keepalive_without_encoding_and_18_digit_id() -> None:
    body = manscdp.parse(_named("MESSAGE Keepalive, Hikvision")[0]["json"].encode())
    assert body.device_id == "130909113319427420" and body.sn == 2749


def test_wvp_cascade_keepalive_with_crlf() -> None:
    raw = _named("Keepalive built by wvp")[0]["json"].replace("{random 6 digits}", "123456")
    body = manscdp.parse(
        raw.replace("{local platform GB id}", "41010500002000000001").encode("gb2312")
    )
    assert body.cmd_type == "Keepalive" and body.sn == 123456


def test_catalog_query_and_response_capture() -> None:
    vec = _named("Catalog query")[0]["json"]
    q = manscdp.parse(vec["query"].encode())
    assert (q.root, q.cmd_type, q.sn) == ("Query", "Catalog", 7)
    r = manscdp.parse(vec["response"].encode("gb2312"))
    assert r.text("SumNum") == "1" and r.list_num("DeviceList") == 1
    item = r.items("DeviceList")[0]
    assert item["DeviceID"] == "34020000001310000001" and item["Status"] == "ON"
    assert item["Info.PTZType"] == "3"
    assert manscdp.split_id(item["DeviceID"]).type_code == "131"


def test_built_catalog_pages_match_capture_shape() -> None:
    items = [
        manscdp.CatalogItem(
            f"340200000013100000{i:02d}",
            f"北门 {i}",
            parent_id="P",
            status="OFF" if i == 3 else "ON",
        )
        for i in range(1, 6)
    ]
    pages = manscdp.catalog_pages("34020000001320000002", 7, items, page_size=2)
    assert len(pages) == 3
    seen = []
    for raw in pages:
        assert raw.startswith(b'<?xml version="1.0" encoding="GB2312"?>')
        raw.decode("gb2312")  # strict: every byte is GB2312
        doc = manscdp.parse(raw)
        assert (doc.root, doc.cmd_type, doc.sn, doc.text("SumNum")) == (
            "Response",
            "Catalog",
            7,
            "5",
        )
        assert doc.list_num("DeviceList") == len(doc.items("DeviceList"))
        seen += doc.items("DeviceList")
    assert [s["Name"] for s in seen] == [f"北门 {i}" for i in range(1, 6)]
    assert seen[2]["Status"] == "OFF"
    empty = manscdp.catalog_pages("34020000001320000002", 8, [], page_size=2)
    assert len(empty) == 1 and manscdp.parse(empty[0]).text("SumNum") == "0"


def test_non_gb2312_character_survives_as_reference() -> None:
    raw = manscdp.catalog_pages("1" * 20, 1, [manscdp.CatalogItem("2" * 20, "cam 😀 东")], 5)[0]
    raw.decode("gb2312")
    assert manscdp.parse(raw).items("DeviceList")[0]["Name"] == "cam 😀 东"


@pytest.mark.parametrize("prefix", ["DeviceInfo response", "DeviceStatus response", "Alarm Notify"])
def test_response_captures_parse(prefix: str) -> None:
    raw = _named(prefix)[0]["json"]
    doc = manscdp.parse(raw.encode("gb2312"))
    assert doc.cmd_type == prefix.split()[0]
    if prefix.startswith("DeviceStatus"):
        assert doc.list_num("Alarmstatus") == 2
        assert manscdp.split_id(doc.items("Alarmstatus")[0]["DeviceID"]).type_code == "134"
    if prefix.startswith("Alarm"):
        assert doc.text("AlarmDescription") == "警情描述"


def test_built_bodies_read_back() -> None:
    from datetime import datetime

    t = datetime(2009, 12, 4, 16, 23, 32)
    alarm = manscdp.parse(
        manscdp.alarm_notify(
            "6" * 20,
            1,
            priority=4,
            method=2,
            time=t,
            description="警情描述",
            longitude=171.3,
            latitude=34.2,
        )
    )
    vec = manscdp.parse(_named("Alarm Notify")[0]["json"].encode("gb2312"))
    for tag in (
        "AlarmPriority",
        "AlarmMethod",
        "AlarmTime",
        "AlarmDescription",
        "Longitude",
        "Latitude",
    ):
        assert alarm.text(tag) == vec.text(tag), tag
    info = manscdp.parse(
        manscdp.device_info(
            "1" * 20, 9, name="n", manufacturer="m", model="x", firmware="f", channels=3
        )
    )
    assert info.text("Result") == "OK" and info.text("Channel") == "3"
    status = manscdp.parse(manscdp.device_status("1" * 20, 10, online=True, device_time=t))
    assert status.text("Online") == "ONLINE" and status.text("DeviceTime") == "2009-12-04T16:23:32"
    conf = manscdp.parse(
        manscdp.config_download(
            "1" * 20, 11, name="gw", expires_s=3600, heartbeat_s=60, heartbeat_count=3
        )
    )
    assert conf.text("BasicParam/HeartBeatInterval") == "60"
    ka = manscdp.parse(manscdp.keepalive("1" * 20, 5))
    assert (ka.root, ka.text("Status")) == ("Notify", "OK")


@pytest.mark.parametrize(
    "raw",
    [
        b"<Notify><SN>1</SN><DeviceID>1</DeviceID></Notify>",
        b"<Notify><CmdType>Keepalive</CmdType><SN>x</SN><DeviceID>1</DeviceID></Notify>",
        b"<Other><CmdType>K</CmdType><SN>1</SN><DeviceID>1</DeviceID></Other>",
        b"<Notify><CmdType>K</CmdType>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Notify/>',
    ],
)
def test_bad_bodies_are_refused(raw: bytes) -> None:
    with pytest.raises(manscdp.ManscdpError):
        manscdp.parse(raw)


@pytest.mark.parametrize("vec", _named("ID decomposition"), ids=lambda v: v["json"])
def test_id_decomposition(vec: dict) -> None:
    parts = manscdp.split_id(vec["json"])
    d = vec["decoded"]
    assert (
        parts.center,
        parts.province,
        parts.city,
        parts.district,
        parts.grassroots,
        parts.industry,
        parts.type_code,
        parts.network,
        parts.seq,
    ) == (
        d["center_1_8"],
        d["province_1_2"],
        d["city_3_4"],
        d["district_5_6"],
        d["grassroots_7_8"],
        d["industry_9_10"],
        d["type_11_13"],
        d["network_14"],
        d["seq_15_20"],
    )


def test_every_vector_is_exercised() -> None:
    covered = (
        "REGISTER digest",
        "UNREGISTER",
        "REGISTER flow",
        "MESSAGE Keepalive",
        "Catalog query",
        "DeviceInfo",
        "DeviceStatus",
        "Alarm Notify",
        "Keepalive built by wvp",
        "ID decomposition",
    )
    assert all(v["name"].startswith(covered) for v in VECTORS)


# --- SDP ----------------------------------------------------------------------------

WVP_OFFER = (
    "v=0\r\no=34020000002000000001 0 0 IN IP4 10.0.0.5\r\ns=Play\r\nc=IN IP4 10.0.0.5\r\n"
    "t=0 0\r\nm=video 30000 TCP/RTP/AVP 96 97 98 99\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\n"
    "a=rtpmap:98 H264/90000\r\na=rtpmap:97 MPEG4/90000\r\na=rtpmap:99 H265/90000\r\n"
    "a=setup:passive\r\na=connection:new\r\ny=0100000001\r\n"
)


def test_sdp_offer_tcp_passive_and_answer() -> None:
    offer = sdp.parse_offer(WVP_OFFER.encode())
    assert (offer.address, offer.port, offer.tcp, offer.setup) == (
        "10.0.0.5",
        30000,
        True,
        "passive",
    )
    assert offer.ssrc == "0100000001" and offer.ssrc_int == 100000001
    assert offer.rtpmap["96"] == "PS/90000" and offer.direction == "recvonly"
    answer = sdp.build_answer(offer, device_id="3" * 20, address="10.0.0.9", port=40000).decode()
    lines = answer.split("\r\n")
    assert "m=video 40000 TCP/RTP/AVP 96" in lines and "a=setup:active" in lines
    assert "a=sendonly" in lines and "a=rtpmap:96 PS/90000" in lines and "y=0100000001" in lines
    assert "c=IN IP4 10.0.0.9" in lines


def test_sdp_offer_udp() -> None:
    offer = sdp.parse_offer(
        sdp.build_offer(user="p", address="127.0.0.1", port=5004, ssrc="0000000123")
    )
    assert not offer.tcp and offer.setup is None and offer.ssrc_int == 123
    answer = sdp.build_answer(offer, device_id="3" * 20, address="127.0.0.1", port=6000)
    assert b"m=video 6000 RTP/AVP 96" in answer and b"setup" not in answer


@pytest.mark.parametrize(
    "body",
    [
        "v=0\r\nc=IN IP4 1.2.3.4\r\n",
        "v=0\r\nm=video 0 RTP/AVP 96\r\nc=IN IP4 1.2.3.4\r\n",
        "v=0\r\nm=video 5000 RTP/AVP 96\r\n",
        "v=0\r\nm=audio 5000 RTP/AVP 8\r\nc=IN IP4 1.2.3.4\r\n",
        "v=0\r\nm=video 5000 RTP/AVP 96\r\nc=IN IP4 1.2.3.4\r\ny=abc\r\n",
    ],
)
def test_bad_offers(body: str) -> None:
    with pytest.raises(sdp.SdpError):
        sdp.parse_offer(body.encode())


def test_unicode_digits_are_protocol_errors() -> None:
    # "²".isdigit() is True but int("²") fails: numbers must be ASCII digits.
    with pytest.raises(ProtocolError):
        sip.parse_cseq("\u00b2 REGISTER")
    with pytest.raises(ProtocolError):
        sip.parse_via("SIP/2.0/UDP h:\u00b2;branch=z9hG4bK1")
    with pytest.raises(ProtocolError):
        sip.parse_uri("sip:a@b:\u00b2")


def test_unicode_digit_ssrc_is_refused() -> None:
    body = "v=0\r\nm=video 5000 RTP/AVP 96\r\nc=IN IP4 1.2.3.4\r\ny=\u00b2\r\n".encode()
    with pytest.raises(sdp.SdpError):
        sdp.parse_offer(body)
