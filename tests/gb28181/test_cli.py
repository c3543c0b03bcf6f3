"""`edge uplink test gb28181` against the strict platform, as an installer runs it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from gb_helpers import CHANNELS, DEVICE, file_camera, gb_config
from gb_platform import Platform

ROOT = Path(__file__).resolve().parents[2]


async def _edge(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_uplink_test_registers_keeps_alive_and_lists_the_catalog(
    platform: Platform, tmp_path: Path, video: Path
) -> None:
    cams = "\n".join(
        [
            file_camera("north", video, CHANNELS[0], name="北门"),
            file_camera("south", video, CHANNELS[1], name="South"),
        ]
    )
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(gb_config(tmp_path / "data", platform, cams), encoding="utf-8")
    code, out = await _edge("uplink", "test", "gb28181", "--config", str(cfg), "--timeout", "3")
    assert code == 0, out
    assert "401 Unauthorized" in out and "realm=3402000000" in out  # the server's answers
    assert "ok    register (expires 3600 s" in out and "ok    keepalive" in out
    assert CHANNELS[0] in out and "北门" in out and DEVICE in out
    assert "12345678" not in out
    assert platform.unregistered == [DEVICE] and len(platform.keepalives) == 1
    assert platform.violations == []


async def test_uplink_test_reports_a_wrong_password(
    udp_platform: Platform, tmp_path: Path, video: Path
) -> None:
    udp_platform.password = "other"
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(
        gb_config(tmp_path / "data", udp_platform, file_camera("north", video, CHANNELS[0])),
        encoding="utf-8",
    )
    code, out = await _edge("uplink", "test", "gb28181", "--config", str(cfg), "--timeout", "2")
    assert code == 1
    assert "FAIL  register: REGISTER answered 403" in out and "wrong password" in out
