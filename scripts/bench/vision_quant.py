"""Does int8 dynamic quantisation make a plate frame cheaper at the same accuracy?

Quantises the plate models with onnxruntime's own `quantize_dynamic` into a temp folder
(the PP-OCRv4 recogniser: its conv weights are `Constant` nodes, which the conv quantiser
refuses, so either MatMul/Gemm only or everything after `quant_pre_process` folds them into
initializers; the 320 detector: everything), then for
each configuration (fp32 first and again last, so drift on a loaded box shows) reads the
500 labelled crops, the 12 scenes fitted into 720p frames, the 12 scenes as they are and
the 5 CCPD photos, and prints accuracy beside CPU time (process time, one thread: the box
is shared, so wall time says more about the neighbours than about the model).

    .venv/bin/python scripts/bench/vision_quant.py [--crops 500]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO)]

import argparse  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: E402
from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: E402

from edge.cli.vision import load_labels  # noqa: E402
from edge.vision.image import decode_image  # noqa: E402
from edge.vision.plates.pipeline import PlateReader  # noqa: E402
from edge.vision.plates.sessions import DETECTOR_320, PPOCR, default_registry  # noqa: E402

PLATES = REPO.parent / "shared" / "images" / "plates"


class Swapped:
    """The registry, with some models replaced by their quantised file."""

    def __init__(self, registry: Any, folder: Path, swap: dict[str, str]) -> None:
        self.registry, self.folder, self.swap = registry, folder, swap  # name -> file
        self.manifest, self.spec = registry.manifest, registry.spec

    def session(self, name: str) -> ort.InferenceSession:
        if name not in self.swap:
            return self.registry.session(name)
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        return ort.InferenceSession(
            str(self.folder / self.swap[name]), so, providers=["CPUExecutionProvider"]
        )


def fitted_720p(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    s = min(1280 / w, 720 / h)
    small = cv2.resize(image, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[: small.shape[0], : small.shape[1]] = small
    return frame


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--crops", type=int, default=500, help="labelled crops to read (500)")
    p.add_argument("--models", type=Path, default=REPO / "models")
    args = p.parse_args()
    registry = default_registry(args.models)
    crops = [
        (decode_image(f), plate)
        for f, plate in sorted(load_labels(PLATES / "crops"), key=lambda t: t[0].name)
    ][: args.crops]
    scenes = [(decode_image(f), plate) for f, plate in load_labels(PLATES / "scenes")]
    frames = [(fitted_720p(img), plate) for img, plate in scenes]
    ccpd = [(decode_image(f), plate) for f, plate in load_labels(PLATES / "ccpd")]
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        quant_pre_process(
            str(args.models / f"{PPOCR}.onnx"),
            str(folder / "rec.pre.onnx"),
            skip_symbolic_shape=True,
        )
        for src, out, ops in (
            (args.models / f"{PPOCR}.onnx", "rec.matmul.onnx", ["MatMul", "Gemm"]),
            (folder / "rec.pre.onnx", "rec.all.onnx", None),
            (args.models / f"{DETECTOR_320}.onnx", "det320.onnx", None),
        ):
            quantize_dynamic(
                str(src), str(folder / out), weight_type=QuantType.QUInt8, op_types_to_quantize=ops
            )
        for label, swap in (
            ("fp32 (current)", {}),
            ("int8 recogniser, MatMul", {PPOCR: "rec.matmul.onnx"}),
            ("int8 recogniser, all", {PPOCR: "rec.all.onnx"}),
            ("int8 detector 320", {DETECTOR_320: "det320.onnx"}),
            ("fp32 (current, again)", {}),
        ):
            reader = PlateReader(Swapped(registry, folder, swap))
            reader.read_frame(frames[0][0])  # warm
            c0 = time.process_time()
            hits = sum(reader.read_crop(img).text == plate for img, plate in crops)
            c1 = time.process_time()
            fh = sum(plate in [r.text for r in reader.read_frame(f)] for f, plate in frames)
            c2 = time.process_time()
            sh = sum(plate in [r.text for r in reader.read_frame(i)] for i, plate in scenes)
            ch = sum(plate in [r.text for r in reader.read_frame(i)] for i, plate in ccpd)
            print(
                f"{label:26} crops {hits}/{len(crops)} {(c1 - c0) / len(crops) * 1000:5.1f} "
                f"ms CPU/crop | 720p frames {fh}/{len(frames)} "
                f"{(c2 - c1) / len(frames) * 1000:5.1f} ms CPU/frame | scenes {sh}/{len(scenes)} "
                f"| ccpd {ch}/{len(ccpd)}",
                flush=True,
            )
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
