"""The installer's model view: every model in the manifest, whether its file is there and
intact, what this config uses it for, and the latest timings the daemon has for it.

`GET /api/installer/models` (installers and maintainers) answers a `ModelsView`. Checksums
are computed in a thread and remembered per file (size and mtime), so opening the view again
does not re-read 45 MB of models. Timings come from the daemon's health sections as they are
(`models.load_s` per engine, `cameras.<id>.last_analysis_ms`); this module never loads a
model itself (`edge models check` does that, with the daemon's session options).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from edge.config import EdgeConfig
from edge.web.api import RT, _json
from edge.web.auth.policy import STAFF, add

if TYPE_CHECKING:  # edge.vision imports onnxruntime and OpenCV: only when the view is opened
    from edge.vision.models import Manifest, ModelSpec

Engine = Literal["plates", "faces", "objects"]
FileState = Literal["ok", "missing", "mismatch", "unreadable"]


class CameraTiming(BaseModel):
    camera: str
    name: str
    last_analysis_ms: float = Field(description="The camera's last frame through its engines.")


class ModelRow(BaseModel):
    name: str
    kind: str
    description: str
    file: str
    file_state: FileState = Field(description="ok: present and its sha256 is the manifest's.")
    size_bytes: int | None
    expected_bytes: int
    role: str | None = Field(description="What this config uses it for, e.g. plates.reader.")
    engine: Engine | None
    in_use: bool = Field(description="An enabled camera runs the engine that loads it.")
    loaded: bool = Field(description="The daemon has loaded its engine.")
    load_s: float | None = Field(description="Time the daemon took to load its engine.")
    cameras: list[CameraTiming]


class ModelsView(BaseModel):
    """The answer of `GET /api/installer/models`."""

    models_dir: str
    manifest: str
    manifest_error: str | None
    models: list[ModelRow]


def role_of(spec: ModelSpec, manifest: Manifest, config: EdgeConfig) -> tuple[str, Engine] | None:
    """The setting that makes the daemon load this model, or None for a spare entry; the
    plate pipeline's choices name files (edge/vision/plates/sessions.py)."""
    from edge.vision.plates import sessions as plate_models

    def is_(stem: str) -> bool:
        return spec.name == stem or spec.file == f"{stem}.onnx"

    v = config.vision
    if spec.kind == "face_detector" and spec.name == v.faces.detector:
        return "faces.detector", "faces"
    if spec.kind == "face_embedder" and spec.name == v.faces.embedder:
        return "faces.embedder", "faces"
    if spec.kind == "plate_detector" and (
        (is_(plate_models.DETECTOR_320) and v.plates.detector in ("auto", "320"))
        or (is_(plate_models.DETECTOR_640) and v.plates.detector in ("auto", "640"))
    ):
        return "plates.detector", "plates"
    if spec.kind == "plate_color" and is_(plate_models.COLOUR):
        return "plates.colour", "plates"
    reader = plate_models.PPOCR if v.plates.reader == "ppocr" else plate_models.LPRNET
    if spec.kind == "plate_reader" and is_(reader):
        return "plates.reader", "plates"
    if spec.kind == "object_detector" and len(manifest.of_kind("object_detector")) == 1:
        return "objects.detector", "objects"
    return None


@dataclass
class _Digest:
    size: int
    mtime_ns: int
    sha256: str


class ModelFiles:
    """sha256 of model files, remembered while a file's size and mtime stay the same."""

    def __init__(self) -> None:
        self._known: dict[Path, _Digest] = {}
        self._lock = threading.Lock()

    def state(self, path: Path, spec: ModelSpec) -> tuple[FileState, int | None]:
        try:
            st = path.stat()
        except FileNotFoundError:
            return "missing", None
        except OSError:
            return "unreadable", None
        if st.st_size != spec.bytes:
            return "mismatch", st.st_size
        with self._lock:
            known = self._known.get(path)
        if known is None or (known.size, known.mtime_ns) != (st.st_size, st.st_mtime_ns):
            from edge.vision.models import sha256_file

            try:
                known = _Digest(st.st_size, st.st_mtime_ns, sha256_file(path))
            except OSError:
                return "unreadable", st.st_size
            with self._lock:
                self._known[path] = known
        return ("ok" if known.sha256 == spec.sha256 else "mismatch"), st.st_size


def build(
    config: EdgeConfig, files: ModelFiles, health: dict[str, Any], cameras: dict[str, Any]
) -> ModelsView:
    """Blocking (reads the manifest and hashes files): run it in a thread."""
    from edge.vision.models import load_manifest

    v = config.vision
    try:
        manifest = load_manifest(v.manifest)
    except Exception as exc:  # missing, not YAML, not a manifest: say so, show no rows
        return ModelsView(
            models_dir=str(v.models_dir), manifest=str(v.manifest),
            manifest_error=str(exc).replace("\n", " "), models=[],
        )  # fmt: skip
    load_s = health.get("load_s", {}) if isinstance(health, dict) else {}
    running = [c for c in config.cameras if c.enabled]
    rows = []
    for spec in manifest.models:
        state, size = files.state(Path(v.models_dir) / spec.file, spec)
        role = role_of(spec, manifest, config)
        engine = role[1] if role else None
        users = [c for c in running if engine in c.pipelines]
        timings = [
            CameraTiming(
                camera=c.id,
                name=c.name or c.id,
                last_analysis_ms=float(cameras.get(c.id, {}).get("last_analysis_ms", 0.0)),
            )
            for c in users
            if cameras.get(c.id, {}).get("last_analysis_ms")
        ]
        rows.append(
            ModelRow(
                name=spec.name, kind=spec.kind, description=spec.description, file=spec.file,
                file_state=state, size_bytes=size, expected_bytes=spec.bytes,
                role=role[0] if role else None, engine=engine, in_use=bool(users),
                loaded=engine in load_s, load_s=load_s.get(engine) if engine else None,
                cameras=timings,
            )
        )  # fmt: skip
    return ModelsView(
        models_dir=str(v.models_dir), manifest=str(v.manifest), manifest_error=None, models=rows
    )


FILES = web.AppKey("model_files", ModelFiles)


def _section(rt: Any, name: str) -> dict[str, Any]:
    provider = rt.health_providers.get(name)
    try:
        doc = provider() if provider else {}
    except Exception:  # the health document reports a failing provider; here it is no figure
        return {}
    return doc if isinstance(doc, dict) else {}


async def models(request: web.Request) -> web.Response:
    rt = request.app[RT]
    files = request.app[FILES]
    health, cameras = _section(rt, "models"), _section(rt, "cameras")
    view = await asyncio.to_thread(build, rt.config, files, health, cameras)
    return _json(view.model_dump(mode="json"))


def routes(app: web.Application) -> None:
    app[FILES] = ModelFiles()
    add(app, "GET", "/api/installer/models", models, STAFF)
