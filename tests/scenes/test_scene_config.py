"""Scene rules in the YAML file: valid ones load typed, mistakes name their file:line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.config import ConfigError, parse_config
from edge.config.scene import EbikeInLiftRule, FallingObjectRule

HEAD = """\
config_version: 1
site: {name: 测试小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}
storage: {data_dir: /tmp/edge-scene-config}
cameras:
  - id: lift-a
    kind: rtsp
    url: rtsp://127.0.0.1:8554/lift
"""


RELAY_DEVICES = """\
buses:
  - {id: lift-bus, type: modbus_tcp, host: 127.0.0.1, port: 1502}
devices:
  - {id: lift1, type: modbus_relay, bus: lift-bus, unit: 7, coil: 1}
  - {id: meter1, type: modbus, bus: lift-bus, unit: 8, profile: water_level}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "edge.yaml", {})
    return [str(p) for p in info.value.problems]


def test_rules_load_typed_with_defaults() -> None:
    cfg = parse_config(
        RELAY_DEVICES
        + HEAD
        + """\
    pipelines: [objects]
    motion_gate: {keepalive_s: 1}
    rules:
      - type: ebike_in_lift
        zone: {points: [[100, 50], [500, 50], [500, 350], [100, 350]]}
        relay: lift1
      - type: falling_object
        zone: {name: tower A, points: [[0, 0], [300, 0], [300, 700]]}
""",
        "edge.yaml",
        {},
    )
    ebike, fall = cfg.cameras[0].rules
    assert isinstance(ebike, EbikeInLiftRule) and ebike.classes == ["bicycle", "motorcycle"]
    assert ebike.relay == "lift1" and ebike.min_s == 2.0
    assert isinstance(fall, FallingObjectRule) and fall.min_frames == 6


@pytest.mark.parametrize(
    ("tail", "line", "says"),
    [
        (  # an object rule on a camera without the objects pipeline
            "    rules:\n      - type: loitering\n        zone: {points: [[0, 0], [9, 0], [9, 9]]}\n",
            9,
            "needs 'objects' in pipelines",
        ),
        (
            "    pipelines: [objects]\n    rules:\n      - type: ebike_on_roof\n"
            "        zone: {points: [[0, 0], [9, 0], [9, 9]]}\n",
            10,
            "ebike_on_roof",
        ),
        (  # the motion gate would hide a parked car without a keep-alive
            "    pipelines: [objects]\n    rules:\n      - type: fire_lane\n"
            "        zone: {points: [[0, 0], [9, 0], [9, 9]]}\n",
            None,
            "keepalive_s",
        ),
        (
            "    pipelines: [objects]\n    object_classes: [person, e-bike]\n",
            9,
            "not a COCO class",
        ),
        (
            "    pipelines: [objects]\n    motion_gate: {enabled: false}\n    rules:\n"
            "      - type: ebike_in_lift\n        zone: {points: [[0, 0], [-9, 0], [9, 9]]}\n",
            12,
            "outside the frame",
        ),
    ],
)
def test_mistakes_name_file_line_and_key(tail: str, line: int | None, says: str) -> None:
    found = problems(HEAD + tail)
    assert any(says in p for p in found), found
    assert all(p.startswith("edge.yaml:") for p in found), found
    if line is not None:
        assert any(p.startswith(f"edge.yaml:{line}:") for p in found), found


EBIKE_RELAY = """\
    pipelines: [objects]
    motion_gate: {{enabled: false}}
    rules:
      - type: ebike_in_lift
        zone: {{points: [[0, 0], [90, 0], [90, 90]]}}
        relay: {relay}
"""


@pytest.mark.parametrize(
    ("relay", "says"),
    [("lift-1", "no modbus_relay device 'lift-1'"), ("meter1", "meter1 is a modbus device")],
)
def test_a_rule_relay_that_no_device_can_hold_is_a_config_error(relay: str, says: str) -> None:
    """A typo in the lift relay's id (or a meter named instead) is found by `edge config
    check`, at the rule's line: not at 2 a.m. when the e-bike is in the lift and nothing
    holds the doors."""
    text = RELAY_DEVICES + HEAD + EBIKE_RELAY.format(relay=relay)
    found = problems(text)
    assert any(says in p and p.startswith("edge.yaml:18:") for p in found), found
    assert parse_config(RELAY_DEVICES + HEAD + EBIKE_RELAY.format(relay="lift1"), "edge.yaml", {})


def test_the_example_in_docs_scene_rules_loads() -> None:
    """What an installer copies from docs/scene-rules.md passes `edge config check` (every
    field name, unit and relay there is one the code knows)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "scene-rules.md").read_text()
    [example] = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    head = HEAD.split("cameras:")[0]
    cfg = parse_config(head + example, "edge.yaml", {})
    kinds = {c.id: [r.type for r in c.rules] for c in cfg.cameras}
    assert kinds == {
        "lift-3a": ["ebike_in_lift"],
        "lane-north": ["fire_lane", "loitering"],
        "tower-a-facade": ["falling_object"],
    }
    lane = cfg.cameras[1].rules
    assert lane[0].min_s == 180 and lane[1].cooldown_s == 1800


def test_two_rules_of_one_camera_cannot_share_a_relay() -> None:
    """The relay is held per camera: one rule's clear would release it under the other's
    e-bike. One zone polygon can cover both areas."""
    second = (
        EBIKE_RELAY.format(relay="lift1")
        .split("    rules:\n")[1]
        .replace("ebike_in_lift", "ebike_in_lift\n        name: landing")
    )
    text = RELAY_DEVICES + HEAD + EBIKE_RELAY.format(relay="lift1") + second
    found = problems(text)
    assert any("also held by rules[0]" in p and p.startswith("edge.yaml:22:") for p in found), found
