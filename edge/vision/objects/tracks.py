"""Object tracks: detections of one class joined frame to frame, each with its best crop.

The same greedy IoU/centroid tracker as plates (`edge.vision.plates.tracker`), one per
class, so a person getting off a motorcycle never inherits the motorcycle's track. A
track keeps the crop of its best view (score × √area: big and sure beats small and sure)
as pixels; it becomes a JPEG only when a rule raises an alarm with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edge.vision.objects.detect import Box, ObjectDetection
from edge.vision.plates.tracker import PlateTracker

CROP_MARGIN = 0.1


@dataclass(slots=True)
class ObjectTrack:
    """One object followed over time, in frame pixels."""

    id: int
    label: str
    box: Box
    score: float
    first_ts: float
    last_ts: float
    hits: int = 1
    best_rank: float = 0.0
    best_crop: np.ndarray | None = field(default=None, repr=False)


def crop(image: np.ndarray, box: Box, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The box (frame pixels) with a small margin, cut from `image` (at `offset`)."""
    ox, oy = offset
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    h, w = image.shape[:2]
    return image[
        max(0, int(y1 - my - oy)) : min(h, int(y2 + my - oy)),
        max(0, int(x1 - mx - ox)) : min(w, int(x2 + mx - ox)),
    ].copy()


class ObjectTracks:
    """The live object tracks of one camera; IDs are unique across classes."""

    def __init__(self, max_missed_frames: int = 10, max_missed_s: float = 3.0) -> None:
        self._trackers: dict[str, PlateTracker] = {}
        self._max_frames = max_missed_frames
        self._max_s = max_missed_s
        self._ids: dict[tuple[str, int], int] = {}
        self._next = 1
        self.live: dict[int, ObjectTrack] = {}

    def feed(
        self,
        detections: Sequence[ObjectDetection],
        frame_index: int,
        ts: float,
        image: np.ndarray,
        offset: tuple[int, int] = (0, 0),
    ) -> list[ObjectTrack]:
        """Update with one frame's detections (frame pixels); returns the tracks that ended."""
        by_label: dict[str, list[ObjectDetection]] = {}
        for d in detections:
            by_label.setdefault(d.label, []).append(d)
        for label, dets in by_label.items():
            tracker = self._trackers.setdefault(
                label,
                PlateTracker(
                    iou_threshold=0.2,
                    centroid_widths=0.5,
                    max_missed_frames=self._max_frames,
                    max_missed_seconds=self._max_s,
                ),
            )
            local = tracker.update([d.box for d in dets], frame_index, ts)
            for lid, d in zip(local, dets, strict=True):
                self._observe(label, lid, d, ts, image, offset)
        ended: list[ObjectTrack] = []
        for label, tracker in self._trackers.items():
            for lid in tracker.expire(frame_index, ts):
                gid = self._ids.pop((label, lid), None)
                if gid is not None:
                    ended.append(self.live.pop(gid))
        return ended

    def flush(self) -> list[ObjectTrack]:
        """End every track (the camera went quiet)."""
        for tracker in self._trackers.values():
            tracker.clear()
        self._ids.clear()
        ended = sorted(self.live.values(), key=lambda t: t.id)
        self.live.clear()
        return ended

    def _observe(
        self,
        label: str,
        lid: int,
        d: ObjectDetection,
        ts: float,
        image: np.ndarray,
        offset: tuple[int, int],
    ) -> None:
        gid = self._ids.get((label, lid))
        if gid is None:
            gid = self._ids[(label, lid)] = self._next
            self._next += 1
            track = self.live[gid] = ObjectTrack(gid, label, d.box, d.score, ts, ts, hits=0)
        else:
            track = self.live[gid]
        track.box, track.score, track.last_ts = d.box, d.score, ts
        track.hits += 1
        rank = d.score * math.sqrt(d.area)
        if rank > track.best_rank:
            track.best_rank = rank
            track.best_crop = crop(image, d.box, offset)
