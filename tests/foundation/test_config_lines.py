"""Cross-field mistakes are reported at the offending key's own line and column,
not at the section, the list item or line 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError, parse_config


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "edge.yaml", {})
    return [str(p) for p in info.value.problems]


def at(text: str, fragment: str) -> str:
    """`edge.yaml:LINE:COL:` of the first line holding `fragment`, column of its first key."""
    for n, line in enumerate(text.splitlines(), 1):
        if fragment in line:
            col = len(line) - len(line.lstrip(" -")) + 1
            return f"edge.yaml:{n}:{col}:"
    raise AssertionError(fragment)


def only(text: str) -> str:
    got = problems(text)
    assert len(got) == 1, got
    return got[0]


BUSES = """\
buses:
  - id: line1
    type: serial
    port: /dev/null
devices:
  - id: m1
    type: dlt645
    bus: line1
    address: "000000000161"
"""


def test_unreadable_password_file_points_at_password_file(
    minimal_yaml: str, tmp_path: Path
) -> None:
    text = minimal_yaml + (
        "uplinks:\n  hub:\n    type: mqtt\n    url: mqtt://127.0.0.1:1883\n"
        f"    username: gw\n    password_file: {tmp_path}/missing\n"
    )
    got = only(text)
    assert got.startswith(at(text, "password_file:") + " uplinks.hub.password_file: cannot read")


def test_device_on_unknown_bus_points_at_its_bus_key(minimal_yaml: str) -> None:
    text = minimal_yaml + BUSES.replace("bus: line1", "bus: line2")
    got = only(text)
    assert got.startswith(at(text, "bus: line2") + " devices[0].bus: no bus with id 'line2'")


def test_duplicate_ids_point_at_the_repeat(minimal_yaml: str) -> None:
    text = minimal_yaml + BUSES + '  - id: m1\n    type: dlt645\n    bus: line1\n    address: "1"\n'
    lines = text.splitlines()
    second = [n for n, line in enumerate(lines, 1) if line == "  - id: m1"][1]
    got = only(text)
    assert got.startswith(f"edge.yaml:{second}:5: devices[1].id: duplicate device id 'm1'"), got


def test_hard_cap_below_budget_points_at_hard_max_bytes(minimal_yaml: str) -> None:
    text = minimal_yaml.replace("storage:\n", "storage:\n  max_bytes: 2GB\n  hard_max_bytes: 1GB\n")
    got = only(text)
    assert got.startswith(at(text, "hard_max_bytes") + " storage.hard_max_bytes: must be at least")


def test_short_hmac_secret_points_at_the_secret(minimal_yaml: str) -> None:
    text = minimal_yaml + (
        "uplinks:\n  hub:\n    type: mqtt\n    commands:\n      enabled: true\n"
        "      secret: short\n"
    )
    got = only(text)
    assert got.startswith(at(text, "secret: short") + " uplinks.hub.commands.secret: "), got
    assert "16+ characters" in got


def test_camera_field_error_points_at_the_field_not_the_item(minimal_yaml: str) -> None:
    text = minimal_yaml + (
        "cameras:\n  - id: c1\n    name: gate\n    role: vehicle_gate\n    pipelines: [plates]\n"
        "    kind: rtsp\n    url: rtsp://10.0.0.9/stream\n    username: admin\n"
        "    motion_gate: {enabled: true}\n    analysis_fps: 0\n"
    )
    line = at(text, "analysis_fps: 0").split(":")[1]
    got = only(text)  # a value error points at the value, on the key's line
    assert got.startswith(f"edge.yaml:{line}:19: cameras[0].analysis_fps: "), got
