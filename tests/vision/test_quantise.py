"""The int8 face embedder: made reproducibly from the fp32 one, loaded in its place, and
deciding the same pairs; without it the fp32 model is used."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from prereqs import SHARED_MIRROR, needs

import edge.vision.quantise as quantise_module
from edge.vision.faces.evaluate import verify_pairs
from edge.vision.faces.pipeline import FacePipeline
from edge.vision.models import (
    ModelFileError,
    ModelRegistry,
    accepted_receipt,
    load_manifest,
    sha256_file,
)
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
    made = sha256_file(tmp_path / variant.file)
    # This onnxruntime on this CPU writes the pinned bytes, or the file was measured and kept.
    receipt = accepted_receipt(tmp_path / variant.file)
    assert made == variant.sha256 or json.loads(receipt.read_text())["sha256"] == made
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


def _links(models_dir: Path, dest: Path, manifest_sha: str | None = None) -> None:
    """The fp32 files linked into `dest`; the manifest copied, its int8 pin replaced."""
    for f in models_dir.glob("*"):
        if ".int8." not in f.name and f.name != "manifest.yaml":
            os.symlink(f, dest / f.name)
    text = (models_dir / "manifest.yaml").read_text()
    variant = load_manifest(models_dir / "manifest.yaml").get(EMBEDDER).int8
    assert variant is not None
    if manifest_sha is not None:
        text = text.replace(variant.sha256, manifest_sha)
    (dest / "manifest.yaml").write_text(text)


def test_a_variant_another_onnxruntime_writes_differently_is_measured_and_kept(
    models_dir: Path, tmp_path: Path
) -> None:
    """As on a gateway whose onnxruntime or CPU rounds a calibrated range otherwise."""
    _links(models_dir, tmp_path, manifest_sha="f" * 64)
    manifest = load_manifest(tmp_path / "manifest.yaml")
    variant = manifest.get(EMBEDDER).int8
    assert variant is not None
    assert make_variants(tmp_path, IMAGES, [EMBEDDER]) == []
    receipt = json.loads(accepted_receipt(tmp_path / variant.file).read_text())
    assert receipt["sha256"] == sha256_file(tmp_path / variant.file) != variant.sha256
    assert "as fp32 does" in receipt["accepted_because"]
    registry = ModelRegistry(manifest, tmp_path)
    assert registry.uses_int8(EMBEDDER) and registry.verify(EMBEDDER).name == variant.file
    assert make_variants(tmp_path, IMAGES, [EMBEDDER]) == []  # kept: not made again
    (tmp_path / variant.file).write_bytes(b"tampered")
    with pytest.raises(ModelFileError, match=r"sha256|bytes"):
        ModelRegistry(manifest, tmp_path).verify(EMBEDDER)


def test_a_variant_that_decides_otherwise_than_fp32_is_refused(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quantiser that damages the model (the fault cannot be made with the real one here)."""
    _links(models_dir, tmp_path, manifest_sha="f" * 64)

    def damaging(name: str, registry: ModelRegistry, images: Path, out: Path) -> None:
        model = onnx.load(str(registry.verify(name)))
        rng = np.random.default_rng(7)
        for init in model.graph.initializer:
            w = numpy_helper.to_array(init)
            if w.dtype == np.float32 and w.ndim == 4:
                noisy = w + rng.normal(0, float(np.abs(w).mean()) * 3, w.shape).astype(np.float32)
                init.CopyFrom(numpy_helper.from_array(noisy, init.name))
        onnx.save(model, str(out))

    monkeypatch.setattr(quantise_module, "quantise", damaging)
    [error] = make_variants(tmp_path, IMAGES, [EMBEDDER])
    assert "does not decide as fp32 does" in error and "fp32 stays in use" in error
    registry = ModelRegistry.from_dir(tmp_path)
    assert not registry.uses_int8(EMBEDDER)
    assert not list(tmp_path.glob("*.accepted.json")) and not list(tmp_path.glob(".quantise-*"))
