"""Device availability: logged and recorded once when a device goes down and once when it is
back, however many polls fail in between (an installer reads the log, not a flood)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from edge.devices import DeviceTracker
from edge.flow import Flow
from edge.hub import Hub
from edge.store import Store


async def test_a_down_device_is_logged_and_recorded_once_per_episode(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    flow = Flow(store, Hub())
    dispatcher = asyncio.create_task(flow.run())
    devices = DeviceTracker(flow)
    with caplog.at_level(logging.INFO, logger="edge.devices"):
        await devices.success("meter-1")
        for k in range(5):
            await devices.failure("meter-1", f"BusTimeout: attempt {k}")
        await devices.success("meter-1")
        await devices.success("meter-1")
        await devices.failure("meter-1", "BusTimeout: again")
    assert [r.getMessage() for r in caplog.records] == [
        "device meter-1 is unavailable: BusTimeout: attempt 0",
        "device meter-1 is back after 5 failed attempt(s)",
        "device meter-1 is unavailable: BusTimeout: again",
    ]
    events = list(reversed(await store.events(kind="device", limit=100)))
    assert [(e["data"]["available"], e["data"]["error"]) for e in events] == [
        (True, None),
        (False, "BusTimeout: attempt 0"),
        (True, None),
        (False, "BusTimeout: again"),
    ]
    dispatcher.cancel()
    await asyncio.gather(dispatcher, return_exceptions=True)
    [snap] = devices.snapshot()
    assert snap["available"] is False and snap["failures"] == 1
    assert snap["last_error"] == "BusTimeout: again"
