"""`edge status` and `edge events` against a running daemon polling simulated meters.

The daemon runs in this process with a real meter simulator on a socket line (one meter
answers, one address is silent) and an MQTT destination without a broker (its outbox only
grows). The commands are the installer's: they read the daemon's local API over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from webauth import daemon_headers, token_headers

from edge.app import Daemon
from edge.cli.main import main
from edge.config import parse_config
from edge.sim.meters import MeterSimulator, MeterSpec, SimConfig

CONFIG = """\
config_version: 1
site: {{name: 测试小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data}}}
web: {{listen: "127.0.0.1:0"}}
buses:
  - {{id: line1, type: serial, port: "socket://{host}:{port}", timeout_s: 300ms, retries: 0,
      inter_frame_gap_s: 0s}}
devices:
  - {{id: meter-ok, type: dlt645, bus: line1, address: "000000000161", poll_interval_s: 1s}}
  - {{id: meter-gone, type: dlt645, bus: line1, address: "000000000999", poll_interval_s: 1s}}
uplinks:
  hub: {{type: mqtt, url: ""}}
"""


@pytest.fixture
async def daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Daemon, str]]:
    async with MeterSimulator(SimConfig(meters=[MeterSpec("000000000161")])) as sim:
        host, port = await sim.start_tcp()
        text = CONFIG.format(data=tmp_path / "data", host=host, port=port)
        d = Daemon(parse_config(text, "edge.yaml", {}))
        await d.start()
        url = f"http://127.0.0.1:{d.web.port}"
        monkeypatch.setenv("EDGE_TOKEN_FILE", str(d.web.token_file))  # as root on the box
        try:
            await _until_both_devices_known(url)
            yield d, url
        finally:
            await d.stop()


async def _until_both_devices_known(url: str) -> None:
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            async with http.get(f"{url}/api/health") as resp:
                doc = await resp.json()
            known = {d["device"]: d["available"] for d in doc["devices"]}
            if known.get("meter-ok") is True and known.get("meter-gone") is False:
                return
            await asyncio.sleep(0.1)
    pytest.fail(f"devices never settled: {doc['devices']}")


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def post(url: str, kind: str, source: str, data: dict[str, Any]) -> str:
    async with (
        aiohttp.ClientSession(
            headers=token_headers("", Path(os.environ["EDGE_TOKEN_FILE"]))
        ) as http,
        http.post(f"{url}/api/events", json={"kind": kind, "source": source, "data": data}) as r,
    ):
        assert r.status == 201
        return str((await r.json())["id"])


async def test_status_shows_tasks_devices_and_the_uplink_backlog(
    daemon: tuple[Daemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = daemon
    await post(url, "access", "door1", {"card": "1"})
    rc = await run("status", "--url", url)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("测试小区  ")
    assert lines[0].split()[1] == "OK" and rc == 0  # a meter down is the device's problem
    assert any(line.split()[:2] == ["store.writer", "running"] for line in lines)
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("meter-")}
    assert rows["meter-ok"][1] == "yes" and rows["meter-ok"][2] == "0"
    assert rows["meter-gone"][1] == "NO" and int(rows["meter-gone"][2]) >= 1
    assert " ".join(rows["meter-gone"][3:]).startswith("BusTimeout: no answer within 0.30s")
    # the destination has no broker URL: it is not running and its backlog only grows
    (uplink,) = [line for line in lines if line.startswith("uplink hub: ")]
    backlog = int(uplink.partition(", backlog ")[2].split(",")[0])
    assert backlog >= 1


async def test_status_json_is_the_health_document_and_sets_the_exit_code(
    daemon: tuple[Daemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    d, url = daemon
    rc = await run("status", "--url", url, "--json")
    doc = json.loads(capsys.readouterr().out)
    assert {t["name"] for t in doc["tasks"]} >= {"store.writer", "web"}
    assert rc == (0 if doc["status"] == "ok" else 1)

    async def broken() -> None:
        raise RuntimeError("camera gone")

    d.supervisor.spawn("camera.gate1", broken)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rc = await run("status", "--url", url)
        out = capsys.readouterr().out
        if "DEGRADED" in out.splitlines()[0]:
            break
    assert rc == 1
    assert "  ! task camera.gate1 is restarting" in out
    task = next(line for line in out.splitlines() if line.startswith("camera.gate1"))
    assert "camera gone" in task and "s ago)" in task


async def test_status_says_when_the_daemon_is_unreachable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = await run("status", "--url", f"http://127.0.0.1:{port}")
    assert rc == 2
    err = capsys.readouterr().err
    assert f"the daemon does not answer at http://127.0.0.1:{port}" in err
    assert "Traceback" not in err and "--url, --config or EDGE_WEB_PORT" in err
    assert await run("events", "--url", f"http://127.0.0.1:{port}") == 2


async def test_events_lists_filters_and_prints_json(
    daemon: tuple[Daemon, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = daemon
    first = await post(url, "access", "door1", {"card": "0001"})
    await post(url, "plate", "gate1", {"camera": "gate1", "plate": "京A12345", "confidence": 0.9})
    capsys.readouterr()
    assert await run("events", "--url", url, "--kind", "plate") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["TIME", "KIND", "SOURCE", "DATA"]
    assert len(out) == 2 and out[1].split()[1:3] == ["plate", "gate1"] and "京A12345" in out[1]
    assert out[0].index("DATA") == out[1].index("{")  # aligned, and the data is not cut
    assert await run("events", "--url", url, "--kind", "access", "--json", "--limit", "5") == 0
    events = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in events if e["source"] == "door1"] == [first]
    assert await run("events", "--url", url, "--since", "15m", "--kind", "plate") == 0
    assert "京A12345" in capsys.readouterr().out
    assert await run("events", "--url", url, "--since", "yesterday-ish") == 2
    assert "give an age like 15m" in capsys.readouterr().err
    assert await run("events", "--url", url, "--since", "15x") == 2
    assert "--since '15x' is not a time" in capsys.readouterr().err
    assert await run("events", "--url", url, "--kind", "nonsense") == 2
    assert "use one of plate, face" in capsys.readouterr().err
    assert await run("events", "--url", url, "--limit", "0") == 2
    assert "--limit must be from 1 to 1000" in capsys.readouterr().err


async def test_events_finds_the_api_from_the_config_file(
    daemon: tuple[Daemon, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An installer passes the config; a wildcard listen address is reached on loopback."""
    d, url = daemon
    await post(url, "plate", "gate1", {"camera": "gate1", "plate": "苏E99999", "confidence": 0.9})
    capsys.readouterr()
    config = tmp_path / "edge.yaml"
    config.write_text(
        "config_version: 1\n"
        'site: {name: 测试小区, site_id: "32010600002160000001", '
        'gateway_id: "32010600001180000001"}\n'
        f"storage: {{data_dir: {tmp_path / 'data'}}}\n"  # the token is found there
        f'web: {{listen: "0.0.0.0:{d.web.port}"}}\n',
        encoding="utf-8",
    )
    assert await run("events", "-c", str(config), "--kind", "plate") == 0
    assert "苏E99999" in capsys.readouterr().out


async def test_api_devices_shows_recorded_and_live_availability(
    daemon: tuple[Daemon, str],
) -> None:
    d, url = daemon
    async with (
        aiohttp.ClientSession(headers=daemon_headers(d)) as http,
        http.get(f"{url}/api/devices") as resp,
    ):
        doc = await resp.json()
    live = {d["device"]: d["available"] for d in doc["live"]}
    recorded = {d["device"]: bool(d["available"]) for d in doc["devices"]}
    assert live == {"meter-ok": True, "meter-gone": False}
    assert recorded == live
