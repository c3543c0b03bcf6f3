"""Cameras → recognition → one event per pass, in the daemon.

Each camera is a supervised task: its source reconnects by itself, its sampler
drops the oldest frame when analysis lags (counted), and inference runs in the
runtime's bounded CPU pool. Models load lazily, once, on the first camera that
needs them, so the daemon is ready in well under a second without them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.camera import Sample, make_sampler, open_source
from edge.camera.source import FrameSource
from edge.config.cameras import CameraConfig
from edge.events import ImageRef, ImageRole
from edge.payloads import FaceMatch, FacePayload, PlatePayload
from edge.runtime import Runtime
from edge.vision.face_passes import FacePass, FacePasses
from edge.vision.faces.gallery import Match, watch_gallery
from edge.vision.plates.vote import PlatePass, PlatePasses, crop_score

log = logging.getLogger(__name__)

IDLE_FLUSH_S = 2.0
SCENE_MAX_WIDTH = 1280


def jpeg(image: np.ndarray, quality: int = 85, max_width: int | None = None) -> bytes:
    if max_width and image.shape[1] > max_width:
        scale = max_width / image.shape[1]
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf)


def _in_frame(box: Sequence[float], offset: tuple[int, int]) -> list[float]:
    """A box found in the ROI crop, in the camera frame's pixels."""
    ox, oy = offset
    x1, y1, x2, y2 = box
    return [round(x1 + ox, 1), round(y1 + oy, 1), round(x2 + ox, 1), round(y2 + oy, 1)]


class Engines:
    """The recognisers, built once and shared by every camera (sessions are thread-safe)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._lock = asyncio.Lock()
        self.plates: Any = None
        self.faces: Any = None
        self.load_s: dict[str, float] = {}

    async def need(self, pipelines: Sequence[str]) -> None:
        async with self._lock:
            if "plates" in pipelines and self.plates is None:
                self.plates = await self._load("plates", self._plates)
            if "faces" in pipelines and self.faces is None:
                self.faces = await self._load("faces", self._faces)
                gallery = self.faces.gallery
                self.rt.supervisor.spawn("faces.gallery", lambda: watch_gallery(gallery))

    async def _load(self, what: str, fn: Any) -> Any:
        began = time.perf_counter()
        engine = await asyncio.get_running_loop().run_in_executor(None, fn)
        self.load_s[what] = round(time.perf_counter() - began, 2)
        log.info("%s models loaded in %.2fs", what, self.load_s[what])
        return engine

    def _registry(self) -> Any:
        from edge.vision.plates.sessions import default_registry

        v = self.rt.config.vision
        return default_registry(Path(v.models_dir), Path(v.manifest))

    def _plates(self) -> Any:
        from edge.vision.plates.pipeline import PlateReader

        p = self.rt.config.vision.plates
        return PlateReader(self._registry(), detector=p.detector, reader=p.reader)

    def _faces(self) -> Any:
        from edge.vision.faces.pipeline import FacePipeline, FaceRecognizer
        from edge.vision.faces.settings import FaceSettings

        pipeline = FacePipeline(
            self._registry(), FaceSettings.from_config(self.rt.config.vision.faces)
        )
        gallery = pipeline.open_gallery(self.rt.store.data_dir / "faces.db")
        return FaceRecognizer(pipeline, gallery)


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
class _Analysis:
    plates: list[Any] = field(default_factory=list)
    faces: list[Any] = field(default_factory=list)
    ms: float = 0.0


class CameraWorker:
    def __init__(self, cfg: CameraConfig, rt: Runtime, engines: Engines) -> None:
        self.cfg = cfg
        self.rt = rt
        self.engines = engines
        self.source: FrameSource | None = None
        self.sampler: Any = None
        self.frames_analysed = 0
        self.events = 0
        self.dropped_reads = 0
        self.last_analysis_ms = 0.0
        # per open plate track, per text read: (rank, scene JPEG) of its best read so far
        self._plate_scenes: dict[int, dict[str, tuple[tuple[float, float, float], bytes]]] = {}
        self._offset = (0, 0)
        self.plate_passes = PlatePasses()
        self.face_passes: FacePasses | None = None

    def state(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.cfg.id,
            "name": self.cfg.name,
            "role": self.cfg.role,
            "pipelines": list(self.cfg.pipelines),
            "frames_analysed": self.frames_analysed,
            "events": self.events,
            "low_confidence_passes": self.dropped_reads,
            "last_analysis_ms": round(self.last_analysis_ms, 1),
        }
        if self.source is not None:
            doc["source"] = self.source.state.to_dict()
        if self.sampler is not None:
            doc["sampler"] = dataclasses.asdict(self.sampler.stats)
        return doc

    async def run(self) -> None:
        pipelines = list(self.cfg.pipelines)
        await self.engines.need(pipelines)
        if self.engines.faces is not None and "faces" in pipelines:
            recognizer = self.engines.faces
            # a new face this far from the track's mean is someone else (same person: < threshold)
            split = recognizer.pipeline.threshold + 0.1
            self.face_passes = FacePasses(recognizer.gallery.match, split_distance=split)
        self.source = open_source(self.cfg, max_output_fps=self.cfg.analysis_fps)
        self.sampler = make_sampler(self.cfg)
        feeder = asyncio.create_task(self.sampler.run(self.source.frames()))
        try:
            while True:
                try:
                    sample = await asyncio.wait_for(self.sampler.get(), IDLE_FLUSH_S)
                except TimeoutError:
                    if feeder.done():
                        feeder.result()
                        return
                    await self._emit(*await self.rt.cpu.run(self._flush_sync))
                    continue
                await self._emit(*await self.rt.cpu.run(self._step_sync, sample))
        finally:
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)

    # Pass bookkeeping runs in the CPU pool with the inference: a face pass ends with a
    # gallery match (milliseconds at 100k entries) that must not stall the loop. Each camera
    # has one step in flight at a time, so its trackers are never touched concurrently.

    def _flush_sync(self) -> tuple[list[tuple[PlatePass, bytes]], list[FacePass]]:
        faces = self.face_passes.flush() if self.face_passes else []
        return self._with_scenes(self.plate_passes.flush()), faces

    def _step_sync(self, sample: Sample) -> tuple[list[tuple[PlatePass, bytes]], list[FacePass]]:
        result = self._analyse_sync(sample)
        self.frames_analysed += 1
        self.last_analysis_ms = result.ms
        self._offset = sample.offset
        frame = sample.frame
        scene = _Scene(frame.image)
        plate_passes: list[tuple[PlatePass, bytes]] = []
        if "plates" in self.cfg.pipelines:
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
                lambda i: (self._face_crop(sample.image, faces[i][2]), scene.jpeg()),
            )
        return plate_passes, face_passes

    def _keep_scene(self, tid: int, read: Any, scene: _Scene) -> None:
        """Encode a scene only when a read beats its track's best for the same text: the
        voted pass shows its best read of the winning text (see `plates.vote`)."""
        best = self._plate_scenes.setdefault(tid, {})
        key = (crop_score(read), read.box[2] - read.box[0], read.confidence)
        if read.text not in best or key > best[read.text][0]:
            best[read.text] = (key, scene.jpeg())

    def _with_scenes(self, ended: list[PlatePass]) -> list[tuple[PlatePass, bytes]]:
        out = []
        for p in ended:
            kept = self._plate_scenes.pop(p.track_id, {}).get(p.vote.text)
            out.append((p, kept[1] if kept else b""))
        for tid in set(self._plate_scenes) - set(self.plate_passes.open):
            del self._plate_scenes[tid]  # tracks that ended without a vote
        return out

    def _analyse_sync(self, sample: Sample) -> _Analysis:
        began = time.perf_counter()
        out = _Analysis()
        image = sample.image
        ox, oy = sample.offset
        pipelines = self.cfg.pipelines
        if "plates" in pipelines and self.engines.plates is not None:
            out.plates = self.engines.plates.read_frame(image)
        faces: list[Any] = []
        if "faces" in pipelines and self.engines.faces is not None:
            for obs in self.engines.faces.pipeline.analyse(image):
                f = obs.face
                x1, y1, x2, y2 = float(f.x), float(f.y), float(f.x + f.w), float(f.y + f.h)
                box = (x1 + ox, y1 + oy, x2 + ox, y2 + oy)
                faces.append((obs, box, (x1, y1, x2, y2)))
        out.faces = faces
        out.ms = (time.perf_counter() - began) * 1000
        return out

    @staticmethod
    def _face_crop(image: np.ndarray, box: tuple[float, float, float, float]) -> bytes:
        x1, y1, x2, y2 = box
        mx, my = (x2 - x1) * 0.3, (y2 - y1) * 0.3
        h, w = image.shape[:2]
        crop = image[
            max(0, int(y1 - my)) : min(h, int(y2 + my)), max(0, int(x1 - mx)) : min(w, int(x2 + mx))
        ]
        return jpeg(crop, 90) if crop.size else b""

    async def _images(
        self, crop: bytes, crop_role: ImageRole, scene: bytes
    ) -> tuple[ImageRef, ...]:
        """A face crop is biometric data and a plate crop is not: the role says which, so
        a destination's policy can withhold `face_crop` by name."""
        refs = []
        if crop:
            refs.append(await self.rt.store.save_image(crop, crop_role))
        if scene:
            refs.append(await self.rt.store.save_image(scene, ImageRole.SCENE))
        return tuple(refs)

    async def _emit(self, plates: list[tuple[PlatePass, bytes]], faces: list[FacePass]) -> None:
        for p, scene in plates:
            await self._emit_plate(p, scene)
        for f in faces:
            await self._emit_face(f)

    async def _emit_plate(self, p: PlatePass, scene: bytes) -> None:
        v = p.vote
        if not v.text or v.confidence < self.rt.config.vision.plates.min_confidence:
            self.dropped_reads += 1
            return
        crop = await self.rt.cpu.run(jpeg, v.best.crop, 95) if v.best.crop.size else b""
        images = await self._images(crop, ImageRole.PLATE_CROP, scene)
        payload = PlatePayload(
            camera=self.cfg.id,
            track_id=p.track_id,
            plate=v.text,
            colour=str(v.colour),
            plate_type=str(v.plate_type),
            valid=v.valid,
            double_row=v.double_row,
            confidence=round(v.confidence, 4),
            reads=v.reads,
            box=_in_frame(v.best.box, self._offset),
            first_seen=p.first_ts,
            last_seen=p.last_ts,
        )
        await self.rt.flow.emit(payload.event(self.cfg.id, images=images))
        self.events += 1

    async def _emit_face(self, f: FacePass) -> None:
        m = f.match
        if isinstance(m, Match):
            match = FaceMatch(
                "watchlist" if m.gallery == "watchlist" else "resident",
                gallery=m.gallery,
                name=m.name,
                person_id=m.person_id,
                distance=round(m.distance, 4),
            )
        else:
            nearest = getattr(m, "nearest_distance", None)
            match = FaceMatch("unknown", nearest_distance=nearest and round(nearest, 4))
        images = await self._images(f.crop_jpeg, ImageRole.FACE_CROP, f.scene_jpeg)
        payload = FacePayload(
            camera=self.cfg.id,
            track_id=f.track_id,
            match=match,
            confidence=round(f.det_score, 4),
            quality=round(f.quality, 4),
            observations=f.observations,
            box=[round(x, 1) for x in f.box],
            first_seen=f.first_ts,
            last_seen=f.last_ts,
        )
        await self.rt.flow.emit(payload.event(self.cfg.id, images=images))
        self.events += 1  # a watchlist match raises its alarm in a reactor (edge.rules)


async def start(rt: Runtime) -> None:
    cameras = [c for c in rt.config.cameras if c.enabled]
    if not cameras:
        return
    engines = Engines(rt)
    workers = {c.id: CameraWorker(c, rt, engines) for c in cameras}
    for cam_id, worker in workers.items():
        rt.supervisor.spawn(f"camera.{cam_id}", worker.run)
    rt.services["cameras"] = workers
    rt.add_health("cameras", lambda: {cid: w.state() for cid, w in workers.items()})
    rt.add_health("models", lambda: {"load_s": engines.load_s})
