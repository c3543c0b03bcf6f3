"""Face settings the installer may set in the `vision:` config section.

Every field is optional: unset means "what the manifest says", so swapping a model in the
manifest brings its own thresholds along unless the site deliberately overrides them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from edge.config.vision import FaceVisionConfig


class FaceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detector: str | None = Field(
        None, description="manifest name of the face detector (default: the only one)"
    )
    embedder: str | None = Field(
        None, description="manifest name of the face embedder (default: the only one)"
    )
    match_threshold: float | None = Field(
        None, gt=0, description="euclidean distance below which a face matches (default: manifest)"
    )
    conf_threshold: float | None = Field(None, gt=0, lt=1, description="detector confidence")
    min_face_px: float | None = Field(
        None, ge=0, description="ignore faces narrower than this, in source pixels"
    )
    enroll_min_face_px: float = Field(
        60, ge=0, description="enrolment photos must show the face at least this wide"
    )
    intra_op_threads: int = Field(1, ge=1, description="onnxruntime threads per session")

    @classmethod
    def from_config(cls, faces: FaceVisionConfig, intra_op_threads: int = 1) -> FaceSettings:
        """Settings from the daemon config's `vision.faces` section."""
        return cls(
            detector=faces.detector,
            embedder=faces.embedder,
            match_threshold=faces.match_threshold,
            min_face_px=faces.min_face_px,
            intra_op_threads=intra_op_threads,
        )
