"""Labelled plate crops degraded the way street cameras degrade them, reproducibly.

The labelled crops read at ~99 %; a camera at a gate sees the same plates blurred by a
moving car, at night, through a heavily compressed stream, from far away, or from a pole
at an angle. Each degradation here is one of those, with fixed parameters and a seeded
choice of crops, so the set (and the accuracy measured on it) is the same on every run
and machine: the images are generated into a scratch folder, never committed.

    python -m edge.vision.plates.degrade SRC_DIR OUT_DIR [--per-kind 40] [--seed 15]

OUT_DIR gets the images and a labels.csv (file, plate, colour, degradation, height_px,
tilt_deg) that `edge vision eval-plates OUT_DIR --crops` reads.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edge.vision.image import BGRImage, decode_image

#: The crops' nominal plate height; the degradations are defined at this size.
BASE_HEIGHT = 64


def _at_base(crop: BGRImage) -> BGRImage:
    h, w = crop.shape[:2]
    size = (max(1, round(w * BASE_HEIGHT / h)), BASE_HEIGHT)
    return np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), np.uint8)


def motion_blur(crop: BGRImage, rng: random.Random) -> tuple[BGRImage, float]:
    """A car passing at speed: a 9 px horizontal smear at 64 px plate height."""
    kernel = np.zeros((9, 9), np.float32)
    kernel[4, :] = 1 / 9
    return np.asarray(cv2.filter2D(crop, -1, kernel), np.uint8), 0.0


def low_light(crop: BGRImage, rng: random.Random) -> tuple[BGRImage, float]:
    """Night without IR: a fifth of the light, then sensor noise (σ 6 grey levels)."""
    dark = crop.astype(np.float32) * 0.2
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 6, crop.shape)
    return np.clip(dark + noise, 0, 255).astype(np.uint8), 0.0


def low_jpeg(crop: BGRImage, rng: random.Random) -> tuple[BGRImage, float]:
    """A starved stream: JPEG at quality 12."""
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 12])
    assert ok
    return np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), np.uint8), 0.0


def small(crop: BGRImage, rng: random.Random) -> tuple[BGRImage, float]:
    """A far camera: the plate 20 px high."""
    h, w = crop.shape[:2]
    size = (max(1, round(w * 20 / h)), 20)
    return np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), np.uint8), 0.0


def tilt(crop: BGRImage, rng: random.Random) -> tuple[BGRImage, float]:
    """A camera on a pole beside the lane: the plate rotated by ±(10 to 30)°, the corners
    filled from the border so the reader sees no black wedges."""
    angle = rng.choice((-1, 1)) * rng.uniform(10, 30)
    h, w = crop.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    out = cv2.warpAffine(crop, m, (nw, nh), borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(out, np.uint8), angle


DEGRADATIONS: dict[str, Callable[[BGRImage, random.Random], tuple[BGRImage, float]]] = {
    "motion_blur": motion_blur,
    "low_light": low_light,
    "jpeg_q12": low_jpeg,
    "height_20px": small,
    "tilt_30": tilt,
}


def labelled_crops(src: Path) -> list[tuple[Path, str]]:
    from edge.cli.vision import load_labels

    return sorted(load_labels(src), key=lambda it: it[0].name)


def generate(src: Path, out: Path, per_kind: int = 40, seed: int = 15) -> list[dict[str, str]]:
    """Write `per_kind` degraded crops of each kind (the same crops for every kind) and
    labels.csv into `out`; returns the label rows."""
    from edge.vision.plates.evaluate import colour_of

    crops = labelled_crops(src)
    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(len(crops)), min(per_kind, len(crops))))
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    for kind, fn in DEGRADATIONS.items():
        kind_rng = random.Random(f"{seed}:{kind}")
        for i in chosen:
            path, plate = crops[i]
            image, angle = fn(_at_base(decode_image(path)), kind_rng)
            name = f"{kind}_{i:04d}.png"
            cv2.imwrite(str(out / name), image)
            rows.append(
                {
                    "file": name,
                    "plate": plate,
                    "colour": colour_of(plate, {}),
                    "degradation": kind,
                    "height_px": str(20 if kind == "height_20px" else BASE_HEIGHT),
                    "tilt_deg": f"{angle:.1f}",
                }
            )
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("src", type=Path, help="labelled crops (labels.csv or plate file names)")
    p.add_argument("out", type=Path)
    p.add_argument("--per-kind", type=int, default=40, help="crops per degradation (40)")
    p.add_argument("--seed", type=int, default=15)
    args = p.parse_args(argv)
    rows = generate(args.src, args.out, args.per_kind, args.seed)
    print(f"{len(rows)} degraded crops in {args.out} ({', '.join(DEGRADATIONS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
