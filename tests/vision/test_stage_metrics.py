"""`/metrics` shows what each model stage costs: a daemon analysing a plate camera and a
face camera (real stills played as file cameras, real models) is scraped, and the
per-stage histogram carries every stage of both pipelines under the names the per-frame
log line uses."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prereqs import SHARED_MIRROR, needs
from prometheus_client.parser import text_string_to_metric_families

from edge.app import Daemon
from edge.config import parse_config
from edge.vision.stages import STAGES as TIMES

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO.parent / "shared" / "images"

pytestmark = needs(IMAGES.is_dir(), *SHARED_MIRROR)

CONFIG = """\
config_version: 1
site: {{name: 测试, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data}}}
web: {{listen: "127.0.0.1:0"}}
vision: {{models_dir: {models}, manifest: {models}/manifest.yaml, cpu_workers: 1}}
cameras:
  - {{id: cam-plates, name: plates, kind: file, path: {plates}, fps: 4, analysis_fps: 4,
      pipelines: [plates]}}
  - {{id: cam-faces, name: faces, kind: file, path: {faces}, fps: 4, analysis_fps: 4,
      pipelines: [faces]}}
"""
STAGES = {
    ("plates", "detect"), ("plates", "rectify"), ("plates", "read"), ("plates", "colour"),
    ("faces", "detect"), ("faces", "align"), ("faces", "embed"),
}  # fmt: skip


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


LINES = Lines()


def folder(dest: Path, *images: Path) -> Path:
    """Two different stills in turn: the motion gate sees a change at every frame."""
    dest.mkdir()
    for i, image in enumerate(images):
        shutil.copy(image, dest / f"{i:02d}.jpg")
    return dest


@pytest.fixture
async def daemon(tmp_path: Path, models_dir: Path) -> AsyncIterator[str]:
    scenes = IMAGES / "plates" / "scenes"
    portraits = IMAGES / "faces" / "deepface"
    text = CONFIG.format(
        data=tmp_path / "data",
        models=models_dir,
        plates=folder(
            tmp_path / "plates", scenes / "hyperlpr_2.jpg", scenes / "we0091234_single_green.jpg"
        ),
        faces=folder(tmp_path / "faces", portraits / "img1.jpg", portraits / "img2.jpg"),
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    logger = logging.getLogger("edge.vision.service")
    logger.addHandler(LINES)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield f"http://127.0.0.1:{d.web.port}"
    finally:
        logger.removeHandler(LINES)
        logger.setLevel(level)
        await d.stop()


def stage_counts(text: str) -> dict[tuple[str, str], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        if family.name == "edge_model_stage_seconds":
            for s in family.samples:
                if s.name.endswith("_count"):
                    out[(s.labels["pipeline"], s.labels["stage"])] = s.value
    return out


async def test_metrics_show_each_model_stage_after_analysis(daemon: str) -> None:
    # the histogram is process-wide: count from what earlier tests left in it
    before = {k: h.n for k, h in TIMES.snapshot().items()}
    deadline = time.monotonic() + 90
    counts: dict[tuple[str, str], float] = {}

    def grown() -> bool:
        return all(counts.get(k, 0) > before.get(k, 0) for k in STAGES)

    def logged() -> str:
        return " ".join(line for line in LINES.lines if line.startswith("camera cam-"))

    def seen() -> bool:
        return all(f"{pipeline}.{stage}=" in logged() for pipeline, stage in STAGES)

    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            async with http.get(f"{daemon}/metrics") as r:
                assert r.status == 200
                counts = stage_counts(await r.text())
            if grown() and seen():
                break
            await asyncio.sleep(0.2)  # polling the observable state, with a deadline
    assert grown(), (before, counts)
    assert seen(), logged()
