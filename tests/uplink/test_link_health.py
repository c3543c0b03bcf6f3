"""An unreachable hub shows as that uplink's state in /api/health and `edge status` within
one reconnect attempt, and makes the daemon degraded at the configured threshold."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from mqtt_broker import Broker
from test_uplink_cli import edge_cli
from uplink_helpers import DaemonFactory, wait_until

from edge.events import Event


async def health(port: int | None) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"http://127.0.0.1:{port}/api/health") as r,
    ):
        doc: dict[str, Any] = await r.json()
        return doc


async def test_an_unreachable_hub_shows_at_once_and_degrades_at_the_threshold(
    broker: Broker, daemon: DaemonFactory
) -> None:
    d = await daemon(broker.url, "    degraded_after_s: 0")
    uplink = d.rt.services["uplink.hub"]
    await wait_until(lambda: uplink.state == "connected", 10, "connected")
    assert (await health(d.web.port))["status"] == "ok"
    await broker.stop()
    for i in range(4):
        await d.store.add_event(Event("alarm", "smoke-1", {"n": i}))
    began = uplink.failed_attempts
    # One failed reconnect attempt is enough for the whole picture.
    await wait_until(lambda: uplink.failed_attempts > began + 1, 10, "a reconnect attempt")
    doc = await health(d.web.port)
    section = doc["uplink.hub"]
    assert isinstance(section, dict)
    assert section["state"] == "disconnected"
    assert section["since"] == section["disconnected_since"] is not None
    assert section["backlog"] == 4 and section["oldest_age_s"] >= 0
    assert "Connection refused" in section["last_error"]
    assert doc["status"] == "degraded"
    assert any("uplink hub disconnected since" in p for p in doc["problems"])
    code, out = await edge_cli("status", "--url", f"http://127.0.0.1:{d.web.port}")
    assert code == 1, out
    line = next(x for x in out.splitlines() if x.startswith("uplink hub:"))
    assert line.startswith("uplink hub: disconnected since "), line
    assert "backlog 4, acked seq 0, oldest" in line and "Connection refused" in line
    await broker.start()
    await wait_until(lambda: uplink.state == "connected", 10, "reconnected")
    await wait_until(lambda: uplink.drain.acked_seq == 4, 10, "the backlog")
    assert (await health(d.web.port))["status"] == "ok"


async def test_below_the_threshold_an_outage_is_shown_but_not_degraded(
    broker: Broker, daemon: DaemonFactory
) -> None:
    d = await daemon(broker.url)  # degraded_after_s: default 300
    uplink = d.rt.services["uplink.hub"]
    await wait_until(lambda: uplink.state == "connected", 10, "connected")
    await broker.stop()
    await wait_until(lambda: uplink.failed_attempts >= 2, 10, "reconnect attempts")
    doc = await health(d.web.port)
    assert doc["uplink.hub"]["state"] == "disconnected"
    assert doc["status"] == "ok", json.dumps(doc["problems"])


async def test_records_owed_show_in_the_uplinks_backlog_at_once(
    broker: Broker, daemon: DaemonFactory
) -> None:
    """The link refreshes its own figures every few seconds; a health read right after two
    records were committed still says two (the console showed one: a guard's false count)."""
    d = await daemon(broker.url)
    uplink = d.rt.services["uplink.hub"]
    await wait_until(lambda: uplink.state == "connected", 10, "connected")
    await broker.stop()
    await wait_until(lambda: uplink.failed_attempts >= 1, 10, "the link to notice")
    await uplink._refresh_stats()  # its cached figures are now from before the records
    for i in range(2):
        await d.store.add_event(Event("alarm", f"smoke-owed-{i}", {"n": i}))
    doc = await health(d.web.port)
    assert doc["uplink.hub"]["backlog"] == 2
    assert doc["uplink.hub"]["oldest_age_s"] >= 0
    assert [o["backlog"] for o in doc["outbox"] if o["dest"] == "hub"] == [2]
