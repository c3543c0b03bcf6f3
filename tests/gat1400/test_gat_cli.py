"""`edge uplink test gat1400` against the strict peer: every step with the server's answer."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from gat_helpers import REPO, config_text
from viid_peer import ViidPeer


async def uplink_test(tmp_path: Path, url: str, password: str = "hik12345") -> tuple[int, str]:
    path = tmp_path / "edge.yaml"
    path.write_text(config_text(tmp_path / "data", url, password=password))
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "edge", "uplink", "test", "gat1400", "-c", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.returncode, out.stdout + out.stderr


async def test_every_step_passes_against_a_strict_peer(peer: ViidPeer, tmp_path: Path) -> None:
    code, out = await uplink_test(tmp_path, peer.url)
    assert code == 0, out
    for step in ("register (digest)", "keepalive", "server time", "push MotorVehicle"):
        assert f"ok    {step}" in out, out
    assert "StatusCode 0 (ok) 注册成功" in out
    assert re.search(r"offset [+-]\d+\.\d s \(limit 10 s\)", out), out
    (obj,) = [r.obj for r in peer.received]
    assert obj["PlateNo"] == "测试0001" and not peer.violations
    sizes = [(im["Width"], im["Height"]) for im in obj["SubImageList"]["SubImageInfoObject"]]
    assert sizes == [(1920, 1080), (160, 48)]


async def test_a_wrong_password_fails_at_register_with_the_answer(
    peer: ViidPeer, tmp_path: Path
) -> None:
    code, out = await uplink_test(tmp_path, peer.url, password="wrong")
    assert code == 1
    assert "FAIL  register (digest): digest refused for user 'hik'" in out
    assert "server answered: HTTP 401" in out
    assert not peer.received


async def test_an_unreachable_server_fails_the_first_step(tmp_path: Path) -> None:
    p = ViidPeer()
    await p.start()
    url = p.url
    await p.stop()
    code, out = await uplink_test(tmp_path, url)
    assert code == 1 and "FAIL  register (digest)" in out
