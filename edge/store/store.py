"""The store's public face: what drivers, rules, uplinks and the API call.

Writes go through the single writer (`Writer`), reads through `Reader`. An
event is committed together with one outbox row per destination that is owed
it; uplinks fetch pending rows in `seq` order and acknowledge them, and only a
contiguous acknowledged prefix moves a destination's cursor.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.events import Event, ImageRef, Reading
from edge.hub import Hub
from edge.ids import new_id
from edge.store.db import connect
from edge.store.migrations import migrate
from edge.store.reader import Reader, event_row, images_for
from edge.store.writer import Tx, Wants, Writer, dumps, now_ms

log = logging.getLogger(__name__)

DB_NAME = "edge.db"


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    event: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Alarm:
    id: str
    created: bool


class Store:
    def __init__(
        self,
        data_dir: Path,
        destinations: dict[str, Wants] | None = None,
        synchronous: str = "NORMAL",
        batch_max: int = 2000,
        hub: Hub | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / DB_NAME
        self.images_dir = self.data_dir / "images"
        self.hub = hub
        self.destinations = dict(destinations or {})
        self.writer = Writer(self.db_path, synchronous, self.destinations, batch_max)
        self.reader = Reader(self.db_path)
        self._signals: dict[str, asyncio.Event] = {d: asyncio.Event() for d in self.destinations}
        self.writer.on_commit = self._committed

    # --- lifecycle --------------------------------------------------------

    async def open(self) -> None:
        """Create the data dir, migrate (with a backup) and open the writer."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._prepare)
        await self.writer.open()

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.images_dir.mkdir(exist_ok=True)
        conn = connect(self.db_path)
        try:
            migrate(conn, self.db_path)
        finally:
            conn.close()

    async def run_writer(self) -> None:
        await self.writer.run()

    async def close(self) -> None:
        await self.writer.drain()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.writer.close)
        await loop.run_in_executor(None, self.reader.close)

    def _committed(self, tx: Tx) -> None:
        for dest in tx.dests_touched:
            self._signals[dest].set()
        if self.hub is not None:
            for event in tx.events:
                self.hub.publish(f"event/{event.kind}", event)

    def outbox_signal(self, dest: str) -> asyncio.Event:
        """Set whenever something new is owed to `dest`; the uplink clears it."""
        return self._signals[dest]

    # --- events and images --------------------------------------------------

    async def add_event(self, event: Event) -> Event:
        await self.writer.add_event(event)
        return event

    async def save_image(self, data: bytes, role: str, ext: str = "jpg") -> ImageRef:
        """Write an image file durably; reference it from an event added afterwards."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._write_image, data, role, ext)

    def _write_image(self, data: bytes, role: str, ext: str) -> ImageRef:
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        rel = f"images/{day}/{new_id()}-{role}.{ext}"
        path = self.data_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        content_type = {"jpg": "image/jpeg", "png": "image/png"}.get(
            ext, "application/octet-stream"
        )
        return ImageRef(role, rel, hashlib.sha256(data).hexdigest(), len(data), content_type)

    async def add_readings(self, device: str, readings: list[Reading]) -> Event | None:
        """Store readings for charts, and one `reading` event for the uplinks."""
        if not readings:
            return None
        event = Event(
            kind="reading",
            source=device,
            ts=max(r.ts for r in readings),
            data={
                "device": device,
                "points": [
                    {"point": r.point, "value": r.value, "unit": r.unit, "quality": r.quality}
                    for r in readings
                ],
            },
        )

        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.executemany(
                "INSERT INTO readings(ts_ms, device, point, value, unit, quality)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (int(r.ts.timestamp() * 1000), r.device, r.point, r.value, r.unit, r.quality)
                    for r in readings
                ],
            )
            tx.emit([event])

        await self.writer.submit(op)
        return event

    # --- alarms --------------------------------------------------------------

    async def raise_alarm(
        self,
        key: str,
        source: str,
        message: str,
        severity: str = "warning",
        data: dict[str, Any] | None = None,
    ) -> Alarm:
        """Raise an alarm unless one with this key is already open (no duplicates)."""

        def op(conn: sqlite3.Connection, tx: Tx) -> Alarm:
            row = conn.execute(
                "SELECT id FROM alarms WHERE key = ? AND state != 'closed'", (key,)
            ).fetchone()
            if row is not None:
                return Alarm(row["id"], False)
            alarm_id = new_id()
            conn.execute(
                "INSERT INTO alarms(id, key, source, severity, message, data, state, raised_ms)"
                " VALUES (?,?,?,?,?,?, 'raised', ?)",
                (alarm_id, key, source, severity, message, dumps(data or {}), now_ms()),
            )
            tx.emit([_alarm_event(alarm_id, key, source, "raised", severity, message, data)])
            return Alarm(alarm_id, True)

        result: Alarm = await self.writer.submit(op)
        return result

    async def acknowledge_alarm(self, alarm_id: str, who: str) -> bool:
        return await self._alarm_transition(alarm_id, who, "acknowledged", ("raised",))

    async def close_alarm(self, alarm_id: str, who: str) -> bool:
        return await self._alarm_transition(alarm_id, who, "closed", ("raised", "acknowledged"))

    async def close_alarm_by_key(self, key: str, who: str) -> bool:
        row = await self.reader.run(
            lambda c: c.execute(
                "SELECT id FROM alarms WHERE key = ? AND state != 'closed'", (key,)
            ).fetchone()
        )
        return bool(row) and await self.close_alarm(row["id"], who)

    async def _alarm_transition(
        self, alarm_id: str, who: str, to: str, allowed_from: tuple[str, ...]
    ) -> bool:
        column = "acked" if to == "acknowledged" else "closed"

        def op(conn: sqlite3.Connection, tx: Tx) -> bool:
            row = conn.execute("SELECT * FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
            if row is None or row["state"] not in allowed_from:
                return False
            conn.execute(
                f"UPDATE alarms SET state = ?, {column}_ms = ?, {column}_by = ? WHERE id = ?",
                (to, now_ms(), who, alarm_id),
            )
            tx.emit(
                [
                    _alarm_event(
                        alarm_id,
                        row["key"],
                        row["source"],
                        to,
                        row["severity"],
                        row["message"],
                        json.loads(row["data"]),
                        by=who,
                    )
                ]
            )
            return True

        done: bool = await self.writer.submit(op)
        return done

    async def alarms(self, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            sql = "SELECT * FROM alarms"
            args: list[Any] = []
            if state:
                sql += " WHERE state = ?"
                args.append(state)
            sql += " ORDER BY raised_ms DESC LIMIT ?"
            args.append(limit)
            return [{**dict(r), "data": json.loads(r["data"])} for r in conn.execute(sql, args)]

        return await self.reader.run(q)

    # --- devices and audit ---------------------------------------------------

    async def set_device_state(
        self,
        device: str,
        available: bool,
        error: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> bool:
        """Record availability; a change emits a `device` event. Returns True on a change."""

        def op(conn: sqlite3.Connection, tx: Tx) -> bool:
            now = now_ms()
            row = conn.execute(
                "SELECT available FROM device_state WHERE device = ?", (device,)
            ).fetchone()
            changed = row is None or bool(row["available"]) != available
            conn.execute(
                "INSERT INTO device_state"
                "(device, available, since_ms, updated_ms, last_error, state)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(device) DO UPDATE SET"
                " available = excluded.available, updated_ms = excluded.updated_ms,"
                " last_error = excluded.last_error, state = excluded.state,"
                " since_ms = CASE WHEN device_state.available = excluded.available"
                " THEN device_state.since_ms ELSE excluded.since_ms END",
                (device, int(available), now, now, error, dumps(state or {})),
            )
            if changed:
                tx.emit(
                    [
                        Event(
                            kind="device",
                            source=device,
                            data={"device": device, "available": available, "error": error},
                        )
                    ]
                )
            return changed

        changed: bool = await self.writer.submit(op)
        return changed

    async def device_states(self) -> list[dict[str, Any]]:
        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute("SELECT * FROM device_state ORDER BY device")
            return [{**dict(r), "state": json.loads(r["state"])} for r in rows]

        return await self.reader.run(q)

    async def audit(
        self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None
    ) -> None:
        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.execute(
                "INSERT INTO audit(ts_ms, actor, action, target, detail) VALUES (?,?,?,?,?)",
                (now_ms(), actor, action, target, dumps(detail or {})),
            )

        await self.writer.submit(op)

    async def bump(self, counter: str, by: int = 1) -> None:
        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.execute(
                "INSERT INTO counters(name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (counter, by),
            )

        await self.writer.submit(op)

    async def submit(self, fn: Callable[[sqlite3.Connection, Tx], Any]) -> Any:
        """Run a custom write in the writer's next transaction (for subsystems' own tables)."""
        return await self.writer.submit(fn)

    # --- reads -------------------------------------------------------------------

    async def events(
        self,
        kind: str | None = None,
        since_ms: int | None = None,
        limit: int = 100,
        source: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first."""

        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            where: list[str] = []
            args: list[Any] = []
            if kind:
                where.append("kind = ?")
                args.append(kind)
            if since_ms is not None:
                where.append("ts_ms >= ?")
                args.append(since_ms)
            if source:
                where.append("source = ?")
                args.append(source)
            sql = "SELECT * FROM events"
            if where:
                sql += " WHERE " + " AND ".join(where)
            sql += " ORDER BY ts_ms DESC, rowid_ DESC LIMIT ?"
            rows = conn.execute(sql, [*args, limit]).fetchall()
            imgs = images_for(conn, [r["rowid_"] for r in rows])
            return [event_row(r, imgs.get(r["rowid_"])) for r in rows]

        return await self.reader.run(q)

    async def event(self, event_id: str) -> dict[str, Any] | None:
        def q(conn: sqlite3.Connection) -> dict[str, Any] | None:
            r = conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
            if r is None:
                return None
            return event_row(r, images_for(conn, [r["rowid_"]]).get(r["rowid_"]))

        return await self.reader.run(q)

    async def counters(self) -> dict[str, int]:
        return await self.reader.run(
            lambda c: {r["name"]: r["value"] for r in c.execute("SELECT * FROM counters")}
        )

    # --- outbox --------------------------------------------------------------------

    async def pending(self, dest: str, after_seq: int, limit: int) -> list[OutboxItem]:
        """Unacknowledged items owed to `dest` with seq > after_seq, in seq order."""

        def q(conn: sqlite3.Connection) -> list[OutboxItem]:
            rows = conn.execute(
                "SELECT o.seq, o.attempts, e.* FROM outbox o JOIN events e"
                " ON e.rowid_ = o.event_rowid WHERE o.dest = ? AND o.seq > ? AND o.acked = 0"
                " ORDER BY o.seq LIMIT ?",
                (dest, after_seq, limit),
            ).fetchall()
            imgs = images_for(conn, [r["rowid_"] for r in rows])
            return [
                OutboxItem(r["seq"], event_row(r, imgs.get(r["rowid_"])), r["attempts"])
                for r in rows
            ]

        return await self.reader.run(q)

    async def acked_seq(self, dest: str) -> int:
        row = await self.reader.run(
            lambda c: c.execute(
                "SELECT acked_seq FROM destinations WHERE dest = ?", (dest,)
            ).fetchone()
        )
        return int(row["acked_seq"]) if row else 0

    async def ack(self, dest: str, seqs: list[int]) -> int:
        """Mark delivered; returns the new contiguous acknowledged seq for `dest`."""

        def op(conn: sqlite3.Connection, tx: Tx) -> int:
            conn.executemany(
                "UPDATE outbox SET acked = 1 WHERE dest = ? AND seq = ?", [(dest, s) for s in seqs]
            )
            low = conn.execute(
                "SELECT min(seq) FROM outbox WHERE dest = ? AND acked = 0", (dest,)
            ).fetchone()[0]
            if low is None:
                low = conn.execute(
                    "SELECT next_seq FROM destinations WHERE dest = ?", (dest,)
                ).fetchone()[0]
                low = max(low, max(seqs, default=0) + 1)
            conn.execute(
                "UPDATE destinations SET acked_seq = max(acked_seq, ?) WHERE dest = ?",
                (low - 1, dest),
            )
            conn.execute("DELETE FROM outbox WHERE dest = ? AND seq < ? AND acked = 1", (dest, low))
            return int(low - 1)

        result: int = await self.writer.submit(op)
        return result

    async def record_failure(self, dest: str, seqs: list[int], error: str) -> None:
        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?"
                " WHERE dest = ? AND seq = ?",
                [(error[:500], dest, s) for s in seqs],
            )

        await self.writer.submit(op)

    async def outbox_stats(self) -> list[dict[str, Any]]:
        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            out = []
            now = now_ms()
            for d in conn.execute("SELECT * FROM destinations ORDER BY dest").fetchall():
                pending, oldest = conn.execute(
                    "SELECT count(*), min(e.ts_ms) FROM outbox o JOIN events e"
                    " ON e.rowid_ = o.event_rowid WHERE o.dest = ? AND o.acked = 0",
                    (d["dest"],),
                ).fetchone()
                out.append(
                    {
                        "dest": d["dest"],
                        "configured": d["dest"] in self.destinations,
                        "backlog": pending,
                        "next_seq": d["next_seq"],
                        "acked_seq": d["acked_seq"],
                        "dropped": d["dropped"],
                        "oldest_unacked_age_s": (now - oldest) / 1000 if oldest else None,
                    }
                )
            return out

        return await self.reader.run(q)


def _alarm_event(
    alarm_id: str,
    key: str,
    source: str,
    state: str,
    severity: str,
    message: str,
    data: dict[str, Any] | None,
    by: str | None = None,
) -> Event:
    body: dict[str, Any] = {
        "alarm_id": alarm_id,
        "key": key,
        "state": state,
        "severity": severity,
        "message": message,
        "data": data or {},
    }
    if by is not None:
        body["by"] = by
    return Event(kind="alarm", source=source, data=body)
