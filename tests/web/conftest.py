"""A daemon with console users, for the security tests and the browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from console_browser import launch
from webauth import MINIMAL, with_users

from edge.app import Daemon
from edge.config import parse_config


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's chromium, one per test (the event loop is per test)."""
    async for b in launch():
        yield b


@pytest.fixture
def console_yaml(tmp_path: Path) -> str:
    return with_users(MINIMAL.format(data_dir=tmp_path / "data")).replace(
        "  users:", "  login_attempts: 3\n  users:", 1
    )


@pytest.fixture
async def console(console_yaml: str) -> AsyncIterator[tuple[Daemon, str]]:
    d = Daemon(parse_config(console_yaml, "edge.yaml", {}))
    await d.start()
    yield d, f"http://127.0.0.1:{d.web.port}"
    await d.stop()
