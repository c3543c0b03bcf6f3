"""Property tests: hostile bytes only ever raise ProtocolError; built frames always parse back.

A poller runs the codecs on whatever an RS-485 line delivers (noise on open, collisions, a meter
at the wrong baud rate). Anything other than ProtocolError escaping would kill the poll task.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable

import pytest
from codec_vectors import decode_cjt188, decode_dlt645, load_vectors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.codecs import cjt188, dlt645
from edge.codecs.dlt645 import Kind, Version
from edge.codecs.errors import ProtocolError

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def _vector_frames(name: str) -> list[bytes]:
    return [bytes.fromhex(e["hex"]) for e in load_vectors(name)]


DLT_SEEDS = _vector_frames("dlt645.json")
CJT_SEEDS = _vector_frames("cjt188.json")


DECODERS: dict[str, Callable[[bytes], object]] = {"dlt645": decode_dlt645, "cjt188": decode_cjt188}
FINDERS = {"dlt645": dlt645.find_frame, "cjt188": cjt188.find_frame}
READERS: dict[str, Callable[[], dlt645.FrameReader | cjt188.FrameReader]] = {
    "dlt645": dlt645.FrameReader,
    "cjt188": cjt188.FrameReader,
}


def only_protocol_errors(protocol: str, raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        DECODERS[protocol](raw)
    frame, consumed = FINDERS[protocol](raw)  # must never raise
    assert 0 <= consumed <= len(raw)
    if frame is not None:
        assert consumed > 0
    reader = READERS[protocol]()
    for k in range(0, len(raw), 7):
        reader.feed(raw[k : k + 7])


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    raw = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "set"]))
        if not raw:
            break
        pos = draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del raw[pos:]
        elif op == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del raw[pos]
        else:
            raw[pos] = draw(st.sampled_from([0x68, 0x16, 0xFE, 0xAA, 0xFF, 0x00]))
    return bytes(raw)


@pytest.mark.parametrize("protocol", ["dlt645", "cjt188"])
@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes_raise_only_protocol_errors(protocol: str, raw: bytes) -> None:
    only_protocol_errors(protocol, raw)


@pytest.mark.parametrize("protocol", ["dlt645", "cjt188"])
@FUZZ
@given(data=st.data())
def test_mutated_frames_raise_only_protocol_errors(protocol: str, data: st.DataObject) -> None:
    seeds = DLT_SEEDS if protocol == "dlt645" else CJT_SEEDS
    raw = data.draw(mutated(seeds))
    only_protocol_errors(protocol, raw)


@FUZZ
@given(
    raw=st.one_of(
        st.binary(max_size=64),
        st.builds(
            lambda prefix, body: prefix + body,
            st.binary(max_size=4),
            st.binary(min_size=0, max_size=40),
        ),
    ),
    key=st.sampled_from(sorted(dlt645.DI_TABLE, key=lambda k: (k[0].value, k[1]))),
)
def test_decode_data_raises_only_protocol_errors(raw: bytes, key: tuple[Version, int]) -> None:
    version, di = key
    with contextlib.suppress(ProtocolError):
        dlt645.decode_data(di, raw, version)


@FUZZ
@given(raw=st.binary(max_size=50))
def test_decode_metering_raises_only_protocol_errors(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        cjt188.decode_metering(raw)


# ---------------------------------------------------------------------------------------------
# Built frames parse back

ADDRESS_BYTE = st.one_of(st.integers(0, 99).map(lambda n: f"{n:02d}"), st.just("AA"))
DLT_ADDRESS = st.lists(ADDRESS_BYTE, min_size=6, max_size=6).map("".join)
CJT_ADDRESS = st.lists(ADDRESS_BYTE, min_size=7, max_size=7).map("".join)


@st.composite
def element(draw: st.DrawFn, entry: dlt645.DataId) -> float | str | None:
    if draw(st.integers(0, 15)) == 0:
        return None
    if entry.kind is Kind.NUMBER:
        top = 8 * 10 ** (entry.size * 2 - 1) if entry.signed else 10 ** (entry.size * 2)
        scaled = draw(st.integers(-(top - 1) if entry.signed else 0, top - 1))
        return scaled / 10**entry.decimals
    if entry.kind is Kind.DATE:
        return draw(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))).isoformat()
    if entry.kind is Kind.TIME:
        return draw(st.times()).strftime("%H:%M:%S")
    return draw(st.integers(0, 10**12 - 1).map(lambda n: f"{n:012d}"))


@st.composite
def dlt_reply(draw: st.DrawFn) -> tuple[str, dlt645.DataId, list[float | str | None], int]:
    key = draw(st.sampled_from(sorted(dlt645.DI_TABLE, key=lambda k: (k[0].value, k[1]))))
    entry = dlt645.DI_TABLE[key]
    limit = len(entry.points) if entry.points else (8 if entry.rates else 1)
    count = draw(st.integers(1, limit))
    values = [draw(element(entry)) for _ in range(count)]
    return draw(DLT_ADDRESS), entry, values, draw(st.integers(0, 7))


@FUZZ
@given(case=dlt_reply())
def test_dlt645_built_replies_parse_back(
    case: tuple[str, dlt645.DataId, list[float | str | None], int],
) -> None:
    address, entry, values, fe = case
    payload = dlt645.encode_data(entry.di, values, entry.version)
    raw = dlt645.build_data_reply(address, entry.di, payload, entry.version, preamble=fe)
    frame = dlt645.parse(raw)
    assert frame.address == address and frame.preamble == fe
    assert dlt645.encode(frame) == raw
    reply = dlt645.decode_reply(frame)
    assert isinstance(reply, dlt645.DataReply)
    decoded = dlt645.decode_data(reply.di, reply.payload, reply.version)
    got = [v.value for v in decoded]
    assert len(got) == len(values)
    for g, want in zip(got, values, strict=True):
        if isinstance(want, float):
            assert g == pytest.approx(want, abs=10**-entry.decimals / 2)
        else:
            assert g == want
    assert dlt645.find_frame(b"\x00\x01" + raw) == (frame, len(raw) + 2)


@FUZZ
@given(
    address=DLT_ADDRESS,
    di=st.integers(0, 0xFFFFFFFF),
    version=st.sampled_from(Version),
    seq=st.integers(0, 255),
)
def test_dlt645_built_requests_parse_back(
    address: str, di: int, version: Version, seq: int
) -> None:
    di &= (1 << (8 * version.di_len)) - 1
    for raw in (
        dlt645.build_read(address, di, version),
        dlt645.build_read_follow(address, di, seq, version),
    ):
        request = dlt645.decode_request(dlt645.parse(raw))
        assert (request.address, request.di, request.version) == (address, di, version)
    follow = dlt645.decode_request(
        dlt645.parse(dlt645.build_read_follow(address, di, seq, version))
    )
    assert follow.seq == (seq if version is Version.V2007 else None)


quantity = st.builds(
    cjt188.Quantity,
    st.one_of(st.none(), st.integers(0, 99_999_999).map(lambda n: n / 100)),
    st.sampled_from(sorted(cjt188.UNITS)),
)
moments = st.one_of(st.none(), st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31)))
moments = moments.map(lambda m: m.replace(microsecond=0) if m else None)
statuses = st.integers(0, 0xFFFF).map(cjt188.Status)
water = st.builds(cjt188.WaterData, quantity, quantity, moments, statuses)
heat = st.builds(
    cjt188.HeatData,
    quantity,
    quantity,
    quantity,
    st.builds(
        cjt188.Quantity,
        st.one_of(st.none(), st.integers(0, 99_999_999).map(lambda n: n / 10_000)),
        st.just(0x35),
    ),
    quantity,
    st.one_of(st.none(), st.integers(0, 999_999).map(lambda n: n / 100)),
    st.one_of(st.none(), st.integers(0, 999_999).map(lambda n: n / 100)),
    st.one_of(st.none(), st.integers(0, 999_999)),
    moments,
    statuses,
)


@FUZZ
@given(
    data=st.one_of(water, heat),
    address=CJT_ADDRESS,
    meter_type=st.integers(0, 255),
    ser=st.integers(0, 255),
    order=st.sampled_from(cjt188.DiOrder),
    fe=st.integers(0, 6),
)
def test_cjt188_built_replies_parse_back(
    data: cjt188.MeteringData,
    address: str,
    meter_type: int,
    ser: int,
    order: cjt188.DiOrder,
    fe: int,
) -> None:
    raw = cjt188.build_metering_reply(meter_type, address, data, ser, di_order=order, preamble=fe)
    frame = cjt188.parse(raw)
    assert cjt188.encode(frame) == raw
    reply = cjt188.decode_reply(frame)
    assert isinstance(reply, cjt188.DataReply)
    assert (reply.meter_type, reply.address, reply.ser, reply.di_order) == (
        meter_type,
        address,
        ser,
        order,
    )
    assert reply.data == data
    reader = cjt188.FrameReader()
    assert reader.feed(b"\x11" + raw) == [frame]
