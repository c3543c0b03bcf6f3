from __future__ import annotations

from pathlib import Path

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
    detector: str = Field(
        default="hyperlpr3_y5fu_320x_sim",
        title="Plate detector",
        description="Model name in the manifest (kind plate_detector).",
    )
    reader: str = Field(
        default="rapidocr_ch_PP-OCRv4_rec_infer",
        title="Plate reader",
        description="Model name in the manifest (kind plate_reader): PP-OCRv4 or LPRNet.",
    )
    color: str = Field(
        default="hyperlpr3_litemodel_cls_96x_r1",
        title="Plate colour classifier",
        description="Model name in the manifest (kind plate_color).",
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
