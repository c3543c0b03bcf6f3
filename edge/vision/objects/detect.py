"""YOLOX-Nano: COCO-80 boxes from one BGR frame.

The graph takes a 416×416 BGR image, raw 0–255, letterboxed to the top-left and padded
with 114 (what the model was trained with), and returns [1, 3549, 85] rows in grid units:
cx, cy, w, h, objectness, 80 class scores. Decoding is vectorised over the three strides;
class filtering happens before NMS so a camera that only wants vehicles pays for nothing else.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.vision.image import BGRImage, letterbox

F32 = npt.NDArray[np.float32]
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class ObjectDetection:
    """One object in the pixels of the image it was found in."""

    label: str
    box: Box
    score: float

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


def _grid(size: int, strides: Sequence[int]) -> tuple[F32, F32]:
    cells, scale = [], []
    for s in strides:
        n = size // s
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        cells.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
        scale.append(np.full((n * n, 1), s))
    return (
        np.concatenate(cells).astype(np.float32),
        np.concatenate(scale).astype(np.float32),
    )


class ObjectDetector:
    """Runs one YOLOX session; stateless between calls, so safe to share across threads."""

    def __init__(
        self,
        session: ort.InferenceSession,
        labels: Sequence[str],
        *,
        strides: Sequence[int] = (8, 16, 32),
        conf: float = 0.3,
        nms_iou: float = 0.45,
        pad_value: int = 114,
    ) -> None:
        self.session = session
        inp = session.get_inputs()[0]
        self.input_name: str = inp.name
        self.size = int(inp.shape[2])
        self.labels = [str(x).replace(" ", "_") for x in labels]
        self.conf = conf
        self.nms_iou = nms_iou
        self.pad_value = pad_value
        self.grid, self.strides = _grid(self.size, strides)

    def label_ids(self, names: Collection[str]) -> list[int]:
        """Class indices for names (spaces or underscores); unknown names raise."""
        out = []
        for n in names:
            key = n.replace(" ", "_")
            if key not in self.labels:
                raise ValueError(f"unknown COCO class {n!r}")
            out.append(self.labels.index(key))
        return sorted(out)

    def detect(self, bgr: BGRImage, classes: Sequence[int] | None = None) -> list[ObjectDetection]:
        """Objects of the given class indices (None: all), best first."""
        canvas, lb = letterbox(bgr, self.size, centred=False, pad_value=self.pad_value)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        (out,) = self.session.run(None, {self.input_name: blob})
        return self.decode(out[0], lb.scale, bgr.shape[:2], classes)

    def decode(
        self,
        raw: F32,
        scale: float,
        frame_hw: tuple[int, ...],
        classes: Sequence[int] | None = None,
    ) -> list[ObjectDetection]:
        obj = raw[:, 4]
        keep = obj > self.conf
        if not keep.any():
            return []
        rows, cells, strides = raw[keep], self.grid[keep], self.strides[keep]
        cls = rows[:, 5:]
        if classes is not None:
            cls = cls[:, list(classes)]
        best = cls.argmax(axis=1)
        scores = rows[:, 4] * cls[np.arange(len(cls)), best]
        keep = scores > self.conf
        if not keep.any():
            return []
        rows, cells, strides = rows[keep], cells[keep], strides[keep]
        best, scores = best[keep], scores[keep]
        ids = np.asarray(classes)[best] if classes is not None else best
        xy = (rows[:, :2] + cells) * strides
        wh = np.exp(rows[:, 2:4]) * strides
        boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1) / scale
        h, w = frame_hw[0], frame_hw[1]
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w - 1)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h - 1)
        # per-class NMS: a person on a motorcycle keeps both boxes
        idx = cv2.dnn.NMSBoxesBatched(
            [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes],
            scores.astype(float).tolist(),
            ids.astype(int).tolist(),
            self.conf,
            self.nms_iou,
        )
        order = np.asarray(idx, dtype=np.int64).reshape(-1)
        order = order[np.argsort(-scores[order], kind="stable")]
        return [
            ObjectDetection(
                self.labels[int(ids[i])],
                (float(boxes[i, 0]), float(boxes[i, 1]), float(boxes[i, 2]), float(boxes[i, 3])),
                float(scores[i]),
            )
            for i in order
        ]
