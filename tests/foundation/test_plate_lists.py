"""Plates on the access lists match however the hub or a reader wrote them."""

from __future__ import annotations

import pytest

from edge.access.lists import normalize_plate


@pytest.mark.parametrize(
    ("written", "plate"),
    [("京a12345", "京A12345"), ("京A·12345", "京A12345"), (" 沪b d1234 ", "沪BD1234"),
     ("粤b-12345警", "粤B12345警"), ("京A12345", "京A12345")],
)  # fmt: skip
def test_a_plate_is_compared_in_one_form(written: str, plate: str) -> None:
    assert normalize_plate(written) == plate
