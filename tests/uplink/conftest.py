"""Fixtures: a real mosquitto on an ephemeral port, a hub subscriber, and the
daemon (in process, with the real store and the real MQTT uplink)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from daemons import Daemons
from mqtt_broker import Broker
from mqtt_hub import HubClient
from uplink_helpers import DaemonFactory, config_text

from edge.app import Daemon
from edge.config.loader import parse_config


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


@pytest.fixture
def daemon(tmp_path: Path, daemons: Daemons) -> DaemonFactory:
    async def make(url: str, uplink_extra: str = "") -> Daemon:
        cfg = parse_config(config_text(tmp_path / "data", url, uplink_extra), "test.yaml", {})
        return await daemons.start(cfg)

    return make
