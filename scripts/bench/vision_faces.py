"""Benchmark the face pipeline on this machine: one face end to end, and gallery matching.

Run: .venv/bin/python scripts/bench/vision_faces.py [--image PATH] [--runs 50]
The process is pinned to one core and BLAS to one thread unless --blas-threads says
otherwise, so the figures are what one executor worker delivers on a loaded gateway.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--image", type=Path, default=REPO.parent / "shared/images/faces/deepface/img20.jpg"
    )
    p.add_argument("--models-dir", type=Path, default=REPO / "models")
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--gallery-size", type=int, default=100_000)
    p.add_argument("--blas-threads", type=int, default=1, help="threads for the gallery product")
    p.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    return p.parse_args()


def main() -> int:
    args = _args()
    # Before numpy is imported: BLAS reads its thread count once.
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(args.blas_threads)
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sys.path.insert(0, str(REPO))

    import resource
    import time

    import cv2
    import numpy as np

    from edge.vision.faces.gallery import FaceIndex
    from edge.vision.faces.pipeline import FacePipeline
    from edge.vision.models import ModelRegistry

    def stats(samples: list[float]) -> str:
        ms = np.asarray(samples) * 1000.0
        return f"median {np.median(ms):7.2f} ms   p95 {np.percentile(ms, 95):7.2f} ms"

    decoded = cv2.imread(str(args.image))
    if decoded is None:
        print(f"cannot read {args.image}", file=sys.stderr)
        return 2
    image = np.asarray(decoded, dtype=np.uint8)
    pipeline = FacePipeline(ModelRegistry.from_dir(args.models_dir))
    faces = pipeline.detect(image)
    if not faces:
        print(f"no face in {args.image}", file=sys.stderr)
        return 1
    face = max(faces, key=lambda f: f.area)
    for _ in range(3):
        pipeline.analyse(image)
    det, desc, total = [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        found = pipeline.detect(image)
        t1 = time.perf_counter()
        pipeline.describe(image, [max(found, key=lambda f: f.area)])
        t2 = time.perf_counter()
        det.append(t1 - t0)
        desc.append(t2 - t1)
        total.append(t2 - t0)
    h, w = image.shape[:2]
    pinned = "all cores" if args.all_cores else "1 core"
    print(f"image {args.image.name} {w}x{h}, {len(faces)} face(s), largest {face.w:.0f} px")
    print(f"pinned to {pinned}, load average {os.getloadavg()[0]:.2f} (figures are noisy above 1)")
    print(f"detect (letterbox + YuNet + decode)    {stats(det)}")
    print(f"align + embed one face                 {stats(desc)}")
    print(f"detect + align + embed                 {stats(total)}")

    rng = np.random.default_rng(0)
    dim = pipeline.embedder.dim
    vectors = rng.normal(0, 0.1, (args.gallery_size, dim)).astype(np.float32)
    names = [str(i) for i in range(args.gallery_size)]
    t0 = time.perf_counter()
    index = FaceIndex(vectors, ["residents"] * len(names), names, names)
    build = time.perf_counter() - t0
    del vectors
    query = rng.normal(0, 0.1, (1, dim)).astype(np.float32)
    batch = rng.normal(0, 0.1, (8, dim)).astype(np.float32)
    for _ in range(3):
        index.match(query, 0.6)
    one, eight = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        index.match(query, 0.6)
        t1 = time.perf_counter()
        index.match(batch, 0.6)
        t2 = time.perf_counter()
        one.append(t1 - t0)
        eight.append(t2 - t1)
    n = f"{args.gallery_size:,}"
    print(f"gallery of {n} x {dim}-d, BLAS threads {args.blas_threads}, built in {build:.2f} s")
    print(f"match 1 face                           {stats(one)}")
    print(f"match 8 faces in one call              {stats(eight)}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak RSS                               {peak:7.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
