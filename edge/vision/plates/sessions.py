"""Which models the plate pipeline loads, and where it gets their sessions.

Sessions come from the shared `ModelRegistry` (manifest names, sha256-verified, cached and
shared across pipelines). `default_registry` is what the CLI, tests and benchmarks use when
nobody hands them one: the repo's `models/manifest.yaml` with the files in `$EDGE_MODELS_DIR`,
else `models/`, else the shared checkout beside the repo.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import onnxruntime as ort

from edge.vision.models import ModelRegistry, load_manifest

# File stems of the models this pipeline is written for (the manifest names them the same;
# `model_name` also finds them by file should an installer rename an entry).
DETECTOR_640 = "hyperlpr3_y5fu_640x_sim"
DETECTOR_320 = "hyperlpr3_y5fu_320x_sim"
COLOUR = "hyperlpr3_litemodel_cls_96x_r1"
PPOCR = "rapidocr_ch_PP-OCRv4_rec_infer"
LPRNET = "lprnet_sirius_ccpd_94x24"

REPO_ROOT = Path(__file__).resolve().parents[3]
MANIFEST = REPO_ROOT / "models" / "manifest.yaml"


class SessionSource(Protocol):
    """Anything that hands out a session by manifest name (`ModelRegistry` fits this)."""

    def session(self, name: str) -> ort.InferenceSession: ...


def model_name(source: SessionSource, stem: str) -> str:
    """The manifest name of the entry whose file is `<stem>.onnx` (else `stem` itself)."""
    manifest = getattr(source, "manifest", None)
    for spec in getattr(manifest, "models", ()):
        if spec.name == stem:
            return stem
    for spec in getattr(manifest, "models", ()):
        if spec.file == f"{stem}.onnx":
            return str(spec.name)
    return stem


def model_param(source: SessionSource, name: str, key: str, default: Any) -> Any:
    """A manifest `params` value when the source knows specs, else `default`."""
    spec = getattr(source, "spec", None)
    if spec is None:
        return default
    try:
        return spec(name).param(key, default)
    except KeyError:
        return default


def default_models_dir() -> Path:
    env = os.environ.get("EDGE_MODELS_DIR")
    if env:
        return Path(env)
    local = REPO_ROOT / "models"
    if (local / f"{DETECTOR_320}.onnx").exists():
        return local
    return REPO_ROOT.parent / "shared" / "models"


@lru_cache(maxsize=4)
def default_registry(
    models_dir: Path | None = None,
    manifest: Path | None = None,
    threads: int = 1,
    int8: bool = True,
) -> ModelRegistry:
    """One registry per directory per process, so sessions are verified and loaded once.

    The manifest is `manifest`, else MODELS_DIR/manifest.yaml, else the repo's.
    """
    models_dir = models_dir or default_models_dir()
    if manifest is None:
        beside = models_dir / "manifest.yaml"
        manifest = beside if beside.exists() else MANIFEST
    return ModelRegistry(load_manifest(manifest), models_dir, intra_op_threads=threads, int8=int8)
