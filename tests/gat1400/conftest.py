"""Fixtures: the strict 视图库 peer on an ephemeral port, and the daemon in process
(real store, real GA/T 1400 uplink) configured against it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from daemons import Daemons
from gat_helpers import DaemonFactory, config_text
from viid_peer import ViidPeer

from edge.app import Daemon
from edge.config.loader import parse_config


@pytest.fixture
async def peer() -> AsyncIterator[ViidPeer]:
    p = ViidPeer()
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
def daemon(tmp_path: Path, daemons: Daemons) -> DaemonFactory:
    async def make(url: str, extra: str = "", password: str = "hik12345") -> Daemon:
        text = config_text(tmp_path / "data", url, extra, password)
        cfg = parse_config(text, "test.yaml", dict(os.environ))
        return await daemons.start(cfg)

    return make
