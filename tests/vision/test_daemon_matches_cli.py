"""The daemon reads every plate and face `edge vision detect` reads, once per appearance.

The demo's camera material (the H.264 videos `edge.sim.demo_camera` builds from stills)
goes through what a camera worker runs, piece by piece and in order, with no clock: the
source's thinning to `analysis_fps`, the configured sampler (rate, motion gate, ROI), the
models the daemon loads from `vision:`, `FrameAnalyser` (tracks and votes) and the rule
that turns a voted pass into an event. Frame times are the video's own, with a few ms of
decode jitter either way, as a live session stamps them. Two loops: the same car coming
back six seconds later is a new pass, and the last car of a loop is followed by the first.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from prereqs import SHARED_MIRROR, needs

from edge.camera.factory import make_sampler
from edge.camera.frame import Frame
from edge.camera.rate import RateGate
from edge.cli import vision as vision_cli
from edge.config import EdgeConfig, parse_config
from edge.config.cameras import FileCamera
from edge.sim import demo_camera
from edge.vision.analysis import FrameAnalyser
from edge.vision.faces.gallery import Match
from edge.vision.plates.vote import reportable
from edge.vision.service import face_recognizer, plate_reader

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SCENES = SHARED / "images" / "plates" / "scenes"

pytestmark = needs(SCENES.is_dir(), *SHARED_MIRROR)

LOOPS = 2
#: Decode-time wobble of a live session's frame stamps, in seconds (early and late).
JITTER_S = (0.0, 0.011, -0.006, 0.027, 0.002, -0.009, 0.018, -0.001)


@dataclass(frozen=True)
class Demo:
    data: Path
    config: EdgeConfig


@pytest.fixture(scope="module")
def demo(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    data = tmp_path_factory.mktemp("demo")
    demo_camera.build(data, SHARED, models_dir)
    text = (REPO / "config" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("${EDGE_DATA_DIR:-./data}", str(data))
    config = parse_config(text, "demo.yaml")
    config.vision.models_dir = models_dir
    config.vision.manifest = models_dir / "manifest.yaml"
    return Demo(data, config)


def camera(demo: Demo, pipeline: str) -> FileCamera:
    cam = next(c for c in demo.config.cameras if c.pipelines == [pipeline])
    assert isinstance(cam, FileCamera)
    return cam


def decoded(video: Path) -> list[tuple[float, np.ndarray]]:
    """(pts in seconds, BGR) of every frame of the video."""
    with av.open(str(video)) as container:
        return [
            (float((f.pts or 0) * (f.time_base or 0)), f.to_ndarray(format="bgr24"))
            for f in container.decode(video=0)
        ]


def run_camera(cam: FileCamera, analyser: FrameAnalyser) -> list[tuple[int, Any]]:
    """(frame index, pass) of everything the camera's worker would hand on, `LOOPS` loops."""
    camera_id = cam.id
    frames = decoded(Path(cam.path))
    length = len(frames) / cam.fps
    source_thin = RateGate(cam.analysis_fps)  # what `open_session` asks the source for
    sampler = make_sampler(cam)
    ended: list[tuple[int, Any]] = []
    seq = 0
    for loop in range(LOOPS):
        for index, (pts, image) in enumerate(frames):
            mono = 1000.0 + loop * length + pts + JITTER_S[seq % len(JITTER_S)]
            seq += 1
            if not source_thin.passes(mono):
                continue
            sampler.offer(Frame(camera_id, seq, image, mono, mono, pts))
            while sampler.queue.qsize():
                plates, faces, _ = analyser.step(sampler.queue.get_nowait())
                ended += [(index, p) for p, _ in plates] + [(index, f) for f in faces]
    plates, faces = analyser.flush()
    ended += [(-1, p) for p, _ in plates] + [(-1, f) for f in faces]
    stats = sampler.stats
    assert stats.queue_dropped == 0 and stats.frames_in == seq, stats
    return ended


def cli_detect(frames: list[tuple[float, np.ndarray]], folder: Path, models: Path) -> list[Any]:
    """`edge vision detect --json` on the decoded frames, as PNG files (lossless)."""
    folder.mkdir()
    paths = []
    for i, (_, image) in enumerate(frames):
        paths.append(str(folder / f"{i:05d}.png"))
        cv2.imwrite(paths[-1], image)
    parser = argparse.ArgumentParser(prog="edge")
    vision_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["vision", "detect", "--json", *paths, "--models-dir", str(models)])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert args.handler(args) == 0
    return list(json.loads(out.getvalue()))


def test_every_demo_plate_the_cli_reads_is_one_daemon_event_per_appearance(
    demo: Demo, models_dir: Path, tmp_path: Path
) -> None:
    labels = {p.name: plate for p, plate in vision_cli.load_labels(SCENES)}
    cam = camera(demo, "plates")
    frames = decoded(Path(cam.path))
    # the video: each scene, then an empty lane
    want = {2 * i: labels[name] for i, name in enumerate(demo_camera.PLATE_SCENES)}
    assert len(frames) == 2 * len(want)

    cli = cli_detect(frames, tmp_path / "frames", models_dir)
    cli_texts = {i: [p["text"] for p in doc["plates"]] for i, doc in enumerate(cli)}
    assert cli_texts == {i: [want[i]] if i in want else [] for i in range(len(frames))}

    analyser = FrameAnalyser.for_camera(cam.pipelines, plates=plate_reader(demo.config))
    ended = run_camera(cam, analyser)
    min_conf = demo.config.vision.plates.min_confidence
    low = [
        (p.text, round(p.vote.confidence, 3)) for _, p in ended if not reportable(p.vote, min_conf)
    ]
    assert low == []  # no pass lost as "low confidence"
    events = [(p.first_frame, p.text) for _, p in ended]
    # one event per appearance, in the order the cars came, with what the CLI read
    expected = [t for _ in range(LOOPS) for i in sorted(want) for t in cli_texts[i]]
    assert [t for _, t in sorted(events)] == expected
    assert all(p.vote.reads == 1 for _, p in ended)  # each car is in one frame of the video


def test_every_demo_face_is_one_daemon_event_per_appearance_with_its_identity(
    demo: Demo, models_dir: Path, tmp_path: Path
) -> None:
    cam = camera(demo, "faces")
    frames = decoded(Path(cam.path))
    resident, watch = demo_camera.RESIDENT[0], demo_camera.WATCHLIST[0]
    probes = [resident] * len(demo_camera.RESIDENT[2]) + [watch] * len(demo_camera.WATCHLIST[2])
    probes += ["unknown"] * len(demo_camera.STRANGERS)
    assert len(frames) == 2 * len(probes)

    cli = cli_detect(frames, tmp_path / "frames", models_dir)
    assert [len(doc["faces"]) for doc in cli] == [1, 0] * len(probes)

    recognizer = face_recognizer(demo.config, demo.data)
    analyser = FrameAnalyser.for_camera(cam.pipelines, recognizer=recognizer)
    ended = sorted(run_camera(cam, analyser), key=lambda e: e[1].first_ts)
    who = [e[1].match.name if isinstance(e[1].match, Match) else "unknown" for e in ended]
    assert who == probes * LOOPS
