"""The single writer: one thread owns the write connection; batches are group-committed.

Callers enqueue operations and await their commit. While the thread commits
one batch, the next accumulates, so throughput rises with load without any
artificial delay. The queue is bounded: when full, producers wait
(back-pressure), because an event may not be dropped once someone produced it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.events import Event
from edge.store.db import connect
from edge.store.space import Space, StorageFull, is_full

log = logging.getLogger(__name__)

Wants = Callable[[str], bool]
ROWID = "\0rowid"  # key in the counters dict for the next events.rowid_ (single writer)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# One encoder for the process: json.dumps() with options builds a new JSONEncoder per call,
# which costs as much as encoding a 1 KB payload.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def dumps(obj: Any) -> str:
    return _ENCODER.encode(obj)


@dataclass
class _Op:
    fn: Callable[[sqlite3.Connection, _Tx], Any] | None
    event: Event | None
    future: asyncio.Future[Any]


@dataclass
class _Tx:
    """What one batch did, for the loop side to announce after commit; ops call
    `emit` to add events in the same transaction as their own rows."""

    dests_touched: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)
    emit: Callable[[list[Event]], None] = lambda events: None


Tx = _Tx


class Writer:
    def __init__(
        self,
        db_path: Path,
        synchronous: str,
        destinations: dict[str, Wants],
        batch_max: int = 2000,
        queue_max: int = 20_000,
        space: Space | None = None,
    ) -> None:
        self.db_path = db_path
        self.synchronous = synchronous
        self.destinations = destinations
        self.batch_max = batch_max
        self._queue: asyncio.Queue[_Op] = asyncio.Queue(maxsize=queue_max)
        self._urgent: deque[_Op] = deque()
        self.space = space
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._conn: sqlite3.Connection | None = None
        self._next_seq: dict[str, int] = {}
        self.on_commit: Callable[[_Tx], None] | None = None
        self.commits = 0
        self.committed_ops = 0
        self.failed_batches = 0
        self.last_commit_s = 0.0
        self.busy_since: float | None = None
        # Since when work has waited for a successful commit (None: all committed). A batch
        # that fails (locked, full or broken database) leaves it set: failing is not healthy.
        self.stalled_since: float | None = None
        self.closed = False
        self.last_activity = time.monotonic()

    async def open(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._open)

    def _open(self) -> None:
        self._conn = connect(self.db_path, self.synchronous)
        for dest in self.destinations:
            self._conn.execute("INSERT OR IGNORE INTO destinations(dest) VALUES (?)", (dest,))
        self._load_seqs()

    def _load_seqs(self) -> None:
        assert self._conn is not None
        rows = self._conn.execute("SELECT dest, next_seq FROM destinations").fetchall()
        self._next_seq = {r["dest"]: r["next_seq"] for r in rows}
        top = self._conn.execute("SELECT coalesce(max(rowid_), 0) FROM events").fetchone()[0]
        self._next_seq[ROWID] = top + 1

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def submit(self, fn: Callable[[sqlite3.Connection, _Tx], Any]) -> Any:
        """Run `fn(conn, tx)` in the next batch's transaction; its result comes after commit."""
        self._check_open()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Op(fn, None, fut))
        return await fut

    async def submit_urgent(self, fn: Callable[[sqlite3.Connection, _Tx], Any]) -> Any:
        """Run `fn` in a transaction of its own, ahead of queued work. Retention makes room on
        a full disk this way: in a batch with the inserts it makes room for, a failing insert
        would roll the pruning back with it."""
        self._check_open()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._urgent.append(_Op(fn, None, fut))
        if self._queue.empty():  # wake an idle loop (a busy one looks here before each batch)
            wake: asyncio.Future[Any] = loop.create_future()
            self._queue.put_nowait(_Op(None, None, wake))
        return await fut

    async def add_event(self, event: Event) -> None:
        self._check_open()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Op(None, event, fut))
        await fut

    def _check_open(self) -> None:
        """Nothing may be enqueued once the writer stopped: no one would ever commit it,
        and its caller would wait forever (and hold the daemon's stop)."""
        if self.closed:
            raise RuntimeError("the store writer has stopped")

    async def run(self) -> None:
        try:
            while True:
                await self._process(await self._queue.get())
        except asyncio.CancelledError:
            # Producers are stopped first; commit what they already handed over.
            self.closed = True
            while not self._queue.empty():
                await self._process(self._queue.get_nowait())
            while self._urgent:
                await self._run([self._urgent.popleft()])
            raise

    async def _process(self, first: _Op) -> None:
        while self._urgent:
            await self._run([self._urgent.popleft()])
        batch = [first]
        while len(batch) < self.batch_max:
            try:
                batch.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        for op in batch:
            if op.fn is None and op.event is None and not op.future.done():
                op.future.set_result(None)  # a wake-up for urgent work, done above
        batch = [op for op in batch if op.fn is not None or op.event is not None]
        if batch:
            await self._run(batch)

    async def _run(self, batch: list[_Op]) -> None:
        loop = asyncio.get_running_loop()
        self.busy_since = time.monotonic()
        if self.stalled_since is None:
            self.stalled_since = self.busy_since
        failed_before = self.failed_batches
        inner = loop.run_in_executor(self._thread, self._commit, batch)
        cancelled = False
        try:
            tx, results = await asyncio.shield(inner)
        except asyncio.CancelledError:
            cancelled = True
            tx, results = await inner
        finally:
            self.busy_since = None
            self.last_activity = time.monotonic()
        if self.failed_batches == failed_before:
            self.stalled_since = None
        for op, result in zip(batch, results, strict=True):
            if op.future.done():
                continue
            if isinstance(result, BaseException):
                op.future.set_exception(result)
            else:
                op.future.set_result(result)
        if self.on_commit is not None and (tx.events or tx.dests_touched):
            self.on_commit(tx)
        if cancelled:
            raise asyncio.CancelledError

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait until everything enqueued so far is committed (used at shutdown)."""
        if self.closed or (self._queue.empty() and self.busy_since is None):
            return
        marker: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Op(lambda conn, tx: None, None, marker))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(marker, timeout_s)

    async def checkpoint(self) -> None:
        """Copy the WAL into the database now (between batches, on the writer's thread), so a
        database that pruning shrank gives the bytes back to the filesystem at once."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._checkpoint)

    def _checkpoint(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # busy or full: the automatic checkpoint catches up
                log.warning("checkpoint failed: %s", exc)

    def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._thread.submit(_close).result()
        self._thread.shutdown(wait=True)

    # --- writer thread -------------------------------------------------------

    def _commit(self, batch: list[_Op]) -> tuple[_Tx, list[Any]]:
        conn = self._conn
        assert conn is not None
        started = time.perf_counter()
        tx = _Tx()
        tx.emit = lambda evs: insert_events(conn, tx, evs, self.destinations, self._next_seq)
        results: list[Any] = [None] * len(batch)
        try:
            conn.execute("BEGIN IMMEDIATE")
            events = [(i, op.event) for i, op in enumerate(batch) if op.event is not None]
            if events:
                self._insert_events_isolated(conn, tx, events, results)
            for i, op in enumerate(batch):
                if op.fn is None:
                    continue
                conn.execute("SAVEPOINT op")
                saved = dict(self._next_seq), len(tx.events), set(tx.dests_touched)
                try:
                    results[i] = op.fn(conn, tx)
                    conn.execute("RELEASE op")
                except Exception as exc:
                    if not conn.in_transaction:
                        raise  # SQLite rolled the whole transaction back (a full disk): all failed
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    self._next_seq, tx.dests_touched = saved[0], saved[2]
                    del tx.events[saved[1] :]
                    results[i] = self._full(exc, "a write") if is_full(exc) else exc
            self._save_seqs(conn, tx)
            conn.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._load_seqs()
            self.failed_batches += 1
            if is_full(exc):
                exc = self._full(exc, f"a commit of {len(batch)} operations")
            else:
                log.error("store commit failed for %d operations: %s", len(batch), exc)
            return _Tx(), [exc] * len(batch)
        self.commits += 1
        self.committed_ops += len(batch)
        self.last_commit_s = time.perf_counter() - started
        if self.space is not None:
            try:
                self.space.after_commit(conn)
            except (OSError, sqlite3.Error) as exc:
                log.warning("could not measure free space: %s", exc)
        return tx, results

    def _full(self, exc: Exception, what: str) -> StorageFull:
        """Count (and log once per episode) a write refused for lack of space."""
        if self.space is not None:
            self.space.write_failed(exc, what)
        else:
            log.error("store write failed: %s: %s", what, exc)
        return exc if isinstance(exc, StorageFull) else StorageFull(f"storage full: {exc}")

    def _insert_events_isolated(
        self,
        conn: sqlite3.Connection,
        tx: _Tx,
        events: list[tuple[int, Event]],
        results: list[Any],
    ) -> None:
        conn.execute("SAVEPOINT events")
        saved = dict(self._next_seq), set(tx.dests_touched)
        try:
            insert_events(conn, tx, [e for _, e in events], self.destinations, self._next_seq)
            conn.execute("RELEASE events")
            return
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK TO events")
            conn.execute("RELEASE events")
            self._next_seq, tx.dests_touched = saved
            tx.events.clear()
        for i, event in events:  # slow path: find the offender(s), keep the rest
            conn.execute("SAVEPOINT one")
            saved = dict(self._next_seq), set(tx.dests_touched)
            try:
                insert_events(conn, tx, [event], self.destinations, self._next_seq)
                conn.execute("RELEASE one")
            except sqlite3.IntegrityError as exc:
                conn.execute("ROLLBACK TO one")
                conn.execute("RELEASE one")
                self._next_seq, tx.dests_touched = saved
                results[i] = exc

    def _save_seqs(self, conn: sqlite3.Connection, tx: _Tx) -> None:
        if tx.dests_touched:
            conn.executemany(
                "UPDATE destinations SET next_seq = ? WHERE dest = ?",
                [(self._next_seq[d], d) for d in tx.dests_touched],
            )


def insert_events(
    conn: sqlite3.Connection,
    tx: _Tx,
    events: list[Event],
    destinations: dict[str, Wants],
    next_seq: dict[str, int],
) -> None:
    """Insert events, their images and one outbox row per destination that wants them."""
    created = now_ms()
    first = next_seq.get(ROWID, 1)
    rowids = list(range(first, first + len(events)))
    conn.executemany(
        "INSERT INTO events(rowid_, id, ts_ms, kind, source, data, created_ms)"
        " VALUES (?,?,?,?,?,?,?)",
        [
            (r, e.id, int(e.ts.timestamp() * 1000), e.kind, e.source, dumps(e.data), created)
            for r, e in zip(rowids, events, strict=True)
        ],
    )
    next_seq[ROWID] = first + len(events)
    images = [
        (rowid, im.role, im.path, im.sha256, im.size_bytes, im.content_type)
        for rowid, e in zip(rowids, events, strict=True)
        for im in e.images
    ]
    if images:
        conn.executemany(
            "INSERT INTO event_images(event_rowid, role, path, sha256, size_bytes, content_type)"
            " VALUES (?,?,?,?,?,?)",
            images,
        )
    outbox: list[tuple[str, int, int]] = []
    for dest, wants in destinations.items():
        seq = next_seq.setdefault(dest, 1)
        for rowid, e in zip(rowids, events, strict=True):
            if wants(e.kind):
                outbox.append((dest, seq, rowid))
                seq += 1
        if seq != next_seq[dest]:
            next_seq[dest] = seq
            tx.dests_touched.add(dest)
    if outbox:
        conn.executemany("INSERT INTO outbox(dest, seq, event_rowid) VALUES (?,?,?)", outbox)
    tx.events.extend(events)
