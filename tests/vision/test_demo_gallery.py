"""The demo's simulated cameras are built from real stills and a real enrolled gallery."""

from __future__ import annotations

from pathlib import Path

import pytest
from prereqs import SHARED_MIRROR, require

from edge.sim import demo_camera
from edge.vision.faces.gallery import FaceGallery

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


def test_demo_cameras_are_built_once_with_a_resident_and_a_watchlist_person(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require((SHARED / "images").is_dir(), *SHARED_MIRROR)
    data = tmp_path / "data"
    argv = [str(data), "--shared", str(SHARED), "--models", str(models_dir)]
    assert demo_camera.main(argv) == 0
    assert f"demo cameras ready in {data / 'camera'}" in capsys.readouterr().out
    vehicle = sorted((data / "camera" / "vehicle").glob("*.jpg"))
    pedestrian = sorted((data / "camera" / "pedestrian").glob("*.jpg"))
    # every still is followed by an empty lane, so each car or person is one pass
    assert len(vehicle) == 2 * len(demo_camera.PLATE_SCENES)
    probes = len(demo_camera.RESIDENT[2]) + len(demo_camera.WATCHLIST[2])
    assert len(pedestrian) == 2 * (probes + len(demo_camera.STRANGERS))
    gallery = FaceGallery(data / "faces.db", model_key="any", dim=128)
    people = {(p.gallery, p.name) for p in gallery.list()}
    assert people == {
        ("residents", demo_camera.RESIDENT[0]),
        ("watchlist", demo_camera.WATCHLIST[0]),
    }

    stamps = {p: p.stat().st_mtime_ns for p in vehicle + pedestrian}
    assert demo_camera.main(argv) == 0  # idempotent: nothing rebuilt, nobody enrolled twice
    assert {p: p.stat().st_mtime_ns for p in vehicle + pedestrian} == stamps
    assert sorted((p.gallery, p.embeddings) for p in gallery.list()) == [
        ("residents", 1),
        ("watchlist", 1),
    ]


def test_without_shared_images_the_demo_cameras_stay_idle_and_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = demo_camera.main([str(tmp_path / "data"), "--shared", str(tmp_path / "nowhere")])
    assert rc == 1
    assert "no demo images" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
