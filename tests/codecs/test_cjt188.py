"""CJ/T 188-2004 codec against the shared vectors and the vendor quirks seen in the field."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from codec_vectors import decode_cjt188 as decode_fully
from codec_vectors import expected_error, load_vectors, rejects

from edge.codecs import cjt188
from edge.codecs.cjt188 import DiOrder, Quantity, Status, Valve, WaterData
from edge.codecs.errors import BcdError, ChecksumError, FrameError

ENTRIES = load_vectors("cjt188.json")
IDS = [e["name"] for e in ENTRIES]


def _check_flow(actual: Quantity, expected: dict[str, Any]) -> None:
    assert actual.unit_code == int(expected["unit"], 16)
    if "value_m3" in expected:
        assert actual.unit == "m3"
        assert actual.value == pytest.approx(expected["value_m3"])
    elif expected.get("bcd", "").lower() == "ffffffff":
        assert actual.value is None


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_vector(entry: dict[str, Any]) -> None:
    raw = bytes.fromhex(entry["hex"])
    decoded = entry["decoded"]
    if rejects(entry):
        with pytest.raises(expected_error(entry)):
            decode_fully(raw)
        return

    frame = cjt188.parse(raw)
    assert frame.preamble == decoded["preamble_fe"]
    assert frame.meter_type == int(decoded["meter_type"], 16)
    assert frame.address == decoded["addr"]
    assert raw[frame.preamble + 2 : frame.preamble + 9].hex().upper() == decoded["addr_wire"]
    assert frame.control == int(decoded["ctrl"], 16)
    assert len(frame.data) == decoded["len"]
    assert decoded["cs_ok"] and raw[-2] == int(decoded["cs_calc"], 16)
    assert cjt188.encode(frame) == raw

    message = cjt188.split(frame)
    wire_di = decoded["DI_wire"]
    assert frame.data[:2].hex().upper() == wire_di
    assert message.di in cjt188.KNOWN_DIS
    swapped = wire_di[2:] + wire_di[:2]
    expected_order = DiOrder.HIGH_FIRST if f"{message.di:04X}" == wire_di else DiOrder.LOW_FIRST
    assert f"{message.di:04X}" in (wire_di, swapped)
    assert message.di_order is expected_order
    assert message.ser == int(decoded["SER"], 16)

    if not frame.is_reply:
        request = cjt188.decode_request(frame)
        assert request.di in cjt188.KNOWN_DIS
        assert cjt188.di_wire(request.di, request.di_order).hex().upper() == wire_di
        return
    reply = cjt188.decode_reply(frame)
    if "cur_flow" in decoded:
        assert isinstance(reply, cjt188.DataReply)
        assert isinstance(reply.data, WaterData)
        _check_flow(reply.data.current, decoded["cur_flow"])
        _check_flow(reply.data.settlement, decoded["settle_flow"])
        if "ST_wire" in decoded:
            st = bytes.fromhex(decoded["ST_wire"])
            assert reply.data.status.raw == int.from_bytes(st, "little")
        if set(decoded.get("realtime_wire_ss_mm_hh_DD_MM_YYlo_YYhi", "")) <= {"F", "0"}:
            assert reply.data.time is None
        # And the simulator's encoder reproduces the meter's bytes.
        rebuilt = cjt188.build_reply(
            frame.meter_type,
            frame.address,
            reply.di,
            reply.ser,
            cjt188.encode_metering(reply.data) if reply.data.time else reply.body,
            di_order=reply.di_order,
            preamble=frame.preamble,
        )
        assert rebuilt == raw
    if frame.function == cjt188.READ_ADDRESS:
        assert isinstance(reply, cjt188.AddressReply)
        assert reply.address == decoded.get("address_in_data", decoded["addr"])


@pytest.mark.parametrize(
    "entry",
    [e for e in ENTRIES if e["decoded"]["ctrl"] in ("01", "03") and not rejects(e)],
    ids=lambda e: e["name"],
)
def test_request_builders_reproduce_vector(entry: dict[str, Any]) -> None:
    raw = bytes.fromhex(entry["hex"])
    decoded = entry["decoded"]
    order = DiOrder.LOW_FIRST if decoded["DI_wire"] == "1F90" else DiOrder.HIGH_FIRST
    ser = int(decoded["SER"], 16)
    if decoded["ctrl"] == "03":
        built = cjt188.build_read_address(ser=ser, di_order=order, preamble=decoded["preamble_fe"])
    else:
        built = cjt188.build_read(
            decoded["addr"],
            int(decoded["meter_type"], 16),
            ser=ser,
            di_order=order,
            preamble=decoded["preamble_fe"],
        )
    assert built.hex(" ").upper() == raw.hex(" ").upper()


def test_vectors_cover_both_di_orders_and_replies() -> None:
    wires = {e["decoded"].get("DI_wire") for e in ENTRIES}
    assert {"901F", "1F90"} <= wires
    assert any(e["decoded"]["ctrl"] == "81" for e in ENTRIES)


# ---------------------------------------------------------------------------------------------

WATER_REPLY = bytes.fromhex(
    "68 10 01 00 23 09 18 20 00 81 16 90 1F 01 60 00 00 00 2C 60 00 00 00 2C"
    " 60 20 20 00 00 00 00 00 00 DC 16"
)


def test_water_reply_round_trip_with_time_and_status() -> None:
    when = dt.datetime(2024, 3, 5, 14, 7, 9)
    data = WaterData(
        current=Quantity(123.0, 0x2C),
        settlement=Quantity(120.5, 0x2C),
        time=when,
        status=Status.make(Valve.CLOSED, battery_low=True),
    )
    raw = cjt188.build_metering_reply(0x10, "00201809230001", data, ser=7)
    body = raw[14:-2]
    assert body[10:17] == bytes.fromhex("09 07 14 05 03 24 20")  # ss mm hh DD MM YYlo YYhi
    reply = cjt188.decode_reply(cjt188.parse(raw))
    assert isinstance(reply, cjt188.DataReply)
    assert reply.data == data
    assert reply.ser == 7
    assert isinstance(reply.data, WaterData)
    assert reply.data.status.valve is Valve.CLOSED and reply.data.status.battery_low
    assert [(v.point, v.value, v.unit) for v in reply.data.values()] == [
        ("flow_total", 123.0, "m3"),
        ("flow_settlement", 120.5, "m3"),
    ]


def test_heat_reply_round_trip() -> None:
    data = cjt188.HeatData(
        settlement_heat=Quantity(1000.0, 0x05),
        current_heat=Quantity(1234.56, 0x05),
        heat_power=Quantity(3.5, 0x17),
        flow_rate=Quantity(0.1234, 0x35),
        total_flow=Quantity(456.78, 0x2C),
        supply_temp=60.25,
        return_temp=45.5,
        working_hours=8760,
        time=dt.datetime(2023, 12, 31, 23, 59, 58),
        status=Status(0),
    )
    raw = cjt188.build_metering_reply(0x20, "11110012345678", data, di_order=DiOrder.LOW_FIRST)
    frame = cjt188.parse(raw)
    assert frame.data[:2] == b"\x1f\x90"
    assert len(frame.data) == 0x2E
    reply = cjt188.decode_reply(frame)
    assert isinstance(reply, cjt188.DataReply) and reply.data == data
    points = {v.point: (v.value, v.unit) for v in data.values()}
    assert points["heat_total"] == (1234.56, "kWh")
    assert points["temp_supply"] == (60.25, "°C")


def test_ff_filled_time_and_settlement_are_none() -> None:
    body = bytes.fromhex("00 59 59 00 2C FF FF FF FF 2C") + b"\xff" * 7 + b"\x00\x00"
    data = cjt188.decode_metering(body)
    assert isinstance(data, WaterData)
    assert data.settlement.value is None and data.time is None
    assert data.current.value == 5959.0


def test_non_bcd_flow_rejected() -> None:
    body = bytes.fromhex("00 5A 59 00 2C 00 00 00 00 2C") + bytes(9)
    with pytest.raises(BcdError):
        cjt188.decode_metering(body)


def test_metering_body_of_unknown_length_rejected() -> None:
    with pytest.raises(FrameError):
        cjt188.decode_metering(bytes(20))


def test_unknown_unit_code_kept() -> None:
    assert Quantity(1.0, 0x77).unit == "unit_77"


def test_read_address_request_and_reply() -> None:
    raw = cjt188.build_read_address(ser=5)
    request = cjt188.decode_request(cjt188.parse(raw))
    assert (request.function, request.di, request.ser) == (0x03, 0x810A, 5)
    assert request.address == cjt188.WILDCARD_ADDRESS and request.meter_type == 0xAA
    reply_raw = cjt188.build_address_reply(0x10, "00201809230001", ser=5)
    frame = cjt188.parse(reply_raw)
    assert frame.control == 0x83 and len(frame.data) == 3
    reply = cjt188.decode_reply(frame)
    assert reply == cjt188.AddressReply(0x10, "00201809230001", 5)


def test_address_reply_with_address_repeated_in_data() -> None:
    body = bytes.fromhex("01 00 23 09 18 20 00")
    raw = cjt188.build_reply(0x10, cjt188.WILDCARD_ADDRESS, 0x810A, 0, body, function=0x03)
    reply = cjt188.decode_reply(cjt188.parse(raw))
    assert isinstance(reply, cjt188.AddressReply)
    assert reply.address == "00201809230001"


def test_error_reply_carries_ser_and_status() -> None:
    raw = cjt188.build_error_reply(0x10, "00201809230001", 9, Status.make(Valve.ABNORMAL).raw)
    frame = cjt188.parse(raw)
    assert frame.control == 0xC1 and frame.is_error
    reply = cjt188.decode_reply(frame)
    assert isinstance(reply, cjt188.ErrorReply)
    assert reply.ser == 9 and reply.status is not None
    assert reply.status.valve is Valve.ABNORMAL


def test_unknown_di_reply_kept_untyped() -> None:
    raw = cjt188.build_reply(0x10, "00201809230001", 0x8103, 1, b"\x12\x34")
    reply = cjt188.decode_reply(cjt188.parse(raw))
    assert isinstance(reply, cjt188.DataReply)
    assert reply.data is None and reply.body == b"\x12\x34"


def test_find_frame_and_reader_with_junk() -> None:
    stream = b"\x55\x68\x00" + b"\xfe\xfe" + WATER_REPLY + WATER_REPLY[:5]
    frame, consumed = cjt188.find_frame(stream)
    assert frame is not None and frame.address == "00201809230001"
    assert consumed == len(stream) - 5
    reader = cjt188.FrameReader()
    frames = [f for b in stream + WATER_REPLY[5:] for f in reader.feed(bytes([b]))]
    assert len(frames) == 2 and reader.pending == 0


def test_reader_counts_bad_checksum() -> None:
    bad = bytearray(WATER_REPLY)
    bad[-2] ^= 1
    reader = cjt188.FrameReader()
    assert reader.feed(bytes(bad)) == []
    assert reader.rejected_frames == 1 and isinstance(reader.last_error, ChecksumError)


@pytest.mark.parametrize(
    "raw",
    [
        WATER_REPLY[:-1],
        WATER_REPLY + b"\x16",
        WATER_REPLY[:-2] + b"\x00\x16",
        WATER_REPLY[:-1] + b"\x15",
        b"\xfe\xfe",
    ],
)
def test_parse_rejects_malformed(raw: bytes) -> None:
    with pytest.raises(FrameError):
        cjt188.parse(raw)


def test_short_data_cannot_be_split() -> None:
    raw = cjt188.encode(cjt188.Frame(0x10, "00201809230001", 0x01, b"\x90"))
    with pytest.raises(FrameError):
        cjt188.decode_request(cjt188.parse(raw))


def test_meter_family_and_addresses() -> None:
    assert cjt188.meter_family(0x10) == "water"
    assert cjt188.meter_family(0x13) == "water"
    assert cjt188.meter_family(0x20) == "heat"
    assert cjt188.meter_family(0x30) == "gas"
    assert cjt188.meter_family(0xAA) == "unknown"
    assert cjt188.normalize_address(1) == "00000000000001"
    assert cjt188.address_matches(cjt188.WILDCARD_ADDRESS, "00201809230001")
    with pytest.raises(ValueError):
        cjt188.normalize_address("0020180923000A")
