"""`edge user` keeps argon2id hashes (never the password) and the daemon picks them up live."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from webauth import MINIMAL, browser_like, daemon_headers, login

from edge.app import Daemon
from edge.cli.main import main
from edge.config import parse_config
from edge.events import ImageRole
from edge.payloads import FacePayload


def edge_user(monkeypatch: pytest.MonkeyPatch, password: str, *argv: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["user", *argv])


async def test_a_user_added_by_the_cli_logs_in_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = MINIMAL.format(data_dir=tmp_path / "data")
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(text, encoding="utf-8")
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    url = f"http://127.0.0.1:{d.web.port}"
    try:
        assert edge_user(monkeypatch, "保安张三的登录密码", "add", "zs", "--role", "guard",
                         "-c", str(cfg), "--password-stdin") == 0  # fmt: skip
        users = tmp_path / "data" / "users.yaml"
        assert users.stat().st_mode & 0o777 == 0o600
        assert "$argon2id$" in users.read_text() and "保安张三的登录密码" not in users.read_text()
        assert edge_user(monkeypatch, "short", "passwd", "zs", "-c", str(cfg),
                         "--password-stdin") == 1  # fmt: skip
        async with browser_like() as http:
            await login(http, url, "zs", "保安张三的登录密码")
            assert edge_user(monkeypatch, "新的登录密码很长的", "passwd", "zs", "-c", str(cfg),
                             "--password-stdin") == 0  # fmt: skip
            await login(http, url, "zs", "新的登录密码很长的")
            assert edge_user(monkeypatch, "", "remove", "zs", "-c", str(cfg)) == 0
            async with http.get(url + "/api/events") as r:
                assert r.status == 401  # a removed user's session ends
    finally:
        await d.stop()


async def test_each_view_of_a_face_image_is_audited(tmp_path: Path) -> None:
    d = Daemon(parse_config(MINIMAL.format(data_dir=tmp_path / "data"), "edge.yaml", {}))
    await d.start()
    try:
        ref = await d.store.save_image(b"\xff\xd8face", ImageRole.FACE_CROP)
        face = FacePayload.from_data(
            {"camera": "lobby", "confidence": 0.9, "match": {"result": "unknown"}}
        )
        event = await d.rt.flow.emit(face.event("lobby", images=(ref,)))
        url = f"http://127.0.0.1:{d.web.port}/api/events/{event.id}/images/0"
        async with browser_like(headers=daemon_headers(d)) as http:
            for _ in range(2):
                async with http.get(url) as r:
                    assert r.status == 200 and await r.read() == b"\xff\xd8face"
        views = await d.store.audit_entries(action="view_image")
        assert [v["target"] for v in views] == [f"{event.id}/0"] * 2
    finally:
        await d.stop()
