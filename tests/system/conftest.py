"""Real daemons for system tests: `python -m edge run` in a subprocess, on a tmp config.

Each daemon gets its own data dir and an ephemeral web port (`listen: 127.0.0.1:0`); the
port is read back from the daemon's own "local API on ..." log line, so nothing races for
a port. Ready means `/api/health` answered, which is what an operator or systemd sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prereqs import require
from webauth import token_headers

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30.0  # generous: a loaded 2-core CI box imports numpy/onnx stacks slowly
_API_LINE = re.compile(r"local API on http://([^\s:\"]+|\[[^\]]+\]):(\d+)")
_SYSTEMD_VARS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID")

BASE_CONFIG = """\
config_version: 1
site:
  name: System Test
  site_id: "32010600002160000001"
  gateway_id: "32010600001180000001"
storage:
  data_dir: {data_dir}
{storage_extra}web:
  listen: "127.0.0.1:0"
logging:
  format: json
  level: INFO
{sections}"""


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll a condition (never a bare sleep for timing); fail with `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Burst:
    acked: list[str] = field(default_factory=list)
    sent: int = 0
    errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


@dataclass
class RunningDaemon:
    proc: subprocess.Popen[bytes]
    config_path: Path
    data_dir: Path
    log_path: Path
    url: str = ""
    _log_file: Any = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def db_path(self) -> Path:
        return self.data_dir / "edge.db"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_messages(self) -> list[str]:
        out = []
        for line in self.log_text().splitlines():
            try:
                out.append(str(json.loads(line).get("msg", "")))
            except json.JSONDecodeError:
                out.append(line)
        return out

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait_exit(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"daemon pid {self.pid} still running {timeout_s:.0f}s later; log tail:\n"
                + "\n".join(self.log_text().splitlines()[-20:])
            ) from None

    @property
    def headers(self) -> dict[str, str]:
        """The local API token, as the CLI on the box sends it (written at daemon start)."""
        return token_headers(self.data_dir)

    def get(self, path: str, timeout_s: float = 10.0) -> tuple[int, Any]:
        req = urllib.request.Request(self.url + path, headers=self.headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    async def post_burst(
        self,
        bodies: list[dict[str, Any]],
        concurrency: int = 50,
        on_ack: Callable[[str], None] | None = None,
        stop: Callable[[], bool] | None = None,
        timeout_s: float = 60.0,
    ) -> Burst:
        """POST every body to /api/events from `concurrency` clients at once; a 201 means
        committed, so its id goes in `acked`. Connection errors are counted, not raised:
        the daemon may be killed mid-burst on purpose."""
        burst = Burst()
        todo = iter(bodies)
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        conn = aiohttp.TCPConnector(limit=concurrency)

        async def client(session: aiohttp.ClientSession) -> None:
            for body in todo:
                if stop is not None and stop():
                    return
                burst.sent += 1
                try:
                    async with session.post(self.url + "/api/events", json=body) as resp:
                        # Only a 201 is parsed: an error page (aiohttp's text/plain 500) is an
                        # answer to count, not a connection error.
                        doc = await resp.json() if resp.status == 201 else None
                except (aiohttp.ClientError, TimeoutError):
                    burst.errors += 1
                    continue
                if doc is not None:
                    burst.acked.append(doc["id"])
                    if on_ack is not None:
                        on_ack(doc["id"])
                else:
                    burst.statuses[resp.status] += 1

        async with aiohttp.ClientSession(
            connector=conn, timeout=timeout, headers=self.headers
        ) as session:
            await asyncio.gather(*(client(session) for _ in range(concurrency)))
        return burst

    def close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


class Daemons:
    """Starts daemons for one test and kills any still running when the test ends."""

    wait_for = staticmethod(wait_for)

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "data"
        self._started: list[RunningDaemon] = []

    def write_config(self, storage_extra: dict[str, Any] | None = None, sections: str = "") -> Path:
        """`sections`: more top-level YAML (e.g. an `uplinks:` block), as written."""
        extra = "".join(f"  {k}: {v}\n" for k, v in (storage_extra or {}).items())
        path = self.tmp_path / "edge.yaml"
        path.write_text(
            BASE_CONFIG.format(data_dir=self.data_dir, storage_extra=extra, sections=sections)
        )
        return path

    def start(
        self,
        config_path: Path | None = None,
        env: dict[str, str] | None = None,
        wait_ready: bool = True,
    ) -> RunningDaemon:
        config_path = config_path or self.write_config()
        log_path = self.tmp_path / f"daemon-{len(self._started)}.log"
        log_file = open(log_path, "wb")  # noqa: SIM115 - closed in close_log()
        child_env = {k: v for k, v in os.environ.items() if k not in _SYSTEMD_VARS}
        child_env.update(env or {})
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config_path)],
            cwd=REPO,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        d = RunningDaemon(proc, config_path, self.data_dir, log_path, _log_file=log_file)
        self._started.append(d)
        if wait_ready:
            self.wait_ready(d)
        return d

    def wait_ready(self, d: RunningDaemon) -> None:
        def api_address() -> str | None:
            if d.proc.poll() is not None:
                raise AssertionError(
                    f"daemon exited with {d.proc.returncode} before it was ready:\n{d.log_text()}"
                )
            m = _API_LINE.search(d.log_text())
            return f"http://{m.group(1)}:{m.group(2)}" if m else None

        d.url = wait_for(api_address, READY_TIMEOUT_S, "the daemon's 'local API on' log line")

        def answers() -> bool:
            try:
                d.get("/api/health", timeout_s=2.0)
                return True
            except (OSError, ValueError):
                return False

        wait_for(answers, READY_TIMEOUT_S, f"{d.url}/api/health to answer")

    @staticmethod
    def event_bodies(n: int, payload_bytes: int = 200, tag: str = "burst") -> list[dict[str, Any]]:
        """Events with ids chosen by the client, so the test knows every id it ever sent."""
        pad = "x" * payload_bytes
        return [
            {
                "id": f"{tag}-{uuid.uuid4().hex}",
                "kind": "access",
                "source": "system-test",
                "data": {"n": i, "pad": pad},
            }
            for i in range(n)
        ]

    @staticmethod
    def snapshot_db(db_path: Path, dest_dir: Path) -> Path:
        """Copy the database with its WAL as it lies on disk, opening nothing in place:
        the original stays exactly as the crash left it, for a restarted daemon to recover."""
        dest_dir.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            src = db_path.with_name(db_path.name + suffix)
            if src.exists():
                (dest_dir / src.name).write_bytes(src.read_bytes())
        return dest_dir / db_path.name

    @staticmethod
    def stored_ids(db_path: Path) -> set[str]:
        conn = sqlite3.connect(db_path)
        try:
            return {r[0] for r in conn.execute("SELECT id FROM events")}
        finally:
            conn.close()

    @staticmethod
    def owed(db_path: Path) -> dict[str, tuple[list[int], list[str], int]]:
        """Per destination: its outbox seqs in commit (rowid) order, the ids of the events
        they owe, and the destination's next_seq."""
        conn = sqlite3.connect(db_path)
        try:
            out: dict[str, tuple[list[int], list[str], int]] = {}
            for dest, next_seq in conn.execute("SELECT dest, next_seq FROM destinations"):
                rows = conn.execute(
                    "SELECT o.seq, e.id FROM outbox o JOIN events e ON e.rowid_ = o.event_rowid"
                    " WHERE o.dest = ? ORDER BY e.rowid_",
                    (dest,),
                ).fetchall()
                out[dest] = ([r[0] for r in rows], [r[1] for r in rows], next_seq)
            return out
        finally:
            conn.close()

    @staticmethod
    def integrity(db_path: Path) -> str:
        conn = sqlite3.connect(db_path)
        try:
            return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
        finally:
            conn.close()

    def cleanup(self) -> None:
        for d in self._started:
            if d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait(timeout=10)
            d.close_log()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Daemons]:
    launcher = Daemons(tmp_path)
    try:
        yield launcher
    finally:
        launcher.cleanup()


@pytest.fixture
def edge_daemon(daemons: Daemons) -> RunningDaemon:
    """A ready daemon on the default config (NORMAL durability, no uplinks)."""
    return daemons.start()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 20 MB filesystem (tmpfs), so "disk full" is the kernel's ENOSPC, not a mock.

    Mounting needs root (or CAP_SYS_ADMIN) and util-linux's `mount`; without them the test
    skips, and under CI=true fails (tests/prereqs.py)."""
    where = tmp_path / "disk"
    where.mkdir()
    got = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=20m,mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    require(
        got.returncode == 0,
        f"a 20 MB tmpfs mounted by root ({got.stderr.strip()})",
        "util-linux (mount), and run the suite as root or with CAP_SYS_ADMIN",
    )
    try:
        yield where
    finally:
        # A daemon still holding files open would make a plain umount fail: detach lazily.
        subprocess.run(["umount", "--lazy", str(where)], capture_output=True, check=False)
