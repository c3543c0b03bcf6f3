"""Camera kinds dispatch from one table: the config's union, the daemon's `open_source`,
`edge camera probe --kind` and the plugin registry all list the same kinds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import TypeAdapter

from edge.camera.factory import open_source
from edge.camera.kinds import CAMERA_KINDS, ProbeTarget, camera_kind
from edge.camera.source import SourceTiming
from edge.cli.main import main
from edge.config import config_model
from edge.config.cameras import AnyCamera, CameraConfig
from edge.registry import build_registry

ENTRIES: dict[str, dict[str, Any]] = {
    "rtsp": {"url": "rtsp://192.0.2.10/Streaming/Channels/102"},
    "mjpeg": {"url": "http://192.0.2.11/video.mjpg"},
    "snapshot": {"url": "http://192.0.2.12/snapshot.jpg"},
    "file": {"path": "/srv/clip.mp4"},
}


def test_the_table_covers_the_config_union_and_the_registry() -> None:
    # The static union types the built-in kinds for code; the config's `cameras:` union is
    # built from the table (`config_model()`), so a kind added there is accepted as written.
    union_kinds = {m.model_fields["kind"].annotation.__args__[0] for m in get_args(AnyCamera)}
    assert set(CAMERA_KINDS) == union_kinds == set(ENTRIES)
    cameras = TypeAdapter(config_model().model_fields["cameras"].annotation)
    for name, extra in ENTRIES.items():
        (cam,) = cameras.validate_python([{"id": f"cam-{name}", "kind": name, **extra}])
        assert type(cam) is CAMERA_KINDS[name].config_model()
    reg = build_registry()
    assert set(reg.cameras) == set(CAMERA_KINDS)
    for name, plugin in reg.cameras.items():
        assert plugin.config is CAMERA_KINDS[name].config_model()
        assert plugin.impl is CAMERA_KINDS[name]


def test_the_probe_offers_the_kinds_of_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["camera", "probe", "--kind", "webcam", "/dev/video0"])
    assert exit_.value.code == 2
    offered = re.search(r"choose from (.*)\)", capsys.readouterr().err)
    assert offered is not None
    assert set(re.findall(r"'(\w+)'", offered.group(1))) == {"auto", *CAMERA_KINDS}


def test_the_daemon_and_the_probe_open_each_kind_from_the_table() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(CameraConfig)
    for name, extra in ENTRIES.items():
        cfg = adapter.validate_python({"id": f"cam-{name}", "kind": name, **extra})
        daemon_source = open_source(cfg)
        target = ProbeTarget(extra.get("url") or str(Path(extra["path"])))
        probe_source = camera_kind(name).for_probe(target, SourceTiming())
        assert daemon_source.kind == probe_source.kind == name
        assert type(daemon_source) is type(probe_source)
    assert open_source(
        adapter.validate_python({"id": "r", "kind": "rtsp", **ENTRIES["rtsp"]})
    ).encoded
