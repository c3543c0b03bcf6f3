"""The console's lists when answers cross: the page reloads a list while events arrive live,
and a refresh started before a guard's acknowledgement is answered after it. Each answer
is held in the browser (Playwright's route) at the moment that makes the race certain."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from console_browser import login
from webauth import PASSWORDS

from edge.app import Daemon
from edge.payloads import PlatePayload

pytestmark = pytest.mark.slow

# Notes when the page's scripts have read the held answer (marked `__held`): the code that
# awaited it has run by the time a later task sees the note.
NOTE_HELD_READ = """
const fetched = window.fetch;
window.fetch = async (...args) => {
  const r = await fetched(...args);
  const json = r.json.bind(r);
  r.json = async () => { const v = await json(); if (v && v.__held) window.__heldRead = true; return v; };
  return r;
};
"""


class Held:
    """Holds the first request `matches` accepts once the server has answered it, until
    released; later requests go through."""

    def __init__(self, matches: Any) -> None:
        self.matches = matches
        self.answered = asyncio.Event()
        self.release = asyncio.Event()
        self.taken = False

    async def handle(self, route: Any) -> None:
        if self.taken or not self.matches(route.request.url):
            await route.continue_()
            return
        self.taken = True
        response = await route.fetch()  # the server's query ran now, before what follows
        body = await response.json()
        self.answered.set()
        await self.release.wait()
        await route.fulfill(response=response, json={**body, "__held": True})


async def plate(d: Daemon, text: str) -> None:
    await d.rt.flow.emit(
        PlatePayload(camera="cam1", plate=text, confidence=0.9).event("camera.cam1")
    )


async def test_an_event_arriving_while_the_list_reloads_stays_on_it(
    browser: Any, console: tuple[Daemon, str]
) -> None:
    d, url = console
    await plate(d, "京A00001")
    page = await (await browser.new_context()).new_page()
    await login(page, url, "zhang", PASSWORDS["zhang"])
    first = page.locator("#events li.plate", has_text="京A00001")
    await first.wait_for()
    held = Held(lambda u: "/api/events?" in u and "kind=plate" in u)
    await page.route("**/api/events?*", held.handle)
    await page.click("#lang")  # the list is reloaded (and redrawn in English)
    await asyncio.wait_for(held.answered.wait(), 10)
    await plate(d, "京A00002")  # committed after the reload's query: only the socket brings it
    second = page.locator("#events li.plate", has_text="京A00002")
    await second.wait_for()
    held.release.set()
    await first.filter(has_text="Plate").wait_for()  # the reload's answer is drawn
    assert await second.count() == 1  # the reload used to replace the list without it


async def test_a_refresh_answered_after_an_acknowledgement_does_not_undo_it(
    browser: Any, console: tuple[Daemon, str]
) -> None:
    d, url = console
    await d.store.raise_alarm("smoke:b5", "smoke-b5", "5号楼烟感报警", "critical")
    ctx = await browser.new_context()
    await ctx.add_init_script(NOTE_HELD_READ)
    page = await ctx.new_page()
    await login(page, url, "zhang", PASSWORDS["zhang"])
    row = page.locator("#alarms li", has_text="5号楼烟感报警")
    await row.locator("button.ack").wait_for()
    held = Held(lambda u: u.endswith("/api/alarms?open=1"))
    await page.route("**/api/alarms?open=1", held.handle)
    # Another alarm makes the page reload the list; that answer (the first alarm still
    # unacknowledged) is held while the guard acknowledges.
    await d.store.raise_alarm("water:b1", "wl-b1", "1号楼水箱水位超限", "major")
    await asyncio.wait_for(held.answered.wait(), 10)
    await row.locator("button.ack").click()
    await page.wait_for_selector("#alarms li:has-text('5号楼烟感报警'):has-text('报警中·已确认')")
    held.release.set()
    await page.wait_for_function("() => window.__heldRead === true")
    assert await row.locator("button.ack").count() == 0  # the old answer used to bring it back
    assert "报警中·已确认" in await row.inner_text()
