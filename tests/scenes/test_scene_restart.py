"""Scene alarms across restarts of the camera worker: the start's sweep of alarms a previous
run left open happens once per daemon run."""

from __future__ import annotations

from pathlib import Path

from daemons import Daemons
from harness import LIFT, rules
from uplink.uplink_helpers import config_text

from edge.config.loader import parse_config
from edge.scene.runner import SceneActions, SceneRules
from edge.vision.objects.tracks import ObjectTrack


async def test_a_restarted_camera_worker_keeps_its_open_alarms(
    tmp_path: Path, daemons: Daemons
) -> None:
    """The supervisor restarts a camera worker that failed; its rules keep their state (the
    e-bike alarm is still theirs to close), so the start's sweep of alarms left by a
    previous run must not close it."""
    text = config_text(tmp_path / "data", "", "")
    d = await daemons.start(parse_config(text, "edge.yaml", {}))
    lift = rules({"type": "ebike_in_lift", "zone": {"name": "lift car", "points": LIFT}})
    scene, actions = SceneRules(lift), SceneActions(d.rt, "lift-3a", lift)
    await d.store.raise_alarm("scene:lift-3a:ebike_in_lift", "lift-3a", "left open", "critical")
    assert await actions.close_stale() == 1  # the first run of the worker
    track = ObjectTrack(7, "motorcycle", (200.0, 120.0, 440.0, 340.0), 0.9, 0.0, 0.0)
    for ts in (0.0, 2.5):
        track.last_ts = ts
        await actions.apply(scene.observe([track], ts, None))
    assert await actions.close_stale() == 0  # the worker restarted
    [open_] = await d.store.alarms(state="raised")
    assert open_["key"] == "scene:lift-3a:ebike_in_lift" and open_["message"] != "left open"
