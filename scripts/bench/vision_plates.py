"""Plate pipeline latency per stage and end to end, on one core, at 720p and 1080p.

Frames are the labelled street scenes resized to fit the target size and padded (so the
plates keep their real proportions). Each figure is the median and p95 over every
scene x repetition; peak RSS is the process's high-water mark after the run.

    .venv/bin/python scripts/bench/vision_plates.py [--reps 5] [--reader ppocr|lprnet]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from edge.vision.image import BGRImage, decode_image  # noqa: E402
from edge.vision.plates.detect import PlateDetector, decode  # noqa: E402
from edge.vision.plates.pipeline import PlateReader  # noqa: E402
from edge.vision.plates.rectify import rectify, side_by_side  # noqa: E402
from edge.vision.plates.sessions import default_registry  # noqa: E402

T = TypeVar("T")
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def fit(img: BGRImage, size: tuple[int, int]) -> BGRImage:
    w, h = size
    s = min(w / img.shape[1], h / img.shape[0])
    nw, nh = round(img.shape[1] * s), round(img.shape[0] * s)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    canvas = np.zeros((h, w, 3), np.uint8)
    canvas[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=interp)
    return canvas


def timed(samples: dict[str, list[float]], key: str, fn: Callable[[], T], cpu: bool = False) -> T:
    """Wall ms under `key`; with `cpu`, this thread's CPU ms too under `key (CPU)`: on a
    shared core the wall time holds what other processes ran in between, the CPU time not
    (it still pays for their cache and memory traffic)."""
    c0, t0 = time.thread_time(), time.perf_counter()
    out = fn()
    samples[key].append((time.perf_counter() - t0) * 1000)
    if cpu:
        samples[f"{key} (CPU)"].append((time.thread_time() - c0) * 1000)
    return out


def bench_frame(pr: PlateReader, frame: BGRImage, s: dict[str, list[float]]) -> None:
    det: PlateDetector | None = pr.det320 or pr.det640
    assert det is not None
    blob, scale, left, top = timed(s, "detect.preprocess", lambda: det.preprocess(frame))
    (out,) = timed(s, "detect.model", lambda: det.session.run(None, {det.input_name: blob}))
    timed(
        s,
        "detect.decode",
        lambda: decode(out[0], scale, left, top, det.conf, det.nms_iou, frame.shape[:2]),
    )
    dets = timed(s, "detect (320, 640 fallback)", lambda: pr.detect(frame))
    crops = timed(s, "rectify", lambda: [rectify(frame, d.corners, pr.margin_x) for d in dets])
    lines = [side_by_side(c) if d.double_row else c for c, d in zip(crops, dets, strict=True)]
    if lines:
        timed(s, "read (batch)", lambda: pr.reader.read_batch(lines))
        if pr.colour is not None:
            colour = pr.colour
            timed(s, "colour", lambda: [colour.probabilities(c) for c in crops])
    timed(s, "end to end read_frame", lambda: pr.read_frame(frame), cpu=True)


def measure(
    pr: PlateReader, scenes: list[BGRImage], reps: int, sizes: dict[str, tuple[int, int]] = SIZES
) -> dict[str, dict[str, list[float]]]:
    """Per size, every stage's samples (ms) over each scene x repetition, after a warm-up."""
    out: dict[str, dict[str, list[float]]] = {}
    for label, size in sizes.items():
        frames = [fit(img, size) for img in scenes]
        for f in frames[:2]:  # warm-up: first runs allocate arenas
            pr.read_frame(f)
        samples: dict[str, list[float]] = defaultdict(list)
        for _ in range(reps):
            for f in frames:
                bench_frame(pr, f, samples)
        out[label] = samples
    return out


def stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95)), "n": len(a)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--reader", choices=["ppocr", "lprnet"], default="ppocr")
    ap.add_argument("--detector", choices=["auto", "320", "640"], default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--refine-below", type=float, default=48.0, help="PlateReader refine_below_px (0: off)"
    )
    ap.add_argument("--scenes", type=Path, default=REPO.parent / "shared/images/plates/scenes")
    ap.add_argument("--models-dir", type=Path)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    registry = default_registry(args.models_dir, None, args.threads)
    pr = PlateReader(
        registry,
        detector=args.detector,
        reader=args.reader,
        refine_below_px=args.refine_below,
    )
    scenes = [decode_image(p) for p in sorted(args.scenes.glob("*.jpg"))]
    report: dict[str, Any] = {
        "reader": args.reader,
        "detector": args.detector,
        "threads": args.threads,
        "refine_below_px": args.refine_below,
        "scenes": len(scenes),
        "reps": args.reps,
        "sizes": {},
    }
    report["sizes"] = {
        label: {k: stats(v) for k, v in samples.items()}
        for label, samples in measure(pr, scenes, args.reps).items()
    }
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"plate pipeline: reader {args.reader}, detector {args.detector}, "
        f"refine below {args.refine_below:g} px, {args.threads} intra-op thread(s), "
        f"{len(scenes)} scenes x {args.reps} reps"
    )
    for label, rows in report["sizes"].items():
        print(f"\n{label}{'':<22} median ms   p95 ms")
        for name, st in rows.items():
            print(f"  {name:<28} {st['median']:8.1f} {st['p95']:8.1f}")
    print(f"\npeak RSS: {report['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
