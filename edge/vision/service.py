"""Cameras → recognition → one event per pass, in the daemon.

Each camera has one shared session (`edge.camera.session`, `rt.cameras`), opened once
and supervised on its own; its worker here is one frame consumer of it: the sampler
(rate, motion gate, ROI) is fed on the loop and drops the oldest sample when analysis
lags (counted), and the per-frame analysis (`edge.vision.analysis.FrameAnalyser`, the
code the vision bench measures) runs in the runtime's bounded CPU pool. Models load
lazily, once, on the first camera that needs them, so the daemon is ready in well
under a second without them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge.camera.factory import make_sampler, open_session
from edge.camera.sampler import Sample, Sampler
from edge.camera.session import CameraSession
from edge.camera.source import FrameSource
from edge.config import EdgeConfig
from edge.config.cameras import CameraConfig
from edge.events import ImageRef, ImageRole
from edge.payloads import FaceMatch, FacePayload, PlatePayload
from edge.runtime import Runtime
from edge.scene.runner import Outcome, SceneActions, SceneRules, plates_in_view
from edge.scene.worker import FallingWorker
from edge.vision.analysis import FrameAnalyser, PlateEnded, jpeg
from edge.vision.face_passes import FacePass
from edge.vision.faces.gallery import Match, watch_gallery
from edge.vision.plates.vote import PlatePass, reportable

log = logging.getLogger(__name__)

IDLE_FLUSH_S = 2.0


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
        self.objects: Any = None
        self.load_s: dict[str, float] = {}

    async def need(self, pipelines: Sequence[str]) -> None:
        async with self._lock:
            if "plates" in pipelines and self.plates is None:
                self.plates = await self._load("plates", self._plates)
            if "faces" in pipelines and self.faces is None:
                self.faces = await self._load("faces", self._faces)
                gallery = self.faces.gallery
                self.rt.supervisor.spawn("faces.gallery", lambda: watch_gallery(gallery))
            if "objects" in pipelines and self.objects is None:
                self.objects = await self._load("objects", self._objects)

    async def _load(self, what: str, fn: Any) -> Any:
        began = time.perf_counter()
        engine = await asyncio.get_running_loop().run_in_executor(None, fn)
        self.load_s[what] = round(time.perf_counter() - began, 2)
        log.info("%s models loaded in %.2fs", what, self.load_s[what])
        return engine

    def _plates(self) -> Any:
        return plate_reader(self.rt.config)

    def _objects(self) -> Any:
        from edge.vision.objects.detect import ObjectDetector

        reg = _registry(self.rt.config)
        spec = reg.pick("object_detector")
        return ObjectDetector(
            reg.session(spec.name),
            spec.param("labels"),
            conf=spec.param("conf_threshold", 0.3),
            nms_iou=spec.param("nms_iou", 0.45),
        )

    def _faces(self) -> Any:
        return face_recognizer(self.rt.config, self.rt.store.data_dir)


def _registry(config: EdgeConfig) -> Any:
    from edge.vision.plates.sessions import default_registry

    v = config.vision
    return default_registry(Path(v.models_dir), Path(v.manifest))


def plate_reader(config: EdgeConfig) -> Any:
    """The plate reader the daemon builds from `vision.plates` (tests build the same one)."""
    from edge.vision.plates.pipeline import PlateReader

    p = config.vision.plates
    return PlateReader(_registry(config), detector=p.detector, reader=p.reader)


def face_recognizer(config: EdgeConfig, data_dir: Path) -> Any:
    """The face pipeline of `vision.faces` with the gallery in `data_dir`/faces.db."""
    from edge.vision.faces.pipeline import FacePipeline, FaceRecognizer
    from edge.vision.faces.settings import FaceSettings

    pipeline = FacePipeline(_registry(config), FaceSettings.from_config(config.vision.faces))
    return FaceRecognizer(pipeline, pipeline.open_gallery(data_dir / "faces.db"))


class CameraWorker:
    def __init__(
        self, cfg: CameraConfig, rt: Runtime, engines: Engines, session: CameraSession
    ) -> None:
        self.cfg = cfg
        self.rt = rt
        self.engines = engines
        self.session = session
        self.sampler: Sampler | None = None
        self.analyser: FrameAnalyser | None = None
        self.events = 0
        self.dropped_reads = 0
        self._offset = (0, 0)
        self.scene = SceneRules(cfg.rules)
        self.scene_actions = SceneActions(rt, cfg.id, cfg.rules)
        self._scene_out: list[Outcome] = []
        self.falling = FallingWorker(rt, session, cfg.rules, self.scene_actions)

    @property
    def source(self) -> FrameSource:
        """The camera's source (kept for readers of `rt.services["cameras"]`; prefer
        `rt.cameras.session(id).state`)."""
        return self.session.source

    def state(self) -> dict[str, Any]:
        a = self.analyser
        doc: dict[str, Any] = {
            "id": self.cfg.id,
            "name": self.cfg.name,
            "role": self.cfg.role,
            "pipelines": list(self.cfg.pipelines),
            "frames_analysed": a.frames_analysed if a else 0,
            "events": self.events,
            "low_confidence_passes": self.dropped_reads,
            "last_analysis_ms": round(a.last_analysis_ms, 1) if a else 0.0,
            "source": self.session.state.to_dict(),
            "session": self.session.health(),
        }
        if self.sampler is not None:
            doc["sampler"] = dataclasses.asdict(self.sampler.stats)
        if self.cfg.rules:
            doc["scene"] = {
                "raised": self.scene_actions.raised,
                "cleared": self.scene_actions.cleared,
                **({"falling": self.falling.stats()} if self.falling.detectors else {}),
            }
        return doc

    async def run(self) -> None:
        pipelines = list(self.cfg.pipelines)
        await self.engines.need(pipelines)
        self.analyser = FrameAnalyser.for_camera(
            pipelines,
            plates=self.engines.plates,
            recognizer=self.engines.faces,
            objects=self.engines.objects,
            object_classes=self.cfg.object_classes,
        )
        self.sampler = sampler = make_sampler(self.cfg)
        frames = self.session.subscribe_frames("analysis", sampler.offer)
        try:
            while True:
                try:
                    sample = await asyncio.wait_for(sampler.get(), IDLE_FLUSH_S)
                except TimeoutError:
                    await self._emit(*await self.rt.cpu.run(self._flush_sync))
                    await self.scene_actions.apply(self._take_scene())
                    continue
                await self._emit(*await self.rt.cpu.run(self._step_sync, sample))
                await self.scene_actions.apply(self._take_scene())
        finally:
            frames.close()

    def _flush_sync(self) -> tuple[PlateEnded, list[FacePass]]:
        assert self.analyser is not None
        out = self.analyser.flush()
        self._scene_out += self.scene.observe([], time.time(), None)
        return out

    def _take_scene(self) -> list[Outcome]:
        out, self._scene_out = self._scene_out, []
        return out

    def _step_sync(self, sample: Sample) -> tuple[PlateEnded, list[FacePass]]:
        assert self.analyser is not None
        plates, faces, result = self.analyser.step(sample)
        if log.isEnabledFor(logging.DEBUG):
            parts = " ".join(f"{k}={v:.1f}ms" for k, v in result.stages.items())
            log.debug("camera %s: analysed in %.1f ms: %s", self.cfg.id, result.ms, parts)
        self._offset = sample.offset
        if self.scene.rules:
            live = self.analyser.object_tracks.live.values()
            passes, offset = self.analyser.plate_passes, sample.offset
            floor = self.rt.config.vision.plates.min_confidence
            self._scene_out += self.scene.observe(
                live,
                sample.frame.wall,
                sample.frame.image,
                lambda: plates_in_view(passes, offset, floor),  # empty without `plates`
            )
        return plates, faces

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
        if not reportable(v, self.rt.config.vision.plates.min_confidence):
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
        self.scene_actions.saw_plate(v.text, p.last_ts)

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
    """One shared session per enabled camera (in `rt.cameras`, for analysis, live view
    and GB/T 28181 plays alike), and an analysis worker on each."""
    cameras = [c for c in rt.config.cameras if c.enabled]
    if not cameras:
        return
    from edge.scene import relays

    relays.start(rt)  # before the workers: it stops after them, releasing what they held
    engines = Engines(rt)
    workers: dict[str, CameraWorker] = {}
    for cfg in cameras:
        session = open_session(cfg)
        rt.cameras.add(session)
        rt.supervisor.spawn(f"camera.{cfg.id}", session.run)
        workers[cfg.id] = CameraWorker(cfg, rt, engines, session)
        if cfg.pipelines:
            rt.supervisor.spawn(f"vision.{cfg.id}", workers[cfg.id].run)
        if workers[cfg.id].falling.detectors:
            rt.supervisor.spawn(f"scene.{cfg.id}.falling", workers[cfg.id].falling.run)
    rt.services["cameras"] = workers
    rt.add_health("cameras", lambda: {cid: w.state() for cid, w in workers.items()})
    rt.add_health("models", lambda: {"load_s": engines.load_s})
