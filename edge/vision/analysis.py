"""One camera's per-frame analysis: recognisers on a sample, tracks, passes and the
JPEGs an event keeps.

This is the code the daemon runs for every sampled frame (`CameraWorker` calls it in
the CPU pool) and the code `scripts/bench/vision.py` measures: one path, so the bench
cannot drift from what the daemon does. Pass bookkeeping runs here, with the inference,
because a face pass ends with a gallery match (milliseconds at 100k entries) that must
not stall the loop. A camera has one step in flight at a time, so its trackers are never
touched concurrently.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from edge.camera.sampler import Sample
from edge.vision.face_passes import FacePass, FacePasses
from edge.vision.objects.tracks import ObjectTrack, ObjectTracks
from edge.vision.plates.vote import PlatePass, PlatePasses, crop_score
from edge.vision.stages import STAGES

SCENE_MAX_WIDTH = 1280

PlateEnded = list[tuple[PlatePass, bytes]]
"""Plate passes that ended, each with the scene JPEG of its best read (b"" if none)."""


def jpeg(image: np.ndarray, quality: int = 85, max_width: int | None = None) -> bytes:
    if max_width and image.shape[1] > max_width:
        scale = max_width / image.shape[1]
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf)


def face_crop(image: np.ndarray, box: tuple[float, float, float, float]) -> bytes:
    """The face with a 30 % margin, as the event's crop JPEG."""
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * 0.3, (y2 - y1) * 0.3
    h, w = image.shape[:2]
    crop = image[
        max(0, int(y1 - my)) : min(h, int(y2 + my)), max(0, int(x1 - mx)) : min(w, int(x2 + mx))
    ]
    return jpeg(crop, 90) if crop.size else b""


class _Scene:
    """A frame's JPEG, encoded on first use only: most frames never become an event's scene."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image
        self._jpeg: bytes | None = None

    def jpeg(self) -> bytes:
        if self._jpeg is None:
            self._jpeg = jpeg(self.image, 80, SCENE_MAX_WIDTH)
        return self._jpeg


@dataclass
class Analysis:
    """What the recognisers found in one sample (boxes of faces in frame pixels)."""

    plates: list[Any] = field(default_factory=list)
    faces: list[Any] = field(default_factory=list)
    """(observation, box in the frame, box in the sample image) per face."""
    objects: list[Any] = field(default_factory=list)
    """`ObjectDetection`s with boxes in frame pixels."""
    ms: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    """ms per `pipeline.stage` (the names `/metrics` labels `edge_model_stage_seconds` with)."""


class FrameAnalyser:
    """The recognisers and pass trackers of one camera.

    `plates` is a `PlateReader`, `faces` a `FacePipeline` (None: that recogniser is
    off or not loaded); `face_passes` matches each ended face track once."""

    def __init__(
        self,
        pipelines: Sequence[str],
        *,
        plates: Any = None,
        faces: Any = None,
        face_passes: FacePasses | None = None,
        objects: Any = None,
        object_classes: Sequence[str] = (),
        reuse_settled: bool = True,
    ) -> None:
        self.pipelines = tuple(pipelines)
        self.reuse_settled = reuse_settled
        """Skip reading a plate whose track is settled (`PlatePasses.reusable`)."""
        self.objects = objects if "objects" in self.pipelines else None
        self.object_classes = (
            objects.label_ids(object_classes) if self.objects and object_classes else None
        )
        self.object_tracks = ObjectTracks()
        self.objects_ended: list[ObjectTrack] = []
        """Object tracks that ended with the last `step` or `flush`."""
        self.plates = plates if "plates" in self.pipelines else None
        self.faces = faces if "faces" in self.pipelines else None
        self.plate_passes = PlatePasses()
        self.face_passes = face_passes if self.faces is not None else None
        self.frames_analysed = 0
        self.last_analysis_ms = 0.0
        # per open plate track, per text read: (rank, scene JPEG) of its best read so far
        self._plate_scenes: dict[int, dict[str, tuple[tuple[float, float, float], bytes]]] = {}

    @classmethod
    def for_camera(
        cls,
        pipelines: Sequence[str],
        *,
        plates: Any = None,
        recognizer: Any = None,
        objects: Any = None,
        object_classes: Sequence[str] = (),
    ) -> FrameAnalyser:
        """The analyser a camera worker runs: `recognizer` is a `FaceRecognizer` (pipeline
        and gallery), whose ended face tracks are matched against its gallery."""
        face_passes = None
        if recognizer is not None and "faces" in pipelines:
            # a new face this far from the track's mean is someone else (same person: < threshold)
            split = recognizer.pipeline.threshold + 0.1
            face_passes = FacePasses(recognizer.gallery.match, split_distance=split)
        return cls(
            pipelines,
            plates=plates,
            faces=recognizer.pipeline if recognizer is not None else None,
            face_passes=face_passes,
            objects=objects,
            object_classes=object_classes,
        )

    def analyse(self, sample: Sample) -> Analysis:
        """The recognisers only (no tracking): plate reads and faces in one sample."""
        began = time.perf_counter()
        out = Analysis()
        with STAGES.frame_stages() as out.stages:
            self._analyse(sample, out)
        out.ms = (time.perf_counter() - began) * 1000
        return out

    def _analyse(self, sample: Sample, out: Analysis) -> None:
        image = sample.image
        ox, oy = sample.offset
        if self.plates is not None:
            reuse = self.plate_passes.reusable if self.reuse_settled else None
            out.plates = self.plates.read_frame(image, reuse)
        if self.faces is not None:
            for obs in self.faces.analyse(image):
                f = obs.face
                x1, y1, x2, y2 = float(f.x), float(f.y), float(f.x + f.w), float(f.y + f.h)
                out.faces.append((obs, (x1 + ox, y1 + oy, x2 + ox, y2 + oy), (x1, y1, x2, y2)))
        if self.objects is not None:
            with STAGES.timed("objects", "detect"):
                found = self.objects.detect(image, self.object_classes)
            out.objects = [
                replace(d, box=(d.box[0] + ox, d.box[1] + oy, d.box[2] + ox, d.box[3] + oy))
                for d in found
            ]

    def step(self, sample: Sample) -> tuple[PlateEnded, list[FacePass], Analysis]:
        """Analyse one sample and feed the trackers: the passes that ended with it."""
        result = self.analyse(sample)
        self.frames_analysed += 1
        self.last_analysis_ms = result.ms
        frame = sample.frame
        scene = _Scene(frame.image)
        plate_passes: PlateEnded = []
        if self.plates is not None:
            ended = self.plate_passes.feed(result.plates, frame.seq, frame.wall)
            for tid, read in zip(self.plate_passes.last_ids, result.plates, strict=True):
                self._keep_scene(tid, read, scene)
            plate_passes = self._with_scenes(ended)
        face_passes: list[FacePass] = []
        if self.face_passes is not None:
            faces = result.faces
            face_passes = self.face_passes.feed(
                [f[0] for f in faces],
                [f[1] for f in faces],
                frame.seq,
                frame.wall,
                lambda i: (face_crop(sample.image, faces[i][2]), scene.jpeg()),
            )
        if self.objects is not None:
            self.objects_ended = self.object_tracks.feed(
                result.objects, frame.seq, frame.wall, sample.image, sample.offset
            )
        return plate_passes, face_passes, result

    def flush(self) -> tuple[PlateEnded, list[FacePass]]:
        """End the passes of a camera that went quiet (no sample for a while)."""
        faces = self.face_passes.flush() if self.face_passes else []
        self.objects_ended = self.object_tracks.flush()
        return self._with_scenes(self.plate_passes.flush()), faces

    def _keep_scene(self, tid: int, read: Any, scene: _Scene) -> None:
        """Encode a scene only when a read beats its track's best for the same text: the
        voted pass shows its best read of the winning text (see `plates.vote`)."""
        best = self._plate_scenes.setdefault(tid, {})
        key = (crop_score(read), read.box[2] - read.box[0], read.confidence)
        if read.text not in best or key > best[read.text][0]:
            best[read.text] = (key, scene.jpeg())

    def _with_scenes(self, ended: list[PlatePass]) -> PlateEnded:
        out = []
        for p in ended:
            kept = self._plate_scenes.pop(p.track_id, {}).get(p.vote.text)
            out.append((p, kept[1] if kept else b""))
        for tid in set(self._plate_scenes) - set(self.plate_passes.open):
            del self._plate_scenes[tid]  # tracks that ended without a vote
        return out
