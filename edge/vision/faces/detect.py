"""Face detection: YuNet, decoded from its raw per-stride heads.

The decode is done here rather than through `cv2.FaceDetectorYN` so the input size,
letterbox and thresholds come from the manifest, and so a different detector with the same
output contract (boxes + 5 landmarks) can be added as another decoder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.vision.models import InputSpec, ModelRegistry, ModelSpec

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True, eq=False)
class Face:
    """One detected face in source-image pixels.

    `landmarks` is (5, 2): right eye, left eye, nose tip, right mouth corner, left mouth
    corner (the subject's right first, which is the image's left).
    """

    x: float
    y: float
    w: float
    h: float
    score: float
    landmarks: npt.NDArray[np.float32]

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)

    @property
    def area(self) -> float:
        return self.w * self.h


class YuNetDetector:
    """Thread-safe: the shared session, immutable parameters, and size caches whose racing
    writers would only store equal values."""

    def __init__(
        self,
        registry: ModelRegistry,
        spec: ModelSpec,
        *,
        conf_threshold: float | None = None,
        nms_iou: float | None = None,
        min_face_px: float | None = None,
    ) -> None:
        self.spec = spec
        self.session = registry.session(spec.name)
        self.strides: list[int] = list(spec.param("strides", [8, 16, 32]))
        self.conf = float(
            conf_threshold if conf_threshold is not None else spec.param("conf_threshold", 0.6)
        )
        self.nms_iou = float(nms_iou if nms_iou is not None else spec.param("nms_iou", 0.3))
        self.min_face = float(
            min_face_px if min_face_px is not None else spec.param("min_face_px", 0)
        )
        self.top_k = int(spec.param("top_k", 750))
        self._outputs = [
            f"{head}_{s}" for s in self.strides for head in ("cls", "obj", "bbox", "kps")
        ]
        # With `dynamic_input` the image is fitted into the smallest stride-aligned canvas of
        # the same aspect (a 16:9 frame: 640×384) instead of padded to the square.
        self.dynamic = bool(spec.param("dynamic_input", False))
        self._inputs: dict[tuple[int, int], InputSpec] = {}
        self._grids: dict[
            tuple[int, int, int], tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]
        ] = {}

    def _input_for(self, h: int, w: int) -> InputSpec:
        base = self.spec.input
        if not self.dynamic:
            return base
        step = max(self.strides)
        scale = max(base.height, base.width) / max(h, w)
        th = min(base.height, -(-round(h * scale) // step) * step)
        tw = min(base.width, -(-round(w * scale) // step) * step)
        spec = self._inputs.get((th, tw))
        if spec is None:
            spec = self._inputs[(th, tw)] = base.model_copy(update={"shape": (1, 3, th, tw)})
        return spec

    def _grid(
        self, s: int, h: int, w: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        grid = self._grids.get((s, h, w))
        if grid is None:
            rows, cols = np.divmod(np.arange((h // s) * (w // s), dtype=np.float32), w // s)
            grid = self._grids[(s, h, w)] = (rows, cols)
        return grid

    def __call__(self, image: Image) -> list[Face]:
        """Faces in a BGR image, best first."""
        spec_in = self._input_for(*image.shape[:2])
        canvas, place = spec_in.fit(image)
        tensor = spec_in.to_tensor([canvas])
        raw = self.session.run(self._outputs, {self.spec.input.name: tensor})
        heads = dict(zip(self._outputs, raw, strict=True))
        boxes, scores, kps = [], [], []
        for s in self.strides:
            cls = np.clip(heads[f"cls_{s}"][0, :, 0], 0.0, 1.0)
            obj = np.clip(heads[f"obj_{s}"][0, :, 0], 0.0, 1.0)
            score = np.sqrt(cls * obj)
            keep = score >= self.conf
            if not keep.any():
                continue
            rows, cols = self._grid(s, spec_in.height, spec_in.width)
            rows, cols = rows[keep], cols[keep]
            b = heads[f"bbox_{s}"][0][keep]
            k = heads[f"kps_{s}"][0][keep]
            cx = (cols + b[:, 0]) * s
            cy = (rows + b[:, 1]) * s
            bw = np.exp(b[:, 2]) * s
            bh = np.exp(b[:, 3]) * s
            boxes.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1))
            lx = (cols[:, None] + k[:, 0::2]) * s
            ly = (rows[:, None] + k[:, 1::2]) * s
            kps.append(np.stack([lx, ly], axis=2))
            scores.append(score[keep])
        if not boxes:
            return []
        xyxy = place.to_source(np.concatenate(boxes).reshape(-1, 2, 2)).reshape(-1, 4)
        marks = place.to_source(np.concatenate(kps))
        conf = np.concatenate(scores)
        faces: list[Face] = []
        for i in nms(xyxy, conf, self.nms_iou)[: self.top_k]:
            x0, y0, x1, y1 = (float(v) for v in xyxy[i])
            if min(x1 - x0, y1 - y0) < self.min_face:
                continue
            faces.append(
                Face(x0, y0, x1 - x0, y1 - y0, float(conf[i]), marks[i].astype(np.float32))
            )
        return faces


def _setting(override: float | None, spec: ModelSpec, key: str, default: float) -> float:
    """A config override wins over the manifest's value, which wins over the default."""
    return float(override if override is not None else spec.param(key, default))


def nms(xyxy: npt.NDArray[np.floating], scores: npt.NDArray[np.floating], iou: float) -> list[int]:
    """Greedy non-maximum suppression; indices of kept boxes, best score first."""
    order = np.argsort(-scores, kind="stable")
    x0, y0, x1, y1 = xyxy[:, 0], xyxy[:, 1], xyxy[:, 2], xyxy[:, 3]
    areas = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
        ih = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        overlap = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
        order = rest[overlap <= iou]
    return keep


FaceDetector = Callable[[Image], list[Face]]

# decoder name in the manifest -> detector class; a new face detector family adds a line here.
DETECTORS: dict[str, type[YuNetDetector]] = {"yunet": YuNetDetector}


def make_detector(
    registry: ModelRegistry,
    spec: ModelSpec,
    *,
    conf_threshold: float | None = None,
    nms_iou: float | None = None,
    min_face_px: float | None = None,
) -> FaceDetector:
    try:
        cls = DETECTORS[spec.decoder]
    except KeyError:
        raise ValueError(
            f"model {spec.name!r}: unknown face detector decoder {spec.decoder!r} "
            f"(known: {', '.join(DETECTORS)})"
        ) from None
    return cls(
        registry, spec, conf_threshold=conf_threshold, nms_iou=nms_iou, min_face_px=min_face_px
    )
