"""Digit-string IDs (meter addresses, GB/T 28181 codes, serials) are read as the digits typed,
and a file that YAML would read otherwise is refused at the key's line, asking for quotes."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from edge.config import ConfigError, parse_config
from edge.config.types import DigitString, GbId, GbIdOf

BUS = "buses:\n  - id: line1\n    type: serial\n    port: /dev/null\n"


def meter(address: str) -> str:
    return f"devices:\n  - id: m1\n    type: dlt645\n    bus: line1\n    address: {address}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "edge.yaml", {})
    return [str(p) for p in info.value.problems]


def test_unquoted_octal_meter_address_is_refused_at_its_line(minimal_yaml: str) -> None:
    text = minimal_yaml + BUS + meter("000000000161")
    line = text.splitlines().index("    address: 000000000161") + 1
    got = problems(text)
    assert len(got) == 1, got
    assert got[0].startswith(f"edge.yaml:{line}:14: devices[0].address: ")
    assert "octal number 113" in got[0] and 'quote it ("000000000161")' in got[0]


def test_quoted_meter_address_keeps_its_digits(minimal_yaml: str) -> None:
    cfg = parse_config(minimal_yaml + BUS + meter('"000000000161"'), "edge.yaml", {})
    assert cfg.devices[0].address == "000000000161"


def test_unquoted_address_with_8_or_9_is_read_as_typed(minimal_yaml: str) -> None:
    # YAML 1.1 reads 000000000189 as text (not octal): it is already what was typed.
    cfg = parse_config(minimal_yaml + BUS + meter("000000000189"), "edge.yaml", {})
    assert cfg.devices[0].address == "000000000189"


def test_unquoted_20_digit_gb_ids_are_read_exactly(minimal_yaml: str) -> None:
    text = minimal_yaml.replace('"32010600002160000001"', "32010600002160000001")
    assert text != minimal_yaml
    cfg = parse_config(text, "edge.yaml", {})
    assert cfg.site.site_id == "32010600002160000001"


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("0x20106000021600001", "read by YAML as the number"),
        ("3201_0600_0021_6000_0001", "read by YAML as the number"),
        ('"3201060000216000001"', "has 20 digits, got 19"),
        ('"32010600000990000001"', "type code (111-999), got 099"),
        ('"3201060000216000000A"', "only the digits 0-9"),
    ],
)
def test_bad_gb_ids_are_refused_at_their_line(minimal_yaml: str, written: str, said: str) -> None:
    text = minimal_yaml.replace('"32010600002160000001"', written)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "site_id" in t)
    got = problems(text)
    assert len(got) == 1, got
    assert got[0].startswith(f"edge.yaml:{line}:12: site.site_id: ") and said in got[0], got


def test_base_60_numbers_are_refused(minimal_yaml: str) -> None:
    got = problems(minimal_yaml + BUS + meter('"000000000161"') + "    poll_interval_s: 1:30\n")
    assert len(got) == 1 and "base-60 number 90" in got[0], got


def test_digit_string_and_gb_id_types_for_other_sections() -> None:
    serial = TypeAdapter(DigitString(min_length=6, max_length=10, what="controller serial"))
    assert serial.validate_python(423187757) == "423187757"
    with pytest.raises(ValidationError, match=r"controller serial has 6\.\.10 digits, got 3"):
        serial.validate_python("123")
    channel = TypeAdapter(GbIdOf(131, 132, what="camera channel code"))
    assert channel.validate_python("34020000001320000001") == "34020000001320000001"
    with pytest.raises(ValidationError, match=r"type code \(131, 132\), got 118"):
        channel.validate_python("34020000001180000001")
    assert TypeAdapter(GbId).json_schema()["pattern"] == r"^\d{20}$"


@pytest.mark.parametrize("written", ["0x161", "1_61"])
def test_unquoted_non_decimal_meter_address_is_refused(minimal_yaml: str, written: str) -> None:
    got = problems(minimal_yaml + BUS + meter(written))
    assert len(got) == 1, got
    assert "devices[0].address" in got[0] and f'quote it: "{written}"' in got[0], got
