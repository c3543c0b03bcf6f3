"""The console in a real browser (Debian's chromium driven by Playwright), as a guard uses it.

Each test its own browser (a launch is ~1 s; the event loop is per test). Screenshots of each page at
1366x768 and 390x844 go to $EDGE_TEST_OUTPUT/console (default test-output/console).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from console_browser import TOFU_CHECK, login, shoot
from webauth import PASSWORDS

from edge.app import Daemon
from edge.events import ImageRole
from edge.payloads import AccessPayload, PlatePayload

pytestmark = pytest.mark.slow


class RecordingGate:
    """A gate driver's contract (`GateOpener`), recording who opened it and why."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, str]] = []

    async def open_gate(self, *, reason: str, actor: str) -> dict[str, Any]:
        self.opened.append((reason, actor))
        return {"opened": True}


async def test_a_guard_logs_in_acts_on_an_alarm_and_sees_events_live(
    browser: Any, console: tuple[Daemon, str]
) -> None:
    d, url = console
    gate = RecordingGate()
    d.rt.services["device.gate-1"] = gate
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))  # a script failed (or CSP)
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )

    await login(page, url, "zhang", "wrong-password")
    await page.wait_for_selector("#error:has-text('用户名或密码错误')")
    # Even a click before the script is ready never puts the password in a URL.
    assert await page.evaluate("document.getElementById('login').method") == "post"
    assert "password" not in page.url
    assert await page.evaluate(TOFU_CHECK, "\ue000") == ["\ue000"]  # the check can fail
    assert await page.evaluate(TOFU_CHECK, "用户名或密码错误值班登录") == []
    await shoot(page, "login")

    await login(page, url, "zhang", PASSWORDS["zhang"])
    await page.wait_for_url(url + "/")
    await page.wait_for_selector("#site:has-text('测试小区')")
    await page.wait_for_selector("#alarms:has-text('没有未处理的报警')")

    alarm = await d.store.raise_alarm("smoke:b3", "smoke-b3", "3号楼烟感报警", "critical")
    row = page.locator("#alarms li", has_text="3号楼烟感报警")
    await row.locator("input.note").fill("已派人查看")
    await row.locator("button", has_text="确认").click()
    await page.wait_for_selector("#alarms li:has-text('报警中·已确认')")
    [acked] = await d.store.audit_entries(action="alarm.ack")
    assert acked["actor"] == "user:zhang" and acked["target"] == alarm.id
    assert acked["detail"]["reason"] == "已派人查看"

    # A water alarm that clears by itself (its rule closes it) stays until a guard has seen it.
    await d.store.raise_alarm("water:b2", "wl-b2", "地下车库水位超限", "major")
    await d.store.close_alarm_by_key("water:b2", "rule")
    water = page.locator("#alarms li", has_text="地下车库水位超限")
    await water.filter(has_text="已自动恢复·未确认").wait_for()
    await water.locator("button", has_text="确认").click()
    await water.wait_for(state="detached")

    plate = PlatePayload(camera="gate1", plate="苏A12345", confidence=0.95)
    await d.rt.flow.emit(plate.event("gate1"))
    await page.wait_for_selector("#events li:has-text('苏A12345')")  # no reload
    # A pass put to the guard that nobody answered in time: its decision in words.
    expired = AccessPayload(gate="gate-1", decision="expired", plate="苏A00009", pending_id="p1")
    await d.rt.flow.emit(expired.event("gate.gate-1"))
    await page.wait_for_selector("#events li:has-text('苏A00009'):has-text('超时未处理，已失效')")
    assert await page.evaluate(TOFU_CHECK, "未处理报警网关状态最新事件") == []
    await shoot(page, "overview")

    g = page.locator("#gates li", has_text="gate-1")
    await g.locator("button", has_text="开门").click()
    await g.filter(has_text="请填写开门原因").wait_for()
    assert gate.opened == []
    await g.locator("input.reason").fill("快递员送货")
    await g.locator("button", has_text="开门").click()
    await g.filter(has_text="已开门").wait_for()
    assert gate.opened == [("快递员送货", "user:zhang")]
    [opened] = await d.store.audit_entries(action="gate.open")
    assert opened["actor"] == "user:zhang" and opened["detail"]["outcome"] == "done"

    await row.locator("button", has_text="关闭").click()
    await page.wait_for_selector("#alarms:has-text('没有未处理的报警')")
    [closed] = await d.store.audit_entries(action="alarm.close")
    assert closed["actor"] == "user:zhang"

    await page.click("#lang")
    await page.wait_for_selector("#alarms:has-text('No open alarms')")
    await page.wait_for_selector("#events li:has-text('Plate')")
    await page.wait_for_selector("#who:has-text('Guard')")  # all of it, not only the lists
    await page.wait_for_selector("#cameras:has-text('No cameras configured')")
    await shoot(page, "overview-en")
    assert problems == []
    await ctx.close()


async def test_the_page_cannot_skip_csrf_or_its_role_and_guessing_is_stopped(
    browser: Any, console: tuple[Daemon, str]
) -> None:
    _, url = console
    ctx = await browser.new_context()
    page = await ctx.new_page()
    for _ in range(3):  # login_attempts: 3
        await login(page, url, "zhang", "not-it-at-all")
        await page.wait_for_selector("#error:has-text('用户名或密码错误')")
        await page.evaluate("document.getElementById('error').textContent = ''")
    await login(page, url, "zhang", PASSWORDS["zhang"])
    await page.wait_for_selector("#error:has-text('登录失败次数过多')")

    other = await browser.new_context()
    page = await other.new_page()
    await page.route("**/*", lambda route: route.continue_())
    await page.goto(url + "/login")
    # a second address is not available on loopback: log in as the installer instead
    status = await page.evaluate(
        """async ([u, p]) => (await fetch('/api/auth/login', {method: 'POST',
             headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({user: u, password: p})})).status""",
        ["li", PASSWORDS["li"]],
    )
    assert status == 429  # the address is still locked out
    await ctx.close()
    await other.close()


async def test_a_guard_finds_a_plate_in_the_history_and_cannot_reach_staff_routes(
    browser: Any, console: tuple[Daemon, str]
) -> None:
    d, url = console
    scene = np.full((120, 200, 3), (30, 120, 200), np.uint8)
    ref = await d.store.save_image(bytes(cv2.imencode(".jpg", scene)[1]), ImageRole.SCENE)
    plate = PlatePayload(camera="gate1", plate="苏E99999", confidence=0.93)
    await d.rt.flow.emit(plate.event("gate1", images=(ref,)))
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await login(page, url, "zhang", PASSWORDS["zhang"])
    await page.wait_for_url(url + "/")
    assert await page.locator("#nav button[data-view=staff]").is_hidden()
    got = await page.evaluate(
        """async () => [
          (await fetch('/api/queue')).status,
          (await fetch('/api/installer/models')).status,
          (await fetch('/api/installer/config')).status,
          (await fetch('/api/alarms/x/ack', {method: 'POST', body: '{}'})).status,
        ]"""
    )
    assert got == [403, 403, 403, 403]  # the installer's routes; a change without CSRF

    async with page.expect_response(lambda r: "/api/events?" in r.url):
        await page.click("#nav button[data-view=history]")
    await page.fill("#f-plate", "e999")
    async with page.expect_response(lambda r: "plate=e999" in r.url):
        await page.click("#event-filter button[type=submit]")
    await page.locator("#found li", has_text="苏E99999").locator("button").click()
    img = page.locator("#detail img")
    await page.wait_for_function(
        "() => { const i = document.querySelector('#detail img'); "
        "return i && i.complete && i.naturalWidth === 200; }"
    )
    assert await img.get_attribute("alt") == "现场图"
    await shoot(page, "history")
    await ctx.close()

    ctx = await browser.new_context()
    page = await ctx.new_page()
    await login(page, url, "li", PASSWORDS["li"])
    await page.wait_for_url(url + "/")
    # The page's module script may attach the nav handlers just after the URL settles:
    # click until the staff view shows (a click before that does nothing).
    for _ in range(20):
        await page.click("#nav button[data-view=staff]")
        if await page.is_visible("#tasks"):
            break
        await page.wait_for_timeout(250)
    await page.wait_for_selector("#tasks li:has-text('store.writer')")
    await shoot(page, "staff")
    await ctx.close()
