"""DL/T 645-2007/1997 codec against the shared vectors and the cases a poller meets on a bus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from codec_vectors import decode_dlt645 as decode_fully
from codec_vectors import expected_error, load_vectors, rejects

from edge.codecs import dlt645
from edge.codecs.dlt645 import Version
from edge.codecs.errors import (
    BcdError,
    ChecksumError,
    FrameError,
    ProtocolError,
    UnknownDataIdError,
)

ENTRIES = load_vectors("dlt645.json")
IDS = [e["name"] for e in ENTRIES]


def _di_and_version(decoded: dict[str, Any]) -> tuple[int | None, Version]:
    if "DI_1997" in decoded:
        return int(decoded["DI_1997"][:4], 16), Version.V1997
    if "DI" in decoded:
        return int(decoded["DI"][:8], 16), Version.V2007
    return None, Version.V2007


def _expected_values(decoded: dict[str, Any]) -> list[Any] | None:
    expected = decoded.get("values", decoded.get("value"))
    if expected is None or isinstance(expected, list):
        return expected
    return [expected]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_vector(entry: dict[str, Any]) -> None:
    raw = bytes.fromhex(entry["hex"])
    decoded = entry["decoded"]
    if rejects(entry):
        with pytest.raises(expected_error(entry)) as info:
            result = decode_fully(raw)
            if isinstance(result, dlt645.DataReply):  # a DI we cannot type: digits must be BCD
                dlt645.bcd_digits(result.payload)
        if isinstance(info.value, ChecksumError):
            assert info.value.expected == int(decoded["cs_calc"], 16)
            assert info.value.actual == int(decoded["cs"], 16)
        return

    frame = dlt645.parse(raw)
    assert frame.preamble == decoded["preamble_fe"]
    assert frame.address == decoded["addr"]
    assert frame.control == int(decoded["ctrl"], 16)
    assert len(frame.data) == decoded["len"]
    assert frame.data.hex().upper() == decoded["data_minus_33"].upper()
    assert decoded["cs_ok"] and raw[-2] == int(decoded["cs_calc"], 16)
    assert dlt645.encode(frame) == raw  # round trip, preamble included

    di, version = _di_and_version(decoded)
    if not frame.is_reply:
        request = dlt645.decode_request(frame)
        if di is not None:
            assert (request.di, request.version) == (di, version)
        return
    reply = dlt645.decode_reply(frame)
    if "error_bits" in decoded:
        assert isinstance(reply, dlt645.ErrorReply)
        assert reply.errors == int(decoded["error_byte"], 16)
        assert reply.texts == decoded["error_bits"]
    if "address_in_data" in decoded:
        assert isinstance(reply, dlt645.AddressReply)
        assert reply.address == decoded["address_in_data"]
    if di is not None:
        assert isinstance(reply, dlt645.DataReply)
        assert (reply.di, reply.version) == (di, version)
        if "value_bcd_digits" in decoded:
            assert dlt645.bcd_digits(reply.payload) == decoded["value_bcd_digits"]
        expected = _expected_values(decoded)
        if expected is not None:
            values = dlt645.decode_data(reply.di, reply.payload, reply.version)
            assert [v.value for v in values] == pytest.approx(expected)
            if "item" in decoded:
                assert values[0].unit.lower() in decoded["item"].lower()


@pytest.mark.parametrize("entry", [e for e in ENTRIES if not rejects(e)], ids=lambda e: e["name"])
def test_builders_reproduce_vector(entry: dict[str, Any]) -> None:
    """What the master sends and what the simulator answers are byte-identical to real gear."""
    raw = bytes.fromhex(entry["hex"])
    decoded = entry["decoded"]
    fe = decoded["preamble_fe"]
    addr = decoded["addr"]
    di, version = _di_and_version(decoded)
    ctrl = int(decoded["ctrl"], 16)
    if ctrl in (0x11, 0x01):
        assert di is not None
        built = dlt645.build_read(addr, di, version, preamble=fe)
    elif ctrl == 0x13:
        built = dlt645.build_read_address(preamble=fe)
    elif ctrl == 0x93:
        built = dlt645.build_address_reply(decoded["address_in_data"], preamble=fe)
        assert dlt645.parse(built).address == addr
    elif ctrl in (0xD1, 0xC1):
        built = dlt645.build_error_reply(addr, int(decoded["error_byte"], 16), preamble=fe)
    elif ctrl in (0x91, 0x81) and di is not None and dlt645.lookup(di, version):
        values = _expected_values(decoded) or [None]
        payload = dlt645.encode_data(di, values, version)
        built = dlt645.build_data_reply(addr, di, payload, version, preamble=fe)
    else:
        payload = bytes.fromhex(decoded["data_minus_33"])[version.di_len :]
        assert di is not None
        built = dlt645.build_data_reply(addr, di, payload, version, preamble=fe)
    assert built.hex(" ").upper() == raw.hex(" ").upper()


def test_vectors_cover_both_editions_and_a_rejection() -> None:
    """Guards against an emptied or truncated vector file silently passing."""
    controls = {e["decoded"]["ctrl"] for e in ENTRIES}
    assert {"11", "91", "01", "81", "13", "93", "D1"} <= controls
    assert any(rejects(e) for e in ENTRIES)


# ---------------------------------------------------------------------------------------------
# Framing


WUSONG_REPLY = bytes.fromhex("68 61 01 00 00 00 00 68 91 06 33 34 34 35 34 43 10 16")


def test_parse_skips_long_preamble() -> None:
    frame = dlt645.parse(b"\xfe" * 7 + WUSONG_REPLY)
    assert frame.preamble == 7
    assert frame.address == "000000000161"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (WUSONG_REPLY[:-1], FrameError),  # truncated
        (WUSONG_REPLY + b"\x00", FrameError),  # trailing byte
        (WUSONG_REPLY[:-1] + b"\x17", FrameError),  # wrong end byte
        (b"\x00" + WUSONG_REPLY, FrameError),  # junk before 68
        (WUSONG_REPLY[:-2] + b"\x11\x16", ChecksumError),
        (b"", FrameError),
    ],
)
def test_parse_rejects_malformed(raw: bytes, error: type[ProtocolError]) -> None:
    with pytest.raises(error):
        dlt645.parse(raw)


def test_non_bcd_address_rejected_even_with_valid_checksum() -> None:
    frame = dlt645.Frame("000000000161", 0x91, bytes.fromhex("00010102 0110"))
    raw = bytearray(dlt645.encode(frame))
    raw[1] = 0x6A  # low address byte 6A: not BCD, not AA
    raw[-2] = dlt645.checksum(bytes(raw[:-2]))
    with pytest.raises(BcdError):
        dlt645.parse(bytes(raw))


def test_non_bcd_value_rejected_even_with_valid_checksum() -> None:
    raw = dlt645.build_data_reply("000000000161", 0x00010000, bytes.fromhex("2A000000"))
    reply = dlt645.decode_reply(dlt645.parse(raw))
    assert isinstance(reply, dlt645.DataReply)
    with pytest.raises(BcdError):
        dlt645.decode_data(reply.di, reply.payload)


def test_find_frame_skips_junk_and_reports_consumed() -> None:
    junk = b"\x00\x13\x68\x68\xfe"  # includes false 68 starts
    buf = junk + b"\xfe\xfe" + WUSONG_REPLY + b"\x68\x61"
    frame, consumed = dlt645.find_frame(buf)
    assert frame is not None and frame.address == "000000000161"
    assert consumed == len(junk) + 2 + len(WUSONG_REPLY)
    rest_frame, rest_consumed = dlt645.find_frame(buf[consumed:])
    assert rest_frame is None and rest_consumed == 0  # "68 61" may start the next frame


def test_find_frame_needs_more_bytes_for_partial_frame() -> None:
    frame, consumed = dlt645.find_frame(b"\x01\x02\xfe\xfe" + WUSONG_REPLY[:9])
    assert frame is None
    assert consumed == 2  # junk dropped, the FE preamble and partial frame kept


def test_find_frame_prefers_complete_frame_after_false_start() -> None:
    """A stray 68 whose fake L points past the buffer must not hide a real frame behind it."""
    false_start = bytes.fromhex("68 11 22 33 44 55 66 68 91 C8")  # claims 200 bytes of data
    frame, consumed = dlt645.find_frame(false_start + WUSONG_REPLY)
    assert frame is not None and frame.control == 0x91
    assert consumed == len(false_start) + len(WUSONG_REPLY)


def test_find_frame_drops_everything_without_a_start() -> None:
    assert dlt645.find_frame(b"\x00\x01\xfe\xfe") == (None, 4)
    assert dlt645.find_frame(b"") == (None, 0)


def test_frame_reader_byte_by_byte_with_bad_frame_between() -> None:
    bad = bytearray(WUSONG_REPLY)
    bad[-2] ^= 0xFF
    stream = b"\x00\xfe\xfe" + bytes(bad) + b"\xfe" * 4 + WUSONG_REPLY + WUSONG_REPLY
    reader = dlt645.FrameReader()
    frames = [f for b in stream for f in reader.feed(bytes([b]))]
    assert len(frames) == 2
    assert all(f.address == "000000000161" for f in frames)
    assert reader.rejected_frames == 1
    assert isinstance(reader.last_error, ChecksumError)
    assert reader.pending == 0


def test_frame_reader_buffer_is_bounded() -> None:
    reader = dlt645.FrameReader(max_buffer=64)
    reader.feed(b"\x68" * 50)
    reader.feed(b"\x68" * 50)
    assert reader.pending <= 64
    assert reader.overflow_bytes > 0
    assert reader.feed(WUSONG_REPLY)[0].control == 0x91


# ---------------------------------------------------------------------------------------------
# Addresses


def test_addresses_are_normalised_and_wildcards_match() -> None:
    assert dlt645.normalize_address("161") == "000000000161"
    assert dlt645.normalize_address(161) == "000000000161"
    assert dlt645.normalize_address("aaaaaaaaaaaa") == dlt645.WILDCARD_ADDRESS
    assert dlt645.address_matches(dlt645.WILDCARD_ADDRESS, "000000000161")
    assert dlt645.address_matches("AAAAAAAA0161", "000000000161")  # 缩位寻址
    assert not dlt645.address_matches("AAAAAAAA0162", "000000000161")
    # every byte counts, the high one too: a meter on another floor is not ours
    assert not dlt645.address_matches("990000000161", "000000000161")
    assert not dlt645.address_matches("000000000161", "990000000161")
    assert not dlt645.address_matches("000000000161", dlt645.WILDCARD_ADDRESS)
    for bad in ("1234567890123", "00000000016A", "AB0000000000"):
        with pytest.raises(ValueError):
            dlt645.normalize_address(bad)


def test_address_goes_low_byte_first() -> None:
    raw = dlt645.build_read("000000000161", 0x00010000, preamble=0)
    assert raw[1:7] == bytes.fromhex("61 01 00 00 00 00")


# ---------------------------------------------------------------------------------------------
# Replies


def test_error_reply_texts_per_edition() -> None:
    raw = dlt645.build_error_reply("000000000161", 0x06)
    reply = dlt645.decode_reply(dlt645.parse(raw))
    assert isinstance(reply, dlt645.ErrorReply)
    assert reply.errors == dlt645.ErrorFlag.NO_DATA | dlt645.ErrorFlag.UNAUTHORIZED
    assert reply.texts == ["无请求数据", "密码错/未授权"]
    raw97 = dlt645.build_error_reply("000000000161", 0x02, Version.V1997)
    assert raw97[8] == 0xC1
    reply97 = dlt645.decode_reply(dlt645.parse(raw97))
    assert isinstance(reply97, dlt645.ErrorReply)
    assert reply97.texts == ["数据标识错"]


def test_follow_on_frames_2007() -> None:
    """A long answer comes as B1 then 12H/B2 ... 12H/92; the payloads concatenate."""
    addr = "000000000161"
    di = 0x0001FF00
    full = dlt645.encode_data(di, [100.0, 10.0, 20.0, 30.0, 40.0])
    first = dlt645.decode_reply(
        dlt645.parse(dlt645.build_data_reply(addr, di, full[:8], more=True))
    )
    assert isinstance(first, dlt645.DataReply) and first.more and first.seq is None
    assert dlt645.parse(dlt645.build_data_reply(addr, di, full[:8], more=True)).control == 0xB1

    request = dlt645.decode_request(dlt645.parse(dlt645.build_read_follow(addr, di, seq=1)))
    assert (request.function, request.di, request.seq) == (0x12, di, 1)

    middle_raw = dlt645.build_data_reply(addr, di, full[8:16], follow=True, more=True, seq=1)
    assert dlt645.parse(middle_raw).control == 0xB2
    last_raw = dlt645.build_data_reply(addr, di, full[16:], follow=True, seq=2)
    assert dlt645.parse(last_raw).control == 0x92
    parts = [first]
    for raw in (middle_raw, last_raw):
        reply = dlt645.decode_reply(dlt645.parse(raw))
        assert isinstance(reply, dlt645.DataReply)
        parts.append(reply)
    assert [p.seq for p in parts] == [None, 1, 2]
    assert [p.more for p in parts] == [True, True, False]
    values = dlt645.decode_data(di, b"".join(p.payload for p in parts))
    assert [v.point for v in values] == [
        "energy_active_forward_total",
        "energy_active_forward_rate1",
        "energy_active_forward_rate2",
        "energy_active_forward_rate3",
        "energy_active_forward_rate4",
    ]
    assert [v.value for v in values] == [100.0, 10.0, 20.0, 30.0, 40.0]


def test_follow_on_1997_has_no_seq() -> None:
    raw = dlt645.build_read_follow("000000060507", 0x901F, version=Version.V1997, preamble=0)
    frame = dlt645.parse(raw)
    assert frame.control == 0x02 and frame.data == bytes.fromhex("1F90")
    reply = dlt645.decode_reply(
        dlt645.parse(
            dlt645.build_data_reply(
                "000000060507", 0x901F, bytes(4), Version.V1997, follow=True, more=True
            )
        )
    )
    assert isinstance(reply, dlt645.DataReply)
    assert reply.more and reply.seq is None and reply.payload == bytes(4)


def test_reply_to_a_command_is_an_ack() -> None:
    raw = dlt645.encode(dlt645.Frame("000000000161", 0x94))
    reply = dlt645.decode_reply(dlt645.parse(raw))
    assert reply == dlt645.AckReply("000000000161", 0x14, b"")


def test_request_and_reply_are_not_confused() -> None:
    with pytest.raises(FrameError):
        dlt645.decode_reply(dlt645.parse(dlt645.build_read("1", 0x00010000)))
    with pytest.raises(FrameError):
        dlt645.decode_request(dlt645.parse(WUSONG_REPLY))
    short = dlt645.encode(dlt645.Frame("000000000161", 0x91, b"\x00\x00"))
    with pytest.raises(FrameError):
        dlt645.decode_reply(dlt645.parse(short))


# ---------------------------------------------------------------------------------------------
# Data identifiers


@pytest.mark.parametrize(
    ("di", "version", "values", "unit"),
    [
        (0x0201FF00, Version.V2007, [220.1, 219.9, 0.0], "V"),
        (0x0202FF00, Version.V2007, [4.999, -1.234, 0.0], "A"),
        (0x0203FF00, Version.V2007, [1.5, 0.5, -0.25, 1.25], "kW"),
        (0x0206FF00, Version.V2007, [0.95, -0.5, 1.0, 0.999], ""),
        (0x00000000, Version.V2007, [-12.34], "kWh"),
        (0x02800002, Version.V2007, [50.01], "Hz"),
        (0xB61F, Version.V1997, [220.0, 221.0, 219.0], "V"),
        (0x901F, Version.V1997, [93.64, 1.0, 2.0, 3.0, 87.64], "kWh"),
        (0xB630, Version.V1997, [0.2512], "kW"),
    ],
)
def test_values_round_trip_with_units(
    di: int, version: Version, values: list[float], unit: str
) -> None:
    payload = dlt645.encode_data(di, values, version)
    decoded = dlt645.decode_data(di, payload, version)
    assert [v.value for v in decoded] == pytest.approx(values)
    assert {v.unit for v in decoded} == {unit}
    assert len({v.point for v in decoded}) == len(values)


def test_current_sign_is_bit7_of_top_byte() -> None:
    # -4.999 A: 004999 with the sign bit on the most significant (last sent) byte.
    values = dlt645.decode_data(0x02020100, bytes.fromhex("99 49 80"))
    assert values[0].value == pytest.approx(-4.999)
    assert dlt645.encode_data(0x02020100, [-4.999]) == bytes.fromhex("99 49 80")


def test_unsigned_field_does_not_read_bit7_as_sign() -> None:
    assert dlt645.decode_data(0x00010000, bytes.fromhex("00 00 00 80"))[0].value == 800000.0
    assert dlt645.decode_data(0x00000000, bytes.fromhex("00 00 00 80"))[0].value == 0.0


def test_block_elements_are_named_per_phase() -> None:
    values = dlt645.decode_data(0x0201FF00, bytes.fromhex("01 22 99 21 00 22"))
    assert [(v.point, v.value, v.unit) for v in values] == [
        ("voltage_a", 220.1, "V"),
        ("voltage_b", 219.9, "V"),
        ("voltage_c", 220.0, "V"),
    ]


def test_ff_filled_element_is_none() -> None:
    values = dlt645.decode_data(0x0201FF00, bytes.fromhex("01 22 FF FF FF FF"))
    assert [v.value for v in values] == [220.1, None, None]


def test_single_phase_meter_may_answer_a_block_with_one_element() -> None:
    assert len(dlt645.decode_data(0x0201FF00, bytes.fromhex("01 22"))) == 1


@pytest.mark.parametrize(
    ("di", "payload"),
    [
        (0x02010100, b"\x01"),  # too short
        (0x02010100, b"\x01\x02\x03"),  # not a multiple
        (0x0201FF00, bytes(8)),  # four voltages
        (0x00010000, b""),
    ],
)
def test_wrong_payload_length_rejected(di: int, payload: bytes) -> None:
    with pytest.raises(FrameError):
        dlt645.decode_data(di, payload)


def test_unknown_di_is_a_protocol_error() -> None:
    with pytest.raises(UnknownDataIdError) as info:
        dlt645.decode_data(0x00440000, bytes(4))
    assert info.value.di == 0x00440000


def test_date_time_and_address_identifiers() -> None:
    # 2024-05-06 is a Monday: sent WW DD MM YY.
    assert dlt645.encode_data(0x04000101, ["2024-05-06"]) == bytes.fromhex("01 06 05 24")
    assert dlt645.decode_data(0x04000101, bytes.fromhex("01 06 05 24"))[0].value == "2024-05-06"
    assert dlt645.decode_data(0x04000102, bytes.fromhex("56 34 12"))[0].value == "12:34:56"
    digits = dlt645.decode_data(0x04000401, bytes.fromhex("61 01 00 00 00 00"))
    assert digits[0].value == "000000000161"
    assert dlt645.decode_data(0xC011, bytes.fromhex("00 30 08"), Version.V1997)[0].value == (
        "08:30:00"
    )


def test_table_has_both_editions_with_units_and_signs() -> None:
    forward07 = dlt645.lookup(0x00010000)
    forward97 = dlt645.lookup(0x9010, Version.V1997)
    assert forward07 is not None and forward97 is not None
    assert forward07.point == forward97.point == "energy_active_forward_total"
    assert (forward07.unit, forward07.fmt, forward07.signed) == ("kWh", "XXXXXX.XX", False)
    current = dlt645.lookup(0x02020100)
    assert current is not None and current.signed and current.size == 3
    assert dlt645.di_for_point("voltage_a") == 0x02010100
    assert dlt645.di_for_point("voltage_a", Version.V1997) == 0xB611
    assert dlt645.di_for_point("nope") is None


def test_encode_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        dlt645.encode_data(0x00010000, [-1.0])
    with pytest.raises(ValueError):
        dlt645.encode_data(0x02010100, [1000.0])
    with pytest.raises(ValueError):
        dlt645.encode_data(0x02020100, [800.0])  # top digit 8 would collide with the sign bit
    assert dlt645.decode_data(0x02020100, dlt645.encode_data(0x02020100, [799.999]))[
        0
    ].value == pytest.approx(799.999)


def test_docs_list_every_table_di() -> None:
    """docs/protocols/dlt645.md is what installers read; it must not fall behind the table."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocols" / "dlt645.md").read_text(
        encoding="utf-8"
    )
    missing = [
        f"{di:0{version.di_len * 2}X}"
        for version, di in dlt645.DI_TABLE
        if f"| {di:0{version.di_len * 2}X} |" not in doc
    ]
    assert missing == []


@pytest.mark.parametrize("junk", [b"", b"\x00", b"\x68\x13"])
def test_find_frame_counts_every_preamble_byte_from_the_buffer_start(junk: bytes) -> None:
    """A meter's FE run may be the first bytes read: all of them are the frame's preamble."""
    wire = dlt645.build_read("000000000161", 0x00010000, preamble=4)
    frame, junk_end, end, _ = dlt645.LAYOUT.scan_span(junk + wire)
    assert frame is not None and frame.preamble == 4
    assert (junk_end, end) == (len(junk), len(junk) + len(wire))
