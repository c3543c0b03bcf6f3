"""Face tracks → one decision per person passing, not one per frame.

Observations of a track are combined by a quality-weighted mean of their
embeddings (face size × sharpness, from `face_quality`), matched once against
the galleries when the track ends. A blurred, small, side-on frame then counts
for little, and one lucky frame cannot outvote a dozen good ones. A track whose
new face is far from its mean (well past the match threshold) is split: at a
sampled rate, one person can replace another in the same spot between frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.vision.faces.gallery import MatchResult
from edge.vision.faces.pipeline import FaceObservation
from edge.vision.plates.tracker import PlateTracker

Box = tuple[float, float, float, float]


@dataclass
class _Track:
    first_ts: float
    last_ts: float
    embeddings: list[npt.NDArray[np.float32]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    best: FaceObservation | None = None
    best_box: Box = (0.0, 0.0, 0.0, 0.0)
    best_crop: bytes = b""
    best_scene: bytes = b""


@dataclass(frozen=True)
class FacePass:
    track_id: int
    match: MatchResult
    observations: int
    quality: float
    det_score: float
    box: Box
    crop_jpeg: bytes
    scene_jpeg: bytes
    first_ts: float
    last_ts: float


class FacePasses:
    """Face tracks of one camera. A track ends when unseen for more than
    `max_missed_seconds` (1.5: at 1 analysed fps one missed sample keeps a track, two end
    it; at 2.0 a person seen again exactly two samples later sat on the boundary and was
    one pass or two depending on a few ms of decode jitter)."""

    def __init__(
        self,
        matcher: Callable[[npt.NDArray[np.float32]], list[MatchResult]],
        max_missed_frames: int = 8,
        max_missed_seconds: float = 1.5,
        max_observations: int = 32,
        split_distance: float = 0.9,
    ) -> None:
        self.matcher = matcher
        self.split_distance = split_distance
        self.tracker = PlateTracker(
            iou_threshold=0.2,
            max_missed_frames=max_missed_frames,
            max_missed_seconds=max_missed_seconds,
        )
        self.tracks: dict[int, _Track] = {}
        self.max_observations = max_observations

    def feed(
        self,
        observations: Sequence[FaceObservation],
        boxes: Sequence[Box],
        frame_index: int,
        ts: float,
        crops: Callable[[int], tuple[bytes, bytes]],
    ) -> list[FacePass]:
        """Add one frame; `crops(i)` encodes (crop, scene) JPEGs only when observation i is
        the best of its track so far, so encoding cost follows improvements, not frames."""
        ids = self.tracker.update(list(boxes), frame_index, ts)
        ended: list[FacePass] = []
        for i, (tid, obs) in enumerate(zip(ids, observations, strict=True)):
            track = self.tracks.get(tid)
            if track is not None and self._someone_else(track, obs):
                # one person left and another stepped into the same spot between samples
                ended += self._close([tid])
                track = None
            if track is None:
                track = self.tracks[tid] = _Track(ts, ts)
            track.last_ts = ts
            if len(track.embeddings) < self.max_observations:
                track.embeddings.append(obs.embedding)
                track.weights.append(max(obs.quality, 1e-3))
            if track.best is None or obs.quality > track.best.quality:
                track.best, track.best_box = obs, boxes[i]
                track.best_crop, track.best_scene = crops(i)
        return ended + self._close(self.tracker.expire(frame_index, ts))

    def _someone_else(self, track: _Track, obs: FaceObservation) -> bool:
        w = np.asarray(track.weights, dtype=np.float32)
        mean = (np.stack(track.embeddings) * w[:, None]).sum(axis=0) / w.sum()
        return float(np.linalg.norm(mean - obs.embedding)) > self.split_distance

    def flush(self) -> list[FacePass]:
        return self._close(self.tracker.clear())

    def _close(self, ids: Sequence[int]) -> list[FacePass]:
        out: list[FacePass] = []
        for tid in ids:
            track = self.tracks.pop(tid, None)
            if track is None or track.best is None:
                continue
            w = np.asarray(track.weights, dtype=np.float32)
            mean = (np.stack(track.embeddings) * w[:, None]).sum(axis=0) / w.sum()
            [match] = self.matcher(mean[None, :].astype(np.float32))
            out.append(
                FacePass(
                    tid,
                    match,
                    len(track.embeddings),
                    float(track.best.quality),
                    float(track.best.face.score),
                    track.best_box,
                    track.best_crop,
                    track.best_scene,
                    track.first_ts,
                    track.last_ts,
                )
            )
        return out
