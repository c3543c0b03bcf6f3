"""The guard's overview in Debian's chromium, item by item of issue 13: times in the site's
zone, health in words (the hub's link and its backlog), events with names instead of ids,
and a camera the browser cannot play falls back to a still refreshed every second."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from console_browser import TOFU_CHECK, login
from test_live_video import high_profile_mp4
from webauth import MINIMAL, PASSWORDS, with_users

from edge import actions
from edge.actions import Actor
from edge.app import Daemon
from edge.config import parse_config
from edge.payloads import AccessPayload, PlatePayload

pytestmark = pytest.mark.slow


@pytest.fixture
async def site_console(tmp_path: Path) -> AsyncIterator[tuple[Daemon, str]]:
    video = tmp_path / "cam.mp4"
    high_profile_mp4(video)
    text = (
        with_users(MINIMAL.format(data_dir=tmp_path / "data")).replace(
            "  name: 测试小区", '  name: 测试小区\n  utc_offset: "-03:00"', 1
        )
        + f"cameras:\n  - {{id: cam1, name: 东门摄像机, kind: file, path: {video}, fps: 10}}\n"
        + 'uplinks:\n  hub: {type: mqtt, url: "mqtt://127.0.0.1:1"}\n'
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    yield d, f"http://127.0.0.1:{d.web.port}"
    await d.stop()


async def test_times_names_and_the_hubs_link_are_shown_as_a_guard_reads_them(
    browser: Any, site_console: tuple[Daemon, str]
) -> None:
    d, url = site_console
    seen = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    at_site = f"{seen - timedelta(hours=3):%Y-%m-%d %H:%M:%S}"  # the site is at -03:00
    plate = PlatePayload(camera="cam1", plate="苏A54321", confidence=0.95)
    await d.rt.flow.emit(plate.event("camera.cam1", ts=seen))
    await d.rt.flow.emit(AccessPayload(gate="east-in", decision="denied", plate="苏A54321")
                         .event("gate.east-in", ts=seen))  # fmt: skip
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await ctx.new_page()
    await login(page, url, "zhang", PASSWORDS["zhang"])
    await page.wait_for_url(url + "/")
    car = page.locator("#events li.plate", has_text="苏A54321")
    await car.wait_for()
    assert at_site in await car.inner_text()
    assert "东门摄像机" in await car.inner_text()  # the camera by its name, not camera.cam1
    refused = await page.locator("#events li.access").inner_text()
    assert "拒绝 苏A54321" in refused and "gate." not in refused
    # The hub cannot be reached: said in words, since when (in the site's zone), backlog.
    hub = page.locator("#health li.bad", has_text="区级平台：未连接（自 ")
    await hub.wait_for()
    assert "积压 2 条" in await hub.inner_text()
    await page.wait_for_selector("#health li:has-text('摄像机：1/1 在线')")
    assert await page.evaluate(TOFU_CHECK, "区级平台未连接积压摄像机在线拒绝") == []

    # History: the gate's decision in words in the event's detail; who acknowledged an
    # alarm and when, in the site's zone.
    alarm = await d.store.raise_alarm("smoke:b1", "smoke-b1", "1号楼烟感报警", "critical")
    await actions.ack_alarm(d.rt, alarm.id, actor=Actor("user", "zhang"), note="")
    [acked] = await d.store.alarms(state="acknowledged")
    await page.click("#nav button[data-view=history]")
    await page.select_option("#f-kind", "access")
    await page.select_option("#f-since", "24h")
    async with page.expect_response(lambda r: "kind=access" in r.url):
        await page.click("#event-filter button[type=submit]")
    await page.locator("#found li", has_text="苏A54321").locator("button").click()
    detail = await page.locator("#detail dl").inner_text()
    assert "结果\n拒绝" in detail and "denied" not in detail
    history = page.locator("#alarm-history li", has_text="1号楼烟感报警")
    at = datetime.fromtimestamp(acked["acked_ms"] / 1000, UTC) - timedelta(hours=3)
    await history.filter(has_text=f"zhang 于 {at:%Y-%m-%d %H:%M:%S} 确认").wait_for()
    await ctx.close()


async def test_a_browser_that_cannot_play_the_stream_gets_a_still_every_second(
    browser: Any, site_console: tuple[Daemon, str]
) -> None:
    _, url = site_console
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
    await ctx.add_init_script("delete window.RTCPeerConnection;")  # a browser without WebRTC
    page = await ctx.new_page()
    await login(page, url, "zhang", PASSWORDS["zhang"])
    await page.wait_for_url(url + "/")
    # The tile's still is refreshed in place: the same image, shown all along (a rebuilt
    # tile was blank until its next still loaded, a flicker every few seconds).
    tile_img = "document.querySelector('#cameras .tile[data-camera=cam1] img')"
    shown = f"() => {{ const i = {tile_img}; return i && i.complete && i.naturalWidth > 0; }}"
    await page.wait_for_function(shown)
    before = await page.evaluate(
        f"() => {{ const i = {tile_img}; i.dataset.probe = 'kept'; return i.src; }}"
    )
    await page.wait_for_function(f"() => {tile_img}.src !== {before!r}")  # a refresh happened
    await page.wait_for_function(shown)
    assert await page.evaluate(f"() => {tile_img}.dataset.probe") == "kept"
    await page.click("#cameras .tile[data-camera=cam1]")
    still = page.locator("#viewer-still")
    await still.wait_for(state="visible")
    assert await page.locator("#viewer-video").is_hidden()  # no black video tile
    loaded = "() => { const i = document.getElementById('viewer-still'); " \
             "return i.complete && i.naturalWidth === 640 ? i.src : null; }"  # fmt: skip
    first = await (await page.wait_for_function(loaded)).json_value()
    await page.wait_for_function(f"() => ({loaded})() && ({loaded})() !== {first!r}")
    await page.click("#viewer-close")
    await ctx.close()


def hevc_mp4(path: Path, frames: int = 40, fps: int = 10) -> None:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx265", rate=fps)
        stream.width, stream.height = 640, 360
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "x265-params": "log-level=error"}
        for i in range(frames):
            img = np.full((360, 640, 3), (i * 5) % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


async def test_an_h265_camera_is_shown_as_stills_not_a_black_tile(
    browser: Any, tmp_path: Path
) -> None:
    video = tmp_path / "hevc.mp4"
    hevc_mp4(video)
    text = with_users(MINIMAL.format(data_dir=tmp_path / "data")) + (
        f"cameras:\n  - {{id: cam5, name: 地库摄像机, kind: file, path: {video}, fps: 10}}\n"
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    try:
        url = f"http://127.0.0.1:{d.web.port}"
        ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
        page = await ctx.new_page()
        await login(page, url, "zhang", PASSWORDS["zhang"])
        await page.wait_for_url(url + "/")
        await page.wait_for_selector("#cameras .tile.online[data-camera=cam5]")
        async with page.expect_response(lambda r: "/webrtc" in r.url) as answer:
            await page.click("#cameras .tile[data-camera=cam5]")
        assert (await answer.value).status == 415  # refused at once: never sent as H.264
        await page.locator("#viewer-still").wait_for(state="visible")
        assert await page.locator("#viewer-video").is_hidden()
        await page.wait_for_function(
            "() => { const i = document.getElementById('viewer-still');"
            " return i.complete && i.naturalWidth === 640; }"
        )
        await ctx.close()
    finally:
        await d.stop()
