"""The gates card in Debian's chromium: a stranger at an `ask` gate is put to the guard with
the crop the camera took, live; the guard lets the car in or refuses the person, and every
view of a face crop is in the audit with the guard's name.

Passes are committed through the flow as the camera workers commit them (a `plate` or `face`
event with its crop and scene, at a camera the gate watches), so the real gatekeeper decides
`ask` and stores the pending pass; the gate is the UHPPOTE controller simulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest
from console_browser import TOFU_CHECK, login, shoot
from webauth import MINIMAL, PASSWORDS, daemon_headers, with_users

from edge.app import Daemon
from edge.config import parse_config
from edge.events import ImageRef, ImageRole
from edge.payloads import FaceMatch, FacePayload, PlatePayload
from edge.sim.uhppote import UhppoteSimulator

pytestmark = pytest.mark.slow

ACCESS = """\
devices:
  - {{id: ctl-east, name: 东门控制器, type: uhppote, controller: {serial}, address: "{address}",
     door: 1, timeout_s: 0.3, poll_interval_s: 0.5}}
access:
  plate_allowlist: ["粤B12345"]
  plate_blocklist: ["粤B66666"]
  gates:
    - {{id: east-in, name: 东门入口, device: ctl-east, cameras: [cam-east], mode: ask}}
"""


@pytest.fixture
async def gate_console(tmp_path: Path) -> AsyncIterator[tuple[Daemon, str, UhppoteSimulator]]:
    async with UhppoteSimulator(serial=405419896) as sim:
        text = with_users(MINIMAL.format(data_dir=tmp_path / "data")) + ACCESS.format(
            serial=sim.serial, address=sim.address
        )
        d = Daemon(parse_config(text, "edge.yaml", {}))
        await d.start()
        yield d, f"http://127.0.0.1:{d.web.port}", sim
        await d.stop()


async def picture(d: Daemon, size: tuple[int, int], role: ImageRole) -> ImageRef:
    w, h = size
    img = np.full((h, w, 3), (40, 90, 200), np.uint8)
    cv2.rectangle(img, (w // 8, h // 4), (w - w // 8, h - h // 4), (240, 240, 240), -1)
    return await d.store.save_image(bytes(cv2.imencode(".jpg", img)[1]), role)


CROP_LOADED = """(alt) => [...document.querySelectorAll('#pending li.pending img.crop')]
  .filter((i) => i.alt === alt && i.complete).map((i) => i.naturalWidth)"""


async def test_a_guard_sees_the_crop_of_a_pass_put_to_him_and_answers_it(
    browser: Any, gate_console: tuple[Daemon, str, UhppoteSimulator]
) -> None:
    d, url, controller = gate_console
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    await login(page, url, "zhang", PASSWORDS["zhang"])
    await page.wait_for_url(url + "/")
    await page.wait_for_selector("#pending li.fire:has-text('消防模式：未开启')")
    # The gate by its name, with what it does now; not its controller.
    gate = page.locator("#gates li.gate", has_text="东门入口")
    assert "入口 · 陌生车辆人员需值班确认" in await gate.inner_text()
    assert await page.locator("#gates li", has_text="东门控制器").count() == 0

    # A stranger's car at the east gate, as the camera worker commits it: crop and scene.
    crop = await picture(d, (188, 48), ImageRole.PLATE_CROP)
    scene = await picture(d, (640, 360), ImageRole.SCENE)
    car = PlatePayload(camera="cam-east", plate="苏A00001", confidence=0.96)
    await d.rt.flow.emit(car.event("camera.cam-east", images=(scene, crop)))
    row = page.locator("#pending li.pending", has_text="苏A00001")
    await row.filter(has_text="东门入口").wait_for()  # live, by the gate's name
    await page.wait_for_function(f"() => ({CROP_LOADED})('车牌图').includes(188)")

    # A face nobody enrolled, at the same gate: its crop is shown and the view audited.
    face_crop = await picture(d, (112, 112), ImageRole.FACE_CROP)
    stranger = FacePayload(camera="cam-east", match=FaceMatch("unknown"), confidence=0.9)
    await d.rt.flow.emit(stranger.event("camera.cam-east", images=(face_crop,)))
    person = page.locator("#pending li.pending", has_text="未识别人员")
    await person.wait_for()
    await page.wait_for_function(f"() => ({CROP_LOADED})('人脸图').includes(112)")
    [view] = await d.store.audit_entries(action="view_image")
    assert view["actor"] == "user:zhang" and view["detail"]["role"] == "face_crop"
    assert await page.evaluate(TOFU_CHECK, "待确认放行未识别人员东门入口消防模式") == []
    await shoot(page, "gates")

    await row.locator("button", has_text="放行").click()
    await row.wait_for(state="detached")
    assert controller.opened == [1]
    await person.locator("button", has_text="拒绝").click()
    await person.wait_for(state="detached")
    assert controller.opened == [1]
    await gate.locator("input.reason").fill("业主忘带门卡")
    await gate.locator("button", has_text="开门").click()
    await gate.filter(has_text="已开门").wait_for()
    assert controller.opened == [1, 1]
    [opened] = await d.store.audit_entries(action="gate.open", limit=1)
    assert (opened["actor"], opened["target"]) == ("user:zhang", "east-in")
    # Answered elsewhere (another guard, the CLI): the row goes without a reload.
    other = PlatePayload(camera="cam-east", plate="苏A00003", confidence=0.96)
    await d.rt.flow.emit(other.event("camera.cam-east"))
    third = page.locator("#pending li.pending", has_text="苏A00003")
    await third.wait_for()
    [waiting] = [p for p in await d.store.pending_passes() if p["plate"] == "苏A00003"]
    async with aiohttp.ClientSession(headers=daemon_headers(d)) as http:
        answer = f"{url}/api/access/pending/{waiting['id']}/deny"
        async with http.post(answer, json={"by": "li", "reason": "不认识"}) as r:
            assert r.status == 200, await r.text()
    await third.wait_for(state="detached")
    decided = [a["actor"] for a in await d.store.audit_entries(action="access.approve")]
    decided += [a["actor"] for a in await d.store.audit_entries(action="access.deny")]
    assert decided == ["user:zhang", "cli:li", "user:zhang"]  # denials newest first

    # A blacklisted car is refused: the alarm says so in Chinese, with the gate's name.
    banned = PlatePayload(camera="cam-east", plate="粤B66666", confidence=0.97)
    await d.rt.flow.emit(banned.event("camera.cam-east"))
    await page.locator("#alarms li", has_text="黑名单车辆 粤B66666 在东门入口被拒绝通行").wait_for()
    await page.locator("#events li.alarm", has_text="黑名单车辆 粤B66666").wait_for()
    assert controller.opened == [1, 1]
    # The page fetched the face crop once (the pending card and the live feed share it).
    assert len(await d.store.audit_entries(action="view_image")) == 1
    assert problems == []
    await ctx.close()
