"""Real passes from the recognisers (a file camera on real plate and face photos) accepted by
the strict 视图库: real crops and scenes, boxes in frame pixels, plate text and colour."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest
from gat_helpers import APE, REPO, SHARED_IMAGES
from prereqs import MODELS as MODELS_NEEDED
from prereqs import SHARED_MIRROR, needs
from viid_peer import ViidPeer, wait_for

from edge.app import Daemon
from edge.codecs import gat1400_ids as ids
from edge.config import parse_config

MODELS = REPO / "models"
SCENES = SHARED_IMAGES / "plates" / "scenes"
FACES = SHARED_IMAGES / "faces" / "deepface"

pytestmark = [
    needs((MODELS / "manifest.yaml").exists(), *MODELS_NEEDED),
    needs(SCENES.is_dir(), *SHARED_MIRROR),
    pytest.mark.slow,
]

CONFIG = """\
config_version: 1
site: {{name: 测试小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data}}}
web: {{listen: "127.0.0.1:0"}}
vision: {{models_dir: {models}, manifest: {models}/manifest.yaml, cpu_workers: 2}}
cameras:
  - id: gate1
    kind: file
    path: {cam}
    fps: 2
    ape_id: "{ape}"
    analysis_fps: 2
    pipelines: [plates, faces]
    motion_gate: {{enabled: false}}
uplinks:
  viid:
    type: gat1400
    url: {url}
    device_id: "32010600001200000001"
    username: hik
    password: hik12345
    reconnect_initial_s: 0.05
    reconnect_max_s: 0.5
"""


def frames(folder: Path) -> None:
    """A car, an empty lane, a face, an empty lane (each held 1.5 s at 2 fps)."""
    folder.mkdir()
    blank = np.full((720, 1280, 3), 90, np.uint8)
    n = 0
    for src in (SCENES / "we0091234_hongkang1.jpg", None, FACES / "img2.jpg", None):
        img = blank if src is None else cv2.imread(str(src))
        assert img is not None
        for _ in range(3):
            cv2.imwrite(str(folder / f"{n:05d}.jpg"), img)
            n += 1


async def test_recognised_passes_are_accepted_by_a_strict_viid(
    peer: ViidPeer, tmp_path: Path
) -> None:
    frames(tmp_path / "cam")
    text = CONFIG.format(
        data=tmp_path / "data", models=MODELS, cam=tmp_path / "cam", ape=APE, url=peer.url
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    try:
        await wait_for(
            lambda: {"/VIID/MotorVehicles", "/VIID/Faces"} <= {r.endpoint for r in peer.received},
            120,
            "a vehicle and a face object",
        )
    finally:
        await asyncio.shield(d.stop())
    assert not peer.violations, peer.violations
    vehicle = next(r.obj for r in peer.received if r.endpoint == "/VIID/MotorVehicles")
    assert vehicle["PlateNo"] == "粤ZR066港" and vehicle["PlateClass"] == "26"
    assert ids.decompose(vehicle["MotorVehicleID"]).device_id == APE
    images = vehicle["SubImageList"]["SubImageInfoObject"]
    assert [im["Type"] for im in images] == ["01", "02"]
    assert images[0]["Width"] > images[1]["Width"]  # the scene, then the plate crop
    face = next(r.obj for r in peer.received if r.endpoint == "/VIID/Faces")
    assert [im["Type"] for im in face["SubImageList"]["SubImageInfoObject"]] == ["14", "11"]
    assert face["RightBtmX"] > face["LeftTopX"]
