from __future__ import annotations

from pathlib import Path

from pydantic import Field

from edge.config.types import Section


class FaceVisionConfig(Section):
    detector: str = Field(
        default="face_detection_yunet_2023mar", title="Face detector (manifest name)"
    )
    embedder: str = Field(
        default="dlib_resnet_faceapi_128d", title="Face embedding model (manifest name)"
    )
    match_threshold: float = Field(
        default=0.6,
        gt=0,
        title="Match threshold",
        description="Max embedding distance for a gallery match; above it the face is unknown.",
    )
    min_face_px: int = Field(default=40, ge=10, title="Minimum face size (px)")


class PlateVisionConfig(Section):
    detector: str = Field(default="hyperlpr3_y5fu_320x_sim", title="Plate detector")
    reader: str = Field(default="rapidocr_ch_PP-OCRv4_rec_infer", title="Plate reader")
    color: str = Field(default="hyperlpr3_litemodel_cls_96x_r1", title="Plate colour classifier")
    min_confidence: float = Field(default=0.7, ge=0, le=1, title="Minimum read confidence")


class VisionConfig(Section):
    models_dir: Path = Field(
        default=Path("models"), title="Models folder", description="Where fetch-models put them."
    )
    manifest: Path = Field(default=Path("models/manifest.yaml"), title="Model manifest")
    cpu_workers: int = Field(
        default=2, ge=1, le=64, title="Inference threads", description="Bounded executor size."
    )
    faces: FaceVisionConfig = Field(default_factory=FaceVisionConfig)
    plates: PlateVisionConfig = Field(default_factory=PlateVisionConfig)
