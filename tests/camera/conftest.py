"""Shared fixtures: stills rendered once per session, and a real RTSP peer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from prereqs import require

from edge.sim import rtsp as sim

WaitUntil = Callable[[Callable[[], bool], float, str], Awaitable[None]]


async def _wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def wait_until() -> WaitUntil:
    """Poll a condition (no fixed sleeps): fail with `what` if it is not met in time."""
    return _wait_until


@pytest.fixture(scope="session")
def stills_640(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Plate scenes and face photos, letterboxed to 640x360 (a subset: tests see
    only the first seconds of the loop)."""
    out = tmp_path_factory.mktemp("stills640")
    sim.build_frames(out, (640, 360), _subset(8))
    return out


def _subset(per_dir: int) -> list[Path]:
    return [p for d in sim.DEFAULT_IMAGE_DIRS for p in sim.source_images([d])[:per_dir]]


@pytest.fixture(scope="session")
def stills_720p(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stills720")
    sim.build_frames(out, (1280, 720), _subset(3))
    return out


@pytest.fixture(scope="session")
def gst_python() -> str:
    python = sim.system_python()
    require(python is not None, "GStreamer's RTSP server", str(sim.unavailable_reason()))
    assert python is not None
    return python


@pytest.fixture
async def rtsp_server(stills_640: Path, gst_python: str) -> AsyncIterator[sim.RtspServer]:
    server = sim.RtspServer(stills_640, fps=10, hold_s=0.5, gop_frames=2, python=gst_python)
    async with server:
        yield server
