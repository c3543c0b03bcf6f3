from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from edge.config.buses import SerialBusConfig
from edge.sim.meters import MeterSimulator, MeterSpec, Protocol, SimConfig

METERS = [
    MeterSpec("000000000161", Protocol.DLT645_2007, energy_kwh=1234.56),
    MeterSpec("000000000162", Protocol.DLT645_2007, energy_kwh=50.0),
    MeterSpec("000000060507", Protocol.DLT645_1997, energy_kwh=93.64),
    MeterSpec("00201809230001", Protocol.CJT188, flow_total_m3=0.6),
]


@pytest.fixture
async def meter_sim() -> AsyncIterator[MeterSimulator]:
    meters = [dataclasses.replace(m) for m in METERS]  # faults are set on the specs
    async with MeterSimulator(SimConfig(meters=meters)) as sim:
        yield sim


TcpBus = Callable[..., Awaitable[SerialBusConfig]]


@pytest.fixture
def tcp_bus() -> TcpBus:
    return _tcp_bus


async def _tcp_bus(sim: MeterSimulator, **kw: object) -> SerialBusConfig:
    host, port = await sim.start_tcp()
    args: dict[str, object] = {
        "id": "rs1",
        "type": "serial",
        "port": f"socket://{host}:{port}",
        "timeout_s": 0.3,
        "retries": 0,
        "inter_frame_gap_s": 0,
    }
    args.update(kw)
    return SerialBusConfig.model_validate(args)
