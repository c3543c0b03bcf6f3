"""A daemon killed while taking a door controller's events sends no swipe to the hub twice.

The daemon is killed by SIGKILL at the worst moment (right after the first swipe's event is
committed, see uhppote_crash_daemon.py) and started again: each swipe is one event in the
store and one item in the hub's outbox, those swiped while it was down included."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from edge.sim.uhppote import UhppoteSimulator

ROOT = Path(__file__).resolve().parents[2]
CRASHING = Path(__file__).with_name("uhppote_crash_daemon.py")
CURSOR = "uhppote.gate-east.event_index"

CONFIG = """\
config_version: 1
site:
  name: Crash Test
  site_id: "32010600002160000001"
  gateway_id: "32010600001180000001"
storage:
  data_dir: {data_dir}
web:
  listen: "127.0.0.1:0"
uplinks:
  hub:
    type: mqtt
    url: mqtt://127.0.0.1:{dead_port}
devices:
  - id: gate-east
    type: uhppote
    controller: {serial}
    address: "{address}"
    door: 1
    listener: "127.0.0.1:0"
    timeout_s: 0.5
    poll_interval_s: 0.2
"""


@pytest.fixture
async def controller() -> AsyncIterator[UhppoteSimulator]:
    async with UhppoteSimulator(serial=405419896) as sim:
        yield sim


@pytest.fixture
def dead_port() -> Any:
    """A port bound but not listening: the hub is unreachable, so every event stays owed."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def procs() -> Any:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def spawn(script: list[str], config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *script, "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def until(what: str, cond: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    """Poll without blocking the loop (the simulated controller answers on it)."""
    deadline = time.monotonic() + timeout_s
    while not (value := cond()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return value


def read_db(db: Path) -> tuple[int | None, list[int], dict[int, int]]:
    """(the controller cursor, the controller indices of the stored access events, and per
    controller index how many outbox items the hub is owed for it)."""
    if not db.exists():
        return None, [], {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM counters WHERE name = ?", (CURSOR,)).fetchone()
        indices: list[int] = []
        owed: dict[int, int] = {}
        for rowid, data in conn.execute("SELECT rowid_, data FROM events WHERE kind = 'access'"):
            index = json.loads(data).get("controller_index")
            if index is None:
                continue
            indices.append(index)
            owed[index] = conn.execute(
                "SELECT count(*) FROM outbox WHERE dest = 'hub' AND event_rowid = ?", (rowid,)
            ).fetchone()[0]
        return (row[0] if row else None), sorted(indices), owed
    except sqlite3.OperationalError:  # tables not created yet
        return None, [], {}
    finally:
        conn.close()


async def test_a_kill_right_after_a_swipe_is_recorded_leaves_no_duplicate(
    controller: UhppoteSimulator, dead_port: int, procs: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    db = data / "edge.db"
    config = tmp_path / "edge.yaml"
    config.write_text(
        CONFIG.format(
            data_dir=data, dead_port=dead_port, serial=controller.serial, address=controller.address
        )
    )
    log = tmp_path / "daemon.log"
    crashing = spawn([str(CRASHING)], config, log)
    procs.append(crashing)
    # Connected: the listener is set and the cursor starts at the controller's empty log.
    await until("the daemon to take the controller", lambda: read_db(db)[0] == 0)
    await until("the listener", lambda: controller.listener is not None)
    controller.swipe(8165538)
    code = await until("the kill", crashing.poll)
    assert code == -signal.SIGKILL, log.read_text()
    # Killed the instant the first swipe was committed: its log position went with it.
    assert read_db(db) == (1, [1], {1: 1})

    controller.swipe(8165539)  # two swipes while the daemon is down
    controller.swipe(8165540)
    daemon = spawn(["-m", "edge"], config, log)
    procs.append(daemon)
    await until("the missed swipes", lambda: read_db(db)[0] == 3)
    daemon.send_signal(signal.SIGTERM)
    assert await until("the daemon to stop", lambda: daemon.poll() is not None)
    _, indices, owed = read_db(db)
    assert indices == [1, 2, 3], "a swipe recorded twice or not at all"
    assert owed == {1: 1, 2: 1, 3: 1}, "a swipe owed to the hub twice or not at all"
