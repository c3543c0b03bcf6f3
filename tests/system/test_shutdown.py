"""A clean stop is quick, exits 0 and keeps everything that was acknowledged.

systemd sends SIGTERM and escalates to SIGKILL after `TimeoutStopSec=15`; a person at a
terminal presses Ctrl-C (SIGINT). Both must stop well inside that budget.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Daemons

STOP_BUDGET_S = 10.0


# The daemon stops its API before its writer and bounds aiohttp's shutdown grace, so a
# request in flight at the signal neither holds the stop for aiohttp's default 60 s nor loses
# an event that was answered 201.
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_stops_cleanly_and_keeps_what_was_posted(
    daemons: Daemons, sig: signal.Signals
) -> None:
    d = daemons.start()
    burst = await d.post_burst(daemons.event_bodies(300, tag=sig.name), concurrency=20)
    assert len(burst.acked) == 300, (burst.errors, dict(burst.statuses))

    d.send(sig)
    assert await asyncio.to_thread(d.wait_exit, STOP_BUDGET_S) == 0
    assert "stopped cleanly" in d.log_messages()
    assert set(burst.acked) <= daemons.stored_ids(d.db_path)
    assert daemons.integrity(d.db_path) == "ok"


async def test_sigterm_during_a_burst_stops_in_time_and_keeps_every_ack(
    daemons: Daemons,
) -> None:
    """Requests still arriving while the daemon stops must neither hang the stop nor lose
    an event whose 201 went out."""
    d = daemons.start()
    signalled = asyncio.Event()
    acks = 0

    def on_ack(_event_id: str) -> None:
        nonlocal acks
        acks += 1
        if acks == 300:
            d.send(signal.SIGTERM)
            signalled.set()

    async def time_the_stop() -> tuple[int | None, float]:
        await signalled.wait()
        began = time.monotonic()
        try:
            code: int | None = await asyncio.to_thread(d.proc.wait, STOP_BUDGET_S)
        except subprocess.TimeoutExpired:
            d.proc.kill()  # fail now, and free the clients stuck on it
            code = None
        return code, time.monotonic() - began

    stop_timer = asyncio.create_task(time_the_stop())
    bodies = daemons.event_bodies(3000, tag="inflight")
    burst = await d.post_burst(bodies, concurrency=30, on_ack=on_ack, timeout_s=30)
    assert signalled.is_set(), "the burst ended before 300 acks"
    code, took = await asyncio.wait_for(stop_timer, 60)
    assert code is not None, f"still running {took:.1f}s after SIGTERM with requests in flight"
    assert code == 0
    assert len(burst.acked) < len(bodies), "the signal came after the burst ended"
    lost = set(burst.acked) - daemons.stored_ids(d.db_path)
    assert len(lost) == 0, f"{len(lost)} acknowledged events missing after a clean stop"


async def test_sigterm_with_a_stalled_client_still_stops_in_time(daemons: Daemons) -> None:
    """A client that sent half a POST and went quiet (a flaky intercom bridge) must not
    hold the stop past systemd's TimeoutStopSec, which would end in SIGKILL."""
    d = daemons.start()
    host, port = d.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    body = b'{"kind": "access", "source": "stalled", "data": {}}'
    auth = d.headers["Authorization"].encode()
    writer.write(
        b"POST /api/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Authorization: %s\r\nContent-Length: %d\r\n\r\n" % (auth, len(body)) + body[:10]
    )
    await writer.drain()
    # The daemon's one loop reads that request before it answers this later one.
    assert (await asyncio.to_thread(d.get, "/api/health"))[0] == 200

    d.send(signal.SIGTERM)
    began = time.monotonic()
    code = await asyncio.to_thread(d.wait_exit, STOP_BUDGET_S)
    assert code == 0, f"exit code {code} after {time.monotonic() - began:.1f}s"
    assert await reader.read() == b"", "the stalled request got an answer without its body"
    writer.close()


def _edge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_edge_status_reports_a_running_daemon_and_an_unreachable_one(
    daemons: Daemons,
) -> None:
    d = daemons.start()
    up = await asyncio.to_thread(_edge, "status", "--url", d.url)
    assert up.returncode == 0, up.stderr
    assert "System Test" in up.stdout and "OK" in up.stdout
    assert "store.writer" in up.stdout

    d.send(signal.SIGTERM)
    assert await asyncio.to_thread(d.wait_exit, STOP_BUDGET_S) == 0
    down = await asyncio.to_thread(_edge, "status", "--url", d.url)
    assert down.returncode != 0
    assert "does not answer" in down.stderr and d.url in down.stderr
