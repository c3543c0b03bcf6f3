"""The face pipeline: detect, align, embed (one batched run per frame), score, match.

Everything here is plain synchronous CPU work meant for the daemon's bounded executor; the
objects hold only shared onnxruntime sessions and read-only parameters, so one pipeline
serves every worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.vision.faces.detect import Face, FaceDetector, Image, make_detector
from edge.vision.faces.embed import FaceEmbedder
from edge.vision.faces.gallery import FaceGallery, MatchResult
from edge.vision.faces.quality import QualityWeights, face_quality
from edge.vision.faces.settings import FaceSettings
from edge.vision.models import ModelRegistry
from edge.vision.stages import STAGES


@dataclass(frozen=True, slots=True, eq=False)
class FaceObservation:
    face: Face
    chip: Image
    embedding: npt.NDArray[np.float32]
    quality: float


@dataclass(frozen=True, slots=True, eq=False)
class Recognition:
    observation: FaceObservation
    match: MatchResult


class FacePipeline:
    def __init__(
        self,
        registry: ModelRegistry,
        settings: FaceSettings | None = None,
        quality: QualityWeights | None = None,
    ) -> None:
        self.settings = settings or FaceSettings()
        det_spec = registry.pick("face_detector", self.settings.detector)
        emb_spec = registry.pick("face_embedder", self.settings.embedder)
        self.detector: FaceDetector = make_detector(
            registry,
            det_spec,
            conf_threshold=self.settings.conf_threshold,
            min_face_px=self.settings.min_face_px,
        )
        self.embedder = FaceEmbedder(registry, emb_spec)
        self.quality_weights = quality or QualityWeights()

    @property
    def threshold(self) -> float:
        """Match threshold: the site's override, else the embedder's manifest value."""
        if self.settings.match_threshold is not None:
            return self.settings.match_threshold
        return self.embedder.threshold

    def detect(self, image: Image) -> list[Face]:
        with STAGES.timed("faces", "detect"):
            return self.detector(image)

    def describe(self, image: Image, faces: list[Face]) -> list[FaceObservation]:
        """Align and embed the given faces of one image in a single batched run."""
        if not faces:
            return []
        with STAGES.timed("faces", "align"):
            chips = self.embedder.align(image, faces)
        with STAGES.timed("faces", "embed"):
            emb = self.embedder.embed_chips(chips)
        return [
            FaceObservation(f, c, e, face_quality(f, c, self.quality_weights))
            for f, c, e in zip(faces, chips, emb, strict=True)
        ]

    def analyse(self, image: Image) -> list[FaceObservation]:
        return self.describe(image, self.detect(image))

    def open_gallery(self, db_path: str | Path) -> FaceGallery:
        """A gallery keyed on this pipeline's embedder and threshold."""
        return FaceGallery(
            db_path,
            model_key=self.embedder.model_key,
            dim=self.embedder.dim,
            threshold=self.threshold,
        )


class FaceRecognizer:
    """Pipeline + gallery: what a camera worker calls once per sampled frame."""

    def __init__(self, pipeline: FacePipeline, gallery: FaceGallery) -> None:
        if gallery.dim != pipeline.embedder.dim:
            raise ValueError(
                f"gallery holds {gallery.dim}-d embeddings, embedder makes {pipeline.embedder.dim}"
            )
        self.pipeline = pipeline
        self.gallery = gallery

    def recognize(self, image: Image) -> list[Recognition]:
        observations = self.pipeline.analyse(image)
        if not observations:
            return []
        matches = self.gallery.match(np.stack([o.embedding for o in observations]))
        return [Recognition(o, m) for o, m in zip(observations, matches, strict=True)]
