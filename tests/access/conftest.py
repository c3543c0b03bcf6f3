"""A real daemon (store, flow, web API, drivers, the gatekeeper) around simulated gates.

Passes are committed through the flow exactly as the vision workers commit them (a
`plate` event with the camera's id), so the gatekeeper sees what it sees in the field;
the end-to-end test in test_access_e2e.py feeds a real plate photo through a file camera.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from daemons import Daemons

from edge.app import Daemon
from edge.config import config_model
from edge.sim.uhppote import UhppoteSimulator

SITE = {
    "name": "测试小区",
    "site_id": "32010600002160000001",
    "gateway_id": "32010600001180000001",
}

MakeDaemon = Callable[..., Awaitable[Daemon]]


@pytest.fixture
def make_daemon(tmp_path: Path, daemons: Daemons) -> MakeDaemon:
    async def make(
        access: dict[str, Any],
        devices: list[dict[str, Any]],
        buses: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> Daemon:
        config = config_model().model_validate(
            {
                "config_version": 1,
                "site": SITE,
                "storage": {"data_dir": str(tmp_path / "data")},
                "web": {"listen": "127.0.0.1:0"},
                "buses": buses or [],
                "devices": devices,
                "access": access,
                **extra,
            }
        )
        return await daemons.start(config)

    return make


@pytest.fixture
async def controller() -> AsyncIterator[UhppoteSimulator]:
    async with UhppoteSimulator(serial=405419896, open_delay_s=0.5) as sim:
        yield sim


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[Any]]:
    async def wait(cond: Callable[[], Any], timeout_s: float = 10.0) -> Any:
        async with asyncio.timeout(timeout_s):
            while True:
                value = cond()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(0.02)

    return wait
