"""`edge doctor` names each planted fault on a FAIL line with its fix.

Faults are real where they can be: a missing serial port, a port the service user may not
open, a corrupted model, a camera and a broker nobody listens on, a unit without a watchdog,
no daemon; a silent meter behind a running daemon. The platform clock offset comes from the
daemon's health document, so it is planted there.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from edge.app import Daemon
from edge.cli.main import main
from edge.config import parse_config
from edge.ops import doctor
from edge.ops.checks import buses, cameras, host, service
from edge.sim.meters import MeterSimulator, MeterSpec, SimConfig

REPO = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def findings(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, list[Any]]]:
    capsys.readouterr()
    rc = main(["doctor", *argv, "--json"])
    doc = json.loads(capsys.readouterr().out)
    by: dict[str, list[Any]] = {}
    for f in doc["findings"]:
        by.setdefault(f["check"], []).append(f)
    return rc, by


def test_an_invalid_config_fails_with_the_check_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "edge.yaml"
    bad.write_text("config_version: 1\nsite: {name: x}\nnonsense: 1\n", encoding="utf-8")
    rc, by = findings(capsys, "--config", str(bad))
    assert rc == 1
    (f,) = by["config"]
    assert f["status"] == "FAIL" and f"edge config check {bad}" in f["fix"]


def test_each_planted_fault_is_a_fail_line_with_its_fix(
    models_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    data.write_text("a file, not a folder")
    tty = tmp_path / "ttyUSB7"  # present, root-only: the service user may not open it
    tty.write_text("")
    tty.chmod(0o600)
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(models_dir / "manifest.yaml", models / "manifest.yaml")
    for f in models_dir.glob("*.onnx"):
        shutil.copy(f, models / f.name)
    victim = models / "lprnet_sirius_ccpd_94x24.onnx"
    raw = bytearray(victim.read_bytes())
    raw[500] ^= 0xFF
    victim.write_bytes(bytes(raw))
    unit = tmp_path / "edge.service"
    unit.write_text("[Service]\nType=notify\nExecStart=/opt/edge/venv/bin/edge run\n")
    cam_port, broker_port, api_port = closed_port(), closed_port(), closed_port()
    config = tmp_path / "edge.yaml"
    config.write_text(
        f"""\
config_version: 1
site: {{name: 测试, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data}}}
web: {{listen: "127.0.0.1:{api_port}"}}
vision: {{models_dir: {models}, manifest: {models / "manifest.yaml"}}}
cameras:
  - {{id: cam1, kind: rtsp, url: "rtsp://127.0.0.1:{cam_port}/x"}}
buses:
  - {{id: gone, type: serial, port: /dev/ttyNOPE9}}
  - {{id: locked, type: serial, port: {tty}}}
uplinks:
  hub: {{type: mqtt, url: "mqtt://127.0.0.1:{broker_port}"}}
""",
        encoding="utf-8",
    )
    monkeypatch.delenv("EDGE_WEB_PORT", raising=False)  # restored after: no other test sees it
    rc, by = findings(capsys, "--config", str(config), "--user", "nobody", "--unit", str(unit),
                      "--timeout", "2")  # fmt: skip
    assert rc == 1

    def fail(check: str, *fix: str) -> None:
        (f,) = by[check]
        assert f["status"] == "FAIL", f
        for part in fix:
            assert part in f["fix"], f

    fail("data dir", "storage.data_dir")
    fail("serial gone", "plug in the RS-485 adapter")
    fail("serial locked", "usermod -aG root nobody")
    fail("models", "scripts/fetch-models")
    assert "lprnet_sirius_ccpd_94x24.onnx checksum differs" in by["models"][0]["message"]
    fail("camera cam1", "edge camera probe")
    fail("uplink hub", "edge uplink test mqtt", "--name hub")
    fail("watchdog", "WatchdogSec=30s")
    fail("daemon", "systemctl start edge")
    # text output: one line per finding, the fix after the arrow
    capsys.readouterr()
    assert main(["doctor", "--config", str(config), "--unit", str(unit), "--timeout", "1"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(ln.startswith("FAIL  watchdog: ") and "-> add WatchdogSec" in ln for ln in lines)


def test_clock_offset_from_the_platform_fails_past_the_limit() -> None:
    ctx = doctor.Context("x", health={"uplink.police": {"time_offset_s": 95.0}})
    (f,) = [f for f in host.check_clock(ctx) if "police" in f.message]
    assert f.status == "FAIL" and "+95.0 s" in f.message and "ntp" in f.fix.lower()
    ctx = doctor.Context("x", health={"uplink.police": {"time_offset_s": 0.4}})
    assert [f.status for f in host.check_clock(ctx) if "police" in f.message] == ["OK"]


async def test_a_silent_meter_behind_a_running_daemon_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with MeterSimulator(SimConfig(meters=[MeterSpec("000000000161")])) as sim:
        host, port = await sim.start_tcp()
        api = closed_port()
        text = f"""\
config_version: 1
site: {{name: 测试, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {tmp_path / "data"}}}
web: {{listen: "127.0.0.1:{api}"}}
buses:
  - {{id: line1, type: serial, port: "socket://{host}:{port}", timeout_s: 200ms, retries: 0}}
devices:
  - {{id: meter-ok, type: dlt645, bus: line1, address: "000000000161", poll_interval_s: 1s}}
  - {{id: meter-gone, type: dlt645, bus: line1, address: "000000000999", poll_interval_s: 1s}}
"""
        config = tmp_path / "edge.yaml"
        await asyncio.to_thread(config.write_text, text, encoding="utf-8")
        d = Daemon(parse_config(text, str(config), {}))
        await d.start()
        try:
            for _ in range(200):
                doc = await asyncio.to_thread(doctor.fetch_health, f"http://127.0.0.1:{api}", 2)
                doc = doc or {}
                known = {x["device"]: x["available"] for x in doc.get("devices", [])}
                if known.get("meter-gone") is False and known.get("meter-ok"):
                    break
                await asyncio.sleep(0.1)
            rc, by = await asyncio.to_thread(findings, capsys, "--config", str(config))
        finally:
            await d.stop()
    assert rc == 1
    assert by["device meter-ok"][0]["status"] == "OK"
    gone = by["device meter-gone"][0]
    assert gone["status"] == "FAIL" and "edge meter read" in gone["fix"]
    assert by["daemon"][0]["status"] in ("OK", "FAIL")  # degraded by the silent meter or not


def test_serial_permission_is_judged_as_the_service_will_run(tmp_path: Path) -> None:
    """The service may open a port through the unit's SupplementaryGroups= even when the user
    is not a member; a port its group may only read is as useless as a foreign one."""
    import grp

    dialout = grp.getgrnam("dialout").gr_gid
    ports = {}
    for name, mode in (("rw", 0o660), ("ro", 0o640)):
        ports[name] = tmp_path / f"ttyUSB-{name}"
        ports[name].write_text("")
        os.chown(ports[name], 0, dialout)
        ports[name].chmod(mode)
    cfg = parse_config(
        f"""\
config_version: 1
site: {{name: 测试, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {tmp_path / "data"}}}
buses:
  - {{id: rw, type: serial, port: {ports["rw"]}}}
  - {{id: ro, type: serial, port: {ports["ro"]}}}
""",
        "edge.yaml",
        {},
    )
    bare, grouped = tmp_path / "bare.service", tmp_path / "grouped.service"
    bare.write_text("[Service]\nUser=nobody\n")
    grouped.write_text("[Service]\nUser=nobody\nSupplementaryGroups=dialout\n")

    def judged(unit: Path) -> dict[str, doctor.Finding]:
        ctx = doctor.Context("edge.yaml", config=cfg, service_user="nobody", unit_file=unit)
        return {f.check: f for f in buses.check_serial(ctx)}

    without = judged(bare)  # nobody is not in dialout, and the unit adds nothing
    assert without["serial rw"].status == "FAIL"
    assert without["serial rw"].fix == "usermod -aG dialout nobody"
    with_group = judged(grouped)
    assert with_group["serial rw"].status == "OK"
    assert with_group["serial ro"].status == "FAIL"
    assert with_group["serial ro"].fix.startswith(f"chmod g+rw {ports['ro']}")


def test_a_camera_that_gives_frames_reports_its_codec_resolution_and_fps(tmp_path: Path) -> None:
    """The OK line a maintainer compares with the camera's settings: a real H.264 file."""
    import av
    import numpy as np

    video = tmp_path / "gate.mp4"
    with av.open(str(video), "w") as out:
        stream = out.add_stream("h264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for n in range(20):
            img = np.full((240, 320, 3), n * 10, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    cfg = parse_config(
        f"""\
config_version: 1
site: {{name: 测试, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {tmp_path / "data"}}}
cameras:
  - {{id: gate1, kind: file, path: {video}, fps: 10}}
""",
        "edge.yaml",
        {},
    )
    (f,) = cameras.check_cameras(doctor.Context("edge.yaml", config=cfg, timeout_s=10))
    assert f.status == "OK" and f.check == "camera gate1", f
    assert f.message.startswith("h264 320x240 ") and f.message.endswith(" fps"), f


async def test_the_watchdog_is_armed_only_when_the_running_daemon_got_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit that sets WatchdogSec proves nothing about a daemon started by hand: doctor asks
    the running daemon what systemd gave it (WATCHDOG_USEC, as systemd passes it)."""
    unit = tmp_path / "edge.service"
    unit.write_text("[Service]\nWatchdogSec=30s\n")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    got = {}
    for given in ("30000000", None):
        if given:
            monkeypatch.setenv("WATCHDOG_USEC", given)
        else:
            monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        api = closed_port()
        text = f"""\
config_version: 1
site: {{name: 测试, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {tmp_path / "data"}}}
web: {{listen: "127.0.0.1:{api}"}}
"""
        d = Daemon(parse_config(text, "edge.yaml", {}))
        await d.start()
        try:
            health = await asyncio.to_thread(doctor.fetch_health, f"http://127.0.0.1:{api}", 5)
        finally:
            await d.stop()
        ctx = doctor.Context("edge.yaml", health=health, unit_file=unit)
        (got[given],) = service.check_watchdog(ctx)
    assert got["30000000"].status == "OK" and "every 15 s" in got["30000000"].message
    assert got[None].status == "FAIL" and "systemctl restart edge" in got[None].fix
