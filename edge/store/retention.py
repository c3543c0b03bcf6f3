"""Bounded storage: by age and by bytes, in an order that protects what is owed.

Order when over budget: images of delivered events, then delivered events
(oldest first). Only past the hard cap do images and then records still owed
to an uplink go, and that is an alarm: the hub will see a gap in `seq`.
Every drop is counted in `counters`; each over-budget episode is logged once
when it starts and once when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from edge.config.storage import StorageConfig
from edge.store.store import Store
from edge.store.writer import Tx, now_ms

log = logging.getLogger(__name__)

CHUNK = 500
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

    @property
    def over_budget(self) -> bool:
        return bool(self.images or self.delivered or self.owed)


def used_bytes(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    images = conn.execute("SELECT coalesce(sum(size_bytes), 0) FROM event_images").fetchone()[0]
    return int((pages - free) * size + images)


def prune(
    conn: sqlite3.Connection, cfg: StorageConfig, free_deficit: int = 0, now: int | None = None
) -> PruneResult:
    """Delete rows to fit the budget; returns what went and the image files to unlink."""
    res = PruneResult()
    now = now_ms() if now is None else now
    cutoff = now - int(cfg.retention_days * 86_400_000)
    res.bytes_before = used_bytes(conn)
    aged = [
        r[0]
        for r in conn.execute(
            f"SELECT rowid_ FROM events e WHERE ts_ms < ? AND NOT {_OWED}", (cutoff,)
        )
    ]
    res.files += _delete_events(conn, aged)
    res.aged = len(aged)

    def over(limit: int) -> int:
        return used_bytes(conn) + free_deficit - limit

    hard = cfg.hard_max_bytes or cfg.max_bytes
    for owed, limit in ((False, cfg.max_bytes), (True, hard)):
        cond = _OWED if owed else f"NOT {_OWED}"
        while (excess := over(limit)) > 0:
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
        while (excess := over(limit)) > 0:
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
    def __init__(self, store: Store, cfg: StorageConfig) -> None:
        self.store = store
        self.cfg = cfg
        self.in_episode = False
        self.last: PruneResult | None = None

    def _free_deficit(self) -> int:
        free = shutil.disk_usage(self.store.data_dir).free
        return max(0, self.cfg.min_free_bytes - free)

    async def run_once(self) -> PruneResult:
        loop = asyncio.get_running_loop()
        deficit = await loop.run_in_executor(None, self._free_deficit)

        def op(conn: sqlite3.Connection, tx: Tx) -> PruneResult:
            return prune(conn, self.cfg, deficit)

        res: PruneResult = await self.store.submit(op)
        if res.files:
            await loop.run_in_executor(None, self._unlink, res.files)
        self._report(res)
        self.last = res
        return res

    def _unlink(self, files: list[str]) -> None:
        for rel in files:
            try:
                (self.store.data_dir / rel).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not delete %s: %s", rel, exc)

    def _report(self, res: PruneResult) -> None:
        if res.over_budget and not self.in_episode:
            self.in_episode = True
            log.warning(
                "storage over budget (%d bytes, budget %d): pruning oldest data, "
                "%d images, %d delivered and %d undelivered records so far",
                res.bytes_before,
                self.cfg.max_bytes,
                res.images,
                res.delivered,
                res.owed,
            )
        elif not res.over_budget and self.in_episode:
            self.in_episode = False
            log.info("storage back within budget (%d bytes)", res.bytes_after)

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
            await asyncio.sleep(max(1.0, self.cfg.prune_interval_s - (time.monotonic() - started)))


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
