"""Bounded storage: by age, by bytes and by the room left on the disk, in an order
that protects what is owed.

Order when over budget: images of delivered events, then delivered events
(oldest first). Only past the hard cap do images and then records still owed
to an uplink go, and that is an alarm: the hub will see a gap in `seq`.
Every drop is counted in `counters`; each over-budget episode is logged once
when it starts and once when it ends.

Room on the disk (`min_free_bytes`, see `edge.store.space`) counts apart from the
budget: less room than that prunes delivered data in the same order, whatever
`max_bytes` says, and raises the `storage.disk_low` alarm until a pass finds the
room back; less than half of it is the disk's hard cap, and owed data goes too. A pass
runs every `prune_interval_s`, and at once when a write finds the room short.
It prunes in steps of its own transaction, ahead of queued writes, each step's
files deleted after it commits; on a full disk it first gives back the reserve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config.storage import StorageConfig
from edge.store.space import Reserve, StorageFull, reserve_bytes_for
from edge.store.store import Store
from edge.store.writer import Tx, now_ms

log = logging.getLogger(__name__)

CHUNK = 500
STEP_ROWS = 500  # rows one pruning transaction deletes at most: its WAL pages fit the reserve
STEP_VACUUM_PAGES = 128  # free pages one step gives back to the filesystem (moved pages: WAL)
ALARM_KEY = "storage.disk_low"
SWEEP_EVERY_S = 900.0
ORPHAN_GRACE_S = 120.0  # longer than any wait between save_image and add_event
MIN_GAP_S = 0.5  # between passes that freed nothing, so a disk nobody can free is not spun on
# The alarm closes (and a full episode ends) only after this many passes in a row found room
# (a whole interval without pressure), so pruning that keeps up with a burst does not flap it.
QUIET_PASSES = 2
_OWED = "EXISTS (SELECT 1 FROM outbox o WHERE o.event_rowid = e.rowid_ AND o.acked = 0)"


@dataclass
class PruneResult:
    images: int = 0
    delivered: int = 0
    owed: int = 0
    aged: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    files: list[str] = field(default_factory=list)
    more: bool = False  # stopped at the step's row or page limit: run another step
    vacuumed_pages: int = 0
    deficit: int = 0  # bytes of room short on the disk when the pass began

    @property
    def over_budget(self) -> bool:
        return bool(self.images or self.delivered or self.owed)

    @property
    def freed(self) -> int:
        return self.bytes_before - self.bytes_after

    def add(self, step: PruneResult) -> None:
        self.images += step.images
        self.delivered += step.delivered
        self.owed += step.owed
        self.aged += step.aged
        self.bytes_before = self.bytes_before or step.bytes_before
        self.bytes_after = step.bytes_after


def used_bytes(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    images = conn.execute("SELECT coalesce(sum(size_bytes), 0) FROM event_images").fetchone()[0]
    return int((pages - free) * size + images)


def prune(
    conn: sqlite3.Connection,
    cfg: StorageConfig,
    free_deficit: int = 0,
    now: int | None = None,
    max_rows: int | None = None,
    owed_deficit: int = 0,
) -> PruneResult:
    """Delete rows to fit the budget and to free `free_deficit` bytes of delivered data, or
    `owed_deficit` bytes (the disk nearly full) in all; returns what went and the image files
    to unlink. Stops (with `more`) once `max_rows` rows went."""
    res = PruneResult()
    now = now_ms() if now is None else now
    cutoff = now - int(cfg.retention_days * 86_400_000)
    res.bytes_before = used_bytes(conn)
    aged = [
        r[0]
        for r in conn.execute(
            f"SELECT rowid_ FROM events e WHERE ts_ms < ? AND NOT {_OWED} ORDER BY ts_ms LIMIT ?",
            (cutoff, -1 if max_rows is None else max_rows),
        )
    ]
    res.files += _delete_events(conn, aged)
    res.aged = len(aged)

    def over(limit: int, deficit: int) -> int:
        used = used_bytes(conn)
        return max(used - limit, deficit - (res.bytes_before - used))

    def step_full() -> bool:
        if max_rows is not None and res.aged + res.images + res.delivered + res.owed >= max_rows:
            res.more = True
        return res.more

    hard = cfg.hard_max_bytes or cfg.max_bytes
    for owed, limit, deficit in (
        (False, cfg.max_bytes, free_deficit),
        (True, hard, owed_deficit),
    ):
        cond = _OWED if owed else f"NOT {_OWED}"
        while not step_full() and (excess := over(limit, deficit)) > 0:
            rows = _prefix_covering(
                conn.execute(
                    "SELECT i.event_rowid, i.path, i.size_bytes FROM event_images i"
                    f" JOIN events e ON e.rowid_ = i.event_rowid WHERE {cond}"
                    " ORDER BY e.ts_ms LIMIT ?",
                    (CHUNK,),
                ).fetchall(),
                excess,
            )
            if not rows:
                break
            conn.executemany(
                "DELETE FROM event_images WHERE event_rowid = ? AND path = ?",
                [(r[0], r[1]) for r in rows],
            )
            res.files += [r[1] for r in rows]
            res.images += len(rows)
        while not step_full() and (excess := over(limit, deficit)) > 0:
            victims = [
                r[0]
                for r in conn.execute(
                    f"SELECT rowid_ FROM events e WHERE {cond} ORDER BY ts_ms LIMIT ?",
                    (_records_for(conn, excess),),
                )
            ]
            if not victims:
                break
            if owed:
                marks = ",".join("?" * len(victims))
                for dest, n in conn.execute(
                    "SELECT dest, count(*) FROM outbox"
                    f" WHERE acked = 0 AND event_rowid IN ({marks})"
                    " GROUP BY dest",
                    victims,
                ).fetchall():
                    conn.execute(
                        "UPDATE destinations SET dropped = dropped + ? WHERE dest = ?", (n, dest)
                    )
                res.owed += len(victims)
            else:
                res.delivered += len(victims)
            res.files += _delete_events(conn, victims)
    vacuumed, left = _vacuum(conn, STEP_VACUUM_PAGES if max_rows is not None else None)
    res.vacuumed_pages = vacuumed
    res.more = res.more or left
    for name, n in (
        ("dropped.images", res.images),
        ("dropped.events_delivered", res.delivered),
        ("dropped.events_owed", res.owed),
        ("pruned.events_aged", res.aged),
    ):
        if n:
            conn.execute(
                "INSERT INTO counters(name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, n),
            )
    res.bytes_after = used_bytes(conn)
    return res


def _vacuum(conn: sqlite3.Connection, max_pages: int | None) -> tuple[int, bool]:
    """Give free pages back to the filesystem (databases made with auto_vacuum=INCREMENTAL;
    the file shrinks at the next checkpoint). Returns (pages given back, pages left)."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
        return 0, False
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    n = free if max_pages is None else min(free, max_pages)
    for _ in range(n):
        # Python's sqlite3 steps a PRAGMA once, and incremental_vacuum frees a page per step.
        conn.execute("PRAGMA incremental_vacuum(1)")
    return n, free > n


def _prefix_covering(rows: list[sqlite3.Row], excess: int) -> list[sqlite3.Row]:
    """The oldest images whose sizes add up to the excess, not a whole chunk more."""
    total, out = 0, []
    for row in rows:
        out.append(row)
        total += row[2]
        if total >= excess:
            break
    return out


def _records_for(conn: sqlite3.Connection, excess: int) -> int:
    """How many records to delete next, from the average record size (bounded)."""
    count = conn.execute("SELECT count(*) FROM events").fetchone()[0] or 1
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    average = max(1, pages * size // count)
    return max(1, min(CHUNK, -(-excess // average)))


def _delete_events(conn: sqlite3.Connection, rowids: list[int]) -> list[str]:
    files: list[str] = []
    for i in range(0, len(rowids), CHUNK):
        part = rowids[i : i + CHUNK]
        marks = ",".join("?" * len(part))
        files += [
            r[0]
            for r in conn.execute(
                f"SELECT path FROM event_images WHERE event_rowid IN ({marks})", part
            )
        ]
        conn.execute(f"DELETE FROM outbox WHERE event_rowid IN ({marks})", part)
        conn.execute(f"DELETE FROM events WHERE rowid_ IN ({marks})", part)
    return files


class Retention:
    def __init__(
        self, store: Store, cfg: StorageConfig, orphan_grace_s: float = ORPHAN_GRACE_S
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.space = store.space
        self.space.low_water_bytes = cfg.min_free_bytes
        self.reserve = Reserve(store.data_dir, reserve_bytes_for(cfg.min_free_bytes))
        self.orphan_grace_s = orphan_grace_s
        self.in_episode = False
        self.last: PruneResult | None = None
        self._alarm_open: bool | None = None  # None: not known yet (one may survive a restart)
        self._last_sweep: float | None = None
        self._pressed_at: float | None = None
        self._quiet_passes = 0  # passes in a row that found room and no refused write
        self.orphans_removed = 0
        self.pruned_bytes_total = 0  # freed by passes since start (/metrics counts on it)

    def _room(self) -> int:
        """Room for data as if the reserve were given back: free bytes on the filesystem,
        the database's free pages, and the reserve's own bytes."""
        held = self.reserve.size_bytes if self.reserve.held else 0
        return self.space.fs_free() + self.space.db_free_bytes + held

    async def run_once(self) -> PruneResult:
        loop = asyncio.get_running_loop()
        self.space.pressure.clear()
        failures = self.space.take_pass_failures()
        deficit = owed_deficit = 0
        if self.cfg.min_free_bytes:
            room = await loop.run_in_executor(None, self._room)
            low, reserve = self.cfg.min_free_bytes, self.reserve.size_bytes
            if room < low + reserve:  # make half again the room asked, not one write's worth
                deficit = low + reserve + low // 2 - room
            # Data still owed upstream goes only when the disk is nearly full (half the mark):
            # a low disk costs delivered data, a full one would cost the newest events.
            if room < low // 2 + reserve:
                owed_deficit = low // 2 + reserve + low // 4 - room
        if deficit or failures:
            # SQLite needs room to delete (the WAL), and the alarm needs room to be stored.
            await loop.run_in_executor(None, self.reserve.release)
        self._quiet_passes = 0 if deficit or failures else self._quiet_passes + 1
        res = PruneResult(deficit=deficit)
        try:
            await self._prune(res, deficit, owed_deficit)
            await self._alarm(res, failures)
        except StorageFull:
            pass  # counted and logged once by the store; the next pass tries again
        if self._quiet_passes >= QUIET_PASSES:
            refused = self.space.end_episode()
            if refused:
                with contextlib.suppress(StorageFull):
                    await self.store.bump("refused.writes_storage_full", refused)
        await loop.run_in_executor(None, self._retake_reserve)
        await self._sweep_if_due(bool(deficit or failures))
        self._report(res)
        self.last = res
        self.pruned_bytes_total += max(0, res.freed)
        return res

    async def _prune(self, res: PruneResult, deficit: int, owed_deficit: int) -> None:
        loop = asyncio.get_running_loop()
        left, owed_left = deficit, owed_deficit
        while True:

            def op(
                conn: sqlite3.Connection, tx: Tx, left: int = left, owed_left: int = owed_left
            ) -> PruneResult:
                return prune(conn, self.cfg, left, max_rows=STEP_ROWS, owed_deficit=owed_left)

            step: PruneResult = await self.store.writer.submit_urgent(op)
            if step.files:
                await loop.run_in_executor(None, self.store.discard_images, step.files)
            if step.vacuumed_pages:
                await self.store.writer.checkpoint()  # the file shrinks now, not 4 MB of WAL later
            res.add(step)
            res.files += step.files
            left = max(0, left - step.freed)
            owed_left = max(0, owed_left - step.freed)
            if not step.more:
                return

    async def _alarm(self, res: PruneResult, failures: int) -> None:
        if res.deficit or failures:
            if self._alarm_open:
                return
            if failures:
                message = f"storage full: {failures} writes refused; pruning the oldest data"
            else:
                message = (
                    f"less than {self.cfg.min_free_bytes} bytes free on the data disk: "
                    "pruning the oldest delivered data (max_bytes does not fit this disk)"
                )
            await self.store.raise_alarm(
                ALARM_KEY,
                "gateway",
                message,
                data={
                    "short_bytes": res.deficit,
                    "refused_writes": failures,
                    "min_free_bytes": self.cfg.min_free_bytes,
                },
                urgent=True,
            )
            self._alarm_open = True
        elif self._alarm_open is not False and self._quiet_passes >= QUIET_PASSES:
            await self.store.close_alarm_by_key(ALARM_KEY, "system")
            self._alarm_open = False

    def _retake_reserve(self) -> None:
        """Take the reserve again once the filesystem itself (not only the database's free
        pages, which the WAL and images cannot use) has room for it and some to spare."""
        size = self.reserve.size_bytes
        if not size or self.reserve.held:
            return
        fs_free = self.space.fs_free()
        low = self.cfg.min_free_bytes
        if fs_free >= low // 2 + size and fs_free + self.space.db_free_bytes >= low + size:
            self.reserve.take()

    async def _sweep_if_due(self, pressed: bool) -> None:
        """Sweep at start-up, every SWEEP_EVERY_S, and once the files a storage-full episode
        may have orphaned (a crop saved before its scene was refused) are past the grace."""
        now = time.monotonic()
        if pressed:
            self._pressed_at = now
        last = self._last_sweep
        if (
            last is None
            or now - last >= SWEEP_EVERY_S
            or (
                self._pressed_at is not None
                and last < self._pressed_at + self.orphan_grace_s <= now
            )
        ):
            await self.sweep()

    async def sweep(self) -> int:
        """Delete image files no event references (a producer that died between saving an
        image and adding its event, a crash mid-write), once they are older than the grace."""
        self._last_sweep = time.monotonic()
        referenced = await self.store.reader.run(
            lambda c: {r[0] for r in c.execute("SELECT path FROM event_images")}
        )
        loop = asyncio.get_running_loop()
        removed: int = await loop.run_in_executor(None, self._sweep, referenced)
        self.orphans_removed += removed
        return removed

    def _sweep(self, referenced: set[str]) -> int:
        root = self.store.data_dir
        cutoff = time.time() - self.orphan_grace_s
        removed = 0
        for dirpath, dirnames, filenames in os.walk(root / "images", topdown=False):
            for name in filenames:
                path = Path(dirpath) / name
                rel = str(path.relative_to(root))
                try:
                    if rel in referenced or path.stat().st_mtime > cutoff:
                        continue
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    continue
            if not dirnames and not filenames and Path(dirpath) != root / "images":
                with contextlib.suppress(OSError):  # a day directory emptied by pruning
                    Path(dirpath).rmdir()
        if removed:
            log.warning("deleted %d image files that no event references", removed)
        return removed

    def _report(self, res: PruneResult) -> None:
        if res.over_budget and not self.in_episode:
            self.in_episode = True
            log.warning(
                "storage over budget (%d bytes, budget %d, %d bytes short on disk): pruning "
                "oldest data, %d images, %d delivered and %d undelivered records so far",
                res.bytes_before,
                self.cfg.max_bytes,
                res.deficit,
                res.images,
                res.delivered,
                res.owed,
            )
        elif not res.over_budget and self.in_episode and self._quiet_passes >= QUIET_PASSES:
            self.in_episode = False
            log.info("storage back within budget (%d bytes)", res.bytes_after)

    def health(self) -> dict[str, Any]:
        doc = self.space.health()
        doc["reserve_held"] = self.reserve.held if self.reserve.size_bytes else None
        doc["alarm_open"] = bool(self._alarm_open)
        doc["orphans_removed"] = self.orphans_removed
        doc["pruned_bytes_total"] = self.pruned_bytes_total
        doc.update(stats(self.last))
        return doc

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            res = await self.run_once()
            if res.owed:
                await self.store.raise_alarm(
                    "storage.hard_cap",
                    "gateway",
                    f"storage hard cap reached: {res.owed} undelivered records pruned",
                    severity="critical",
                    data={"owed_pruned": res.owed},
                )
            # Woken early by a write that found the room short; never spin on a disk that
            # pruning cannot free (another program filling it).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.space.pressure.wait(),
                    max(0.0, self.cfg.prune_interval_s - (time.monotonic() - started)),
                )
            if res.deficit and not res.freed:
                await asyncio.sleep(max(0.0, MIN_GAP_S - (time.monotonic() - started)))


def stats(result: PruneResult | None) -> dict[str, Any]:
    if result is None:
        return {}
    return {
        "bytes": result.bytes_after,
        "last_pruned": {
            "images": result.images,
            "delivered": result.delivered,
            "owed": result.owed,
        },
    }
