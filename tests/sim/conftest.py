"""The simulated meter bus with a client on it, over TCP and (parametrised) over a pty."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sim_meter_client import CLIENTS, Client, default_config, tcp_client

from edge.sim.meters import MeterSimulator


@pytest.fixture(params=["tcp", "pty"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[tuple[MeterSimulator, Client]]:
    async with MeterSimulator(default_config()) as sim, CLIENTS[request.param](sim) as client:
        yield sim, client


@pytest.fixture
async def tcp_bus() -> AsyncIterator[tuple[MeterSimulator, Client]]:
    async with MeterSimulator(default_config()) as sim, tcp_client(sim) as client:
        yield sim, client
