"""The demo's own config (config/demo.yaml) registers to the test platform when pointed at it."""

from __future__ import annotations

import shutil
from pathlib import Path

from gb_media import decode_ps
from gb_platform import Platform

from edge.app import Daemon
from edge.config.loader import load_config

ROOT = Path(__file__).resolve().parents[2]
DEMO_DEVICE = "32010600001180000001"


async def test_the_demo_registers_keeps_alive_lists_and_plays_its_cameras(
    tmp_path: Path, video: Path
) -> None:
    # The demo's vehicle camera plays camera/vehicle.mp4 (built by scripts/demo from the
    # plate stills); a short clip of the same stills stands in for it here.
    (tmp_path / "camera").mkdir()
    shutil.copy(video, tmp_path / "camera" / "vehicle.mp4")
    p = Platform("udp", keepalive_s=0.5)
    await p.start()
    env = {
        "EDGE_DATA_DIR": str(tmp_path),
        "EDGE_WEB_PORT": "0",
        "EDGE_GB28181_HOST": "127.0.0.1",
        "EDGE_GB28181_PORT": str(p.port),
    }
    cfg = load_config(ROOT / "config" / "demo.yaml", env)
    police = cfg.uplinks["police"].model_copy(update={"keepalive_s": 0.5})
    # The demo as configured, minus what this test does not look at: the recognisers'
    # models and the simulated field buses (other tests cover them).
    cfg = cfg.model_copy(
        update={
            "cameras": [c.model_copy(update={"pipelines": []}) for c in cfg.cameras],
            "buses": [],
            "devices": [],
            "uplinks": {**cfg.uplinks, "police": police},
        }
    )
    d = Daemon(cfg)
    await d.start()
    try:
        await p.until(lambda: p.registered(DEMO_DEVICE), 10, "the demo's registration")
        await p.until(lambda: len(p.keepalives) >= 2, 10, "keepalives")
        items = await p.catalog(DEMO_DEVICE)
        names = {i["DeviceID"]: i["Name"] for i in items}
        assert names[DEMO_DEVICE] == "compound-edge gateway"
        assert names["32010600001310000001"].startswith("北门车行道")
        assert names["32010600001310000002"].startswith("北门人行道")
        play = await p.invite(DEMO_DEVICE, "32010600001310000001", "tcp-passive")
        assert play.answer is not None and play.answer.status == 200
        await p.until(lambda: play.frames_marked >= 5, 15, "the vehicle camera's frames")
        assert decode_ps(bytes(play.ps))
        assert p.violations == []
    finally:
        await d.stop()
        await p.stop()
    assert p.unregistered == [DEMO_DEVICE]
