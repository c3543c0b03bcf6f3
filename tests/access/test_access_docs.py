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
