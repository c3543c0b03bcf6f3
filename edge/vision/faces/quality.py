"""Face quality and per-track voting.

A track sees the same person over many frames; the best evidence is a large, sharp, frontal
face. The quality score weighs apparent size (pixels between the box edges) and sharpness
(variance of the Laplacian of the aligned chip, which is the same size for every face, so
values are comparable), scaled by the detector's confidence. Votes across a track are
weighted by it, so one blurred frame cannot outvote several clear ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from edge.vision.faces.detect import Face, Image
from edge.vision.faces.gallery import Match, MatchResult, Unknown


@dataclass(frozen=True, slots=True)
class QualityWeights:
    # a face this many pixels wide (the smaller box side) gets full size credit
    full_size_px: float = 112.0
    # Laplacian variance at which sharpness gets half credit
    sharpness_half: float = 60.0
    size_weight: float = 0.5
    sharpness_weight: float = 0.5


def sharpness(chip: Image) -> float:
    """Variance of the Laplacian of the grey chip: low for blurred or out-of-focus faces."""
    grey = cv2.cvtColor(chip, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def face_quality(face: Face, chip: Image, weights: QualityWeights | None = None) -> float:
    """0..1: detector confidence times a weighted mix of size and sharpness credits."""
    w = weights or QualityWeights()
    size_term = min(1.0, min(face.w, face.h) / w.full_size_px)
    sharp = sharpness(chip)
    sharp_term = sharp / (sharp + w.sharpness_half)
    mix = (w.size_weight * size_term + w.sharpness_weight * sharp_term) / (
        w.size_weight + w.sharpness_weight
    )
    return float(np.clip(face.score, 0.0, 1.0) * mix)


def vote(observations: Iterable[tuple[float, MatchResult]]) -> MatchResult:
    """One identity for a track from (quality, match) pairs.

    Each identity (and `unknown`) collects the sum of its observations' quality; the
    heaviest wins. The winner reports its smallest distance, so the event carries the best
    evidence seen. An empty track is unknown.
    """
    totals: dict[tuple[str, str] | None, float] = defaultdict(float)
    best: dict[tuple[str, str] | None, MatchResult] = {}
    for quality, result in observations:
        key = (result.gallery, result.person_id) if isinstance(result, Match) else None
        totals[key] += max(quality, 1e-6)
        prev = best.get(key)
        if prev is None or _distance(result) < _distance(prev):
            best[key] = result
    if not totals:
        return Unknown(nearest_distance=None)
    winner = max(totals, key=lambda k: totals[k])
    return best[winner]


def _distance(result: MatchResult) -> float:
    if isinstance(result, Match):
        return result.distance
    return result.nearest_distance if result.nearest_distance is not None else float("inf")
