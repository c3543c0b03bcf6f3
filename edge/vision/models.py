"""The model manifest and the ONNX session factory.

Every model the gateway runs is described once in `models/manifest.yaml`: file, checksum,
input tensor (size, channel order, normalisation, letterbox mode), outputs, decoder and its
parameters. Pipelines read all of that from the spec instead of hard-coding it, which is
what lets an installer swap a model of the same kind by editing the manifest and config.

Sessions are created lazily, verified against their sha256 once, cached, and shared:
onnxruntime sessions are thread-safe, so one per model serves the whole executor.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ModelKind = Literal[
    "face_detector",
    "face_embedder",
    "plate_detector",
    "plate_color",
    "plate_reader",
    "object_detector",
]
ResizeMode = Literal[
    "letterbox_top_left", "letterbox_center", "stretch", "height_keep_aspect_pad_right"
]

DEFAULT_MANIFEST_NAME = "manifest.yaml"
_HASH_CHUNK = 1 << 20


class ModelFileError(RuntimeError):
    """A model file is missing or does not match its manifest checksum."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """How an 8-bit image becomes the model's input tensor: x = (pixel * scale - mean) / std."""

    name: str
    shape: tuple[int | None, int, int, int] = Field(
        description="NCHW; null batch means the model accepts batches"
    )
    channels: Literal["BGR", "RGB", "GRAY"]
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    resize: ResizeMode
    pad_value: float = 0.0

    @field_validator("std")
    @classmethod
    def _std_nonzero(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(s == 0 for s in v):
            raise ValueError("std must not contain 0")
        return v

    @property
    def height(self) -> int:
        return self.shape[2]

    @property
    def width(self) -> int:
        return self.shape[3]

    @property
    def batched(self) -> bool:
        """True when the batch dimension is dynamic, so several inputs go in one run."""
        return self.shape[0] is None

    def to_tensor(self, images: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
        """Stack BGR uint8 images already at (height, width) into a normalised NCHW tensor."""
        n_ch = 1 if self.channels == "GRAY" else 3
        out = np.empty((len(images), n_ch, self.height, self.width), dtype=np.float32)
        for i, img in enumerate(images):
            if self.channels == "GRAY":
                out[i, 0] = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            elif self.channels == "RGB":
                out[i] = img.transpose(2, 0, 1)[::-1]  # converts and reorders in one pass
            else:
                out[i] = img.transpose(2, 0, 1)
        if self.scale != 1.0:
            out *= np.float32(self.scale)
        mean = np.asarray(self.mean[:n_ch], dtype=np.float32).reshape(n_ch, 1, 1)
        std = np.asarray(self.std[:n_ch], dtype=np.float32).reshape(n_ch, 1, 1)
        if np.any(mean != 0):
            out -= mean
        if np.any(std != 1):
            out /= std
        return out

    def fit(self, image: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], Placement]:
        """Resize/pad one BGR image to the input size; the placement maps boxes back."""
        h, w = image.shape[:2]
        th, tw = self.height, self.width
        if self.resize == "stretch":
            return resize_image(image, tw, th), Placement(tw / w, th / h, 0.0, 0.0)
        if self.resize == "height_keep_aspect_pad_right":
            nw = min(tw, max(1, round(w * th / h)))
            canvas = np.full((th, tw, 3), self.pad_value, dtype=np.uint8)
            canvas[:, :nw] = resize_image(image, nw, th)
            return canvas, Placement(nw / w, th / h, 0.0, 0.0)
        s = min(tw / w, th / h)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        resized = resize_image(image, nw, nh)
        canvas = np.full((th, tw, 3), self.pad_value, dtype=np.uint8)
        dx = dy = 0
        if self.resize == "letterbox_center":
            dx, dy = (tw - nw) // 2, (th - nh) // 2
        canvas[dy : dy + nh, dx : dx + nw] = resized
        return canvas, Placement(nw / w, nh / h, float(dx), float(dy))


def with_free_spatial_dims(path: Path, input_name: str) -> bytes:
    """The model with its input's height and width (and every output shape) left open.

    A fully convolutional detector exported at one square size runs at any multiple of its
    largest stride; fitting a 16:9 frame into 640×384 instead of padding it to 640×640 does
    40 % less work for the same detections. Only shape metadata changes, never weights.
    """
    import onnx

    model = onnx.load(str(path))
    for value in model.graph.input:
        if value.name == input_name:
            dims = value.type.tensor_type.shape.dim
            dims[2].dim_param, dims[3].dim_param = "height", "width"
    for value in model.graph.output:
        for i, dim in enumerate(value.type.tensor_type.shape.dim):
            dim.dim_param = f"{value.name}_{i}"
    return model.SerializeToString()


HALVING: Literal["area", "pyramid"] = "area"
"""How `resize_image` halves; "pyramid" is the previous way, which `scripts/bench/vision.py`
sets to measure the previous configuration beside the current one in the same run."""


def resize_image(image: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]:
    """Resize without aliasing, fast: halve by 2x2 averaging while the image is at least
    twice the target, then finish bilinearly. INTER_AREA at exactly one half is OpenCV's
    fast path (0.4 ms for 720p against 3 ms for `pyrDown`'s 5x5 Gaussian, which this used
    before: YuNet found the same faces plus two blurred ones in the background, and the
    pairs decided the same); at arbitrary ratios it costs several times more."""
    while image.shape[1] >= 2 * width and image.shape[0] >= 2 * height:
        if HALVING == "pyramid":
            image = np.asarray(cv2.pyrDown(image), dtype=np.uint8)
            continue
        half = (image.shape[1] // 2, image.shape[0] // 2)
        image = np.asarray(cv2.resize(image, half, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return np.asarray(
        cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
    )


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a source image landed in the model input: x_in = x_src * sx + dx."""

    sx: float
    sy: float
    dx: float
    dy: float

    def to_source(self, xy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Map (..., 2) input-space points back to source-image pixels."""
        out = np.empty_like(xy)
        out[..., 0] = (xy[..., 0] - self.dx) / self.sx
        out[..., 1] = (xy[..., 1] - self.dy) / self.sy
        return out


class OutputSpec(_Strict):
    name: str
    shape: tuple[int | None, ...]


class Int8Variant(_Strict):
    """A statically quantised copy of a model, made here by `scripts/quantise-models`
    (never fetched): loaded instead of the fp32 file when present, since it was measured
    to decide the same as fp32 on every labelled set (docs/benchmarks.md)."""

    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(gt=0)
    recipe: str = Field(description="how it was made: calibration set, format, ops")

    @field_validator("file")
    @classmethod
    def _plain_file_name(cls, v: str) -> str:
        if Path(v).name != v:
            raise ValueError("file must be a bare file name inside the models directory")
        return v


class ModelSpec(_Strict):
    """One manifest entry."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: ModelKind
    description: str = ""
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(gt=0)
    licence: str
    source: str
    input: InputSpec
    outputs: tuple[OutputSpec, ...] = Field(min_length=1)
    decoder: str
    params: dict[str, Any] = Field(default_factory=dict)
    int8: Int8Variant | None = None

    @field_validator("file")
    @classmethod
    def _plain_file_name(cls, v: str) -> str:
        if Path(v).name != v:
            raise ValueError("file must be a bare file name inside the models directory")
        return v

    def param(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]


class Manifest(_Strict):
    version: Literal[1]
    models: tuple[ModelSpec, ...]

    @model_validator(mode="after")
    def _unique_names(self) -> Manifest:
        seen: set[str] = set()
        for m in self.models:
            if m.name in seen:
                raise ValueError(f"duplicate model name {m.name!r}")
            seen.add(m.name)
        return self

    def get(self, name: str) -> ModelSpec:
        for m in self.models:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.models)
        raise KeyError(f"no model named {name!r} in the manifest (known: {known})")

    def of_kind(self, kind: ModelKind) -> list[ModelSpec]:
        return [m for m in self.models if m.kind == kind]


def load_manifest(path: str | Path) -> Manifest:
    """Parse and validate a manifest file; pydantic errors name the failing key path."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return Manifest.model_validate(data)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ModelRegistry:
    """Hands out one verified, cached onnxruntime session per manifest entry."""

    def __init__(
        self,
        manifest: Manifest,
        models_dir: str | Path,
        *,
        intra_op_threads: int = 1,
        int8: bool = True,
    ) -> None:
        self.manifest = manifest
        self.models_dir = Path(models_dir)
        self.intra_op_threads = intra_op_threads
        self.int8 = int8
        """Load a model's int8 variant when the manifest lists one and its file is here."""
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @classmethod
    def from_dir(
        cls, models_dir: str | Path, manifest: str | Path | None = None, **kw: Any
    ) -> ModelRegistry:
        models_dir = Path(models_dir)
        path = Path(manifest) if manifest is not None else models_dir / DEFAULT_MANIFEST_NAME
        return cls(load_manifest(path), models_dir, **kw)

    def spec(self, name: str) -> ModelSpec:
        return self.manifest.get(name)

    def pick(self, kind: ModelKind, name: str | None = None) -> ModelSpec:
        """The model configured by name, or the only one of its kind when none is named."""
        if name is not None:
            spec = self.spec(name)
            if spec.kind != kind:
                raise ValueError(f"model {name!r} is a {spec.kind}, not a {kind}")
            return spec
        found = self.manifest.of_kind(kind)
        if len(found) != 1:
            names = ", ".join(m.name for m in found) or "none"
            raise ValueError(f"{len(found)} models of kind {kind} ({names}): name one in config")
        return found[0]

    def path(self, name: str) -> Path:
        return self.models_dir / self.spec(name).file

    def uses_int8(self, name: str) -> bool:
        """Whether `session(name)` loads (or would load) the int8 variant."""
        variant = self.spec(name).int8
        return self.int8 and variant is not None and (self.models_dir / variant.file).is_file()

    def verify(self, name: str) -> Path:
        """Check presence, size and sha256; raise ModelFileError saying what to do.

        An int8 variant may instead match its receipt (`quantise-models` measured that
        file against fp32 because this onnxruntime or CPU wrote other bytes)."""
        spec: ModelSpec | Int8Variant = self.spec(name)
        if self.uses_int8(name):
            spec = self.spec(name).int8 or spec
        path = self.models_dir / spec.file
        if not path.is_file():
            raise ModelFileError(
                f"model {name!r}: {path} is missing; "
                f"run scripts/fetch-models --dest {self.models_dir}"
            )
        expected = [(spec.bytes, spec.sha256)]
        if isinstance(spec, Int8Variant):
            expected += _receipt(path)
        size = path.stat().st_size
        if size not in {b for b, _ in expected}:
            raise ModelFileError(
                f"model {name!r}: {path} has {size} bytes, manifest says {spec.bytes}; "
                "re-fetch it with scripts/fetch-models"
            )
        digest = sha256_file(path)
        if digest not in {sha for _, sha in expected}:
            raise ModelFileError(
                f"model {name!r}: {path} sha256 {digest} does not match the manifest "
                f"({spec.sha256}); re-fetch it with scripts/fetch-models"
            )
        return path

    def session(self, name: str) -> ort.InferenceSession:
        """The shared session for `name`, verified and created on first use.

        One lock per model: loading a large model never delays callers of another one.
        """
        sess = self._sessions.get(name)
        if sess is not None:
            return sess
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            sess = self._sessions.get(name)
            if sess is None:
                sess = self._create(name)
                self._sessions[name] = sess
            return sess

    def _create(self, name: str) -> ort.InferenceSession:
        path = self.verify(name)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.intra_op_threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Many small models share two cores: spinning threads steal time from each other.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3  # exporter warnings (initialisers as inputs) are noise
        spec = self.spec(name)
        source: str | bytes = str(path)
        if spec.param("dynamic_input", False):
            source = with_free_spatial_dims(path, spec.input.name)
        sess = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
        self._check_io(name, sess)
        return sess

    def _check_io(self, name: str, sess: ort.InferenceSession) -> None:
        spec = self.spec(name)
        inputs = [i.name for i in sess.get_inputs()]
        if spec.input.name not in inputs:
            raise ModelFileError(
                f"model {name!r}: manifest input {spec.input.name!r} not in the graph {inputs}"
            )
        outputs = {o.name for o in sess.get_outputs()}
        missing = [n for n in spec.output_names if n not in outputs]
        if missing:
            raise ModelFileError(
                f"model {name!r}: manifest outputs {missing} not in the graph {sorted(outputs)}"
            )


def accepted_receipt(model: Path) -> Path:
    """Where `quantise-models` records a derived file it measured and kept."""
    return model.with_name(model.name + ".accepted.json")


def _receipt(model: Path) -> list[tuple[int, str]]:
    try:
        doc = json.loads(accepted_receipt(model).read_text(encoding="utf-8"))
        return [(int(doc["bytes"]), str(doc["sha256"]))]
    except (OSError, ValueError, KeyError, TypeError):
        return []
