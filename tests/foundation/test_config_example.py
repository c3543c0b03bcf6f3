"""config/example.yaml is what an install starts from: a complete small compound that the
check accepts, every key explained; config/reference.yaml covers every section and plugin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.config import load_config
from edge.config.model import EdgeConfig
from edge.registry import registry

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_example_is_a_complete_valid_compound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EDGE_DATA_DIR", str(tmp_path))
    assert main(["config", "check", str(CONFIG / "example.yaml")]) == 0
    assert "(4 devices, 2 cameras, 1 uplinks)" in capsys.readouterr().out
    cfg = load_config(CONFIG / "example.yaml")
    assert {d.type for d in cfg.devices} == {"dlt645", "cjt188", "modbus"}
    assert {b.type for b in cfg.buses} == {"serial", "modbus_tcp"}
    assert {tuple(c.pipelines) for c in cfg.cameras} == {("plates",), ("faces",)}
    assert cfg.uplinks["hub"].policy.drop_image_roles == ["face_crop"]
    assert cfg.access.plate_allowlist == []  # an example must not let a real car in


def test_every_key_of_the_example_is_explained() -> None:
    lines = (CONFIG / "example.yaml").read_text(encoding="utf-8").splitlines()
    explained: dict[str, bool] = {}
    previous = ""
    for line in lines:
        if line.lstrip().startswith("#") or not line.strip():
            previous = line if line.strip() else previous
            continue
        code = line.split(" #", 1)[0]
        for key in re.findall(r"(?:^|[{,\s-])\s*([a-z_]+):(?:\s|$)", code):
            said = " #" in line or previous.lstrip().startswith("#")
            explained[key] = explained.get(key, False) or said
        previous = line
    assert explained and not [k for k, ok in explained.items() if not ok]


def test_reference_names_every_section_and_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGE_DATA_DIR", str(tmp_path))
    load_config(CONFIG / "reference.yaml")
    text = (CONFIG / "reference.yaml").read_text(encoding="utf-8")
    wanted = [f"{name}:" for name in EdgeConfig.model_fields]
    wanted += [f"type: {name}" for name in registry().drivers]
    wanted += [f"type: {name}" for name in registry().uplinks]
    wanted += ["kind: rtsp", "type: serial", "type: modbus_tcp"]
    missing = [w for w in wanted if not re.search(rf"^[#\s-]*{re.escape(w)}", text, re.M)]
    assert not missing, f"add these to config/reference.yaml: {missing}"
