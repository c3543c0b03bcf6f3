"""The live hub: a slow subscriber loses its oldest items (counted, logged once), never slows
a publisher, and other subscribers see everything."""

from __future__ import annotations

import asyncio
import logging

import pytest

from edge.hub import Hub


async def test_a_slow_subscriber_drops_its_oldest_items_and_others_lose_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = Hub()
    slow = hub.subscribe("reading/", maxsize=3, name="page")
    fast = hub.subscribe("", maxsize=10_000, name="uplink-wake")
    other = hub.subscribe("alarm/", name="rules")
    with caplog.at_level(logging.WARNING, logger="edge.hub"):
        for k in range(2000):
            hub.publish(f"reading/m{k % 2}", k)  # returns at once whoever is behind
    assert slow.dropped == 1997
    assert [slow.get_nowait() for _ in range(4)] == [
        ("reading/m1", 1997),
        ("reading/m0", 1998),
        ("reading/m1", 1999),
        None,
    ]
    everything = [fast.get_nowait() for _ in range(2000)]
    assert [got[1] if got else None for got in everything] == list(range(2000))
    assert fast.dropped == 0 and other.get_nowait() is None
    assert hub.stats() == {"page": 1997, "uplink-wake": 0, "rules": 0}
    warnings = [r.getMessage() for r in caplog.records]
    # once when dropping starts, then every 1000 drops: not once per item
    assert warnings == [
        "subscriber page is slow: 1 items dropped",
        "subscriber page is slow: 1000 items dropped",
    ]


async def test_a_waiting_subscriber_wakes_on_publish_and_ends_when_unsubscribed() -> None:
    hub = Hub()
    sub = hub.subscribe("alarm/", name="page")
    got: list[tuple[str, object]] = []

    async def consume() -> None:
        async for item in sub:
            got.append(item)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)  # the consumer is now waiting on an empty queue
    hub.publish("alarm/raised", {"id": 1})
    hub.publish("reading/x", 5)  # not its prefix
    hub.unsubscribe(sub)
    await asyncio.wait_for(task, 5)
    assert got == [("alarm/raised", {"id": 1})]
    hub.publish("alarm/raised", {"id": 2})  # nobody is subscribed any more
    assert hub.stats() == {}
    hub.unsubscribe(sub)  # twice is harmless
