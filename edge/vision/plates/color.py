"""Plate colour and plate type.

The HyperLPR3 colour model only knows blue, green and yellow. White (police, military) and
black (Hong Kong/Macao, embassy, consulate) plates are decided from the text, which is far
more reliable than colour under street lighting, and from HSV statistics when the text says
nothing. The plate type then follows from format, colour and row count.
"""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.vision.image import BGRImage
from edge.vision.plates.grammar import PlateFormat, plate_format


class PlateColour(StrEnum):
    BLUE = "blue"
    GREEN = "green"
    YELLOW = "yellow"
    WHITE = "white"
    BLACK = "black"


class PlateType(StrEnum):
    BLUE = "blue"  # ordinary small car
    YELLOW = "yellow"  # large vehicle, single row (front)
    YELLOW_DOUBLE = "yellow_double"  # large vehicle, double row (rear)
    NEW_ENERGY_SMALL = "new_energy_small"  # green, 8 characters
    NEW_ENERGY_LARGE = "new_energy_large"  # yellow-green, 8 characters
    POLICE = "police"
    COACH = "coach"
    TRAILER = "trailer"
    HK_MACAO = "hk_macao"
    EMBASSY = "embassy"
    CONSULATE = "consulate"
    MILITARY = "military"
    FARM = "farm"
    DOUBLE_ROW = "double_row"  # some other double-row plate
    UNKNOWN = "unknown"


MODEL_CLASSES = (PlateColour.BLUE, PlateColour.GREEN, PlateColour.YELLOW)

_TEXT_COLOUR = {
    PlateFormat.POLICE: PlateColour.WHITE,
    PlateFormat.MILITARY: PlateColour.WHITE,
    PlateFormat.HK_MACAO: PlateColour.BLACK,
    PlateFormat.EMBASSY: PlateColour.BLACK,
    PlateFormat.CONSULATE: PlateColour.BLACK,
    PlateFormat.COACH: PlateColour.YELLOW,
    PlateFormat.TRAILER: PlateColour.YELLOW,
    PlateFormat.NEW_ENERGY_SMALL: PlateColour.GREEN,
}

_FORMAT_TYPE = {
    PlateFormat.POLICE: PlateType.POLICE,
    PlateFormat.MILITARY: PlateType.MILITARY,
    PlateFormat.HK_MACAO: PlateType.HK_MACAO,
    PlateFormat.EMBASSY: PlateType.EMBASSY,
    PlateFormat.CONSULATE: PlateType.CONSULATE,
    PlateFormat.COACH: PlateType.COACH,
    PlateFormat.TRAILER: PlateType.TRAILER,
    PlateFormat.NEW_ENERGY_SMALL: PlateType.NEW_ENERGY_SMALL,
    PlateFormat.NEW_ENERGY_LARGE: PlateType.NEW_ENERGY_LARGE,
    PlateFormat.FARM: PlateType.FARM,
}


class ColourClassifier:
    """HyperLPR3 colour model: [1,3,96,96] BGR /255 of the rectified plate."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input_name: str = session.get_inputs()[0].name

    def probabilities(self, plate: BGRImage) -> npt.NDArray[np.float32]:
        img = cv2.resize(plate, (96, 96), interpolation=cv2.INTER_LINEAR)
        blob = img.transpose(2, 0, 1)[None].astype(np.float32) * np.float32(1 / 255)
        (out,) = self.session.run(None, {self.input_name: blob})
        p = out[0].astype(np.float32)
        if p.min() < 0 or abs(float(p.sum()) - 1) > 1e-3:  # logits: normalise
            e = np.exp(p - p.max())
            p = e / e.sum()
        return p


def hsv_colour(plate: BGRImage) -> PlateColour | None:
    """White or black from the plate background when it is clearly unsaturated, else None.

    The background is the majority of a plate's pixels, so the median of the central area
    says the background colour; characters are a minority.
    """
    h, w = plate.shape[:2]
    core = plate[h // 5 : h - h // 5 or h, w // 10 : w - w // 10 or w]
    hsv = cv2.cvtColor(core, cv2.COLOR_BGR2HSV).reshape(-1, 3)
    sat = float(np.median(hsv[:, 1]))
    val = float(np.median(hsv[:, 2]))
    if sat < 50 and val > 150:
        return PlateColour.WHITE
    if val < 70:
        return PlateColour.BLACK
    return None


def colour_from_text(text: str) -> PlateColour | None:
    """The colour a plate format dictates (police white, 港澳 black, ...), else None."""
    return _TEXT_COLOUR.get(plate_format(text))  # type: ignore[arg-type]


def decide_colour(
    text: str, model_probs: npt.NDArray[np.float32] | None, hsv: PlateColour | None
) -> PlateColour:
    """Text rules first, then the colour model, then HSV when the model is unsure."""
    by_text = colour_from_text(text)
    if by_text is not None:
        return by_text
    if hsv is not None and (model_probs is None or float(model_probs.max()) < 0.8):
        return hsv
    if model_probs is None:
        return hsv or PlateColour.BLUE
    return MODEL_CLASSES[int(np.argmax(model_probs))]


def decide_type(text: str, colour: PlateColour, double_row: bool) -> PlateType:
    fmt = plate_format(text)
    if fmt in _FORMAT_TYPE:
        return _FORMAT_TYPE[fmt]
    if fmt is PlateFormat.ORDINARY:
        if colour is PlateColour.YELLOW:
            return PlateType.YELLOW_DOUBLE if double_row else PlateType.YELLOW
        if double_row:
            return PlateType.DOUBLE_ROW
        if colour is PlateColour.BLUE:
            return PlateType.BLUE
    if double_row:
        return PlateType.DOUBLE_ROW
    return PlateType.UNKNOWN
