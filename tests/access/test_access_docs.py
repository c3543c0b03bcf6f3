"""docs/access.md's YAML examples are valid configuration (an installer copies them)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from edge.config.access import AccessConfig
from edge.config.model import EdgeConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"


def blocks() -> list[dict]:  # type: ignore[type-arg]
    text = DOC.read_text(encoding="utf-8")
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def test_every_access_example_validates() -> None:
    found = [b["access"] for b in blocks() if "access" in b]
    assert len(found) == 4
    for section in found:
        AccessConfig.model_validate(section)


def test_the_device_examples_validate() -> None:
    from edge.config import config_model

    [devices] = [b["devices"] for b in blocks() if "devices" in b]
    doc = {
        "config_version": 1,
        "site": {"name": "x", "site_id": "32010600002160000001",
                 "gateway_id": "32010600001180000001"},
        "storage": {"data_dir": "/var/lib/compound-edge"},
        "buses": [{"id": "rs485-gate", "type": "serial", "port": "/dev/ttyS1"}],
        "devices": devices,
    }  # fmt: skip
    config = config_model().model_validate(doc)
    assert isinstance(config, EdgeConfig)
    assert [d.type for d in config.devices] == ["uhppote", "modbus_relay"]


def test_the_demo_resident_drives_past_in_the_demo_video() -> None:
    """config/demo.yaml's resident plate is the label of a scene the demo video shows, so
    the demo's barrier opens by itself (the e2e test reads that scene through the daemon)."""
    import csv

    from edge.config import load_config
    from edge.sim import demo_camera

    root = DOC.parents[1]
    config = load_config(root / "config" / "demo.yaml")
    labels_csv = root.parent / "shared" / "images" / "plates" / "scenes" / "labels.csv"
    with labels_csv.open(encoding="utf-8") as f:
        labels = {row["file"]: row["plate"] for row in csv.DictReader(f)}
    shown = {labels[name] for name in demo_camera.PLATE_SCENES if name in labels}
    assert config.access.plate_allowlist and set(config.access.plate_allowlist) <= shown
    [gate] = config.access.gates
    cameras = {c.id: c for c in config.cameras}
    assert gate.cameras == ["gate-north-vehicle"] and "plates" in cameras[gate.cameras[0]].pipelines
    assert gate.device in {d.id for d in config.devices}
