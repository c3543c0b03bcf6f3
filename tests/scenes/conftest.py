"""Fixtures for the scene tests: the real object detector and the COCO images."""

from __future__ import annotations

from pathlib import Path

import pytest
from prereqs import SHARED_MIRROR, require

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


OBJECTS = SHARED / "images" / "objects"  # the test modules spell it out too


@pytest.fixture(scope="session")
def detector(models_dir: Path):  # type: ignore[no-untyped-def]
    """The real YOLOX-Nano from the manifest."""
    from edge.vision.models import ModelRegistry
    from edge.vision.objects.detect import ObjectDetector

    require(OBJECTS.is_dir(), *SHARED_MIRROR)
    reg = ModelRegistry.from_dir(models_dir)
    spec = reg.spec("yolox_nano_416")
    return ObjectDetector(
        reg.session("yolox_nano_416"),
        spec.param("labels"),
        conf=spec.param("conf_threshold", 0.3),
        nms_iou=spec.param("nms_iou", 0.45),
    )


@pytest.fixture(scope="session")
def plate_reader(models_dir: Path):  # type: ignore[no-untyped-def]
    """The real plate pipeline the daemon builds by default (`vision.plates`)."""
    from edge.vision.plates.pipeline import PlateReader
    from edge.vision.plates.sessions import default_registry

    return PlateReader(default_registry(models_dir, models_dir / "manifest.yaml"))
