"""The installer's views in Debian's chromium: the models (one damaged, one missing, the
plate models loaded by a camera with the daemon's timings) and the config file's check,
before and after the installer breaks the file on the box.

The camera is a video file through the real plate pipeline (the repo's models), so the load
time and the last analysis time are the daemon's own figures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from console_browser import TOFU_CHECK, login, shoot
from prereqs import MODELS as MODELS_NEEDED
from prereqs import require
from webauth import MINIMAL, PASSWORDS, with_users

from edge.app import Daemon
from edge.config import load_config

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DAMAGED, MISSING = "lprnet_sirius_ccpd_94x24", "yolox_nano_416"


def street_mp4(path: Path, frames: int = 20, fps: int = 5) -> None:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = 640, 360
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "5", "bf": "0"}
        for i in range(frames):
            img = np.full((360, 640, 3), 70, np.uint8)
            img[200:260, (i * 25) % 560 :][:, :80] = (30, 60, 160)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def models_here(folder: Path) -> Path:
    """The repo's models, linked, but for one spare damaged and one spare missing."""
    real = ROOT / "models"
    require((real / "manifest.yaml").is_file() and (real / "yolox_nano_416.onnx").is_file(),
            *MODELS_NEEDED)  # fmt: skip
    folder.mkdir()
    for f in real.iterdir():
        if f.suffix in (".onnx", ".yaml") and f.stem != MISSING:
            (folder / f.name).symlink_to(f)
    (folder / f"{DAMAGED}.onnx").unlink()
    body = bytearray((real / f"{DAMAGED}.onnx").read_bytes())
    body[len(body) // 2] ^= 0xFF
    (folder / f"{DAMAGED}.onnx").write_bytes(bytes(body))
    return folder


@pytest.fixture
async def installer_console(tmp_path: Path) -> AsyncIterator[tuple[Daemon, str, Path]]:
    models = models_here(tmp_path / "models")
    video = tmp_path / "street.mp4"
    street_mp4(video)
    path = tmp_path / "edge.yaml"
    path.write_text(
        with_users(MINIMAL.format(data_dir=tmp_path / "data"))
        + f"vision: {{models_dir: {models}, manifest: {models}/manifest.yaml, cpu_workers: 1}}\n"
        + "cameras:\n"
        + f"  - {{id: cam1, name: 东门车道, kind: file, path: {video}, fps: 5,\n"
        + "     analysis_fps: 2, pipelines: [plates], motion_gate: {enabled: false}}\n",
        encoding="utf-8",
    )
    d = Daemon(load_config(path), path)
    await d.start()
    yield d, f"http://127.0.0.1:{d.web.port}", path
    await d.stop()


async def open_staff_until(page: Any, selector: str, tries: int = 120) -> None:
    """Click the staff view (it reloads its data) until `selector` shows: the first click
    may land before the page's script attached its handlers, the camera's first analysed
    frame comes after the models have loaded."""
    for _ in range(tries):
        await page.click("#nav button[data-view=staff]")
        if await page.locator(selector).count():
            return
        await page.wait_for_timeout(250)
    raise AssertionError(f"{selector} never showed on the staff view")


async def test_an_installer_sees_the_models_and_the_config_check(
    browser: Any, installer_console: tuple[Daemon, str, Path]
) -> None:
    _, url, path = installer_console
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    await login(page, url, "li", PASSWORDS["li"])
    await page.wait_for_url(url + "/")

    reader = "#models li[data-model='rapidocr_ch_PP-OCRv4_rec_infer']"
    await open_staff_until(page, f"{reader} .timing")
    row = page.locator(reader)
    assert "车牌字符识别" in await row.inner_text()
    state = await row.locator(".state").inner_text()
    assert "文件完整，校验通过" in state and "有摄像机使用" in state and "已加载，用时" in state
    timing = await row.locator(".timing").inner_text()
    assert timing.startswith("东门车道：最近一帧分析 ") and timing.endswith(" 毫秒")
    assert float(timing.split("分析 ")[1].split(" ")[0]) > 0
    damaged = await page.locator(f"#models li[data-model='{DAMAGED}']").inner_text()
    assert "备用（本配置未用）" in damaged and "校验不符" in damaged
    missing = await page.locator(f"#models li[data-model='{MISSING}']").inner_text()
    assert "目标检测" in missing and "文件缺失" in missing and "没有摄像机使用" in missing
    assert await page.locator("#models li.bad").count() == 2

    check = page.locator("#config-check")
    await check.locator("li.good", has_text=f"配置文件 {path} 检查通过").wait_for()
    assert "配置版本：文件 1，运行中 1，本程序支持到 1" in await check.inner_text()
    text = await page.inner_text("#view-staff")
    assert await page.evaluate(TOFU_CHECK, "".join(c for c in text if ord(c) > 0x2E80)) == []
    await shoot(page, "installer")

    # The installer breaks the file on the box: the view names the key and the line.
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(1, "colour: blue")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    await open_staff_until(page, "#config-check li.problem")
    assert "有 1 处错误" in await check.locator("li.bad").inner_text()
    problem = await check.locator("li.problem").inner_text()
    assert problem.startswith(f"{path}:2:1 colour ")
    await shoot(page, "installer-config-error")

    await page.click("#lang")
    await check.locator("li.bad", has_text="has 1 problem(s)").wait_for()
    await row.locator(".state", has_text="File intact, checksum OK").wait_for()
    assert problems == []
    await ctx.close()
