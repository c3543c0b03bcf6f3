"""Credentials written inside URLs never reach `config show`, logs, health or error texts."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from edge import log
from edge.app import Daemon
from edge.cli.main import main
from edge.config import ConfigError, parse_config
from edge.redact import redact_data, redact_url, scrub

SECRET = "S3cr%t@pw"  # with characters that break naive URL parsing


def with_secret_urls(minimal_yaml: str) -> str:
    return minimal_yaml + (
        "uplinks:\n  hub:\n    type: mqtt\n"
        f'    url: "mqtt://gw:{SECRET}@127.0.0.1:1883"\n'
        "cameras:\n  - id: c1\n    kind: rtsp\n"
        f'    url: "rtsp://admin:{SECRET}@10.0.0.5:554/Streaming/101?token={SECRET}"\n'
    )


def test_config_show_masks_credentials_in_every_url(
    minimal_yaml: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(with_secret_urls(minimal_yaml), encoding="utf-8")
    assert main(["config", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out and "S3cr" not in out
    doc = json.loads(out)
    assert doc["uplinks"]["hub"]["url"] == "mqtt://***@127.0.0.1:1883"
    assert doc["cameras"][0]["url"] == "rtsp://***@10.0.0.5:554/Streaming/101?token=***"


def test_config_errors_do_not_repeat_the_password(minimal_yaml: str) -> None:
    text = minimal_yaml + f'uplinks:\n  hub:\n    type: mqtt\n    url: "mqtt://gw:{SECRET}@h:x"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, "edge.yaml", {})
    (problem,) = info.value.problems
    assert "bad port" in str(problem) and "S3cr" not in str(problem), problem


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    yield io.StringIO()
    logging.getLogger().handlers.clear()


@pytest.mark.parametrize("fmt", ["json", "human"])
def test_log_lines_are_scrubbed(fmt: str, captured: io.StringIO) -> None:
    log.setup(fmt, "INFO")
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(captured)
    lib = logging.getLogger("edge.tests.somelibrary")
    lib.warning("cannot open rtsp://admin:%s@10.0.0.5/x", SECRET)
    try:
        raise OSError(f"connect mqtt://gw:{SECRET}@broker:1883 failed")
    except OSError:
        lib.exception("uplink down")
    text = captured.getvalue()
    assert "rtsp://***@10.0.0.5/x" in text and "mqtt://***@broker:1883" in text
    assert "S3cr" not in text


@pytest.fixture
async def daemon(minimal_yaml: str) -> AsyncIterator[tuple[Daemon, str]]:
    d = Daemon(parse_config(minimal_yaml, "edge.yaml", {}))
    await d.start()
    yield d, f"http://127.0.0.1:{d.web.port}"
    await d.stop()


async def test_health_is_scrubbed(daemon: tuple[Daemon, str]) -> None:
    d, url = daemon
    d.rt.add_health(
        "camera.c1", lambda: {"last_error": f"401 from rtsp://admin:{SECRET}@10.0.0.5/x"}
    )
    async with aiohttp.ClientSession() as http, http.get(f"{url}/api/health") as resp:
        doc = await resp.json()
    assert doc["camera.c1"]["last_error"] == "401 from rtsp://***@10.0.0.5/x"


def test_one_helper_for_urls_text_and_documents() -> None:
    assert redact_url("rtsp://10.0.0.5/x") == "rtsp://10.0.0.5/x"
    assert redact_url(f"http://u:{SECRET}@cam/snap.jpg?pwd=1&x=2") == (
        "http://***@cam/snap.jpg?pwd=***&x=2"
    )
    assert scrub(f"login {SECRET} refused", [SECRET]) == "login *** refused"
    doc = redact_data({"a": [f"mqtt://u:{SECRET}@h"], "n": 3, "s": "plain"})
    assert doc == {"a": ["mqtt://***@h"], "n": 3, "s": "plain"}
