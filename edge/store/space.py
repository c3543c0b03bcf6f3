"""Room on the data filesystem, watched where it is spent, and writes that fail for want of it.

The writer (after each commit) and the image writer (after each file) measure the room
left: the filesystem's free bytes plus the database's free pages, which new rows reuse
before the file grows. Below the low-water mark (`min_free_bytes`, set by retention)
`pressure` is set, so retention prunes at once instead of at its next interval: the disk
should never fill. If it fills anyway, the first failed write of the *episode* is logged
with its error, the rest are only counted, and retention logs the end of the episode once.
A refused write raises `StorageFull`, which callers answer as "try later" (HTTP 503).

The reserve is a file of pre-allocated bytes that retention gives back when the disk is
full, so that SQLite has room to delete (a DELETE writes pages to the WAL too) and the
storage alarm has room to be stored; it is taken again once pruning made room for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SQLITE_FULL = 13
RESERVE_NAME = "space-reserve"
RESERVE_MAX_BYTES = 32 * 1024**2
_CHUNK = 1024**2


class StorageFull(RuntimeError):
    """The store refused a write for lack of disk space; nothing of it was kept.

    A RuntimeError like a stopped writer's refusal, so callers that answer "try later"
    for one (the API's 503) do the same for the other."""


def is_full(exc: BaseException) -> bool:
    if isinstance(exc, StorageFull):
        return True
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def reserve_bytes_for(min_free_bytes: int) -> int:
    """Half the low-water mark, at most 32 MiB: enough for a pruning step's WAL pages and
    an alarm; none when free space is not watched."""
    return min(RESERVE_MAX_BYTES, min_free_bytes // 2)


class Space:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.low_water_bytes = 0  # 0: not watched (retention sets min_free_bytes)
        self.pressure = asyncio.Event()
        self.db_free_bytes = 0  # the database's free pages, as of the last commit
        self.room_bytes: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.full_since: float | None = None
        self.failed_writes = 0  # in the current episode
        self.failed_writes_total = 0
        self.failed_since_pass = 0
        self.first_error = ""

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # --- measuring (any thread) ----------------------------------------------------

    def fs_free(self) -> int:
        st = os.statvfs(self.data_dir)
        return st.f_bavail * st.f_frsize

    def after_commit(self, conn: sqlite3.Connection) -> None:
        """Called by the writer thread after each commit."""
        if not self.low_water_bytes:
            return
        free_pages = conn.execute("PRAGMA freelist_count").fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        self.db_free_bytes = int(free_pages * page)
        self.check()

    def check(self) -> int:
        """Measure the room left; set `pressure` when it is below the low-water mark."""
        if not self.low_water_bytes:
            return 0
        room = self.fs_free() + self.db_free_bytes
        self.room_bytes = room
        if room < self.low_water_bytes:
            self._signal()
        return room

    def _signal(self) -> None:
        if self._loop is not None and not self.pressure.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed under us at shutdown
                self._loop.call_soon_threadsafe(self.pressure.set)

    # --- failed writes (any thread) --------------------------------------------------

    def write_failed(self, exc: BaseException, what: str) -> None:
        """One failed write (a batch of `what`): logged when it starts an episode,
        counted otherwise."""
        with self._lock:
            self.failed_writes += 1
            self.failed_writes_total += 1
            self.failed_since_pass += 1
            starts = self.full_since is None
            if starts:
                self.full_since = time.monotonic()
                self.first_error = str(exc)
        if starts:
            log.error(
                "storage full: %s failed (%s); refusing writes (HTTP 503) and pruning, "
                "further failures are counted, not logged",
                what,
                exc,
            )
        self._signal()

    def take_pass_failures(self) -> int:
        """Failures since the previous retention pass (retention's view of the episode)."""
        with self._lock:
            n, self.failed_since_pass = self.failed_since_pass, 0
            return n

    def end_episode(self) -> int:
        """Close a full episode (logged once); returns how many writes it refused."""
        with self._lock:
            if self.full_since is None:
                return 0
            took = time.monotonic() - self.full_since
            n, self.failed_writes, self.full_since = self.failed_writes, 0, None
        log.warning("storage writable again: %d writes were refused over %.1f s", n, took)
        return n

    def health(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "room_bytes": self.room_bytes,
            "low_water_bytes": self.low_water_bytes,
            "failed_writes": self.failed_writes_total,
            "problems": [],
        }
        if self.full_since is not None:
            doc["full_for_s"] = round(time.monotonic() - self.full_since, 1)
            doc["problems"].append(
                f"storage full: {self.failed_writes} writes refused ({self.first_error})"
            )
        return doc


class Reserve:
    """Pre-allocated bytes on the data filesystem, given back when the disk is full."""

    def __init__(self, data_dir: Path, size_bytes: int) -> None:
        self.path = data_dir / RESERVE_NAME
        self.size_bytes = size_bytes

    @property
    def held(self) -> bool:
        try:
            return self.path.stat().st_blocks * 512 >= self.size_bytes
        except FileNotFoundError:
            return False

    def take(self) -> bool:
        """Allocate the reserve (blocking: call from a thread); False if there is no room."""
        if self.size_bytes <= 0 or self.held:
            return True
        try:
            with open(self.path, "wb") as f:
                try:
                    os.posix_fallocate(f.fileno(), 0, self.size_bytes)
                except OSError as exc:
                    if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                        raise
                    zeros = bytes(_CHUNK)  # a filesystem without fallocate: write it
                    for left in range(self.size_bytes, 0, -_CHUNK):
                        f.write(zeros[: min(left, _CHUNK)])
                f.flush()
                os.fsync(f.fileno())
            return True
        except OSError as exc:
            self.release()
            if not is_full(exc):
                log.warning("could not take the storage reserve %s: %s", self.path, exc)
            return False

    def release(self) -> bool:
        """Give the bytes back; True if there were any."""
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False
