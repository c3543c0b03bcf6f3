"""The installer's views over the API: each model's file checked against the manifest with
what this config uses it for, and the daemon's config file checked as `edge config check`
does. Guards are refused both."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from webauth import MINIMAL, PASSWORDS, browser_like, login, with_users

from edge.app import Daemon
from edge.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def fake_models(folder: Path) -> Path:
    """The repo's manifest with every entry pointing at a small file written here (so the
    checksums are real without the 45 MB of models); then one file damaged, one removed."""
    folder.mkdir()
    manifest = yaml.safe_load((ROOT / "models" / "manifest.yaml").read_text())
    for m in manifest["models"]:
        body = f"not really {m['name']}".encode()
        (folder / m["file"]).write_bytes(body)
        m["sha256"], m["bytes"] = hashlib.sha256(body).hexdigest(), len(body)
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    damaged = folder / "hyperlpr3_y5fu_320x_sim.onnx"
    damaged.write_bytes(damaged.read_bytes().upper())  # same size, other bytes
    (folder / "dlib_resnet_faceapi_128d.onnx").unlink()
    return folder


@pytest.fixture
async def installer_console(tmp_path: Path) -> AsyncIterator[tuple[Daemon, str, Path]]:
    models = fake_models(tmp_path / "models")
    path = tmp_path / "edge.yaml"
    path.write_text(
        with_users(MINIMAL.format(data_dir=tmp_path / "data"))
        + f"vision: {{models_dir: {models}, manifest: {models}/manifest.yaml}}\n",
        encoding="utf-8",
    )
    d = Daemon(load_config(path), path)
    await d.start()
    yield d, f"http://127.0.0.1:{d.web.port}", path
    await d.stop()


async def _get(url: str, user: str, path: str) -> tuple[int, Any]:
    async with browser_like() as http:
        await login(http, url, user, PASSWORDS[user])
        async with http.get(url + path) as r:
            return r.status, await r.json()


async def test_guards_cannot_reach_the_installer_views(
    installer_console: tuple[Daemon, str, Path],
) -> None:
    _, url, _ = installer_console
    for path in ("/api/installer/models", "/api/installer/config"):
        assert (await _get(url, "zhang", path))[0] == 403
        assert (await _get(url, "li", path))[0] == 200  # installer
        assert (await _get(url, "wang", path))[0] == 200  # maintainer


async def test_each_model_file_is_checked_against_the_manifest_with_its_role(
    installer_console: tuple[Daemon, str, Path],
) -> None:
    _, url, _ = installer_console
    status, doc = await _get(url, "li", "/api/installer/models")
    assert status == 200 and doc["manifest_error"] is None
    rows = {m["name"]: m for m in doc["models"]}
    assert len(rows) == 8
    yunet = rows["face_detection_yunet_2023mar"]
    assert [yunet[k] for k in ("file_state", "role", "engine")] == ["ok", "faces.detector", "faces"]
    assert rows["hyperlpr3_y5fu_320x_sim"]["file_state"] == "mismatch"
    assert rows["dlib_resnet_faceapi_128d"]["file_state"] == "missing"
    assert rows["dlib_resnet_faceapi_128d"]["size_bytes"] is None
    assert rows["rapidocr_ch_PP-OCRv4_rec_infer"]["role"] == "plates.reader"  # ppocr: default
    assert rows["lprnet_sirius_ccpd_94x24"]["role"] is None  # a spare reader
    assert rows["hyperlpr3_y5fu_640x_sim"]["role"] == "plates.detector"  # auto: 320 and 640
    # No camera here: nothing loaded, nobody uses them, no timings.
    assert not any(m["in_use"] or m["loaded"] or m["cameras"] for m in rows.values())


async def test_a_damaged_file_is_seen_again_after_it_is_replaced(
    installer_console: tuple[Daemon, str, Path],
) -> None:
    d, url, _ = installer_console
    name = "hyperlpr3_y5fu_320x_sim"
    folder = d.rt.config.vision.models_dir
    (folder / f"{name}.onnx").write_bytes(f"not really {name}".encode())  # fetched again
    _, doc = await _get(url, "wang", "/api/installer/models")
    assert {m["name"]: m["file_state"] for m in doc["models"]}[name] == "ok"


async def test_the_config_file_is_checked_as_edge_config_check_does(
    installer_console: tuple[Daemon, str, Path],
) -> None:
    _, url, path = installer_console
    status, doc = await _get(url, "li", "/api/installer/config")
    assert status == 200
    assert doc == {
        "path": str(path), "checked": True, "ok": True, "problems": [], "running_version": 1,
        "file_version": 1, "supported_version": 1, "restart_needed": False,
    }  # fmt: skip

    # The installer edits the file on the box: two mistakes, each at its key and line.
    good = path.read_text(encoding="utf-8")
    lines = good.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  name: 测试小区"))
    lines.insert(at + 1, "  colour: blue")
    lines.append("storage_typo: {}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, doc = await _get(url, "li", "/api/installer/config")
    assert doc["ok"] is False and doc["file_version"] == 1 and not doc["restart_needed"]
    where = [(p["key"], p["file"], p["line"]) for p in doc["problems"]]
    assert where == [("site.colour", str(path), at + 2), ("storage_typo", str(path), len(lines))]
    assert all(p["message"] for p in doc["problems"])

    # Fixed, and changed: valid, but the daemon still runs what it started with.
    path.write_text(good.replace("测试小区", "测试小区二期"), encoding="utf-8")
    _, doc = await _get(url, "li", "/api/installer/config")
    assert doc["ok"] is True and doc["restart_needed"] is True

    path.unlink()
    _, doc = await _get(url, "li", "/api/installer/config")
    assert doc["ok"] is False and doc["file_version"] is None
    [gone] = doc["problems"]
    assert str(path) in gone["message"]


async def test_a_daemon_without_a_config_file_says_there_is_nothing_to_check(
    console: tuple[Daemon, str],
) -> None:
    _, url = console
    status, doc = await _get(url, "li", "/api/installer/config")
    assert status == 200 and doc["checked"] is False and doc["path"] is None
    assert doc["running_version"] == 1
