"""The int8 face embedder: made reproducibly from the fp32 one, loaded in its place, and
deciding the same pairs; without it the fp32 model is used."""

from __future__ import annotations

import os
from pathlib import Path

from prereqs import SHARED_MIRROR, needs

from edge.vision.faces.evaluate import verify_pairs
from edge.vision.faces.pipeline import FacePipeline
from edge.vision.models import ModelRegistry, load_manifest, sha256_file
from edge.vision.quantise import make_variants

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO.parent / "shared" / "images"
EMBEDDER = "dlib_resnet_faceapi_128d"

pytestmark = needs(IMAGES.is_dir(), *SHARED_MIRROR)


def test_the_int8_embedder_is_made_as_the_manifest_pins_it(
    models_dir: Path, tmp_path: Path
) -> None:
    for f in models_dir.glob("*"):
        if ".int8." not in f.name:
            os.symlink(f, tmp_path / f.name)
    manifest = load_manifest(tmp_path / "manifest.yaml")
    variant = manifest.get(EMBEDDER).int8
    assert variant is not None
    assert not ModelRegistry(manifest, tmp_path).uses_int8(EMBEDDER)
    assert make_variants(tmp_path, IMAGES, [EMBEDDER]) == []  # from the fp32 file and images
    assert sha256_file(tmp_path / variant.file) == variant.sha256
    assert ModelRegistry(manifest, tmp_path).uses_int8(EMBEDDER)
    assert not ModelRegistry(manifest, tmp_path, int8=False).uses_int8(EMBEDDER)
    assert (models_dir / variant.file).is_file()  # fetch-models made it for the suite


def test_int8_and_fp32_embedders_decide_the_same_pairs(models_dir: Path) -> None:
    manifest = load_manifest(models_dir / "manifest.yaml")
    reports = [
        verify_pairs(
            FacePipeline(ModelRegistry(manifest, models_dir, int8=int8)),
            IMAGES / "faces" / "deepface" / "master.csv",
        )
        for int8 in (False, True)
    ]
    assert [r.accuracy for r in reports] == [1.0, 1.0]
    assert reports[1].same_max < 0.6 < reports[1].different_min


def test_without_the_int8_file_the_fp32_model_is_loaded(models_dir: Path, tmp_path: Path) -> None:
    for f in models_dir.glob("*"):
        if ".int8." not in f.name:
            os.symlink(f, tmp_path / f.name)
    registry = ModelRegistry.from_dir(tmp_path)
    assert not registry.uses_int8(EMBEDDER)
    assert FacePipeline(registry).embedder.session is not None
    # with no calibration images the variant is not made, and that is said, not fatal
    errors = make_variants(tmp_path, tmp_path / "no-images", [EMBEDDER])
    assert len(errors) == 1 and "fp32 stays in use" in errors[0]
    assert not registry.uses_int8(EMBEDDER)
