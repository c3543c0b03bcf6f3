"""Shared by the GB/T 28181 tests (a uniquely named module: every test folder has a conftest)."""

from __future__ import annotations

from pathlib import Path

from daemons import Daemons
from gb_platform import DOMAIN, SERVER_ID, Platform

from edge.app import Daemon
from edge.config.loader import parse_config

DEVICE = "34020000001180000001"
CHANNELS = ["34020000001310000001", "34020000001320000002", "34020000001310000003"]


class DaemonFactory:
    """Starts daemons on a config built for the platform; `daemons` stops what is left at
    teardown."""

    def __init__(self, data_dir: Path, daemons: Daemons) -> None:
        self.data_dir = data_dir
        self.daemons = daemons

    async def __call__(self, platform: Platform, cameras: str, **uplink: object) -> Daemon:
        text = gb_config(self.data_dir, platform, cameras, **uplink)
        return await self.daemons.start(parse_config(text, "test.yaml", {}))

    async def stop(self, d: Daemon) -> None:
        await self.daemons.stop(d)


def gb_config(data_dir: Path, platform: Platform, cameras: str, **uplink: object) -> str:
    fields = {
        "type": "gb28181",
        "server_id": SERVER_ID,
        "domain": DOMAIN,
        "server_host": "127.0.0.1",
        "server_port": platform.port,
        "device_id": DEVICE,
        "password": "12345678",
        "transport": platform.kind,
        "local_host": "127.0.0.1",
        "expires_s": 3600,
        "keepalive_s": 60,
        "keepalive_max_missed": 3,
        "connect_timeout_s": 1,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.3,
        "catalog_page_size": 2,
        **uplink,
    }
    body = "\n".join(
        f"    {k}: {v!r}" if isinstance(v, str) else f"    {k}: {v}" for k, v in fields.items()
    )
    return f"""
config_version: 1
site:
  name: Test Compound
  site_id: "34020000002160000001"
  gateway_id: "{DEVICE}"
storage:
  data_dir: {data_dir}
web:
  listen: "127.0.0.1:0"
logging:
  level: WARNING
cameras:
{cameras}
uplinks:
  police:
{body}
"""


def file_camera(cam_id: str, path: Path, channel: str | None, name: str = "") -> str:
    lines = [
        f"  - id: {cam_id}",
        "    kind: file",
        f"    path: {path}",
        "    fps: 10",
        "    read_timeout_s: 1",
        "    reconnect_min_s: 0.1",
        "    reconnect_max_s: 0.2",
    ]
    if name:
        lines.append(f"    name: {name}")
    if channel:
        lines.append(f'    gb_channel_id: "{channel}"')
    return "\n".join(lines)
