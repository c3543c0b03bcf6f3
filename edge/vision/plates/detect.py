"""HyperLPR3 y5fu plate detector: boxes, four corners and single/double-row class.

The model output is [1, N, 15]: cx, cy, w, h, obj, TL, TR, BR, BL corners (x, y), then the
single-row and double-row class scores. Decoding is vectorised over all N anchors (25,200 at
640), so there is no per-anchor Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.vision.image import BGRImage, letterbox

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True, eq=False)
class PlateDetection:
    """One plate in frame pixels."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    corners: F32  # [4, 2]: TL, TR, BR, BL
    score: float
    double_row: bool

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]


class PlateDetector:
    """Runs one y5fu session; stateless between calls, so safe to share across threads."""

    def __init__(
        self, session: ort.InferenceSession, conf: float = 0.25, nms_iou: float = 0.5
    ) -> None:
        self.session = session
        inp = session.get_inputs()[0]
        self.input_name: str = inp.name
        self.size = int(inp.shape[2])
        self.conf = conf
        self.nms_iou = nms_iou

    def preprocess(self, bgr: BGRImage) -> tuple[F32, float, int, int]:
        canvas, lb = letterbox(bgr, self.size, centred=True, pad_value=0)
        rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        blob = rgb.transpose(2, 0, 1)[None].astype(np.float32) * np.float32(1 / 255)
        return blob, lb.scale, lb.left, lb.top

    def detect(self, bgr: BGRImage) -> list[PlateDetection]:
        blob, scale, left, top = self.preprocess(bgr)
        (out,) = self.session.run(None, {self.input_name: blob})
        return decode(out[0], scale, left, top, self.conf, self.nms_iou, bgr.shape[:2])


def decode(
    raw: F32,
    scale: float,
    left: int,
    top: int,
    conf: float,
    nms_iou: float,
    frame_hw: tuple[int, ...] | None = None,
) -> list[PlateDetection]:
    """Turn [N, 15] model rows into detections in frame pixels, best first."""
    rows = raw[raw[:, 4] > conf]
    if rows.size == 0:
        return []
    cls = rows[:, 13:15] * rows[:, 4:5]
    scores = cls.max(axis=1)
    keep = scores > conf
    rows, cls, scores = rows[keep], cls[keep], scores[keep]
    if rows.size == 0:
        return []
    xywh = rows[:, :4]
    boxes = np.empty_like(xywh)
    boxes[:, :2] = xywh[:, :2] - xywh[:, 2:] / 2
    boxes[:, 2:] = xywh[:, :2] + xywh[:, 2:] / 2
    idx = cv2.dnn.NMSBoxes(
        [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes],
        scores.astype(float).tolist(),
        conf,
        nms_iou,
    )
    order = np.asarray(idx, dtype=np.int64).reshape(-1)
    order = order[np.argsort(-scores[order], kind="stable")]
    geo = np.concatenate([boxes[order], rows[order, 5:13]], axis=1)
    geo[:, 0::2] = (geo[:, 0::2] - left) / scale
    geo[:, 1::2] = (geo[:, 1::2] - top) / scale
    if frame_hw is not None:
        h, w = frame_hw[0], frame_hw[1]
        geo[:, 0::2] = geo[:, 0::2].clip(0, w - 1)
        geo[:, 1::2] = geo[:, 1::2].clip(0, h - 1)
    double = cls[order, 1] > cls[order, 0]
    return [
        PlateDetection(
            box=(float(g[0]), float(g[1]), float(g[2]), float(g[3])),
            corners=g[4:12].reshape(4, 2).astype(np.float32),
            score=float(scores[i]),
            double_row=bool(d),
        )
        for g, i, d in zip(geo, order, double, strict=True)
    ]
