"""The manifest describes every shipped model; the registry refuses missing or altered files;
pipelines take sizes, normalisation and dimensions from the manifest, not from code."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from prereqs import SHARED_MIRROR, require

from edge.cli.main import main as edge_main
from edge.vision.faces.embed import FaceEmbedder
from edge.vision.faces.pipeline import FacePipeline
from edge.vision.models import (
    InputSpec,
    Manifest,
    ModelFileError,
    ModelRegistry,
    load_manifest,
)

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "models" / "manifest.yaml"
SHARED_MODELS = REPO.parent / "shared" / "models"
FACES = REPO.parent / "shared" / "images" / "faces"


def manifest_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return data


def entry(data: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(m for m in data["models"] if m["name"] == name)
    return found


def test_manifest_lists_every_shared_model_with_its_checksum() -> None:
    require(SHARED_MODELS.is_dir(), *SHARED_MIRROR)
    sums = {}
    for line in (SHARED_MODELS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        sums[name] = digest
    manifest = load_manifest(MANIFEST)
    by_file = {m.file: m for m in manifest.models}
    assert set(by_file) == set(sums)
    for name, digest in sums.items():
        assert by_file[name].sha256 == digest
        assert by_file[name].bytes == (SHARED_MODELS / name).stat().st_size
    kinds = {m.kind for m in manifest.models}
    assert kinds == {
        "face_detector", "face_embedder", "plate_detector", "plate_color", "plate_reader",
        "object_detector",
    }  # fmt: skip


def test_manifest_rejects_duplicates_and_unknown_keys() -> None:
    data = manifest_data()
    data["models"].append(dict(data["models"][0]))
    with pytest.raises(ValueError, match="duplicate model name"):
        Manifest.model_validate(data)
    data = manifest_data()
    data["models"][0]["input"]["normalise"] = True
    with pytest.raises(ValueError, match="normalise"):
        Manifest.model_validate(data)


def test_models_check_loads_and_times_every_model(
    models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = edge_main(["models", "check", "--models-dir", str(models_dir), "--runs", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    for spec in load_manifest(MANIFEST).models:
        line = next(ln for ln in out.splitlines() if ln.startswith(spec.name))
        assert " ok " in line
        assert float(line.split()[3]) > 0  # median ms


def test_missing_and_corrupted_models_are_refused(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(MANIFEST, tmp_path / "manifest.yaml")
    registry = ModelRegistry.from_dir(tmp_path)
    with pytest.raises(ModelFileError, match=r"missing.*fetch-models"):
        registry.session("face_detection_yunet_2023mar")
    good = (models_dir / "face_detection_yunet_2023mar.onnx").read_bytes()
    bad = bytearray(good)
    bad[1000] ^= 0x01
    (tmp_path / "face_detection_yunet_2023mar.onnx").write_bytes(bytes(bad))
    with pytest.raises(ModelFileError, match="sha256"):
        registry.session("face_detection_yunet_2023mar")
    code = edge_main(
        ["models", "check", "--models-dir", str(tmp_path), "--runs", "1",
         "--only", "face_detection_yunet_2023mar"]
    )  # fmt: skip
    assert code == 1
    assert "face_detection_yunet_2023mar" in capsys.readouterr().err


def test_sessions_are_cached_and_single_threaded(models_dir: Path) -> None:
    registry = ModelRegistry.from_dir(models_dir)
    s1 = registry.session("lprnet_sirius_ccpd_94x24")
    assert registry.session("lprnet_sirius_ccpd_94x24") is s1
    assert registry.intra_op_threads == 1
    with pytest.raises(ValueError, match="plate_detector"):
        registry.pick("plate_detector")  # two of that kind: config must name one
    assert registry.pick("face_detector").name == "face_detection_yunet_2023mar"


def test_input_spec_letterbox_and_normalisation() -> None:
    img = np.full((100, 200, 3), 255, dtype=np.uint8)
    top_left = InputSpec(
        name="x", shape=(1, 3, 64, 64), channels="BGR", resize="letterbox_top_left",
        pad_value=114,
    )  # fmt: skip
    canvas, place = top_left.fit(img)
    assert canvas.shape == (64, 64, 3)
    assert (canvas[:32] == 255).all() and (canvas[32:] == 114).all()
    centre = top_left.model_copy(update={"resize": "letterbox_center"})
    canvas, place = centre.fit(img)
    assert (canvas[16:48] == 255).all() and (canvas[:16] == 114).all()
    back = place.to_source(np.array([[32.0, 32.0]], dtype=np.float32))
    np.testing.assert_allclose(back, [[100.0, 50.0]])
    lprnet = load_manifest(MANIFEST).get("lprnet_sirius_ccpd_94x24").input
    tensor = lprnet.to_tensor([np.full((24, 94, 3), 255, np.uint8)])
    assert tensor.shape == (1, 3, 24, 94)
    np.testing.assert_allclose(tensor.max(), (255 - 127.5) * 0.0078125)
    rgb = InputSpec(name="x", shape=(None, 3, 2, 2), channels="RGB", resize="stretch")
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 0] = 10  # blue
    assert rgb.to_tensor([bgr])[0, 2, 0, 0] == 10  # blue is the last channel in RGB


def _swapped_registry(models_dir: Path, tmp_path: Path, **embedder_params: Any) -> ModelRegistry:
    data = manifest_data()
    entry(data, "dlib_resnet_faceapi_128d")["params"].update(embedder_params)
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return ModelRegistry.from_dir(models_dir, path)


def test_embedder_behaviour_comes_from_the_manifest(models_dir: Path, tmp_path: Path) -> None:
    """What an installer swapping in a model relies on: normalisation, threshold and the
    embedding contract are read from the manifest entry."""
    image = np.asarray(cv2.imread(str(FACES / "deepface" / "img1.jpg")), np.uint8)
    registry = _swapped_registry(models_dir, tmp_path, l2_normalize=True, distance_threshold=0.9)
    pipeline = FacePipeline(registry)
    (obs,) = pipeline.analyse(image)
    assert abs(float(np.linalg.norm(obs.embedding)) - 1.0) < 1e-5
    assert pipeline.threshold == 0.9
    data = manifest_data()
    entry(data, "dlib_resnet_faceapi_128d")["outputs"][0]["shape"] = [None, 512]
    (tmp_path / "m2.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    bad = ModelRegistry.from_dir(models_dir, tmp_path / "m2.yaml")
    embedder = FaceEmbedder(bad, bad.spec("dlib_resnet_faceapi_128d"))
    assert embedder.dim == 512
    with pytest.raises(ValueError, match=r"128-d.*512"):
        embedder.embed_chips([np.zeros((150, 150, 3), np.uint8)])
