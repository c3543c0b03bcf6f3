"""Delivery to a real mosquitto: complete, in order, once per ID, through outages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sized
from pathlib import Path

from mqtt_broker import Broker
from mqtt_hub import HubClient
from uplink_helpers import DaemonFactory, assert_complete_in_order, wait_until

from edge.config.loader import parse_config
from edge.events import Event, ImageRole

ROOT = Path(__file__).resolve().parents[2]


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
    # The fast PUBACK path (publisher.py) is what makes thousands per second possible;
    # an aiomqtt or paho upgrade that turns it off should be noticed here.
    assert d.rt.health_providers["uplink.hub"]()["puback_short_path"] is True


def more_than(items: Callable[[], Sized], n: int) -> Callable[[], bool]:
    return lambda: len(items()) > n


async def test_broker_restarting_under_load_loses_nothing(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await daemon(broker.url)
    uplink = d.rt.services["uplink.hub"]
    ids: list[str] = []
    stop = asyncio.Event()

    async def produce() -> None:
        n = 0
        while not stop.is_set():
            batch = [Event("plate", "cam-gate", {"plate": f"苏A{n + i:05d}"}) for i in range(20)]
            await asyncio.gather(*(d.store.add_event(e) for e in batch))
            ids.extend(e.id for e in batch)
            n += len(batch)
            await asyncio.sleep(0.02)  # ~1,000 events/s: load, without outrunning a busy CI box

    producer = asyncio.create_task(produce())
    await wait_until(lambda: uplink.connections >= 1, 10, "the first connection")
    for round_ in range(6):
        await wait_until(more_than(hub.events, len(hub.events()) + 100), 10, f"traffic {round_}")
        # Captured before the restart: the uplink may reconnect before restart() returns,
        # and a count taken after it would wait for a reconnect that already happened.
        before = uplink.connections
        await broker.restart()
        await wait_until(lambda: uplink.connections > before, 10, f"reconnect {round_}")  # noqa: B023
    stop.set()
    await producer
    await wait_until(lambda: len({m["id"] for m in hub.events()}) >= len(ids), 30, "all events")
    assert_complete_in_order(hub.events(), ids)
    assert uplink.connections >= 7


async def test_data_policy_strips_what_it_must(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await daemon(
        broker.url,
        """    kinds: [face, access]
    images: send
    policy:
      drop: [data.embedding]
      mask:
        - {field: data.person.id_number, keep_last: 4}
        - {field: data.visitors.*.phone, keep_last: 4}
      drop_image_roles: [face_crop]""",
    )
    crop = await d.store.save_image(b"\xff\xd8crop\xff\xd9", "face_crop")
    scene = await d.store.save_image(b"\xff\xd8scene\xff\xd9", "scene")
    face = Event(
        "face",
        "cam-lobby",
        {
            "person": {"name": "王伟", "id_number": "320106199001011234"},
            "embedding": [0.1] * 8,
            "visitors": [{"phone": "13912345678"}, {"phone": "13800001111"}],
        },
        images=(crop, scene),
    )
    await d.store.add_event(face)
    await d.store.add_event(Event("plate", "cam-gate", {"plate": "苏A12345"}))  # not owed
    await d.store.add_event(Event("access", "door-1", {"card": "1"}))
    await wait_until(lambda: len(hub.events()) >= 2, 10, "events")
    got = hub.events()
    assert [m["kind"] for m in got] == ["face", "access"]
    msg = got[0]
    assert msg["data"]["person"] == {"name": "王伟", "id_number": "**************1234"}
    assert "embedding" not in msg["data"]
    assert [v["phone"] for v in msg["data"]["visitors"]] == ["*******5678", "*******1111"]
    assert [im["role"] for im in msg["images"]] == ["scene"]
    assert msg["ts"].endswith("+08:00")
    images = hub.on(f"/images/{face.id}")
    assert [m.body["data"]["role"] for m in images] == ["scene"]
    assert hub.messages.index(images[0]) < hub.messages.index(
        next(m for m in hub.messages if "/events/face" in m.topic)
    ), "the image must precede the event that lists it"


async def test_no_url_keeps_queueing_and_says_so(daemon: DaemonFactory) -> None:
    d = await daemon("")
    for i in range(5):
        await d.store.add_event(Event("alarm", "smoke-1", {"n": i}))
    health = d.rt.health_providers["uplink.hub"]()
    assert health["state"] == "off"
    assert "no broker url" in health["detail"]
    assert (await d.store.outbox_stats())[0]["backlog"] == 5


async def test_the_demo_hub_policy_lets_no_face_image_through_on_the_wire(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    demo = ROOT / "config" / "demo.yaml"
    cfg = parse_config(demo.read_text("utf-8"), str(demo), {"EDGE_MQTT_URL": broker.url})
    policy = cfg.uplinks["hub"].policy.model_dump(mode="json")
    assert policy["drop_image_roles"] == ["face_crop"]
    d = await daemon(broker.url, f"    images: send\n    policy: {json.dumps(policy)}")
    images = [
        await d.store.save_image(b"\xff\xd8" + role.value.encode() + b"\xff\xd9", role)
        for role in ImageRole
    ]
    face = Event(
        "face", "cam-lobby", {"person": {"id_number": "320106199001011234"}}, images=tuple(images)
    )
    await d.store.add_event(face)
    await wait_until(lambda: len(hub.events()) == 1, 10, "the face event")
    listed = [im["role"] for im in hub.events()[0]["images"]]
    sent = [m.body["data"]["role"] for m in hub.on(f"/images/{face.id}")]
    others = [r.value for r in ImageRole if r is not ImageRole.FACE_CROP]
    assert listed == others and sent == others, (listed, sent)
    assert not any(b"face_crop" in json.dumps(m.body).encode() for m in hub.messages)
    assert hub.events()[0]["data"]["person"]["id_number"].endswith("1234")
    assert hub.events()[0]["data"]["person"]["id_number"].startswith("*")


async def test_mqtt_3_1_1_brokers_still_get_everything(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await daemon(broker.url, '    protocol: "3.1.1"')
    events = [Event("access", "door-1", {"n": i}) for i in range(50)]
    for e in events:
        await d.store.add_event(e)
    await wait_until(lambda: len(hub.events()) >= 50, 10, "every event over MQTT 3.1.1")
    assert_complete_in_order(hub.events(), [e.id for e in events])
    health = d.rt.health_providers["uplink.hub"]()
    assert (health["protocol"], health["puback_short_path"]) == ("3.1.1", True)
