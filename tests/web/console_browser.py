"""Shared by the console's browser tests: launching Debian's chromium, logging in, screenshots
at the two layouts, and the check that Chinese is not drawn as boxes."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from prereqs import require

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
OUT = Path(os.environ.get("EDGE_TEST_OUTPUT", "test-output")) / "console"

# Each character drawn on a canvas in the page's font, compared with a code point no font has
# (U+10FFFD, drawn as the fallback box): equal pixels mean the Chinese came out as boxes.
TOFU_CHECK = """(text) => {
  const font = getComputedStyle(document.body).font;
  const draw = (ch) => {
    const c = document.createElement("canvas"); c.width = 40; c.height = 40;
    const g = c.getContext("2d"); g.font = font.replace(/\\d+px/, "28px");
    g.fillText(ch, 4, 32); return c.toDataURL();
  };
  const box = draw("\\u{10FFFD}");
  return [...text].filter((ch) => draw(ch) === box);
}"""


async def launch() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        async_playwright = None
    require(async_playwright is not None, "playwright (Python)", "pip install playwright")
    require(shutil.which(CHROMIUM) is not None, CHROMIUM, "apt-get install chromium")
    assert async_playwright is not None
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        await b.close()


async def shoot(page: Any, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size, (w, h) in SIZES.items():
        await page.set_viewport_size({"width": w, "height": h})
        await page.wait_for_timeout(50)  # one layout pass at the new size
        wide = await page.evaluate("document.documentElement.scrollWidth")
        assert wide <= w, f"{name} scrolls sideways at {w}px ({wide}px wide)"
        await page.screenshot(path=str(OUT / f"{name}-{size}.png"), full_page=True)
    await page.set_viewport_size({"width": 1366, "height": 768})


async def login(page: Any, url: str, user: str, password: str) -> None:
    await page.goto(url + "/")
    await page.wait_for_url(url + "/login")
    await page.fill("#user", user)
    await page.fill("#password", password)
    await page.click("#submit")
