"""Scene alarms on the guards' page, in the page's language (the catalogue), like the other
alarms the daemon raises itself: a guard reading English is not handed 电动车进电梯, nor a
guard reading Chinese "loitering". The alarms come from the rules' own code (zone rules fed
tracks, the falling-object detector fed a composed video) through `SceneActions`."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import pytest
import videos
from harness import FACADE, LANE, LIFT, fall, rules
from web.console_browser import launch, login
from webauth import MINIMAL, PASSWORDS, with_users

from edge.app import Daemon
from edge.config import parse_config
from edge.scene.runner import Outcome, SceneActions, SceneRules, evidence
from edge.vision.objects.tracks import ObjectTrack

pytestmark = pytest.mark.slow


def _raised(camera_rules: SceneRules, label: str, box: Any, plate: str | None = None) -> Outcome:
    """Feed one track standing in the zone until the rule raises."""
    track = ObjectTrack(1, label, box, 0.9, 0.0, 0.0)
    track.best_crop = videos.Cutout.of(label, 200).image  # a real COCO object
    plates = (
        (lambda: [(plate, (box[0] + 40, box[3] - 40, box[0] + 120, box[3] - 10))])
        if plate
        else None
    )
    for ts in range(0, 400, 5):
        track.last_ts = float(ts)
        out = camera_rules.observe([track], float(ts), None, plates)
        if out:
            return out[0]
    raise AssertionError(f"{label}: never raised")


async def test_scene_alarms_read_in_the_guards_language(tmp_path: Any) -> None:
    text = with_users(MINIMAL.format(data_dir=tmp_path / "data"))
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    try:
        lift = rules({"type": "ebike_in_lift", "zone": {"name": "3号梯轿厢", "points": LIFT}})
        lane = rules({"type": "fire_lane", "zone": {"name": "北侧消防通道", "points": LANE}})
        stair = rules({"type": "loitering", "zone": {"name": "2号楼楼梯间", "points": LIFT}})
        tower = rules({"type": "falling_object", "zone": {"name": "A座外墙", "points": FACADE}})
        box = (200.0, 100.0, 440.0, 340.0)
        await SceneActions(d.rt, "lift-3a", lift).apply(
            [_raised(SceneRules(lift), "motorcycle", box)]
        )
        fire = _raised(SceneRules(lane), "car", box, plate="沪AF71017")
        await SceneActions(d.rt, "lane-n", lane).apply([fire])
        await SceneActions(d.rt, "stair-2", stair).apply(
            [_raised(SceneRules(stair), "person", box)]
        )
        [(_, drop)] = fall(videos.drop(), tower)
        await SceneActions(d.rt, "tower-a", tower).apply([evidence(drop, None)])
        url = f"http://127.0.0.1:{d.web.port}"
        async with asynccontextmanager(launch)() as browser:
            page = await (await browser.new_context()).new_page()
            await login(page, url, "zhang", PASSWORDS["zhang"])
            await page.wait_for_url(url + "/")
            alarms = page.locator("#alarms")
            for line in (
                "电动车进电梯：3号梯轿厢有摩托车",
                "消防通道占用：小汽车 沪AF71017在北侧消防通道停留",
                "有人在2号楼楼梯间徘徊",
                "高空抛物：A座外墙",
            ):
                await alarms.locator("li", has_text=line).wait_for(timeout=10_000)
            assert "loitering" not in await alarms.inner_text()
            # the live feed shows each alarm's evidence: the object's crop, the frame strip
            crops = page.locator("#events li.alarm img.crop")
            await crops.nth(3).wait_for(timeout=10_000)
            assert await crops.count() == 4
            for i in range(4):
                img = crops.nth(i)
                await img.evaluate("(im) => im.decode()")  # the image route served a JPEG
                assert await img.evaluate("(im) => im.naturalWidth") > 50
            await page.click("#lang")
            for line in (
                "E-bike (motorcycle) in 3号梯轿厢",
                "Fire lane blocked: car 沪AF71017 standing in 北侧消防通道",
                "Person loitering in 2号楼楼梯间",
                "Object falling from height at A座外墙",
            ):
                await alarms.locator("li", has_text=line).wait_for(timeout=10_000)
            assert "电动车进电梯" not in await alarms.inner_text()
    finally:
        await d.stop()
