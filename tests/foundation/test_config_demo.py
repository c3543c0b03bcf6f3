"""`scripts/demo` runs any config built on the demo (EDGE_CONFIG), with the simulators, so an
installer can try a change against simulated devices."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(type=kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fake_venv(d: Path) -> Path:
    """A venv whose `python` and `edge` are this interpreter with this checkout first, so
    scripts/demo neither creates nor pip-installs anything."""
    bin_dir = d / "bin"
    bin_dir.mkdir(parents=True)
    for name, tail in (("python", '"$@"'), ("edge", '-m edge "$@"')):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\nexec {sys.executable} {tail}\n")
        script.chmod(0o755)
    (d / ".installed-base").touch()
    os.utime(d / ".installed-base", (time.time() + 3600, time.time() + 3600))
    return d


def health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
            doc: dict[str, Any] = json.loads(r.read())
            return doc
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))
    except OSError:
        return None


@pytest.mark.slow
def test_demo_runs_a_config_built_on_the_demo(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    demo = (ROOT / "config" / "demo.yaml").read_text(encoding="utf-8")
    mine.write_text(
        demo.replace("name: 演示小区 Demo Compound", "name: 试验小区 Tried Change").replace(
            '    address: "000000000161"\n    poll_interval_s: 10s',
            '    address: "000000000161"\n    poll_interval_s: 1s',
        ),
        encoding="utf-8",
    )
    web = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "EDGE_VENV": str(fake_venv(tmp_path / "venv")),
        "EDGE_CONFIG": "mine.yaml",  # relative to where the demo is started
        "EDGE_DATA_DIR": str(tmp_path / "data"),
        "EDGE_WEB_PORT": str(web),
        "EDGE_SIM_METERS_PORT": str(free_port()),
        "EDGE_SIM_MODBUS_PORT": str(free_port()),
        "EDGE_SIM_UHPPOTE_PORT": str(free_port(socket.SOCK_DGRAM)),  # the controller is UDP
    }
    env.pop("EDGE_MQTT_URL", None)
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "demo")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        doc = None
        meter: dict[str, Any] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            doc = health(web)
            if doc:
                meter = next((d for d in doc["devices"] if d["device"] == "meter-b3-101"), {})
                if meter.get("available") and meter.get("polls", 0) >= 2:
                    break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert doc is not None and doc["site"]["name"] == "试验小区 Tried Change"
        assert meter.get("available") is True, meter  # the simulated meter answers
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_demo_refuses_a_config_that_does_not_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("config_version: 1\nsite: {name: x}\n", encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "EDGE_VENV": str(fake_venv(tmp_path / "venv")),
        "EDGE_CONFIG": str(bad),
        "EDGE_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [str(ROOT / "scripts" / "demo")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert f"{bad}:2:" in done.stdout and f"demo: fix {bad} first" in done.stderr
