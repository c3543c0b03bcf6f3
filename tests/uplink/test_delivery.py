"""Delivery to a real mosquitto: complete, in order, once per ID, through outages."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import DaemonFactory, wait_until
from mqtt_broker import Broker
from mqtt_hub import HubClient

from edge.events import Event


def assert_complete_in_order(received: list[dict[str, Any]], ids: list[str]) -> None:
    """Every committed id arrived; a resend carries the same seq; first arrivals are in
    seq order (duplicates are allowed only as resends of what was unacknowledged)."""
    seq_of: dict[str, int] = {}
    first: list[int] = []
    for m in received:
        if m["id"] in seq_of:
            assert seq_of[m["id"]] == m["seq"], f"{m['id']} resent with another seq"
            continue
        seq_of[m["id"]] = m["seq"]
        first.append(m["seq"])
    missing = set(ids) - set(seq_of)
    assert not missing, f"{len(missing)} events never arrived"
    assert first == sorted(first), "events arrived out of seq order"
    assert len(set(first)) == len(first)


async def test_burst_while_broker_down_arrives_complete_and_in_order(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await daemon(broker.url)
    await wait_until(lambda: bool(hub.on("/status")), 10, "status online")
    await hub.stop()
    await broker.stop()
    events = [Event("access", f"door-{i % 3}", {"n": i}) for i in range(3000)]
    await asyncio.gather(*(d.store.add_event(e) for e in events))
    stats = await d.store.outbox_stats()
    assert stats[0]["backlog"] == 3000
    await broker.start()
    hub.start()
    await wait_until(lambda: len({m["id"] for m in hub.events()}) >= 3000, 30, "backlog")
    assert_complete_in_order(hub.events(), [e.id for e in events])
    assert [m["seq"] for m in hub.events()][:3] == [1, 2, 3]
    await wait_until(lambda: d.rt.services["uplink.hub"].drain.acked_seq == 3000, 10, "acks")
    assert (await d.store.outbox_stats())[0]["backlog"] == 0
