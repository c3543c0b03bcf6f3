"""A peer that refuses a record, or stops acknowledging: nothing counted as delivered that
was not, against a real mosquitto (an ACL; a broker frozen with SIGSTOP)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from mqtt_broker import Broker
from mqtt_hub import HubClient
from prereqs import require
from test_uplink_cli import edge_cli
from uplink_helpers import SITE, DaemonFactory, assert_complete_in_order, wait_until

from edge.events import Event


@pytest.fixture
async def acl_broker(tmp_path: Path) -> Broker:
    """The gateway (user gw) may publish anything under its prefix but events/face;
    anonymous clients (the test's hub) may read everything."""
    work = tmp_path / "acl-broker"
    work.mkdir()
    (work / "passwd").write_text("gw:gw-password\n")
    tool = shutil.which("mosquitto_passwd")
    require(tool is not None, "mosquitto_passwd", "apt-get install mosquitto")
    assert tool is not None
    proc = await asyncio.create_subprocess_exec(tool, "-U", str(work / "passwd"))
    assert await proc.wait() == 0, "mosquitto_passwd (package mosquitto) failed"
    (work / "acl").write_text(
        "user gw\n"
        f"topic deny compound/{SITE}/events/face\n"
        f"topic readwrite compound/{SITE}/#\n"
        "\n"
        "pattern read compound/#\n"
    )
    # mosquitto 2.0.11 with an unlimited queue (max_queued_messages 0) always drops an
    # MQTT 5 client right after refusing its publish; with a bounded one, rarely.
    b = Broker(
        work, extra_conf=f"password_file {work}/passwd\nacl_file {work}/acl\n", max_queued=1000
    )
    await b.start()
    return b


async def test_a_publish_the_broker_refuses_is_parked_with_its_reason_not_acked(
    acl_broker: Broker, daemon: DaemonFactory
) -> None:
    hub = HubClient(acl_broker.port)
    hub.start()
    try:
        d = await daemon(acl_broker.url, "    username: gw\n    password: gw-password")
        uplink = d.rt.services["uplink.hub"]
        events = [
            Event("access", "door-1", {"n": 1}),
            Event("face", "cam-lobby", {"person": "x"}),
            Event("access", "door-1", {"n": 2}),
        ]
        for e in events:
            await d.store.add_event(e)
        await wait_until(lambda: len(hub.events()) >= 2, 10, "the two accepted events")
        assert [m["kind"] for m in hub.events()] == ["access", "access"]
        # The refused one is neither acknowledged nor lost: parked, with the broker's reason.
        await wait_until(lambda: uplink.drain.parked == 1, 10, "the refusal")
        [parked] = await d.store.parked("hub")
        assert parked["id"] == events[1].id and parked["seq"] == 2
        assert "Not authorized" in parked["reason"]
        await wait_until(lambda: uplink.drain.acked_seq == 3, 10, "the cursor past it")
        stats = (await d.store.outbox_stats())[0]
        assert (stats["backlog"], stats["parked"]) == (0, 1)
        assert uplink.drain.acked == 2, "a refused publish counted as acknowledged"
        # A refusal is not a connection failure. (mosquitto 2.0.11 itself sometimes drops
        # an MQTT 5 client right after refusing its publish; the record stays parked once
        # and is not sent again on the next connection.)
        assert "refused" not in (uplink.last_error or "")
        assert uplink.drain.parked == 1
        await uplink._refresh_stats()
        code, out = await edge_cli("queue", "--url", f"http://127.0.0.1:{d.web.port}")
        assert code == 0, out
        assert f"parked hub seq 2 face {events[1].id}: " in out and "Not authorized" in out
        health = d.rt.health_providers["uplink.hub"]()
        assert any("refused 1 record" in p for p in health["problems"])
    finally:
        await hub.stop()
        await acl_broker.stop()


async def test_a_broker_that_stops_acknowledging_is_left_and_nothing_is_lost(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await daemon(broker.url)
    uplink = d.rt.services["uplink.hub"]
    await wait_until(lambda: uplink.state == "connected", 10, "connected")
    first = [Event("alarm", "smoke-1", {"n": i}) for i in range(5)]
    for e in first:
        await d.store.add_event(e)
    await wait_until(lambda: len(hub.events()) == 5, 10, "delivery before the freeze")
    # The connection stays open (the kernel keeps accepting bytes) but nothing answers.
    broker.pause()
    try:
        held = [Event("alarm", "smoke-1", {"n": i}) for i in range(5, 55)]
        for e in held:
            await d.store.add_event(e)
        stall = uplink.cfg.connect_timeout_s * 3
        await wait_until(
            lambda: "no acknowledgement" in (uplink.last_error or ""),
            stall + 10,
            "the uplink to give up on the silent broker",
        )
        assert uplink.drain.acked_seq == 5, "nothing after the freeze counts as delivered"
        assert (await d.store.outbox_stats())[0]["backlog"] == 50
    finally:
        broker.resume()
    await wait_until(lambda: uplink.drain.acked_seq == 55, 20, "everything after the thaw")
    assert_complete_in_order(hub.events(), [e.id for e in first + held])
    assert json.loads(json.dumps(uplink.health()))["backlog"] is not None
