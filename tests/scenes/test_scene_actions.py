"""What becomes of scene alarms in the daemon's store: the start's sweep of alarms a previous
run left open (those of a camera gone from the config too); the fire lane's alarm names no
other vehicle's plate."""

from __future__ import annotations

from pathlib import Path

from daemons import Daemons
from harness import LIFT, rules
from uplink.uplink_helpers import config_text

from edge.config.loader import parse_config
from edge.scene.runner import SceneActions, SceneRules
from edge.vision.objects.tracks import ObjectTrack


async def test_alarms_of_a_camera_no_longer_watched_are_closed_at_start(
    tmp_path: Path, daemons: Daemons
) -> None:
    """A camera taken out of the config left its fire-lane alarm open: no rule will ever
    clear it, so the next start closes it. Its falling-object alarm stays for the guards,
    as does every alarm that is not a scene rule's."""
    config = parse_config(config_text(tmp_path / "data", "", ""), "edge.yaml", {})
    d = await daemons.start(config)
    lane = {"type": "fire_lane", "rule": "fire_lane"}
    await d.store.raise_alarm("scene:gone:fire_lane", "gone", "lane blocked", "major", lane)
    fall = {"type": "falling_object", "rule": "falling_object"}
    await d.store.raise_alarm(
        "scene:gone:falling_object:1", "gone", "object fell", "critical", fall
    )
    await d.store.raise_alarm("smoke:b1", "smoke-b1", "smoke", "critical")
    await daemons.stop(d)

    d = await daemons.start(config)
    [closed] = await d.store.alarms(state="closed")
    assert closed["key"] == "scene:gone:fire_lane" and closed["closed_by"] == "system:scene"
    still = {a["key"] for a in await d.store.alarms(state="raised")}
    assert still == {"scene:gone:falling_object:1", "smoke:b1"}


async def test_a_passing_cars_plate_does_not_name_the_parked_one(
    tmp_path: Path, daemons: Daemons
) -> None:
    """The parked car's plate is out of view (nose in); its plate was read as it drove in,
    and another car's was read while it stood there: the alarm names the first one only.
    A property manager phones the owner the alarm names."""
    text = config_text(tmp_path / "data", "", "")
    d = await daemons.start(parse_config(text, "edge.yaml", {}))
    lane = rules({"type": "fire_lane", "zone": {"name": "lane", "points": LIFT}, "min_s": 60})

    async def alarm(plates: list[tuple[str, float]]) -> dict[str, object]:
        scene, actions = SceneRules(lane), SceneActions(d.rt, "lane-n", lane)
        track = ObjectTrack(3, "car", (200.0, 120.0, 440.0, 340.0), 0.9, 1000.0, 1000.0)
        for ts in (1000.0, 1010.0, 1075.0):  # drove in at 1000, stopped at 1010
            for text, read in plates:
                if read <= ts:
                    actions.saw_plate(text, read)
            track.last_ts = ts
            if ts == 1010.0:
                track.box = (240.0, 120.0, 480.0, 340.0)  # the last move before it stopped
            await actions.apply(scene.observe([track], ts, None))
        [a] = await d.store.alarms(state="raised")
        await d.store.close_alarm(a["id"], "test")
        return a["data"]  # type: ignore[no-any-return]

    assert (await alarm([("沪AF71017", 1008.0)]))["plate"] == "沪AF71017"
    assert "plate" not in await alarm([("沪AF71017", 1008.0), ("苏E12345", 1050.0)])
