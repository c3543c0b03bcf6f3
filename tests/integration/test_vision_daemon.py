"""The daemon watching a real RTSP camera: one event per vehicle pass, right text, images saved;
faces matched against an enrolled gallery."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from prereqs import MODELS as MODELS_NEEDED
from prereqs import SHARED_MIRROR, needs, require

from edge.app import Daemon
from edge.config import parse_config
from edge.sim import rtsp as sim

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "images"
SCENES = SHARED / "plates" / "scenes"
FACES = SHARED / "faces" / "deepface"
MODELS = ROOT / "models"

pytestmark = [
    needs((MODELS / "manifest.yaml").exists(), *MODELS_NEEDED),
    needs(SCENES.is_dir(), *SHARED_MIRROR),
]

CONFIG = """\
config_version: 1
site: {{name: 测试小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data}}}
web: {{listen: "127.0.0.1:0"}}
vision: {{models_dir: {models}, manifest: {models}/manifest.yaml, cpu_workers: 2}}
cameras:
  - id: gate1
    kind: {kind}
    {where}
    analysis_fps: 4
    pipelines: [{pipelines}]
    motion_gate: {{enabled: false}}
"""


async def _events(d: Daemon, kind: str) -> list[dict]:  # type: ignore[type-arg]
    return list(reversed(await d.store.events(kind=kind, limit=1000)))


async def _wait_for(d: Daemon, kind: str, n: int, timeout_s: float) -> list[dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = await _events(d, kind)
        if len(got) >= n:
            return got
        await asyncio.sleep(0.2)
    pytest.fail(f"only {len(await _events(d, kind))} {kind} events after {timeout_s}s")


@pytest.fixture
async def plate_camera(tmp_path: Path) -> AsyncIterator[sim.RtspServer]:
    reason = sim.unavailable_reason()
    require(reason is None, "GStreamer's RTSP server", str(reason))
    frames = tmp_path / "frames"
    blank = tmp_path / "blank.jpg"
    cv2.imwrite(str(blank), np.full((720, 1280, 3), 90, np.uint8))
    # car A, empty lane, car B, empty lane: each still held 1.5 s, looped
    order = [SCENES / "we0091234_hongkang1.jpg", blank, SCENES / "zeusees_15.jpg", blank]
    sim.build_frames(frames, (1280, 720), order)
    server = sim.RtspServer(frames, fps=10, hold_s=1.5)
    await server.start()
    yield server
    await server.stop()


async def test_rtsp_plate_scenes_give_one_event_per_pass_with_the_right_text(
    plate_camera: sim.RtspServer, tmp_path: Path
) -> None:
    text = CONFIG.format(
        data=tmp_path / "data",
        models=MODELS,
        kind="rtsp",
        where=f"url: {plate_camera.url}",
        pipelines="plates",
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    try:
        events = await _wait_for(d, "plate", 4, timeout_s=90)
        # a live viewer / GB/T 28181 play joins the camera the analysis is watching
        session = d.rt.cameras.session("gate1")
        with session.packets(64, "viewer") as viewer:
            first = await asyncio.wait_for(anext(viewer), 10)
        assert first.keyframe and first.codec == "h264"
        # one RTSP session per connection (a reconnect on a loaded box adds one), never
        # one per consumer
        expected = 1 + session.state.reconnects
        assert plate_camera.sessions_created == expected, "a consumer opened its own session"
    finally:
        await d.stop()
    plates = [e["data"]["plate"] for e in events]
    assert set(plates[:4]) == {"粤ZR066港", "渝D00796"}, plates
    assert all(a != b for a, b in itertools.pairwise(plates)), (
        f"a pass gave more than one event: {plates}"
    )
    first = events[0]
    roles = {im["role"] for im in first["images"]}
    assert roles == {"plate_crop", "scene"}
    for im in first["images"]:
        data = (tmp_path / "data" / im["path"]).read_bytes()
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None
    assert first["data"]["camera"] == "gate1" and first["data"]["reads"] >= 2


async def test_faces_are_matched_against_the_enrolled_gallery(tmp_path: Path) -> None:
    from edge.vision.faces.pipeline import FacePipeline
    from edge.vision.models import ModelRegistry

    pipeline = FacePipeline(ModelRegistry.from_dir(MODELS))
    (tmp_path / "data").mkdir()
    gallery = pipeline.open_gallery(tmp_path / "data" / "faces.db")

    def embed(path: Path) -> np.ndarray:
        obs = pipeline.analyse(cv2.imread(str(path)))
        assert len(obs) == 1, path
        return obs[0].embedding

    gallery.enroll(
        "residents", "Angelina Jolie", "r-001", np.stack([embed(FACES / "img1.jpg")]), None
    )
    cam = tmp_path / "cam"
    cam.mkdir()
    # the same person in another photo, then a stranger
    sim.build_frames(cam, (1280, 720), [FACES / "img2.jpg", FACES / "img17.jpg"])
    text = CONFIG.format(
        data=tmp_path / "data",
        models=MODELS,
        kind="file",
        where=f"path: {cam}\n    fps: 1",
        pipelines="faces",
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    try:
        events = await _wait_for(d, "face", 2, timeout_s=60)
    finally:
        await d.stop()
    # Both passes may end together (the file ends): which is stored first is not the point.
    by_result = {e["data"]["match"]["result"]: e for e in events[:2]}
    results = sorted((r, e["data"]["match"].get("name")) for r, e in by_result.items())
    assert results == [("resident", "Angelina Jolie"), ("unknown", None)], results
    # a face crop is biometric: its role names it, so a policy can withhold it by name
    assert {im["role"] for im in by_result["resident"]["images"]} == {"face_crop", "scene"}


async def test_plate_boxes_found_in_a_roi_are_reported_in_frame_pixels(tmp_path: Path) -> None:
    scene = cv2.imread(str(SCENES / "we0091234_hongkang1.jpg"))
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[:, 640:] = sim.letterbox(scene, 640, 720)  # the car is in the right half only
    cam = tmp_path / "cam"
    cam.mkdir()
    cv2.imwrite(str(cam / "00000.jpg"), frame)
    for i in range(1, 7):  # 3 s of empty lane: the pass ends before the car comes round again
        cv2.imwrite(str(cam / f"{i:05d}.jpg"), np.zeros_like(frame))
    text = (
        CONFIG.format(
            data=tmp_path / "data",
            models=MODELS,
            kind="file",
            where=f"path: {cam}\n    fps: 2",
            pipelines="plates",
        )
        + "    roi:\n      - points: [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]\n"
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    try:
        [event, *_] = await _wait_for(d, "plate", 1, timeout_s=60)
    finally:
        await d.stop()
    assert event["data"]["plate"] == "粤ZR066港"
    x1, _, x2, _ = event["data"]["box"]
    assert 640 <= x1 < x2 <= 1280, event["data"]["box"]


async def test_a_face_enrolled_while_the_daemon_runs_is_matched_without_a_restart(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    cam = tmp_path / "cam"
    cam.mkdir()
    blank = tmp_path / "blank.jpg"
    cv2.imwrite(str(blank), np.full((720, 1280, 3), 90, np.uint8))
    # the same person passing again and again (looped: 0.5 s seen, 3 s gone ends the pass),
    # nobody enrolled yet
    sim.build_frames(cam, (1280, 720), [FACES / "img2.jpg", *[blank] * 6])
    data = tmp_path / "data"
    text = CONFIG.format(
        data=data, models=MODELS, kind="file", where=f"path: {cam}\n    fps: 2", pipelines="faces"
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    try:
        [first] = (await _wait_for(d, "face", 1, timeout_s=60))[:1]
        assert first["data"]["match"]["result"] == "unknown"
        enrol = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "edge",
                "face",
                "enroll",
                "--gallery",
                "residents",
                "--name",
                "Angelina Jolie",
                "--models-dir",
                str(MODELS),
                "--db",
                str(data / "faces.db"),
                str(FACES / "img1.jpg"),  # another photo of her
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
        assert enrol.returncode == 0, enrol.stderr
        enrolled_at = time.time()
        deadline = time.monotonic() + 60
        matched = None
        while matched is None and time.monotonic() < deadline:
            for e in await _events(d, "face"):
                if e["data"]["match"]["result"] == "resident":
                    matched = e
            await asyncio.sleep(0.2)
        assert matched is not None, "the running daemon never matched the enrolled face"
        assert matched["data"]["match"]["name"] == "Angelina Jolie"
        # a pass that began after the enrolment (not a restart's doing: same process)
        assert matched["data"]["first_seen"] >= enrolled_at - 5
    finally:
        await d.stop()
