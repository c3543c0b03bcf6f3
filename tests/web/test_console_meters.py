"""Meters on the console: latest value with its unit, threshold state, the day's series."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from webauth import MINIMAL, PASSWORDS, browser_like, login, with_users

from edge.app import Daemon
from edge.config import parse_config
from edge.events import Reading

DEVICES = """\
buses:
  - {id: line1, type: serial, port: "socket://127.0.0.1:9", timeout_s: 100ms, retries: 0}
devices:
  - id: wl-b2
    name: 地下车库水位
    type: dlt645
    bus: line1
    address: "000000000161"
    poll_interval_s: 1h
    thresholds: [{point: level, above: 0.5, severity: critical, message: 车库进水}]
"""


@pytest.fixture
async def meters_console(tmp_path: Path) -> AsyncIterator[tuple[Daemon, str]]:
    text = with_users(MINIMAL.format(data_dir=tmp_path / "data")) + DEVICES
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    yield d, f"http://127.0.0.1:{d.web.port}"
    await d.stop()


async def test_latest_reading_threshold_state_and_series(
    meters_console: tuple[Daemon, str],
) -> None:
    d, url = meters_console
    for level in (0.1, 0.2, 0.8):
        await d.rt.flow.emit_readings("wl-b2", [Reading("wl-b2", "level", level, "m")])
    await d.rt.flow.idle(5.0)
    async with browser_like() as http:
        await login(http, url, "zhang", PASSWORDS["zhang"])
        async with http.get(url + "/api/meters") as r:
            doc = await r.json()
    [meter] = doc["meters"]
    assert meter["name"] == "地下车库水位"
    [level] = meter["points"]
    assert (level["value"], level["unit"], level["spark"]) == (0.8, "m", [0.1, 0.2, 0.8])
    assert level["alarm"] is True and level["rules"][0]["above"] == 0.5
