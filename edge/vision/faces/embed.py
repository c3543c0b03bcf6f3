"""Face embedding: aligned chips in, one vector per face out, batched in one run.

Chip size, channel order, normalisation, alignment template, output dimension and whether
to L2-normalise all come from the embedder's manifest entry, so a stronger model (another
input size, normalisation or dimension) is a manifest edit, not a code change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge.vision.faces.align import align_face, template_pixels
from edge.vision.faces.detect import Face, Image
from edge.vision.models import ModelRegistry, ModelSpec

Embeddings = npt.NDArray[np.float32]

KNOWN_DECODERS = {"dlib128", "embedding"}


class FaceEmbedder:
    """Thread-safe: the session is shared, everything else is read-only."""

    def __init__(self, registry: ModelRegistry, spec: ModelSpec) -> None:
        if spec.decoder not in KNOWN_DECODERS:
            raise ValueError(
                f"model {spec.name!r}: unknown face embedder decoder {spec.decoder!r} "
                f"(known: {', '.join(sorted(KNOWN_DECODERS))})"
            )
        template = spec.param("align_template")
        if template is None or len(template) != 5:
            raise ValueError(f"model {spec.name!r}: params.align_template needs 5 [x, y] points")
        self.spec = spec
        self.session = registry.session(spec.name)
        self.width = spec.input.width
        self.height = spec.input.height
        self.dim = _output_dim(spec)
        self.output = spec.outputs[0].name
        self.padding = float(spec.param("align_padding", 0.0))
        self.template_px = template_pixels(template, self.padding, self.width, self.height)
        self.l2_normalize = bool(spec.param("l2_normalize", False))
        self.threshold = float(spec.param("distance_threshold", 0.6))
        self.max_batch = int(spec.param("max_batch", 16)) if spec.input.batched else 1
        # Embeddings from different models live in different spaces: galleries key on this.
        self.model_key = f"{spec.name}:{spec.sha256[:12]}"

    def align(self, image: Image, faces: Sequence[Face]) -> list[Image]:
        return [
            align_face(image, f.landmarks, self.template_px, self.width, self.height) for f in faces
        ]

    def embed_chips(self, chips: Sequence[Image]) -> Embeddings:
        """(n, dim) float32 embeddings of aligned BGR chips, in as few runs as allowed."""
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(chips), self.max_batch):
            tensor = self.spec.input.to_tensor(chips[start : start + self.max_batch])
            (out,) = self.session.run([self.output], {self.spec.input.name: tensor})
            parts.append(np.asarray(out, dtype=np.float32).reshape(len(tensor), -1))
        emb = np.concatenate(parts)
        if emb.shape[1] != self.dim:
            raise ValueError(
                f"model {self.spec.name!r} produced {emb.shape[1]}-d vectors, "
                f"manifest says {self.dim}"
            )
        if self.l2_normalize:
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        return emb


def _output_dim(spec: ModelSpec) -> int:
    dim = spec.outputs[0].shape[-1]
    if dim is None:
        raise ValueError(f"model {spec.name!r}: the embedding output needs a fixed last dimension")
    return int(dim)
