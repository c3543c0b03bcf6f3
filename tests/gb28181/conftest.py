"""Fixtures: the strict test platform (UDP or TCP) and the daemon registered to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from daemons import Daemons
from gb_helpers import DaemonFactory
from gb_media import write_video
from gb_platform import Platform


@pytest.fixture(scope="session")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("gbvideo") / "gate.mp4")


@pytest.fixture(params=["udp", "tcp"])
async def platform(request: pytest.FixtureRequest) -> AsyncIterator[Platform]:
    p = Platform(request.param)
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
async def udp_platform() -> AsyncIterator[Platform]:
    p = Platform("udp")
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
def daemon(tmp_path: Path, daemons: Daemons) -> DaemonFactory:
    return DaemonFactory(tmp_path / "data", daemons)
