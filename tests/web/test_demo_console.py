"""`scripts/demo` opens on a login page (user `demo`, password printed once), then the
simulated compound is alive: events arrive live, meters read, a camera plays over WebRTC."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from console_browser import login, shoot
from webauth import token_headers

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fake_venv(d: Path) -> Path:
    """`python` and `edge` as this interpreter with this checkout first: nothing installed."""
    bin_dir = d / "bin"
    bin_dir.mkdir(parents=True)
    for name, tail in (("python", '"$@"'), ("edge", '-m edge "$@"')):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\nexec {sys.executable} {tail}\n")
        script.chmod(0o755)
    (d / ".installed-base").touch()
    os.utime(d / ".installed-base", (time.time() + 3600, time.time() + 3600))
    return d


async def test_the_demo_opens_on_a_login_and_then_the_compound_is_alive(
    browser: Any,
    tmp_path: Path,
) -> None:
    web = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "EDGE_VENV": str(fake_venv(tmp_path / "venv")),
        "EDGE_DATA_DIR": str(tmp_path / "data"),
        "EDGE_WEB_PORT": str(web),
        "EDGE_SIM_METERS_PORT": str(free_port()),
        "EDGE_SIM_MODBUS_PORT": str(free_port()),
    }
    env.pop("EDGE_MQTT_URL", None)
    err = (tmp_path / "demo.err").open("w+b")
    proc = subprocess.Popen(  # noqa: ASYNC220  (started once; its output goes to a file)
        [str(ROOT / "scripts" / "demo")], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{web}"
    try:
        password = None
        deadline = time.monotonic() + 120
        while password is None:
            assert proc.poll() is None, (tmp_path / "demo.err").read_text()
            assert time.monotonic() < deadline, "the demo never printed the login"
            found = re.search(r"user demo, password (\S+)", (tmp_path / "demo.err").read_text())
            password = found.group(1) if found else None
            await asyncio.sleep(0.2)
        page = await (await browser.new_context()).new_page()
        deadline = time.monotonic() + 60
        while True:
            try:
                await page.goto(url + "/")
                break
            except Exception:
                assert time.monotonic() < deadline, "the console never answered"
                await asyncio.sleep(0.5)
        await login(page, url, "demo", password)
        await page.wait_for_url(url + "/")
        await page.wait_for_selector("#site:has-text('演示小区')")
        await page.wait_for_selector("#who:has-text('演示值班')")
        # alive: the simulated cameras' recognisers and the meters produce events
        await page.wait_for_selector("#events li.event", timeout=90_000)
        await page.wait_for_selector("#meters li.meter", timeout=60_000)
        tile = page.locator("#cameras .tile.online").first
        await tile.wait_for(timeout=60_000)
        await tile.click()
        await page.wait_for_function(
            "() => { const v = document.getElementById('viewer-video');"
            " return v.videoWidth > 0 && v.currentTime > 0.5; }",
            timeout=30_000,
        )
        await shoot(page, "demo-live")
        await page.click("#viewer-close")
        await shoot(page, "demo-overview")
        # The installer's views of this `edge run --config`: its file checks out, every model
        # of the demo is intact, and the recognisers the cameras run have their timings.
        async with aiohttp.ClientSession(headers=token_headers(tmp_path / "data")) as http:
            async with http.get(url + "/api/installer/config") as r:
                check = await r.json()
            assert check["checked"] and check["ok"], check
            assert check["path"].endswith("demo.yaml") and check["running_version"] == 1
            deadline = time.monotonic() + 60  # the plate camera's first frame, on a busy box
            while True:
                async with http.get(url + "/api/installer/models") as r:
                    models = (await r.json())["models"]
                assert {m["file_state"] for m in models} == {"ok"}
                plates = [m for m in models if m["engine"] == "plates"]
                if any(m["loaded"] and m["cameras"] for m in plates):
                    break
                assert time.monotonic() < deadline, plates
                await asyncio.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        err.close()
