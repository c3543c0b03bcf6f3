"""Register maps: words to values in every byte/word order, and request planning."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from edge.fieldbus.registers import RegisterPoint, decode_point, encode_point, plan_reads


def point(**kw: object) -> RegisterPoint:
    return RegisterPoint.model_validate({"name": "p", "address": 0, **kw})


def test_float32_in_the_four_orders_vendors_use() -> None:
    # 12.5 = 0x41480000: ABCD, CDAB (word swap), BADC (byte swap), DCBA.
    assert decode_point(point(type="float32"), [0x4148, 0x0000]) == 12.5
    assert decode_point(point(type="float32", word_order="little"), [0x0000, 0x4148]) == 12.5
    assert decode_point(point(type="float32", byte_order="little"), [0x4841, 0x0000]) == 12.5
    cfg = point(type="float32", byte_order="little", word_order="little")
    assert decode_point(cfg, [0x0000, 0x4841]) == 12.5


def test_signed_scaled_and_offset_values() -> None:
    assert decode_point(point(type="int16", scale=0.1), [0xFF9C]) == pytest.approx(-10.0)
    assert decode_point(point(type="uint16", scale=0.1, offset=-40), [500]) == pytest.approx(10.0)
    # an offset alone (a sensor reporting °C + 40 in whole degrees) still applies
    assert decode_point(point(type="uint16", offset=-40), [65]) == pytest.approx(25.0)
    assert decode_point(point(type="int32"), [0xFFFF, 0xFFFE]) == -2
    assert decode_point(point(type="uint32"), [0x0001, 0x0000]) == 65536
    assert decode_point(point(type="bool", bit=3), [0b1000]) is True
    assert decode_point(point(type="bool", function="discrete_inputs"), [False]) is False


@given(
    st.sampled_from(["int16", "uint16", "int32", "uint32", "float32"]),
    st.sampled_from(["big", "little"]),
    st.sampled_from(["big", "little"]),
    st.integers(min_value=-30000, max_value=30000),
)
def test_encode_then_decode_gives_the_value_back(
    data_type: str, byte_order: str, word_order: str, raw: int
) -> None:
    if data_type.startswith("u"):
        raw = abs(raw)
    cfg = point(type=data_type, byte_order=byte_order, word_order=word_order, scale=0.5)
    value = raw * 0.5
    words = encode_point(cfg, value)
    assert len(words) == cfg.width
    assert decode_point(cfg, words) == pytest.approx(value)


def test_a_map_that_cannot_be_read_is_refused() -> None:
    with pytest.raises(ValidationError, match="single bits"):
        point(function="coils", type="uint16")
    with pytest.raises(ValidationError, match="spans 2"):
        point(type="float32", count=1)


def test_neighbouring_points_share_one_request() -> None:
    pts = [
        point(name="a", address=0, type="float32"),
        point(name="b", address=2),
        point(name="c", address=5),
        point(name="d", address=100),
        point(name="e", function="input_registers", address=0),
    ]
    blocks = plan_reads(pts)
    spans = sorted((b.function, b.address, b.count, [p.name for p in b.points]) for b in blocks)
    assert spans == [
        ("holding_registers", 0, 6, ["a", "b", "c"]),
        ("holding_registers", 100, 1, ["d"]),
        ("input_registers", 0, 1, ["e"]),
    ]
