from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from edge.config import config_model
from edge.cpu import CpuPool
from edge.hub import Hub
from edge.registry import registry
from edge.runtime import Runtime, compose
from edge.store import Store
from edge.supervisor import Supervisor

MakeRuntime = Callable[[list[dict[str, Any]], list[dict[str, Any]]], Awaitable[Runtime]]


@pytest.fixture
async def make_runtime(tmp_path: Path) -> AsyncIterator[MakeRuntime]:
    """A real runtime (store with its writer, hub, tracker) and the devices started as the
    daemon starts them: each driver's run() under the supervisor."""
    made: list[tuple[Runtime, asyncio.Task[None]]] = []

    async def make(buses: list[dict[str, Any]], devices: list[dict[str, Any]]) -> Runtime:
        config = config_model().model_validate(
            {
                "config_version": 1,
                "site": {
                    "name": "t",
                    "site_id": "32010600002160000001",
                    "gateway_id": "32010600001180000001",
                },
                "storage": {"data_dir": str(tmp_path / "data")},
                "buses": buses,
                "devices": devices,
            }
        )
        hub = Hub()
        store = Store(config.storage.data_dir)
        await store.open()
        writer = asyncio.create_task(store.run_writer())
        rt = compose(config, store, hub, Supervisor(backoff_initial_s=0.1), CpuPool(1))
        rt.supervisor.spawn("flow", rt.flow.run)
        made.append((rt, writer))
        plugins = registry().drivers
        for dev in config.devices:
            driver = plugins[dev.type].impl(dev, rt)
            rt.services[f"device.{dev.id}"] = driver
            rt.supervisor.spawn(f"device.{dev.id}", driver.run)
        return rt

    yield make
    for rt, writer in made:
        await rt.supervisor.stop(timeout_s=2)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await rt.store.close()
        rt.cpu.shutdown()


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[Any]]:
    return _wait_for


async def _wait_for(cond: Callable[[], Any], timeout_s: float = 10.0, every_s: float = 0.02) -> Any:
    """Poll a condition (sync or async) until truthy; fail with the timeout otherwise."""

    async def check() -> Any:
        result = cond()
        if asyncio.iscoroutine(result):
            result = await result
        return result

    async with asyncio.timeout(timeout_s):
        while not (value := await check()):  # noqa: ASYNC110 - conditions live in other tasks
            await asyncio.sleep(every_s)
        return value
