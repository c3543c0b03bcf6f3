"""The demo's cameras are real H.264 (live view and GB/T 28181 plays need packets) and
still show the recognisers the same plates and faces as the stills they are made of."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import prereqs
import pytest
from prereqs import require

from edge.camera import CameraSession, SourceTiming
from edge.camera.files import FileSource
from edge.config import parse_config
from edge.sim import demo_camera
from edge.sim.rtsp import read_bgr

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
MODELS = ROOT / "models"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require((MODELS / "manifest.yaml").exists(), *prereqs.MODELS)
    require((SHARED / "images").is_dir(), *prereqs.SHARED_MIRROR)
    data = tmp_path_factory.mktemp("demo")
    demo_camera.build(data, SHARED, MODELS)
    return data


def _decoded(video: Path) -> list[np.ndarray]:
    with av.open(str(video)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def test_demo_config_plays_the_videos_that_build_makes(demo_dir: Path) -> None:
    text = (ROOT / "config" / "demo.yaml").read_text(encoding="utf-8")
    config = parse_config(text, "demo.yaml", {"EDGE_DATA_DIR": str(demo_dir)})
    fps = {"vehicle.mp4": demo_camera.VEHICLE_FPS, "pedestrian.mp4": demo_camera.PEDESTRIAN_FPS}
    for cam in config.cameras:
        assert cam.kind == "file"
        assert cam.path.exists(), cam.path
        assert cam.fps == fps[cam.path.name]
        with av.open(str(cam.path)) as container:
            assert container.streams.video[0].codec_context.name == "h264"


def test_a_second_build_reuses_the_videos(demo_dir: Path) -> None:
    videos = sorted((demo_dir / "camera").glob("*.mp4"))
    before = [v.stat().st_mtime_ns for v in videos]
    demo_camera.build(demo_dir, SHARED, MODELS)
    assert [v.stat().st_mtime_ns for v in videos] == before
    assert [v.name for v in videos] == ["pedestrian.mp4", "vehicle.mp4"]


def test_the_vehicle_video_reads_the_same_plates_as_its_stills(demo_dir: Path) -> None:
    from edge.vision.plates.pipeline import PlateReader
    from edge.vision.plates.sessions import default_registry

    reader = PlateReader(default_registry(MODELS, None, 1))
    stills = sorted((demo_dir / "camera" / "vehicle").glob("*.jpg"))
    frames = _decoded(demo_dir / "camera" / "vehicle.mp4")
    assert len(frames) == len(stills)

    def texts(image: np.ndarray) -> list[str]:
        return sorted(r.text for r in reader.read_frame(image))

    from_stills = [texts(img) for p in stills if (img := read_bgr(p)) is not None]
    from_video = [texts(f) for f in frames]
    assert from_video == from_stills
    assert sum(bool(t) for t in from_video) == len(demo_camera.PLATE_SCENES)


def test_the_pedestrian_video_matches_the_same_faces_as_its_stills(demo_dir: Path) -> None:
    from edge.vision.faces.pipeline import FacePipeline
    from edge.vision.models import ModelRegistry

    pipeline = FacePipeline(ModelRegistry.from_dir(MODELS))
    gallery = pipeline.open_gallery(demo_dir / "faces.db")
    stills = sorted((demo_dir / "camera" / "pedestrian").glob("*.jpg"))
    frames = _decoded(demo_dir / "camera" / "pedestrian.mp4")
    assert len(frames) == len(stills)

    def who(image: np.ndarray) -> list[str]:
        obs = pipeline.analyse(image)
        if not obs:
            return []
        results = gallery.match(np.stack([o.embedding for o in obs]))
        return [getattr(r, "name", "unknown") for r in results]

    from_stills = [who(img) for p in stills if (img := read_bgr(p)) is not None]
    assert [who(f) for f in frames] == from_stills
    names = {n for ns in from_stills for n in ns}
    assert {demo_camera.RESIDENT[0], demo_camera.WATCHLIST[0], "unknown"} <= names


async def test_the_demo_cameras_hand_out_h264_packets(demo_dir: Path) -> None:
    timing = SourceTiming(open_timeout_s=5, read_timeout_s=5)
    source = FileSource("gate", demo_dir / "camera" / "vehicle.mp4", timing, fps=20)
    session = CameraSession(source)
    sub = session.subscribe_packets(32, "live-view")
    task = asyncio.create_task(session.run())
    try:
        async with asyncio.timeout(20):
            first = await anext(sub)
    finally:
        session.close()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 15)
    assert first.keyframe and first.codec == "h264"
    assert (first.stream.width, first.stream.height) == (1280, 720)
