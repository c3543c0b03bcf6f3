"""kill -9 in the middle of an ingest burst loses nothing that was acknowledged.

`POST /api/events` answers 201 only after the event's transaction committed. With the
default `synchronous=NORMAL` in WAL mode a committed transaction is in the OS page cache
when the call returns, and a killed process cannot take the page cache with it, so every
201 must survive SIGKILL. (A power cut is another matter: see docs/operations.md.)

Two MQTT uplinks are configured, pointed at a port nothing listens on, so every event stays
owed: after each kill, every committed event must be owed exactly once to each destination
whose `kinds` take it, under a gap-free `seq` that a restart continues, not restarts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

if TYPE_CHECKING:
    from conftest import Burst, Daemons, RunningDaemon

TOTAL = 4000
CONCURRENCY = 50
KILL_AFTER_ACKS = 1500  # a count, not a time: the kill lands mid-burst on any machine
SECOND_TOTAL, SECOND_KILL_AFTER = 1500, 500

UPLINKS = """\
uplinks:
  hub:
    type: mqtt
    url: mqtt://127.0.0.1:{port}
  archive:
    type: mqtt
    url: mqtt://127.0.0.1:{port}
    kinds: [plate]
"""


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A port bound but not listening: connections are refused, and no one else takes it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _assert_owed(daemons: Daemons, db_path: Path, stored: set[str]) -> None:
    """Every stored event (all `access`) owed once to `hub` (all kinds), none to `archive`
    (plates only), under seq 1..N in commit order, with next_seq N+1 persisted alongside."""
    owed = daemons.owed(db_path)
    seqs, ids, next_seq = owed["hub"]
    assert seqs == list(range(1, len(stored) + 1)), "hub seq has a gap or a repeat"
    assert len(ids) == len(set(ids)) and set(ids) == stored, "an event owed twice or not at all"
    assert next_seq == len(stored) + 1
    assert owed["archive"] == ([], [], 1), "owed an event its kinds do not take"


async def _burst_and_kill(d: RunningDaemon, bodies: list[dict[str, Any]], kill_after: int) -> Burst:
    """POST a burst and SIGKILL the daemon after `kill_after` acks (a count, not a time)."""
    acks = 0
    killed = False

    def on_ack(_event_id: str) -> None:
        nonlocal acks, killed
        acks += 1
        if acks == kill_after:
            os.kill(d.pid, signal.SIGKILL)
            killed = True

    burst = await d.post_burst(bodies, CONCURRENCY, on_ack=on_ack, stop=lambda: killed)
    assert d.wait_exit(10) == -signal.SIGKILL
    assert killed, f"the burst ended after {len(burst.acked)} acks, before the kill threshold"
    # The kill really interrupted work: requests were in flight or never sent.
    assert len(burst.acked) < len(bodies)
    assert burst.errors > 0 or burst.sent < len(bodies)
    assert not burst.statuses, f"unexpected answers before the kill: {dict(burst.statuses)}"
    return burst


async def test_kill9_mid_burst_keeps_every_acknowledged_event(
    daemons: Daemons, tmp_path: Path, dead_port: int
) -> None:
    config = daemons.write_config(sections=UPLINKS.format(port=dead_port))
    d = daemons.start(config)
    bodies = daemons.event_bodies(TOTAL, tag="k9")
    sent_ids = {b["id"] for b in bodies}
    burst = await _burst_and_kill(d, bodies, KILL_AFTER_ACKS)

    # Inspect a copy of the crash image, leaving the original for the restart to recover.
    crash = daemons.snapshot_db(d.db_path, tmp_path / "crash-image")
    assert daemons.integrity(crash) == "ok"
    on_disk = daemons.stored_ids(crash)
    lost = set(burst.acked) - on_disk
    assert len(lost) == 0, (
        f"{len(lost)} of {len(burst.acked)} acknowledged events lost, e.g. {min(lost)}"
    )
    assert on_disk <= sent_ids, "the database holds events nobody sent"
    _assert_owed(daemons, crash, on_disk)

    # A restarted daemon recovers the WAL and serves every acknowledged event.
    d2 = await asyncio.to_thread(daemons.start, d.config_path)
    assert daemons.integrity(d2.db_path) == "ok"
    missing = await _missing_from_api(d2.url, burst.acked, d2.headers)
    assert not missing, f"restarted daemon does not serve {len(missing)} acked events"
    code, doc = await asyncio.to_thread(d2.get, "/api/events?limit=1000")
    assert code == 200 and len(doc["events"]) == 1000
    assert {e["id"] for e in doc["events"]} <= sent_ids

    # A second kill of the restarted daemon: seq goes on from where the crash left it.
    second = await _burst_and_kill(
        d2, daemons.event_bodies(SECOND_TOTAL, tag="k9b"), SECOND_KILL_AFTER
    )
    crash2 = daemons.snapshot_db(d2.db_path, tmp_path / "crash-image-2")
    assert daemons.integrity(crash2) == "ok"
    on_disk2 = daemons.stored_ids(crash2)
    assert set(burst.acked) | set(second.acked) <= on_disk2
    assert on_disk <= on_disk2
    _assert_owed(daemons, crash2, on_disk2)


async def _missing_from_api(url: str, ids: list[str], headers: dict[str, str]) -> list[str]:
    missing: list[str] = []
    todo = iter(ids)

    async def client(session: aiohttp.ClientSession) -> None:
        for event_id in todo:
            async with session.get(f"{url}/api/events/{event_id}") as resp:
                if resp.status != 200 or (await resp.json())["id"] != event_id:
                    missing.append(event_id)

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        await asyncio.gather(*(client(session) for _ in range(20)))
    return missing
