"""A scene alarm reaches the district hub as docs/uplink.md and docs/scene-rules.md say: the
`raised` alarm event lists its evidence (the object's crop and the scene, each published
first on images/{event_id}), and the rule's own clear follows as `closed` by `rule:<name>`.
Over a real mosquitto broker, the alarm made by the rule's code from a real COCO photo."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import cv2
import numpy as np
import videos
from daemons import Daemons
from harness import LIFT, rules
from uplink.mqtt_broker import Broker
from uplink.mqtt_hub import HubClient
from uplink.uplink_helpers import config_text, wait_until

from edge.config.loader import parse_config
from edge.scene.runner import SceneActions, SceneRules
from edge.vision.objects.tracks import ObjectTrack


async def test_an_ebike_alarm_reaches_the_hub_with_its_images_then_closes(
    tmp_path: Path, daemons: Daemons
) -> None:
    broker = Broker(tmp_path / "broker")
    await broker.start()
    hub = HubClient(broker.port)
    hub.start()
    try:
        await asyncio.wait_for(hub.connected.wait(), 10)
        text = config_text(tmp_path / "data", broker.url, "    images: send")
        d = await daemons.start(parse_config(text, "edge.yaml", {}))
        lift = rules(
            {"type": "ebike_in_lift", "zone": {"name": "lift car", "points": LIFT}, "clear_s": 2}
        )
        scene, actions = SceneRules(lift), SceneActions(d.rt, "lift-3a", lift)
        photo = videos.stands("motorcycle", "lift", seconds=1.0)[0][1]
        box = (200.0, 120.0, 440.0, 340.0)
        track = ObjectTrack(7, "motorcycle", box, 0.9, 0.0, 0.0)
        track.best_crop = photo[120:340, 200:440]
        for ts in (0.0, 1.0, 2.5):  # inside for min_s (2 s): raised
            track.last_ts = ts
            await actions.apply(scene.observe([track], ts, photo))
        await actions.apply(scene.observe([], 5.0, None))  # gone for clear_s: closed
        await wait_until(lambda: len(hub.events()) >= 2, 15, "raised and closed at the hub")
        raised, closed = hub.events()[:2]
    finally:
        await hub.stop()
        await broker.stop()
    assert raised["kind"] == "alarm" and raised["source"] == "lift-3a"
    assert raised["data"]["key"] == "scene:lift-3a:ebike_in_lift"
    assert raised["data"]["state"] == "raised" and raised["data"]["severity"] == "critical"
    assert raised["data"]["data"]["label"] == "motorcycle"
    assert "电动车进电梯" in raised["data"]["message"]
    assert [im["role"] for im in raised["images"]] == ["object_crop", "scene"]
    sent = hub.on(f"/images/{raised['id']}")
    assert sorted(m.body["data"]["role"] for m in sent) == ["object_crop", "scene"]
    for m in sent:  # real JPEGs: the guards' and the hub's evidence
        jpeg = np.frombuffer(base64.b64decode(m.body["data"]["b64"]), np.uint8)
        assert cv2.imdecode(jpeg, cv2.IMREAD_COLOR).shape[0] >= 200
    assert closed["data"]["state"] == "closed" and closed["data"]["by"] == "rule:ebike_in_lift"
