"""Frame in, plate reads out: detect, rectify, read, validate, colour.

`PlateReader` holds only onnxruntime sessions and settings, and keeps no per-call state, so
one instance can serve several executor threads at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.vision.image import BGRImage
from edge.vision.plates import grammar
from edge.vision.plates import sessions as names
from edge.vision.plates.color import (
    MODEL_CLASSES,
    ColourClassifier,
    PlateColour,
    PlateType,
    colour_from_text,
    decide_colour,
    decide_type,
    hsv_colour,
)
from edge.vision.plates.detect import PlateDetection, PlateDetector
from edge.vision.plates.reader import (
    LPRNetReader,
    PPOCRReader,
    TextRead,
    TextReader,
    constrained,
)
from edge.vision.plates.rectify import rectify, side_by_side
from edge.vision.plates.sessions import (
    SessionSource,
    default_registry,
    model_name,
    model_param,
)
from edge.vision.plates.tracker import iou_matrix
from edge.vision.stages import STAGES

DetectorChoice = Literal["auto", "320", "640"]
ReaderChoice = Literal["ppocr", "lprnet"]

#: The colour model's probability above which its call can overrule a read's format.
SURE_COLOUR = 0.9
#: Extra horizontal margin of the re-read crop (a first character cut off at the edge).
REREAD_MARGIN_X = 0.08

#: Crops narrower than this may be double-row plates (440x220) rather than single (440x140).
AMBIGUOUS_ASPECT = 2.5


@dataclass(frozen=True, slots=True, eq=False)
class PlateRead:
    text: str
    confidence: float  # mean character confidence of the reader
    colour: PlateColour
    plate_type: PlateType
    corners: npt.NDArray[np.float32]  # [4, 2] TL, TR, BR, BL in frame pixels
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels
    double_row: bool
    crop: BGRImage  # the rectified plate
    valid: bool  # fits the plate grammar
    char_confidences: tuple[float, ...] = ()
    det_score: float = 1.0
    raw_text: str = ""  # the reader's own string, before normalising and repair
    #: the colour model's call when it was sure (≥ `SURE_COLOUR`), else None
    model_colour: PlateColour | None = None
    #: the read was changed or re-read to fit `model_colour` (see `PlateReader.agree`)
    recoloured: bool = False
    #: the reader's alternatives per position (for a repair the colour asks for)
    alternatives: tuple[grammar.Alternatives, ...] = ()
    #: not read in this frame: a settled track's read, placed at this frame's detection
    reused: bool = False

    @property
    def contradicts_colour(self) -> bool:
        """The text is a format no plate of the colour the model is sure of carries."""
        mc = self.model_colour
        return mc is not None and bool(self.text) and not grammar.fits_colour(self.text, mc)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly view, without the crop."""
        return {
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "colour": str(self.colour),
            "plate_type": str(self.plate_type),
            "valid": self.valid,
            "double_row": self.double_row,
            "box": [round(v, 1) for v in self.box],
            "corners": [[round(float(x), 1), round(float(y), 1)] for x, y in self.corners],
            "det_score": round(self.det_score, 4),
            "char_confidences": [round(c, 4) for c in self.char_confidences],
            "raw_text": self.raw_text,
        }


class PlateReader:
    """Detect and read Chinese plates in BGR frames (plain synchronous CPU work).

    detector="auto" runs the 320 detector (4x cheaper than 640, and it read as many of the
    test scenes) and falls back to the 640 one only when 320 finds nothing in a frame whose
    longer side exceeds `fallback_above_px` (960: main streams, not sub-streams). On the
    labelled scenes and CCPD photos fitted to 640x360 and 960x540 the fallback found no
    plate 320 missed, while on a gated sub-stream it ran on every frame without a plate
    (the 16-camera bench: 70 → 53 ms of CPU per analysed frame without it). On a main
    stream where most frames hold no plate it doubles the cost of an empty frame: choose
    "320" there. `small_plate_px` > 0 also falls back when a 320 detection is narrower
    than that in the 320 input.
    """

    def __init__(
        self,
        sessions: SessionSource | None = None,
        *,
        detector: DetectorChoice = "auto",
        reader: ReaderChoice = "ppocr",
        conf: float | None = None,
        nms_iou: float | None = None,
        colour_model: bool = True,
        small_plate_px: float = 0.0,
        refine_below_px: float = 48.0,
        refine_below_conf: float = 0.9,
        margin_x: float = 0.02,
        ppocr_width: int | None = 256,
    ) -> None:
        src = sessions or default_registry()

        def detector_for(stem: str) -> PlateDetector:
            name = model_name(src, stem)
            return PlateDetector(
                src.session(name),
                conf if conf is not None else model_param(src, name, "conf_threshold", 0.25),
                nms_iou if nms_iou is not None else model_param(src, name, "nms_iou", 0.5),
            )

        self.detector_choice = detector
        self.det320 = detector_for(names.DETECTOR_320) if detector in ("auto", "320") else None
        self.det640 = detector_for(names.DETECTOR_640) if detector in ("auto", "640") else None
        self.row_split = float(
            model_param(src, model_name(src, names.DETECTOR_320), "double_row_split", 0.4)
        )
        self.reader: TextReader = (
            PPOCRReader(src.session(model_name(src, names.PPOCR)), width=ppocr_width)
            if reader == "ppocr"
            else LPRNetReader(src.session(model_name(src, names.LPRNET)))
        )
        self.colour = (
            ColourClassifier(src.session(model_name(src, names.COLOUR))) if colour_model else None
        )
        self.small_plate_px = small_plate_px
        self.fallback_above_px = 960
        """Frames up to this long side are read by 320 alone (400 before issue 15)."""
        self.refine_below_px = refine_below_px
        self.refine_below_conf = refine_below_conf
        self.margin_x = margin_x

    # -- stages -------------------------------------------------------------------------

    def detect(self, bgr: BGRImage) -> list[PlateDetection]:
        return self._detect(bgr)[0]

    def _detect(self, bgr: BGRImage) -> tuple[list[PlateDetection], PlateDetector]:
        with STAGES.timed("plates", "detect"):
            return self._detect_untimed(bgr)

    def _detect_untimed(self, bgr: BGRImage) -> tuple[list[PlateDetection], PlateDetector]:
        if self.det320 is not None:
            dets = self.det320.detect(bgr)
            if self.det640 is None or not self._needs_640(bgr, dets):
                return dets, self.det320
        assert self.det640 is not None
        return self.det640.detect(bgr), self.det640

    def _needs_640(self, bgr: BGRImage, dets: list[PlateDetection]) -> bool:
        if max(bgr.shape[:2]) <= self.fallback_above_px:
            return False
        if not dets:
            return True
        scale = 320 / max(bgr.shape[:2])
        return min(d.width for d in dets) * scale < self.small_plate_px

    def _refine(
        self, bgr: BGRImage, det: PlateDetection, model: PlateDetector
    ) -> PlateDetection | None:
        """Re-detect a plate that was small in the model input on a window around it.

        A plate 40 px wide in the 320 input has corners good to a few frame pixels at best,
        and a skewed or clipped crop costs characters (a 警 at the edge, a 1 in a row of
        digits). One more run on a window about 3 plate widths wide places the corners at
        (nearly) full resolution. None when the plate was big enough or is not found again.
        """
        frame_h, frame_w = bgr.shape[:2]
        if det.width * model.size / max(frame_h, frame_w) >= self.refine_below_px:
            return None
        x1, y1, x2, y2 = det.box
        side = max(3.0 * det.width, 4.0 * (y2 - y1), 96.0)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        left = int(max(0, min(frame_w - side, cx - side / 2)))
        top = int(max(0, min(frame_h - side, cy - side / 2)))
        window = bgr[top : top + int(side), left : left + int(side)]
        best, best_iou = None, 0.3
        with STAGES.timed("plates", "detect"):
            found = model.detect(window)
        for cand in found:
            bx = (cand.box[0] + left, cand.box[1] + top, cand.box[2] + left, cand.box[3] + top)
            iou = float(iou_matrix([bx], [det.box])[0, 0])
            if iou > best_iou:
                best_iou = iou
                best = PlateDetection(
                    box=bx,
                    corners=cand.corners + np.array([left, top], np.float32),
                    score=det.score,
                    double_row=det.double_row,
                )
        return best

    def read_detections(self, bgr: BGRImage, dets: list[PlateDetection]) -> list[PlateRead]:
        """Rectify and read the detections in one reader batch."""
        with STAGES.timed("plates", "rectify"):
            crops = [rectify(bgr, d.corners, self.margin_x) for d in dets]
            lines = [
                side_by_side(c, self.row_split) if d.double_row else c
                for c, d in zip(crops, dets, strict=True)
            ]
        texts = self._read(lines)
        reads = [
            self._finish(c, t, d.corners, d.box, d.double_row, d.score)
            for c, t, d in zip(crops, texts, dets, strict=True)
        ]
        for i, (r, d) in enumerate(zip(reads, dets, strict=True)):
            if r.contradicts_colour:
                reads[i] = self.agree(
                    r, partial(rectify, bgr, d.corners, self.margin_x + REREAD_MARGIN_X)
                )
        return reads

    # -- public -------------------------------------------------------------------------

    def read_frame(
        self, bgr: BGRImage, reuse: Callable[[PlateDetection], PlateRead | None] | None = None
    ) -> list[PlateRead]:
        """Every plate found in the frame, best detection first; empty reads are dropped.

        Small plates whose read is invalid or under `refine_below_conf` are re-detected on
        a window and read again; the better of the two reads is kept. A clean read costs
        nothing extra. `reuse` may answer a detection with a read it already has (a
        settled track, see `PlatePasses.reusable`): that plate is not read again.
        """
        dets, model = self._detect(bgr)
        kept = [reuse(d) if reuse is not None else None for d in dets]
        fresh = iter(
            self.read_detections(bgr, [d for d, k in zip(dets, kept, strict=True) if k is None])
        )
        reads = [k if k is not None else next(fresh) for k in kept]
        redo = [
            (i, r)
            for i, d in enumerate(dets)
            if (not reads[i].valid or reads[i].confidence < self.refine_below_conf)
            and (r := self._refine(bgr, d, model)) is not None
        ]
        if redo:
            again = self.read_detections(bgr, [r for _, r in redo])
            for (i, _), new in zip(redo, again, strict=True):
                if (new.valid, new.confidence) > (reads[i].valid, reads[i].confidence):
                    reads[i] = new
        return [r for r in reads if r.text]

    def read_crop(self, crop: BGRImage, double_row: bool | None = None) -> PlateRead:
        """Read an already rectified plate.

        With `double_row=None` a crop narrower than 2.5:1 (double-row plates are 2:1, single
        ones 3:1, but hand-made crops are cut loosely) is read both ways in one batch, and the
        valid, then more confident, reading wins.
        """
        h, w = crop.shape[:2]
        corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
        box = (0.0, 0.0, float(w), float(h))
        if double_row is None and w / max(h, 1) >= AMBIGUOUS_ASPECT:
            double_row = False
        if double_row is not None:
            line = side_by_side(crop, self.row_split) if double_row else crop
            (text,) = self._read([line])
            read = self._finish(crop, text, corners, box, double_row, 1.0)
            return self.agree(read, None) if read.contradicts_colour else read
        single, double = self._read([crop, side_by_side(crop, self.row_split)])
        use_double = (double.valid, double.confidence) > (single.valid, single.confidence)
        text = double if use_double else single
        read = self._finish(crop, text, corners, box, use_double, 1.0)
        return self.agree(read, None) if read.contradicts_colour else read

    def _read(self, lines: list[BGRImage]) -> list[TextRead]:
        if not lines:
            return []
        with STAGES.timed("plates", "read"):
            return self.reader.read_batch(lines)

    def _finish(
        self,
        crop: BGRImage,
        text: TextRead,
        corners: npt.NDArray[np.float32],
        box: tuple[float, float, float, float],
        double_row: bool,
        det_score: float,
    ) -> PlateRead:
        probs = None
        by_text = colour_from_text(text.text)
        with STAGES.timed("plates", "colour"):
            if self.colour is not None and by_text in (None, PlateColour.GREEN):
                probs = self.colour.probabilities(crop)
            hsv = hsv_colour(crop)
        sure = None
        if probs is not None and float(probs.max()) >= SURE_COLOUR:
            sure = MODEL_CLASSES[int(np.argmax(probs))]
        colour = decide_colour(text.text, probs, hsv)
        return PlateRead(
            text=text.text,
            confidence=text.confidence,
            colour=colour,
            plate_type=decide_type(text.text, colour, double_row),
            corners=corners,
            box=box,
            double_row=double_row,
            crop=crop,
            valid=text.valid,
            char_confidences=text.char_confidences,
            det_score=det_score,
            raw_text=text.raw,
            model_colour=sure,
            alternatives=text.alternatives,
        )

    def agree(self, read: PlateRead, wider: Callable[[], BGRImage] | None = None) -> PlateRead:
        """A read whose format the plate's colour rules out (a green plate read with 7
        characters, a blue one as new energy), read again before any vote sees it.

        In order, cheapest first: a certain repair (a shape twin at a position whose class
        the format fixes), the most probable fitting string from the read's own
        alternatives, then a fresh read of a crop with wider margins (a character cut off
        at the edge). The first that fits the colour wins; if none does, the read stays
        as it was (the colour model is wrong sometimes too) and the vote weighs it.
        """
        colour = read.model_colour
        assert colour is not None
        allowed = grammar.COLOUR_FORMATS[colour]
        certain = grammar.certain_repair(read.text, colour)
        if certain is not None:
            confs = read.char_confidences
            return self._recoloured(read, certain, confs, read.crop)
        fixed = constrained(read.alternatives, allowed)
        if fixed is not None:
            return self._recoloured(read, fixed[0], fixed[1], read.crop)
        if wider is None:
            return read
        crop = wider()
        line = side_by_side(crop, self.row_split) if read.double_row else crop
        (again,) = self._read([line])
        if again.valid and grammar.fits_colour(again.text, colour):
            return self._recoloured(read, again.text, again.char_confidences, crop)
        fixed = constrained(again.alternatives, allowed)
        if fixed is not None:
            return self._recoloured(read, fixed[0], fixed[1], crop)
        return read

    def _recoloured(
        self, read: PlateRead, text: str, confs: tuple[float, ...], crop: BGRImage
    ) -> PlateRead:
        colour = decide_colour(text, None, read.model_colour)
        return dataclasses.replace(
            read,
            text=text,
            confidence=sum(confs) / len(confs) if confs else 0.0,
            char_confidences=confs,
            colour=colour,
            plate_type=decide_type(text, colour, read.double_row),
            valid=grammar.is_valid(text),
            crop=crop,
            recoloured=True,
        )
