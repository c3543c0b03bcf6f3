"""A small IoU/centroid tracker for plate boxes, so reads of one vehicle share a track ID.

Plates move little between sampled frames and rarely overlap each other, so greedy matching
on IoU (with a centroid fallback for fast or jumpy plates whose boxes no longer overlap) is
enough; no motion model. Deterministic: IDs count up from 1, ties go to the older track.

Position alone cannot tell two vehicles apart when one leaves and the next stops in about
the same place within a couple of samples (a barrier queue, or the demo's camera, whose
cars follow each other a second apart). Boxes may therefore carry a key, the plate text
read with confidence: a box whose key differs from every key of a track in more than
`max_key_changes` characters is another plate, whatever the geometry says. A misread
differs from the truth in a character or two; two plates almost always in more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

Box = tuple[float, float, float, float]


@dataclass(slots=True)
class Track:
    id: int
    box: Box
    first_frame: int
    last_frame: int
    first_ts: float
    last_ts: float
    hits: int = 1
    keys: set[str] = field(default_factory=set)


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    if not a or not b:
        return np.zeros((len(a), len(b)))
    aa, bb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    x1 = np.maximum(aa[:, None, 0], bb[None, :, 0])
    y1 = np.maximum(aa[:, None, 1], bb[None, :, 1])
    x2 = np.minimum(aa[:, None, 2], bb[None, :, 2])
    y2 = np.minimum(aa[:, None, 3], bb[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (aa[:, 2] - aa[:, 0]) * (aa[:, 3] - aa[:, 1])
    area_b = (bb[:, 2] - bb[:, 0]) * (bb[:, 3] - bb[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


class PlateTracker:
    """Assigns track IDs to plate boxes frame by frame; tracks end when unseen too long.

    A box joins a track when IoU >= `iou_threshold`, or when its centre is within
    `centroid_widths` plate widths of the track's last centre. A track ends once it has been
    unseen for more than `max_missed_frames` frames or `max_missed_seconds` seconds, whichever
    comes first (frames for steady streams, seconds for streams that stall).
    """

    def __init__(
        self,
        iou_threshold: float = 0.2,
        centroid_widths: float = 1.0,
        max_missed_frames: int = 10,
        max_missed_seconds: float = 2.0,
        max_key_changes: int = 2,
    ) -> None:
        self.iou_threshold = iou_threshold
        self.centroid_widths = centroid_widths
        self.max_missed_frames = max_missed_frames
        self.max_missed_seconds = max_missed_seconds
        self.max_key_changes = max_key_changes
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    def update(
        self,
        boxes: Sequence[Box],
        frame_index: int,
        ts: float,
        keys: Sequence[str] | None = None,
    ) -> list[int]:
        """Track ID for each box, in the same order. `keys[i]` ("" = unknown) is what
        box i says about its identity (see the module docstring)."""
        keys = keys if keys is not None else [""] * len(boxes)
        # a track unseen for too long is over even before `expire` removes it: a box in
        # this frame starts a new one rather than extending it
        live = sorted(
            (t for t in self.tracks.values() if not self._stale(t, frame_index, ts)),
            key=lambda t: t.id,
        )
        ious = iou_matrix([t.box for t in live], list(boxes))
        pairs: list[tuple[float, int, int]] = []
        for ti, track in enumerate(live):
            tcx, tcy = (track.box[0] + track.box[2]) / 2, (track.box[1] + track.box[3]) / 2
            tw = max(1.0, track.box[2] - track.box[0])
            for bi, box in enumerate(boxes):
                if not self._same_plate(track, keys[bi]):
                    continue
                iou = float(ious[ti, bi])
                dist = np.hypot((box[0] + box[2]) / 2 - tcx, (box[1] + box[3]) / 2 - tcy) / tw
                if iou >= self.iou_threshold or dist <= self.centroid_widths:
                    # IoU first; the centroid term only orders non-overlapping candidates.
                    pairs.append((iou + max(0.0, 1 - dist) * 0.01, ti, bi))
        pairs.sort(key=lambda p: (-p[0], live[p[1]].id, p[2]))
        ids: list[int | None] = [None] * len(boxes)
        used: set[int] = set()
        for _, ti, bi in pairs:
            if ti in used or ids[bi] is not None:
                continue
            used.add(ti)
            track = live[ti]
            track.box, track.last_frame, track.last_ts = boxes[bi], frame_index, ts
            track.hits += 1
            if keys[bi]:
                track.keys.add(keys[bi])
            ids[bi] = track.id
        for bi, box in enumerate(boxes):
            if ids[bi] is None:
                tid = self._next_id
                self._next_id += 1
                track = Track(tid, box, frame_index, frame_index, ts, ts)
                if keys[bi]:
                    track.keys.add(keys[bi])
                self.tracks[tid] = track
                ids[bi] = tid
        return [i for i in ids if i is not None]

    def _stale(self, track: Track, frame_index: int, ts: float) -> bool:
        return (
            frame_index - track.last_frame > self.max_missed_frames
            or ts - track.last_ts > self.max_missed_seconds
        )

    def _same_plate(self, track: Track, key: str) -> bool:
        if not key or not track.keys:
            return True
        return any(edit_distance(key, k) <= self.max_key_changes for k in track.keys)

    def expire(self, frame_index: int, ts: float) -> list[int]:
        """Remove and return the IDs of tracks unseen for too long (oldest first)."""
        gone = [
            t.id
            for t in sorted(self.tracks.values(), key=lambda t: t.id)
            if self._stale(t, frame_index, ts)
        ]
        for tid in gone:
            del self.tracks[tid]
        return gone

    def clear(self) -> list[int]:
        """End every track (stream stopped); returns their IDs."""
        gone = sorted(self.tracks)
        self.tracks.clear()
        return gone


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: a dropped or extra character counts one, like a swapped one."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
