from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.config.types import Section


class FaceVisionConfig(Section):
    detector: str = Field(
        default="face_detection_yunet_2023mar",
        title="Face detector",
        description="Model name in the manifest (kind face_detector).",
    )
    embedder: str = Field(
        default="dlib_resnet_faceapi_128d",
        title="Face embedding",
        description="Model name in the manifest (kind face_embedder); swap for a stronger one "
        "by adding it to the manifest, then re-enrol the galleries.",
    )
    match_threshold: float = Field(
        default=0.6,
        gt=0,
        title="Match threshold",
        description="Max embedding distance for a gallery match; above it the face is unknown.",
    )
    min_face_px: int = Field(
        default=40,
        ge=10,
        title="Minimum face size",
        description="Faces smaller than this many pixels (shorter side) are not recognised.",
    )


class PlateVisionConfig(Section):
    detector: Literal["auto", "320", "640"] = Field(
        default="auto",
        title="Plate detector",
        description="HyperLPR3 input size: auto runs 320 and falls back to 640 for small plates.",
    )
    reader: Literal["ppocr", "lprnet"] = Field(
        default="ppocr",
        title="Plate reader",
        description="PP-OCRv4 (accurate, all plate kinds) or LPRNet (small, no 学警港澳使领).",
    )
    min_confidence: float = Field(
        default=0.7,
        ge=0,
        le=1,
        title="Minimum read confidence",
        description="Reads below this are not reported as a plate.",
    )


class VisionConfig(Section):
    models_dir: Path = Field(
        default=Path("models"), title="Models folder", description="Where fetch-models put them."
    )
    manifest: Path = Field(
        default=Path("models/manifest.yaml"),
        title="Model manifest",
        description="File, checksum, input and preprocessing of every model.",
    )
    cpu_workers: int = Field(
        default=2, ge=1, le=64, title="Inference threads", description="Bounded executor size."
    )
    faces: FaceVisionConfig = Field(
        default_factory=FaceVisionConfig, title="Faces", description="Face recognition."
    )
    plates: PlateVisionConfig = Field(
        default_factory=PlateVisionConfig, title="Plates", description="Plate recognition."
    )
