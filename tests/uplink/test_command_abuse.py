"""The downlink under attack, over a real broker: a deeply nested unsigned message, a flood
of forgeries around one genuine command, and a bug inside the uplink task itself."""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import Any

from mqtt_broker import Broker
from mqtt_hub import HubClient
from prereqs import needs
from test_commands import PREFIX, command, ready, send
from uplink_helpers import DaemonFactory, wait_until

from edge.events import Event

MOSQUITTO_PUB = shutil.which("mosquitto_pub")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_a_deeply_nested_unsigned_message_is_dropped_and_delivery_goes_on(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await ready(hub, daemon, broker)
    # issue 8.4: 10 KB, 5,000 levels inside the (unsigned) body text; and the same depth
    # in the envelope itself. Neither may be parsed beyond a fixed depth before the HMAC.
    await hub.publish(f"{PREFIX}/cmd/diag", json.dumps({"body": nested(5000)}))
    await hub.publish(f"{PREFIX}/cmd/diag", '{"body": ' + nested(5000) + "}")
    await hub.publish(f"{PREFIX}/cmd/diag", json.dumps({"body": nested(5000), "signature": "0"}))
    event = Event("alarm", "smoke-1", {"level": "high"})
    await d.store.add_event(event)
    await wait_until(lambda: [m["id"] for m in hub.events()] == [event.id], 10, "delivery")
    reply = await send(hub, "diag", command("diag", {}, "d-after"), "d-after")
    assert reply["status"] == "done"
    counts = d.rt.health_providers["uplink.hub"]()["commands"]
    assert counts["unauthenticated"] == 3
    assert not hub.on("/cmd-reply/unknown"), "an unauthenticated message got a reply"
    (task,) = [t for t in d.rt.supervisor.health() if t.name == "uplink.hub"]
    assert (task.state, task.restarts) == ("running", 0)


async def test_a_restarted_uplink_task_rebuilds_what_it_owns(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await ready(hub, daemon, broker)
    uplink = d.rt.services["uplink.hub"]
    real_encode = uplink.encode
    calls = 0

    def encode_with_a_bug_once(seq: int, event: Event) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in the encoder")  # the fault a real peer cannot cause
        return real_encode(seq, event)

    uplink.encode = encode_with_a_bug_once
    first = Event("alarm", "smoke-1", {"n": 1})
    await d.store.add_event(first)
    await wait_until(
        lambda: any(t.name == "uplink.hub" and t.restarts == 1 for t in d.rt.supervisor.health()),
        10,
        "the supervisor to restart the uplink",
    )
    second = Event("alarm", "smoke-1", {"n": 2})
    await d.store.add_event(second)
    # Before the fix, the restarted task found its encoder thread shut down ("cannot
    # schedule new futures after shutdown") and never delivered again.
    await wait_until(lambda: len({m["id"] for m in hub.events()}) == 2, 15, "both events")
    assert [m["id"] for m in hub.events()][-2:] == [first.id, second.id]


@needs(MOSQUITTO_PUB is not None, "mosquitto_pub", "apt-get install mosquitto-clients")
async def test_a_flood_of_forgeries_does_not_drown_a_genuine_command(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    assert MOSQUITTO_PUB is not None
    d = await ready(hub, daemon, broker)
    forged = json.dumps({"body": "x" * 10_000, "signature": "0" * 64})
    genuine = command("diag", {}, "genuine-in-flood")
    lines = [forged] * 1000 + [genuine] + [forged] * 1000
    # issue 8.6: 2,000 forged messages of 10 KB published as fast as mosquitto_pub can,
    # the genuine one in the middle.
    proc = await asyncio.create_subprocess_exec(
        MOSQUITTO_PUB,
        *("-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-l"),
        *("-t", f"{PREFIX}/cmd/diag"),
        stdin=asyncio.subprocess.PIPE,
    )
    await proc.communicate(("\n".join(lines) + "\n").encode())
    assert proc.returncode == 0
    await wait_until(lambda: bool(hub.on("/cmd-reply/genuine-in-flood")), 30, "genuine reply")
    assert hub.on("/cmd-reply/genuine-in-flood")[0].body["status"] == "done"
    uplink = d.rt.services["uplink.hub"]
    await wait_until(
        lambda: uplink.commands.counts["unauthenticated"] == 2000, 30, "every forgery seen"
    )
    assert uplink.connections == 1
    audited = [
        r
        for r in await d.store.reader.run(
            lambda c: c.execute("SELECT detail FROM audit").fetchall()
        )
        if json.loads(r["detail"]).get("status") == "unauthenticated"
    ]
    assert 0 < len(audited) <= 10, "forgeries audited within a budget, not one row each"
