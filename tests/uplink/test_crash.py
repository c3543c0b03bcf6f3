"""kill -9 of the real daemon mid-flight loses nothing; resends carry the same id and seq."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from mqtt_broker import Broker, free_port
from mqtt_hub import HubClient
from uplink_helpers import assert_complete_in_order, config_text, wait_until
from webauth import token_headers

ROOT = Path(__file__).resolve().parents[2]


class DaemonProcess:
    def __init__(self, config: Path, port: int) -> None:
        self.config = config
        self.api = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(self.config)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def start(self, session: aiohttp.ClientSession) -> None:
        self.spawn()
        assert self.proc is not None

        async def up() -> bool:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(self.api + "/api/health") as r:
                    return r.status in (200, 503)
            return False

        for _ in range(300):
            assert self.proc.poll() is None, "daemon exited at start-up"
            if await up():
                return
            await asyncio.sleep(0.05)
        pytest.fail("daemon did not come up")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def post_events(
    session: aiohttp.ClientSession,
    api: str,
    n: int,
    committed: list[str],
    start: int,
    headers: dict[str, str],
) -> None:
    """POST until done or the daemon dies; only a 201 counts as committed."""

    async def one(i: int) -> None:
        body = {"kind": "access", "source": "door-1", "data": {"n": i}}
        async with session.post(api + "/api/events", json=body, headers=headers) as r:
            if r.status == 201:
                committed.append((await r.json())["id"])

    with contextlib.suppress(aiohttp.ClientError):
        for i in range(start, start + n, 25):
            await asyncio.gather(*(one(j) for j in range(i, i + 25)))


async def test_kill9_mid_flight_loses_nothing(
    tmp_path: Path, broker: Broker, hub: HubClient, session: aiohttp.ClientSession
) -> None:
    port = free_port()
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(
        config_text(tmp_path / "data", broker.url, "    inflight: 200", f"127.0.0.1:{port}")
    )
    daemon = DaemonProcess(cfg, port)
    committed: list[str] = []
    try:
        await daemon.start(session)
        auth = token_headers(tmp_path / "data")  # kept across the restart below
        feeder = asyncio.create_task(post_events(session, daemon.api, 4000, committed, 0, auth))
        await wait_until(lambda: len(hub.events()) >= 300, 20, "delivery under way")
        # Freeze the broker and commit more than the in-flight window (200) so that some
        # events are certainly unsent when the daemon dies; at low load everything would
        # otherwise be acknowledged before the kill and the test would prove nothing.
        broker.pause()
        frozen_at = len(committed)
        await wait_until(lambda: len(committed) >= frozen_at + 300, 20, "commits while frozen")
        daemon.kill9()
        broker.resume()
        await feeder
        delivered_before = {m["id"] for m in hub.events()}
        assert set(committed) - delivered_before, "the kill must leave events owed"
        await wait_until(
            lambda: any(m.body["state"] == "offline" for m in hub.on("/status")), 10, "last will"
        )
        await daemon.start(session)
        await post_events(session, daemon.api, 200, committed, 10_000, auth)
        await wait_until(
            lambda: len({m["id"] for m in hub.events()} & set(committed)) == len(committed),
            30,
            "every committed event",
        )
    finally:
        daemon.stop()
    assert_complete_in_order(hub.events(), committed)
    assert hub.on("/status")[-1].body["state"] == "online"
