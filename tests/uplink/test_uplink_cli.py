"""`edge uplink test mqtt` and `edge queue` as an installer runs them."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from mqtt_broker import Broker, free_port
from uplink_helpers import DaemonFactory, config_text

from edge.events import Event

ROOT = Path(__file__).resolve().parents[2]


async def edge_cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_uplink_test_reports_each_step(broker: Broker, tmp_path: Path) -> None:
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(config_text(tmp_path / "data", broker.url))
    code, out = await edge_cli("uplink", "test", "mqtt", "--config", str(cfg))
    assert code == 0, out
    for step in ("connect to 127.0.0.1", "subscribe", "publish (QoS 1, PUBACK", "message back"):
        assert f"ok    {step}" in out
    assert "compound/32010600002160000001/test/" in out


async def test_uplink_test_fails_clearly_when_the_broker_is_down(tmp_path: Path) -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"
    code, out = await edge_cli("uplink", "test", "mqtt", "--url", url, "--timeout", "3")
    assert code == 1
    assert "FAIL  connect to 127.0.0.1" in out and "refused" in out


async def test_queue_shows_backlog_age_and_rate(daemon: DaemonFactory) -> None:
    d = await daemon("")  # no broker: everything stays owed
    for i in range(7):
        await d.store.add_event(Event("access", "door-1", {"n": i}))
    api = f"http://127.0.0.1:{d.web.port}"
    code, out = await edge_cli("queue", "--url", api, "--json")
    assert code == 0, out
    (row,) = json.loads(out)
    assert row["dest"] == "hub" and row["state"] == "off"
    assert row["backlog"] == 7 and row["oldest_unacked_age_s"] >= 0
    assert row["rate_per_s"] == 0
    code, out = await edge_cli("queue", "--url", api)
    assert code == 0 and out.splitlines()[1].split()[:4] == ["hub", "off", "-", "7"]
