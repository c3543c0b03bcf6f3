"""A daemon killed at a door controller's worst moments loses nothing and doubles nothing.

Killed by SIGKILL right after the first swipe's event is committed (uhppote_crash_daemon.py)
and started again: each swipe is one event in the store and one item in the hub's outbox,
those swiped while it was down included. Killed right after the controller confirmed an
opening, before the daemon recorded it (opening_crash_daemon.py): the next start records that
opening once, its outcome unknown, with an audit row."""

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
OPENING_CRASH = Path(__file__).with_name("opening_crash_daemon.py")
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


def site(
    tmp_path: Path, controller: UhppoteSimulator, dead_port: int, more: str = ""
) -> tuple[Path, Path, Path, Path]:
    """(data dir, database, config file, daemon log) of a gateway on `controller`."""
    data = tmp_path / "data"
    config = tmp_path / "edge.yaml"
    config.write_text(
        CONFIG.format(
            data_dir=data, dead_port=dead_port, serial=controller.serial, address=controller.address
        )
        + more
    )
    return data, data / "edge.db", config, tmp_path / "daemon.log"


async def test_a_kill_right_after_a_swipe_is_recorded_leaves_no_duplicate(
    controller: UhppoteSimulator, dead_port: int, procs: Any, tmp_path: Path
) -> None:
    _, db, config, log = site(tmp_path, controller, dead_port)
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


RESIDENT = "粤B12345"
GATE = """\
access:
  plate_allowlist: ["{plate}"]
  gates:
    - {{id: east-in, device: gate-east, cameras: [cam-east]}}
"""


def read_opening(db: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(the gatekeeper's access events' data, each with `owed`: outbox items the hub is
    owed for it; the gate.open audit details; the openings under way). The controller's own
    log events (a door opened) are left out."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        events = []
        for rowid, d in conn.execute("SELECT rowid_, data FROM events WHERE kind = 'access'"):
            data = json.loads(d)
            if data.get("origin") == "controller":
                continue
            owed = conn.execute(
                "SELECT count(*) FROM outbox WHERE dest = 'hub' AND event_rowid = ?", (rowid,)
            ).fetchone()[0]
            events.append({**data, "owed": owed})
        audits = [
            json.loads(d)
            for (d,) in conn.execute("SELECT detail FROM audit WHERE action = 'gate.open'")
        ]
        under_way = conn.execute("SELECT count(*) FROM gate_openings").fetchone()[0]
        return events, audits, under_way
    finally:
        conn.close()


async def post_plate(log: Path, data: Path) -> str:
    """A resident's plate at the east camera, handed in over the local API once it is up."""
    import re

    import aiohttp

    found = await until(
        "the local API",
        lambda: re.search(r"local API on (http://127\.0\.0\.1:\d+)", log.read_text()),
    )
    token = (data / "api.token").read_text().strip()
    event = {
        "kind": "plate",
        "source": "camera.cam-east",
        "data": {"camera": "cam-east", "plate": RESIDENT, "confidence": 0.97},
    }
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
        http.post(f"{found.group(1)}/api/events", json=event) as r,
    ):
        assert r.status == 201, await r.text()
        return str((await r.json())["id"])


async def test_a_kill_right_after_a_gate_opened_still_records_the_opening(
    controller: UhppoteSimulator, dead_port: int, procs: Any, tmp_path: Path
) -> None:
    data, db, config, log = site(tmp_path, controller, dead_port, GATE.format(plate=RESIDENT))
    crashing = spawn([str(OPENING_CRASH)], config, log)
    procs.append(crashing)
    await until("the daemon to take the controller", lambda: read_db(db)[0] == 0)
    plate = await post_plate(log, data)
    code = await until("the kill", crashing.poll)
    assert code == -signal.SIGKILL, log.read_text()
    assert controller.opened == [1]  # the car was let in ...
    events, audits, under_way = read_opening(db)
    assert (events, audits, under_way) == ([], [], 1)  # ... and only the kept opening says so

    daemon = spawn(["-m", "edge"], config, log)
    procs.append(daemon)
    await until("the opening recorded", lambda: read_opening(db)[2] == 0)
    daemon.send_signal(signal.SIGTERM)
    assert await until("the daemon to stop", lambda: daemon.poll() is not None)
    [record], audits, _ = read_opening(db)
    assert record["pass_event"] == plate and record["plate"] == RESIDENT
    assert record["decision"] == "granted" and record["gate"] == "east-in"
    assert "opened" not in record and "whether it opened is not known" in record["gate_error"]
    assert [a["outcome"] for a in audits] == ["unknown"]
    assert record["owed"] == 1  # the hub hears of it once
    assert "recorded with its outcome unknown" in log.read_text()
