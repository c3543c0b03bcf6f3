"""The systemd notify protocol, heard on a real AF_UNIX datagram socket as systemd would.

`Type=notify` waits for READY=1; `WatchdogSec=` restarts the unit unless WATCHDOG=1 keeps
coming; STOPPING=1 tells systemd the stop is under way. The daemon must only pet the
watchdog while its writer can commit: a daemon that cannot store events should be
restarted, not left looking alive.
"""

from __future__ import annotations

import itertools
import signal
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Daemons, RunningDaemon

WATCHDOG_USEC = 2_000_000  # the daemon pets every half of this; generous for a loaded CI box
STUCK_S = 3.0  # EDGE_WRITER_STUCK_S for the stuck-writer test


@dataclass(frozen=True)
class Datagram:
    at: float
    fields: dict[str, str]


class NotifySocket:
    """What systemd's end of NOTIFY_SOCKET receives, in order, with arrival times."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.received: list[Datagram] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._done.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self.received.append(Datagram(time.monotonic(), fields))

    def messages(self) -> list[Datagram]:
        with self._lock:
            return list(self.received)

    def with_field(self, key: str, value: str | None = None) -> list[Datagram]:
        return [
            m
            for m in self.messages()
            if key in m.fields and (value is None or m.fields[key] == value)
        ]

    def wait(self, cond: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > deadline:
                seen = [m.fields for m in self.messages()][-10:]
                raise AssertionError(f"timed out waiting for {what}; last datagrams: {seen}")
            time.sleep(0.02)

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    # A short path of its own: AF_UNIX paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="edge-notify-") as tmp:
        listener = NotifySocket(Path(tmp) / "notify.sock")
        try:
            yield listener
        finally:
            listener.close()


def _start(daemons: Daemons, notify: NotifySocket, **env: str) -> RunningDaemon:
    return daemons.start(
        env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": str(WATCHDOG_USEC), **env}
    )


def test_ready_status_watchdog_then_stopping(daemons: Daemons, notify: NotifySocket) -> None:
    d = _start(daemons, notify)
    notify.wait(lambda: bool(notify.with_field("READY", "1")), 10, "READY=1")
    ready = notify.with_field("READY", "1")[0]
    assert ready.fields.get("MAINPID") == str(d.pid)
    assert notify.messages()[0] is ready, "something was sent before READY=1"

    notify.wait(lambda: len(notify.with_field("WATCHDOG", "1")) >= 3, 10, "three WATCHDOG=1")
    pets = [m.at for m in notify.with_field("WATCHDOG", "1")]
    gaps = [b - a for a, b in itertools.pairwise(pets)]
    # systemd kills the unit if one gap reaches WATCHDOG_USEC; the daemon aims at half.
    assert max(gaps) < WATCHDOG_USEC / 1e6, f"watchdog gaps {gaps}"
    status = [m.fields["STATUS"] for m in notify.with_field("STATUS")]
    assert any(s.startswith("ok:") and "tasks running" in s for s in status), status

    d.send(signal.SIGTERM)
    notify.wait(lambda: bool(notify.with_field("STOPPING", "1")), 10, "STOPPING=1")
    assert d.wait_exit(10) == 0


def test_no_notify_socket_means_no_notify_traffic_and_a_normal_run(
    daemons: Daemons, notify: NotifySocket
) -> None:
    """Run from a terminal (no NOTIFY_SOCKET), the daemon must not fail or send anything."""
    d = daemons.start()
    assert d.get("/api/health")[0] == 200
    d.send(signal.SIGTERM)
    assert d.wait_exit(10) == 0
    assert notify.messages() == []


def test_watchdog_is_withheld_while_the_writer_cannot_commit(
    daemons: Daemons, notify: NotifySocket
) -> None:
    """Another process holding the database's write lock is a real fault: the writer
    cannot commit, events are refused, and systemd should restart the daemon."""
    d = _start(daemons, notify, EDGE_WRITER_STUCK_S=str(STUCK_S))
    notify.wait(lambda: len(notify.with_field("WATCHDOG", "1")) >= 2, 10, "WATCHDOG=1")

    blocker = sqlite3.connect(d.db_path, timeout=10, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    locked_at = time.monotonic()
    stop_posting = threading.Event()
    posting = threading.Thread(target=_post_until, args=(d, stop_posting), daemon=True)
    posting.start()
    try:
        # Judged by the daemon's own datagrams, not by timing gaps: once it reports the
        # writer stuck, two more rounds of STATUS must come with no WATCHDOG=1 among them.
        def stuck() -> list[Datagram]:
            return [m for m in notify.with_field("STATUS") if "stuck" in m.fields["STATUS"]]

        notify.wait(lambda: len(stuck()) >= 3, STUCK_S + 8, "three 'writer stuck' STATUS")
        first = stuck()[0].at
        assert first - locked_at >= STUCK_S * 0.9, "reported stuck before the threshold"
        pets = [m for m in notify.with_field("WATCHDOG", "1") if m.at > first]
        assert not pets, "WATCHDOG=1 sent while the writer was reported stuck"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        stop_posting.set()
        posting.join(timeout=30)
    released_at = time.monotonic()
    notify.wait(
        lambda: any(m.at > released_at for m in notify.with_field("WATCHDOG", "1")),
        15,
        "the watchdog to resume once the lock is gone",
    )
    d.send(signal.SIGTERM)
    assert d.wait_exit(10) == 0


def _post_until(d: RunningDaemon, stop: threading.Event) -> None:
    """Keep work in front of the writer, as a busy gate would."""
    import json
    import urllib.error
    import urllib.request

    body = json.dumps({"kind": "access", "source": "notify-test", "data": {}}).encode()
    while not stop.is_set():
        req = urllib.request.Request(
            d.url + "/api/events", body, {"Content-Type": "application/json", **d.headers}
        )
        try:
            with urllib.request.urlopen(req, timeout=15):
                pass
        except (urllib.error.URLError, OSError):
            pass
