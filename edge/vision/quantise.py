"""Static int8 versions of the plate and face models, calibrated on the labelled images.

Dynamic int8 (runtime-quantised activations, ConvInteger) was slower than fp32 on this CPU
and broke the CTC recogniser (docs/benchmarks.md). Static QDQ with per-channel weights lets
onnxruntime fuse each Conv/MatMul into its VNNI int8 kernels with ranges measured once on
real inputs. The calibration inputs are made by the pipeline's own code (detect, align),
so the ranges are those the daemon feeds the model. Inputs are fixed and ordered: the same
onnxruntime on the same CPU writes the same bytes, which the manifest's sha256 pins.

Another onnxruntime release or CPU (its kernels sum in another order) moves a calibrated
range by a rounding step, and with it every byte after. Such a file is not refused for that
alone: it is measured as the pinned one was (the recipe's `accept` check against fp32 on the
labelled set) and, when it decides the same, kept with a receipt (`<file>.accepted.json`)
that the registry trusts in place of the manifest's sha256.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.vision.image import decode_image
from edge.vision.models import (
    ModelRegistry,
    accepted_receipt,
    load_manifest,
    sha256_file,
)

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


def _face_pairs_agree(fp32: ModelRegistry, candidate: ModelRegistry, images: Path) -> str | None:
    """None when the candidate decides every labelled pair as fp32 does; else what differs."""
    from edge.vision.faces.evaluate import verify_pairs
    from edge.vision.faces.pipeline import FacePipeline
    from edge.vision.faces.settings import FaceSettings

    csv = images / "faces" / "deepface" / "master.csv"
    settings = FaceSettings(embedder="dlib_resnet_faceapi_128d")
    reports = [verify_pairs(FacePipeline(r, settings), csv) for r in (fp32, candidate)]
    wrong = [{(x, y) for x, y, _, _ in r.errors} | set(r.no_face) for r in reports]
    if wrong[0] == wrong[1]:
        return None
    return (
        f"{len(wrong[1] ^ wrong[0])} of the {reports[0].pairs} labelled pairs in {csv} "
        f"decided otherwise than by fp32 ({reports[1].correct} right against {reports[0].correct})"
    )


Accept = Callable[[ModelRegistry, ModelRegistry, Path], "str | None"]


@dataclass(frozen=True)
class Recipe:
    feeds: Feeds
    accept: Accept
    """The measurement a file with other bytes than the pinned one must pass."""
    ops: tuple[str, ...] = ("Conv", "MatMul")


#: Manifest name of the fp32 model -> how its int8 variant is made. Only variants that
#: decided the same as fp32 on every labelled set are here; the plate recogniser and the
#: 320 detector were tried the same way and dropped (docs/benchmarks.md).
RECIPES = {"dlib_resnet_faceapi_128d": Recipe(_face_chip_feeds, _face_pairs_agree)}


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

    A file is put in place when its sha256 is the manifest's, or (`check` on) when it passed
    the recipe's measurement against fp32, with its receipt; otherwise an unmeasured model
    would be loaded in place of the fp32 one, which stays in use."""
    manifest_path = manifest_path or models / "manifest.yaml"
    manifest = load_manifest(manifest_path)
    registry = ModelRegistry(manifest, models, int8=False)
    errors = []
    for spec in manifest.models:
        variant = spec.int8
        if variant is None or (only and spec.name not in only):
            continue
        target = models / variant.file
        if target.is_file() and sha256_file(target) in {variant.sha256, _receipt_sha(target)}:
            print(f"ok       {variant.file} (already made)")
            continue
        if not (images / "plates").is_dir() or not (images / "faces").is_dir():
            errors.append(f"{variant.file}: no calibration images in {images}; fp32 stays in use")
            continue
        with tempfile.TemporaryDirectory(prefix=".quantise-", dir=models) as staging:
            made = Path(staging) / variant.file
            quantise(spec.name, registry, images, made)
            digest = sha256_file(made)
            receipt: dict[str, object] | None = None
            if digest != variant.sha256 and check:
                measured = _measure(spec.name, manifest_path, models, made, digest, images)
                if isinstance(measured, str):
                    errors.append(
                        f"{variant.file}: made with sha256 {digest}, not the manifest's "
                        f"{variant.sha256} (another onnxruntime or CPU), and it does not decide "
                        f"as fp32 does: {measured}; fp32 stays in use"
                    )
                    continue
                receipt = measured
            os.chmod(made, 0o644)
            os.replace(made, target)
            receipt_path = accepted_receipt(target)
            if receipt is None:
                receipt_path.unlink(missing_ok=True)
                how = "as pinned" if digest == variant.sha256 else "unchecked (--no-check)"
            else:
                tmp_receipt = Path(staging) / receipt_path.name
                tmp_receipt.write_text(json.dumps(receipt, indent=2) + "\n", encoding="utf-8")
                os.replace(tmp_receipt, receipt_path)
                how = f"sha256 {digest[:12]}…, measured: {receipt['accepted_because']}"
            print(
                f"made     {variant.file} ({target.stat().st_size / 1e6:.1f} MB) "
                f"from {spec.file}, {how}"
            )
    return errors


def _receipt_sha(target: Path) -> str | None:
    try:
        doc = json.loads(accepted_receipt(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    sha = doc.get("sha256") if isinstance(doc, dict) else None
    return sha if isinstance(sha, str) else None


def _measure(
    name: str, manifest_path: Path, models: Path, made: Path, digest: str, images: Path
) -> dict[str, object] | str:
    """The receipt of a made file that decides as fp32 does, or why it does not.

    The candidate is loaded from the staging folder (beside links to the fp32 files) with a
    provisional receipt, so nothing in `models` changes before it has passed."""
    import onnxruntime

    staging = made.parent
    for f in models.iterdir():
        if (
            f.is_file()
            and not f.name.endswith(".accepted.json")
            and not (staging / f.name).exists()
        ):
            os.symlink(f.resolve(), staging / f.name)
    receipt: dict[str, object] = {
        "sha256": digest,
        "bytes": made.stat().st_size,
        "onnxruntime": onnxruntime.__version__,
    }
    accepted_receipt(made).write_text(json.dumps(receipt), encoding="utf-8")
    manifest = load_manifest(manifest_path)
    fp32 = ModelRegistry(manifest, models, int8=False)
    candidate = ModelRegistry(manifest, staging, int8=True)
    problem = RECIPES[name].accept(fp32, candidate, images)
    accepted_receipt(made).unlink()
    if problem is not None:
        return problem
    receipt["accepted_because"] = "decides every labelled pair as fp32 does"
    return receipt


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
