"""Fixtures: a real mosquitto on an ephemeral port, a hub subscriber, and the
daemon (in process, with the real store and the real MQTT uplink)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from mqtt_broker import Broker
from mqtt_hub import HubClient

from edge.app import Daemon
from edge.config.loader import parse_config

SECRET = "s3cret-shared-with-the-hub"
SITE = "32010600002160000001"
GATEWAY = "32010600001180000001"

WaitUntil = Callable[[Callable[[], bool], float, str], Awaitable[None]]


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll a condition (no fixed sleeps): fail with `what` if it is not met in time."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


def config_text(data_dir: Path, url: str, uplink_extra: str = "", web: str = "127.0.0.1:0") -> str:
    return f"""
config_version: 1
site:
  name: Test Compound
  site_id: "{SITE}"
  gateway_id: "{GATEWAY}"
  utc_offset: "+08:00"
storage:
  data_dir: {data_dir}
web:
  listen: "{web}"
logging:
  level: WARNING
uplinks:
  hub:
    type: mqtt
    url: "{url}"
    keepalive_s: 5
    connect_timeout_s: 2
    reconnect_initial_s: 0.05
    reconnect_max_s: 0.5
    health_interval_s: 3600
    commands:
      secret: {SECRET}
{uplink_extra}
"""


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    b = Broker(tmp_path / "broker")
    await b.start()
    yield b
    await b.stop()


@pytest.fixture
async def hub(broker: Broker) -> AsyncIterator[HubClient]:
    h = HubClient(broker.port)
    h.start()
    await asyncio.wait_for(h.connected.wait(), 10)
    yield h
    await h.stop()


DaemonFactory = Callable[..., Awaitable[Daemon]]


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[DaemonFactory]:
    started: list[Daemon] = []

    async def make(url: str, uplink_extra: str = "") -> Daemon:
        cfg = parse_config(config_text(tmp_path / "data", url, uplink_extra), "test.yaml", {})
        d = Daemon(cfg)
        await d.start()
        started.append(d)
        return d

    yield make
    for d in started:
        await d.stop()
