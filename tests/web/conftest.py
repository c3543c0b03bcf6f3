"""A daemon with console users, for the security tests and the browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from webauth import with_users

from edge.app import Daemon
from edge.config import parse_config

MINIMAL = """\
config_version: 1
site:
  name: 测试小区
  site_id: "32010600002160000001"
  gateway_id: "32010600001180000001"
storage:
  data_dir: {data_dir}
web:
  listen: "127.0.0.1:0"
"""


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
