"""Command-line pieces for faces: shared model/gallery arguments and `vision eval-faces`.

`add_eval_faces(vision_sub)` is called by the `edge vision` group; `edge face` and
`edge models` use the argument helpers so every command finds models, manifest and gallery
the same way: explicit flags, else the daemon config (`--config`), else the defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.vision.faces.evaluate import IdReport, PairReport
    from edge.vision.faces.settings import FaceSettings
    from edge.vision.models import ModelRegistry


# Heavy modules (onnxruntime, cv2) are imported inside handlers: `edge --help` stays fast.
DEFAULT_MODELS_DIR = "models"
DEFAULT_MANIFEST_NAME = "manifest.yaml"
GALLERY_FILE = "faces.db"


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="daemon config: models, manifest, data dir, thresholds")
    p.add_argument(
        "--models-dir",
        help=f"folder with the .onnx files (default: $EDGE_MODELS_DIR or ./{DEFAULT_MODELS_DIR})",
    )
    p.add_argument(
        "--manifest", help=f"manifest file (default: MODELS_DIR/{DEFAULT_MANIFEST_NAME})"
    )
    p.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (1)")


def add_gallery_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db", help=f"gallery database (default: DATA_DIR/{GALLERY_FILE}, ./data/{GALLERY_FILE})"
    )


def _config(args: argparse.Namespace) -> Any:
    path = getattr(args, "config", None)
    if not path:
        return None
    from edge.config import load_config

    return load_config(path)


def registry_from_args(args: argparse.Namespace) -> ModelRegistry:
    from edge.vision.models import ModelRegistry

    cfg = _config(args)
    if args.models_dir:
        models_dir = Path(args.models_dir)
    elif cfg is not None:
        models_dir = Path(cfg.vision.models_dir)
    else:
        models_dir = Path(os.environ.get("EDGE_MODELS_DIR", DEFAULT_MODELS_DIR))
    if args.manifest:
        manifest = Path(args.manifest)
    elif cfg is not None and not args.models_dir:
        manifest = Path(cfg.vision.manifest)
    else:
        manifest = models_dir / DEFAULT_MANIFEST_NAME
    return ModelRegistry.from_dir(models_dir, manifest, intra_op_threads=args.threads)


def settings_from_args(args: argparse.Namespace) -> FaceSettings:
    from edge.vision.faces.settings import FaceSettings

    cfg = _config(args)
    if cfg is None:
        return FaceSettings(intra_op_threads=args.threads)
    return FaceSettings.from_config(cfg.vision.faces, intra_op_threads=args.threads)


def gallery_path_from_args(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db)
    cfg = _config(args)
    if cfg is not None:
        return Path(cfg.storage.data_dir) / GALLERY_FILE
    return Path(os.environ.get("EDGE_DATA_DIR", "data")) / GALLERY_FILE


def add_eval_faces(vision_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = vision_sub.add_parser(
        "eval-faces",
        help="face verification (--pairs) or identification (--gallery/--probes) accuracy",
        description="Verification: a CSV of file_x,file_y,Decision (Yes/No), paths relative "
        "to the CSV; prints accuracy at the threshold and ROC AUC. Identification: each "
        "--gallery sub-folder is one person; each --probes sub-folder names the true "
        "identity, 'unknown' for people not enrolled.",
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--pairs", type=Path, help="verification pairs CSV")
    mode.add_argument("--gallery", type=Path, help="identification: one sub-folder per person")
    p.add_argument("--probes", type=Path, help="identification: sub-folder = true identity")
    p.add_argument("--threshold", type=float, help="match distance (default: config/manifest)")
    p.add_argument("--min-accuracy", type=float, help="exit 1 when accuracy is below this (0..1)")
    p.add_argument("--show-errors", type=int, default=10, help="list at most N errors (10)")
    p.add_argument("--json", action="store_true", help="the report as one JSON document")
    add_model_args(p)
    p.set_defaults(handler=_eval_faces)


def _eval_faces(args: argparse.Namespace) -> int:
    from edge.vision.faces.evaluate import EvalInputError, PairReport, identify, verify_pairs
    from edge.vision.faces.pipeline import FacePipeline
    from edge.vision.models import ModelFileError

    if args.gallery is not None and args.probes is None:
        print("eval-faces: --gallery needs --probes", file=sys.stderr)
        return 2
    try:
        pipeline = FacePipeline(registry_from_args(args), settings_from_args(args))
    except (ModelFileError, OSError, ValueError) as exc:
        print(f"eval-faces: {exc}", file=sys.stderr)
        return 2
    try:
        report: PairReport | IdReport
        if args.pairs is not None:
            report = verify_pairs(pipeline, args.pairs, args.threshold)
        else:
            report = identify(pipeline, args.gallery, args.probes, args.threshold)
    except EvalInputError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": str(exc)}, ensure_ascii=False))
        print(f"eval-faces: {exc}", file=sys.stderr)
        return 2
    if args.json:
        # the report's fields (PairReport or IdReport) as they are named in evaluate.py
        accuracy = float(report.accuracy)
        doc = {**dataclasses.asdict(report), "accuracy": accuracy}
        clean = {k: None if isinstance(v, float) and v != v else v for k, v in doc.items()}
        print(json.dumps(clean, ensure_ascii=False, indent=2, default=str))
    elif isinstance(report, PairReport):
        accuracy = _print_pairs(report, args)
    else:
        accuracy = _print_identify(report, args)
    if args.min_accuracy is not None and not accuracy >= args.min_accuracy:
        print(f"eval-faces: accuracy {accuracy:.4f} below {args.min_accuracy}", file=sys.stderr)
        return 1
    return 0


def _print_pairs(r: PairReport, args: argparse.Namespace) -> float:
    print(f"pairs:               {r.pairs}")
    print(f"threshold:           {r.threshold:.3f} (euclidean)")
    print(f"accuracy:            {r.accuracy:.4f} ({r.correct}/{r.pairs})")
    print(f"ROC AUC:             {r.auc:.4f}")
    print(f"same-person max:     {r.same_max:.4f}")
    print(f"different-person min:{r.different_min:.4f}")
    print(f"best threshold:      {r.best_threshold:.4f} (accuracy {r.best_accuracy:.4f})")
    if r.no_face:
        print(f"no face found in:    {', '.join(r.no_face)}")
    for x, y, d, same in r.errors[: args.show_errors]:
        print(f"  wrong: {x} {y} distance {d:.4f} expected {'same' if same else 'different'}")
    return float(r.accuracy)


def _print_identify(r: IdReport, args: argparse.Namespace) -> float:
    print(f"gallery:             {r.enrolled_people} people, {r.enrolled_images} images")
    if r.gallery_no_face:
        print(f"gallery, no face:    {', '.join(r.gallery_no_face)}")
    print(f"threshold:           {r.threshold:.3f} (euclidean)")
    print(
        f"probes:              {r.probes} ({r.known_probes} enrolled, {r.unknown_probes} unknown)"
    )
    print(f"accuracy:            {r.accuracy:.4f} ({r.correct}/{r.probes})")
    if r.known_probes:
        rate = r.known_correct / r.known_probes
        print(f"identified:          {rate:.4f} ({r.known_correct}/{r.known_probes})")
    print(f"wrong identity:      {r.wrong_identity}")
    print(f"missed (unknown):    {r.missed}")
    if r.unknown_probes:
        far = r.false_accepts / r.unknown_probes
        print(f"false accepts:       {r.false_accepts}/{r.unknown_probes} ({far:.4f})")
    print(f"ambiguous:           {r.ambiguous}")
    for path, truth, got in r.errors[: args.show_errors]:
        print(f"  wrong: {path}: expected {truth}, got {got}")
    return float(r.accuracy)
