"""End to end: a real plate photo played by a file camera, read by the daemon's plate
pipeline (real ONNX models), decided by the gatekeeper, opened on the simulated UHPPOTE
controller over UDP. The resident's plate is the photo's text; nobody typed it into an
event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from access_helpers import uhppote_device
from prereqs import MODELS as MODELS_NEEDED
from prereqs import SHARED_MIRROR, needs

from edge.sim import rtsp as sim
from edge.sim.uhppote import UhppoteSimulator

ROOT = Path(__file__).resolve().parents[2]
SCENES = ROOT.parent / "shared" / "images" / "plates" / "scenes"
MODELS = ROOT / "models"
PHOTO, TEXT = "zeusees_15.jpg", "渝D00796"  # labels.csv

pytestmark = [
    pytest.mark.slow,
    needs((MODELS / "manifest.yaml").exists(), *MODELS_NEEDED),
    needs(SCENES.is_dir(), *SHARED_MIRROR),
]


def plate_frames(tmp_path: Path) -> Path:
    """The car held for 2 s, then the empty lane for 2 s (the pass ends), at 5 frames/s."""
    blank = tmp_path / "blank.jpg"
    cv2.imwrite(str(blank), np.full((720, 1280, 3), 90, np.uint8))
    frames = tmp_path / "frames"
    sim.build_frames(frames, (1280, 720), [SCENES / PHOTO] * 10 + [blank] * 10)
    return frames


async def test_a_resident_plate_photo_opens_the_simulated_controller(
    make_daemon: Any, controller: UhppoteSimulator, tmp_path: Path, wait_for: Any
) -> None:
    camera = {
        "id": "cam-east",
        "kind": "file",
        "path": str(plate_frames(tmp_path)),
        "fps": 5,
        "loop": False,
        "analysis_fps": 5,
        "pipelines": ["plates"],
        "motion_gate": {"enabled": False},
    }
    access = {
        "plate_allowlist": [TEXT],
        "gates": [{"id": "east-in", "device": "ctl-east", "cameras": ["cam-east"]}],
    }
    d = await make_daemon(
        access,
        [uhppote_device(controller)],
        cameras=[camera],
        vision={"models_dir": str(MODELS), "manifest": str(MODELS / "manifest.yaml")},
    )

    async def opened() -> list[dict[str, Any]]:
        rows = await d.rt.store.events(kind="access")
        return [r for r in rows if r["data"].get("opened")]

    [rec] = await wait_for(opened, timeout_s=120)
    assert controller.opened == [1]
    data = rec["data"]
    assert data["plate"] == TEXT and data["rule"] == "resident_plate"
    plate = await d.rt.store.event(data["pass_event"])
    assert plate is not None and plate["kind"] == "plate" and plate["data"]["plate"] == TEXT
    assert {im["role"] for im in rec["images"]} >= {"plate_crop"}  # the guard sees the crop
