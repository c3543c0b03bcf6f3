"""Static int8 versions of the plate and face models, calibrated on the labelled images.

Dynamic int8 (runtime-quantised activations, ConvInteger) was slower than fp32 on this CPU
and broke the CTC recogniser (docs/benchmarks.md). Static QDQ with per-channel weights lets
onnxruntime fuse each Conv/MatMul into its VNNI int8 kernels with ranges measured once on
real inputs. The calibration inputs are made by the pipeline's own code (detect, align),
so the ranges are those the daemon feeds the model. Inputs are fixed and ordered: the same
onnxruntime writes the same bytes, which the manifest's sha256 pins.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.vision.image import decode_image
from edge.vision.models import ModelRegistry, load_manifest, sha256_file

REPO = Path(__file__).resolve().parents[2]
F32 = npt.NDArray[np.float32]
Feeds = Callable[[ModelRegistry, Path], Iterator[F32]]


def _face_chip_feeds(registry: ModelRegistry, images: Path) -> Iterator[F32]:
    """Aligned chips of every face YuNet finds in the portraits."""
    from edge.vision.faces.pipeline import FacePipeline
    from edge.vision.faces.settings import FaceSettings

    fp = FacePipeline(registry, FaceSettings(embedder="dlib_resnet_faceapi_128d"))
    for path in sorted((images / "faces" / "deepface").glob("*.jpg")):
        image = decode_image(path)
        for chip in fp.embedder.align(image, fp.detect(image)):
            yield fp.embedder.spec.input.to_tensor([chip])


@dataclass(frozen=True)
class Recipe:
    feeds: Feeds
    ops: tuple[str, ...] = ("Conv", "MatMul")


#: Manifest name of the fp32 model -> how its int8 variant is made. Only variants that
#: decided the same as fp32 on every labelled set are here; the plate recogniser and the
#: 320 detector were tried the same way and dropped (docs/benchmarks.md).
RECIPES = {"dlib_resnet_faceapi_128d": Recipe(_face_chip_feeds)}


def quantise(name: str, registry: ModelRegistry, images: Path, out: Path) -> None:
    """Write `out`: pre-processed (constants folded, opset 13 for per-channel QDQ), then
    statically quantised with ranges from the recipe's feeds."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    recipe = RECIPES[name]
    source = registry.verify(name)
    input_name = registry.session(name).get_inputs()[0].name
    batches = list(recipe.feeds(registry, images))

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, F32] | None:
            batch = next(self._it, None)
            return None if batch is None else {input_name: batch}

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        if max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) < 13:
            onnx.save(version_converter.convert_version(model, 13), str(pre))
        quantize_static(
            str(pre),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(recipe.ops),
            calibrate_method=CalibrationMethod.MinMax,
        )


def make_variants(
    models: Path,
    images: Path,
    only: list[str] | None = None,
    check: bool = True,
    manifest_path: Path | None = None,
) -> list[str]:
    """Write each missing or stale int8 variant the manifest lists; the errors, if any.

    A file is put in place only once its sha256 matches the manifest (or `check` is off):
    a different onnxruntime may quantise differently, and an unmeasured model must not be
    loaded in place of the fp32 one, which stays in use."""
    manifest = load_manifest(manifest_path or models / "manifest.yaml")
    registry = ModelRegistry(manifest, models, int8=False)
    errors = []
    for spec in manifest.models:
        variant = spec.int8
        if variant is None or (only and spec.name not in only):
            continue
        target = models / variant.file
        if target.is_file() and sha256_file(target) == variant.sha256:
            print(f"ok       {variant.file} (already made)")
            continue
        if not (images / "plates").is_dir() or not (images / "faces").is_dir():
            errors.append(f"{variant.file}: no calibration images in {images}; fp32 stays in use")
            continue
        fd, tmp_name = tempfile.mkstemp(prefix=f".{variant.file}.", dir=models)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            quantise(spec.name, registry, images, tmp)
            digest = sha256_file(tmp)
            if check and digest != variant.sha256:
                errors.append(
                    f"{variant.file}: made with sha256 {digest}, the manifest says "
                    f"{variant.sha256}: this onnxruntime quantises differently; fp32 stays "
                    "in use (measure it with edge vision eval-plates before changing the manifest)"
                )
                continue
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
            print(
                f"made     {variant.file} ({target.stat().st_size / 1e6:.1f} MB) from {spec.file}"
            )
        finally:
            tmp.unlink(missing_ok=True)
    return errors


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="quantise-models", description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, default=REPO / "models", help="models folder")
    p.add_argument("--manifest", type=Path, help="default: MODELS/manifest.yaml")
    p.add_argument("--images", type=Path, default=REPO.parent / "shared" / "images")
    p.add_argument("--only", help="comma-separated manifest names (default: every variant)")
    p.add_argument(
        "--no-check", action="store_true", help="keep a file whose sha256 is not the manifest's"
    )
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    only = args.only.split(",") if args.only else None
    errors = make_variants(args.models, args.images, only, not args.no_check, args.manifest)
    for err in errors:
        print(f"FAILED   {err}", file=sys.stderr)
    return 1 if errors else 0
