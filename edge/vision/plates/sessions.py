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

DETECTOR_640 = "plate_y5fu_640"
DETECTOR_320 = "plate_y5fu_320"
COLOUR = "plate_color"
PPOCR = "ppocr_v4_rec"
LPRNET = "lprnet"

REPO_ROOT = Path(__file__).resolve().parents[3]
MANIFEST = REPO_ROOT / "models" / "manifest.yaml"


class SessionSource(Protocol):
    """Anything that hands out a session by manifest name (`ModelRegistry` fits this)."""

    def session(self, name: str) -> ort.InferenceSession: ...


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
    if (local / "hyperlpr3_y5fu_320x_sim.onnx").exists():
        return local
    return REPO_ROOT.parent / "shared" / "models"


@lru_cache(maxsize=4)
def default_registry(models_dir: Path | None = None, threads: int = 1) -> ModelRegistry:
    """One registry per directory per process, so sessions are verified and loaded once."""
    return ModelRegistry(
        load_manifest(MANIFEST), models_dir or default_models_dir(), intra_op_threads=threads
    )
