"""`edge vision`: run the on-device recognisers on image files.

`detect` prints what the plate (and, when installed, face) pipelines see in each image;
`eval-plates` scores the plate reader against a labelled folder, the check an installer runs
after swapping a model or moving to new hardware.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edge.cli._common import CliError, needs_models, os_reason
from edge.vision.image import ImageDecodeError, decode_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("vision", help="run the plate/face recognisers on image files")
    vsub = p.add_subparsers(dest="vision_command", metavar="SUBCOMMAND", required=True)

    d = vsub.add_parser("detect", help="detect and read plates (and faces) in images")
    d.add_argument("images", nargs="+", metavar="IMAGE")
    d.add_argument("--json", action="store_true", help="one JSON document on stdout")
    d.add_argument("--no-faces", action="store_true", help="plates only")
    _plate_args(d)
    d.set_defaults(handler=needs_models(_detect))

    e = vsub.add_parser("eval-plates", help="exact-match accuracy of plate reads on a folder")
    e.add_argument("dir", metavar="DIR", help="images + optional labels.csv (file,plate)")
    e.add_argument("--crops", action="store_true", help="images are rectified plate crops")
    e.add_argument("--limit", type=int, help="only the first N images (sorted by name)")
    e.add_argument("--min-accuracy", type=float, help="exit 1 below this fraction (0-1)")
    e.add_argument(
        "--quiet", "-q", action="store_true", help="only the categories, misses and summary"
    )
    e.add_argument("--json", action="store_true", help="one JSON document on stdout")
    _plate_args(e)
    e.set_defaults(handler=needs_models(_eval_plates))

    try:
        from edge.vision.faces.cli import add_eval_faces
    except ImportError:  # the face tools are optional in a plates-only build
        pass
    else:
        add_eval_faces(vsub)


def _plate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reader", choices=["ppocr", "lprnet"], default="ppocr")
    p.add_argument("--detector", choices=["auto", "320", "640"], default="auto")
    p.add_argument("--models-dir", type=Path, help="folder with the .onnx files")
    p.add_argument("--manifest", type=Path, help="model manifest (default: beside the models)")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (1)")


def _registry(args: argparse.Namespace) -> Any:
    from edge.vision.plates.sessions import default_registry

    return default_registry(args.models_dir, args.manifest, args.threads)


def _plate_reader(args: argparse.Namespace) -> Any:
    from edge.vision.plates.pipeline import PlateReader

    return PlateReader(_registry(args), detector=args.detector, reader=args.reader)


def _face_pipeline(args: argparse.Namespace) -> Any | None:
    if args.no_faces:
        return None
    try:
        from edge.vision.faces.pipeline import FacePipeline
    except ImportError:
        return None
    return FacePipeline(_registry(args))


# -- detect ----------------------------------------------------------------------------------


def _detect(args: argparse.Namespace) -> int:
    plates = _plate_reader(args)
    faces = _face_pipeline(args)
    results: list[dict[str, Any]] = []
    bad = 0
    for name in args.images:
        try:
            img = decode_image(name)
        except ImageDecodeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            bad += 1
            continue
        t0 = time.perf_counter()
        reads = plates.read_frame(img)
        found: dict[str, Any] = {"file": name, "plates": [r.to_dict() for r in reads]}
        if faces is not None:
            found["faces"] = [
                {
                    "box": [round(float(v), 1) for v in f.box],
                    "score": round(float(f.score), 4),
                }
                for f in faces.detect(img)
            ]
        found["ms"] = round((time.perf_counter() - t0) * 1000, 1)
        results.append(found)
        if not args.json:
            _print_detect(found)
    if args.json:
        json.dump(results, sys.stdout, ensure_ascii=False, indent=2)
        print()
    return 2 if bad and not results else 0


def _print_detect(found: dict[str, Any]) -> None:
    print(f"{found['file']}  ({found['ms']} ms)")
    for p in found["plates"]:
        flag = "" if p["valid"] else "  (not a valid plate)"
        row = "double-row " if p["double_row"] else ""
        x1, y1, x2, y2 = p["box"]
        print(
            f"  plate {p['text']:<10} {p['colour']:<6} {row}{p['plate_type']:<16} "
            f"conf {p['confidence']:.3f}  box {x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f}{flag}"
        )
    if not found["plates"]:
        print("  no plate")
    if "faces" in found:
        for f in found["faces"]:
            x, y, w, h = f["box"]
            print(f"  face  score {f['score']:.3f}  box {x:.0f},{y:.0f} {w:.0f}x{h:.0f}")


# -- eval-plates -----------------------------------------------------------------------------

_FILE_COLUMNS = ("file", "filename", "image", "path", "name")
_PLATE_COLUMNS = ("plate", "text", "label", "plate_text")


def label_from_name(stem: str) -> str:
    """The plate text in a file name: `皖A12345`, `皖A12345_1`, `_0_津B6H920` all work."""
    from edge.vision.plates.grammar import normalise

    parts = [normalise(p) for p in stem.split("_")]
    return max(parts, key=len) if parts else ""


def load_labels(folder: Path) -> list[tuple[Path, str]]:
    """(image, plate) pairs: from labels.csv when present, else from the file names."""
    return [(path, plate) for path, plate, _ in load_label_rows(folder)]


def load_label_rows(folder: Path) -> list[tuple[Path, str, dict[str, str]]]:
    """(image, plate, other labels.csv columns by lower-case name) per image."""
    csv_path = folder / "labels.csv"
    if csv_path.exists():
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            cols = {c.strip().lower(): c for c in reader.fieldnames or []}
            fcol = next((cols[c] for c in _FILE_COLUMNS if c in cols), None)
            pcol = next((cols[c] for c in _PLATE_COLUMNS if c in cols), None)
            if fcol is None or pcol is None:
                raise ValueError(
                    f"{csv_path}: need a file column ({'/'.join(_FILE_COLUMNS)}) and a plate "
                    f"column ({'/'.join(_PLATE_COLUMNS)}); found {reader.fieldnames}"
                )
            return [
                (
                    folder / row[fcol].strip(),
                    row[pcol].strip(),
                    {k: (row[c] or "").strip() for k, c in cols.items()},
                )
                for row in reader
            ]
    return [
        (p, label_from_name(p.stem), {})
        for p in sorted(folder.iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]


def _iter_reads(
    args: argparse.Namespace, items: list[tuple[Path, str, dict[str, str]]]
) -> Iterator[Any]:
    reader = _plate_reader(args)
    for path, label, meta in items:
        try:
            img = decode_image(path)
        except ImageDecodeError as exc:
            yield path, label, meta, None, None, str(exc)
            continue
        if args.crops:
            yield path, label, meta, img, [reader.read_crop(img)], ""
        else:
            yield path, label, meta, img, reader.read_frame(img), ""


def _measured(img: Any, reads: list[Any], label: str, crops: bool) -> tuple[float, float | None]:
    """(plate height px, tilt deg) as found: a crop is its own plate, level by construction;
    in a scene, the read of the label (else the first) gives box and corners."""
    from edge.vision.plates.evaluate import tilt_of

    if crops:
        return float(img.shape[0]), 0.0
    if not reads:
        return math.nan, None
    r = next((r for r in reads if r.text == label), reads[0])
    return float(r.box[3] - r.box[1]), tilt_of(r.corners.tolist())


def _eval_plates(args: argparse.Namespace) -> int:
    from edge.vision.plates.evaluate import Outcome, Report, categories

    folder = Path(args.dir)
    if not folder.is_dir():
        raise CliError(f"{folder} is not a folder; give the folder of labelled images")
    try:
        items = sorted(load_label_rows(folder), key=lambda it: it[0].name)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the labels in {folder} ({os_reason(exc)})") from None
    if args.limit:
        items = items[: args.limit]
    if not items:
        raise CliError(f"no images in {folder}; add them with a labels file beside them")
    report = Report()
    misses: list[str] = []
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    for n, (path, label, meta, img, reads, err) in enumerate(_iter_reads(args, items), 1):
        if n % 20 == 0:
            print(f"[{n}/{len(items)}]", file=sys.stderr, flush=True)
        if reads is None:
            results.append({"file": path.name, "want": label, "got": [], "ok": False, "error": err})
            if not args.json:
                print(f"ERR   {path.name}  {err}")
            continue
        height, tilt = _measured(img, reads, label, args.crops)
        cats = categories(label, meta, None if math.isnan(height) else height, tilt)
        outcome = Outcome(path.name, label, tuple(r.text for r in reads), cats)
        report.add(outcome)
        results.append(
            {
                "file": path.name,
                "want": label,
                "got": list(outcome.texts),
                "ok": outcome.hit,
                "error": None,
                "categories": dict(cats),
            }
        )
        if args.json:
            continue
        shown = ", ".join(
            f"{r.text or '∅'} ({r.confidence:.2f}{'' if r.valid else ', invalid'})" for r in reads
        )
        line = f"{path.name}  want {label}  got {shown or 'nothing'}"
        if not outcome.hit:
            tags = " ".join(f"{k}={v}" for k, v in cats.items())
            misses.append(f"MISS  {line}  [{tags}]")
        if not args.quiet:
            print(f"{'ok ' if outcome.hit else 'MISS'}  {line}")
    elapsed = time.perf_counter() - t0
    hits = report.hits
    acc = hits / len(items)
    if args.json:
        # {"images", "hits", "accuracy", "ms_per_image", "categories": [...],
        #  "results": [{file, want, got, ok, error, categories}]}
        print(
            json.dumps(
                {"images": len(items), "hits": hits, "accuracy": round(acc, 4),
                 "ms_per_image": round(elapsed / len(items) * 1000, 1),
                 "categories": list(report.lines()), "results": results},
                ensure_ascii=False, indent=2,
            )
        )  # fmt: skip
    else:
        print("by category (hits/total):")
        for row in report.lines():
            print(row)
        if misses:
            print(f"misses ({len(misses)}):")
            for m in misses:
                print(f"  {m}")
        print(
            f"exact match: {hits}/{len(items)} = {acc * 100:.1f} %  "
            f"(reader {args.reader}, detector {'-' if args.crops else args.detector}, "
            f"{elapsed / len(items) * 1000:.1f} ms/image)"
        )
    if args.min_accuracy is not None and acc < args.min_accuracy:
        return 1
    return 0
