"""Access control's own tables: passes waiting for a guard, what the gates remember (recent
openings, who went in), visitor entries used, and who is inside each car park. The rules
live in `edge.access`; this module only keeps the rows, each change in one transaction (an
entry used and a car counted are never half done)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from edge.events import Event, EventKind, ImageRef
from edge.store.reader import Reader
from edge.store.writer import Tx, Writer, dumps, now_ms

PendingState = Literal["pending", "approved", "denied", "expired"]


@dataclass(frozen=True)
class Movement:
    """What one in/out pass did to a car park's count."""

    car_park: str
    direction: Literal["in", "out"]
    matched: bool  # False: an exit never seen entering, or a second entry
    reconciled: bool = False  # an unmatched exit that used up a guard's correction


def _pending_row(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "ts_ms": r["ts_ms"],
        "gate": r["gate"],
        "pass_event": r["pass_event"],
        "state": r["state"],
        "decided_by": r["decided_by"],
        "decided_ms": r["decided_ms"],
        "note": r["note"],
        **json.loads(r["data"]),
    }


class GatekeepingMixin:
    writer: Writer
    reader: Reader

    # --- passes put to the guard -------------------------------------------------------

    async def add_pending(
        self, pending_id: str, gate: str, pass_event: str, data: dict[str, Any]
    ) -> None:
        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.execute(
                "INSERT INTO access_pending(id, ts_ms, gate, pass_event, data) VALUES (?,?,?,?,?)",
                (pending_id, now_ms(), gate, pass_event, dumps(data)),
            )

        await self.writer.submit(op)

    async def decide_pending(
        self,
        pending_id: str,
        state: PendingState,
        by: str,
        note: str = "",
        asked_after_ms: int | None = None,
    ) -> dict[str, Any] | None:
        """Move a pending pass to approved or denied, once: None when it is not pending
        (unknown, another guard was quicker, or it expired) or was put to the guard at or
        before `asked_after_ms` (its time ran out)."""

        def op(conn: sqlite3.Connection, tx: Tx) -> dict[str, Any] | None:
            changed = conn.execute(
                "UPDATE access_pending SET state = ?, decided_by = ?, decided_ms = ?, note = ?"
                " WHERE id = ? AND state = 'pending' AND ts_ms > ?",
                (state, by, now_ms(), note, pending_id, asked_after_ms or 0),
            ).rowcount
            if not changed:
                return None
            row = conn.execute("SELECT * FROM access_pending WHERE id = ?", (pending_id,))
            return _pending_row(row.fetchone())

        result: dict[str, Any] | None = await self.writer.submit(op)
        return result

    async def expire_pending(self, asked_until_ms: int, by: str, note: str) -> list[dict[str, Any]]:
        """Expire, once, every pass still pending that was put to the guard at or before
        `asked_until_ms`; returns them (oldest first) as they are now."""

        def op(conn: sqlite3.Connection, tx: Tx) -> list[dict[str, Any]]:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM access_pending WHERE state = 'pending' AND ts_ms <= ?"
                    " ORDER BY ts_ms, id",
                    (asked_until_ms,),
                )
            ]
            out = []
            for pending_id in ids:
                conn.execute(
                    "UPDATE access_pending SET state = 'expired', decided_by = ?,"
                    " decided_ms = ?, note = ? WHERE id = ?",
                    (by, now_ms(), note, pending_id),
                )
                row = conn.execute("SELECT * FROM access_pending WHERE id = ?", (pending_id,))
                out.append(_pending_row(row.fetchone()))
            return out

        result: list[dict[str, Any]] = await self.writer.submit(op)
        return result

    async def pending_pass(self, pending_id: str) -> dict[str, Any] | None:
        def q(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT * FROM access_pending WHERE id = ?", (pending_id,))
            found = row.fetchone()
            return _pending_row(found) if found is not None else None

        return await self.reader.run(q)

    async def oldest_pending_ms(self) -> int | None:
        """When the oldest pass still waiting for a guard was put to them."""

        def q(conn: sqlite3.Connection) -> int | None:
            row = conn.execute("SELECT min(ts_ms) FROM access_pending WHERE state = 'pending'")
            value = row.fetchone()[0]
            return int(value) if value is not None else None

        return await self.reader.run(q)

    async def pending_passes(
        self, state: PendingState | None = "pending", limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest first."""

        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            sql, args = "SELECT * FROM access_pending", []
            if state is not None:
                sql += " WHERE state = ?"
                args.append(state)
            rows = conn.execute(sql + " ORDER BY ts_ms DESC, id DESC LIMIT ?", [*args, limit])
            return [_pending_row(r) for r in rows]

        return await self.reader.run(q)

    # --- what the gates remember --------------------------------------------------------

    async def remember_passes(self, rows: list[tuple[str, str, str, int]]) -> None:
        """Keep (scope, key, value, ts_ms) rows: `open:<gate>` for a recent opening,
        `passback:<group>` with the direction for who is inside; the newest per key wins."""

        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.executemany(
                "INSERT INTO access_memory(scope, key, value, ts_ms) VALUES (?,?,?,?)"
                " ON CONFLICT(scope, key) DO UPDATE SET value = excluded.value,"
                " ts_ms = excluded.ts_ms",
                rows,
            )

        await self.writer.submit(op)

    async def prune_access_memory(
        self, open_before_ms: int, passback_before_ms: int
    ) -> list[tuple[str, str, str, int]]:
        """Forget openings older than the repeat window and entries older than the
        anti-passback memory (the table stays bounded); returns what is left."""

        def op(conn: sqlite3.Connection, tx: Tx) -> list[tuple[str, str, str, int]]:
            conn.execute(
                "DELETE FROM access_memory WHERE (scope LIKE 'open:%' AND ts_ms < ?)"
                " OR (scope LIKE 'passback:%' AND ts_ms < ?)",
                (open_before_ms, passback_before_ms),
            )
            rows = conn.execute("SELECT scope, key, value, ts_ms FROM access_memory")
            return [(r[0], r[1], r[2], int(r[3])) for r in rows]

        result: list[tuple[str, str, str, int]] = await self.writer.submit(op)
        return result

    # --- visitor passes ----------------------------------------------------------------

    async def begin_opening(self, event: Event) -> int:
        """Kept before a gate is told to open: `event` is the `access` event that would
        record the opening. The event that does record it removes the row in its own
        transaction (`add_event(settles=)`), so a row left at start is an opening the
        daemon died during, whose outcome nobody recorded."""
        record = {
            "id": event.id,
            "source": event.source,
            "data": event.data,
            "images": [im.as_dict() for im in event.images],
        }
        ts_ms = int(event.ts.timestamp() * 1000)
        gate = str(event.data.get("gate") or event.source)

        def op(conn: sqlite3.Connection, tx: Tx) -> int:
            cur = conn.execute(
                "INSERT INTO gate_openings(ts_ms, gate, record) VALUES (?,?,?)",
                (ts_ms, gate, dumps(record)),
            )
            return int(cur.lastrowid or 0)

        opening: int = await self.writer.submit(op)
        return opening

    async def openings_under_way(self) -> list[tuple[int, Event]]:
        """The openings begun and never recorded, oldest first, as (row id, event)."""

        def q(conn: sqlite3.Connection) -> list[tuple[int, Event]]:
            out = []
            for r in conn.execute("SELECT * FROM gate_openings ORDER BY id").fetchall():
                rec = json.loads(r["record"])
                event = Event(
                    str(EventKind.ACCESS),
                    rec["source"],
                    rec["data"],
                    tuple(ImageRef(**im) for im in rec["images"]),
                    ts=datetime.fromtimestamp(r["ts_ms"] / 1000, UTC),
                    id=rec["id"],
                )
                out.append((int(r["id"]), event))
            return out

        return await self.reader.run(q)

    async def use_visitor_entry(self, pass_id: str) -> int:
        """Count one entry on a pass (atomically); returns the entries used now."""

        def op(conn: sqlite3.Connection, tx: Tx) -> int:
            row = conn.execute(
                "INSERT INTO visitor_entries_used(pass_id, used, last_ms) VALUES (?, 1, ?)"
                " ON CONFLICT(pass_id) DO UPDATE SET used = used + 1, last_ms = excluded.last_ms"
                " RETURNING used",
                (pass_id, now_ms()),
            ).fetchone()
            return int(row[0])

        used: int = await self.writer.submit(op)
        return used

    async def visitor_entries_used(self) -> dict[str, int]:
        return await self.reader.run(
            lambda c: {
                r["pass_id"]: int(r["used"])
                for r in c.execute("SELECT pass_id, used FROM visitor_entries_used")
            }
        )

    # --- car parks ---------------------------------------------------------------------

    async def park_move(
        self,
        car_park: str,
        direction: Literal["in", "out"],
        vehicle: str,
        category: str,
        visitor_id: str | None = None,
        valid_until_ms: int | None = None,
    ) -> Movement:
        """A vehicle through an in or out gate. An exit never seen entering is counted (and
        uses up a guard's upward correction first); a second entry re-times the first."""

        def op(conn: sqlite3.Connection, tx: Tx) -> Movement:
            conn.execute("INSERT OR IGNORE INTO parking_counts(car_park) VALUES (?)", (car_park,))
            inside = conn.execute(
                "SELECT 1 FROM parking_inside WHERE car_park = ? AND vehicle = ?",
                (car_park, vehicle),
            ).fetchone()
            if direction == "in":
                conn.execute(
                    "INSERT INTO parking_inside(car_park, vehicle, category, visitor_id,"
                    " valid_until_ms, entered_ms) VALUES (?,?,?,?,?,?)"
                    " ON CONFLICT(car_park, vehicle) DO UPDATE SET category = excluded.category,"
                    " visitor_id = excluded.visitor_id, valid_until_ms = excluded.valid_until_ms,"
                    " entered_ms = excluded.entered_ms, overstay_alarmed = 0",
                    (car_park, vehicle, category, visitor_id, valid_until_ms, now_ms()),
                )
                if inside is not None:
                    conn.execute(
                        "UPDATE parking_counts SET double_entries = double_entries + 1"
                        " WHERE car_park = ?",
                        (car_park,),
                    )
                return Movement(car_park, "in", inside is None)
            if inside is not None:
                conn.execute(
                    "DELETE FROM parking_inside WHERE car_park = ? AND vehicle = ?",
                    (car_park, vehicle),
                )
                return Movement(car_park, "out", True)
            adjust = conn.execute(
                "SELECT adjust FROM parking_counts WHERE car_park = ?", (car_park,)
            ).fetchone()[0]
            conn.execute(
                "UPDATE parking_counts SET unmatched_exits = unmatched_exits + 1,"
                " adjust = CASE WHEN adjust > 0 THEN adjust - 1 ELSE adjust END WHERE car_park = ?",
                (car_park,),
            )
            return Movement(car_park, "out", False, reconciled=adjust > 0)

        result: Movement = await self.writer.submit(op)
        return result

    async def correct_parking(self, car_park: str, inside: int, by: str) -> dict[str, Any]:
        """A guard counted `inside` vehicles: the difference from the known ones is kept as
        an adjustment (never below zero in total)."""

        def op(conn: sqlite3.Connection, tx: Tx) -> dict[str, Any]:
            known = conn.execute(
                "SELECT count(*) FROM parking_inside WHERE car_park = ?", (car_park,)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO parking_counts(car_park, adjust, corrected_ms, corrected_by)"
                " VALUES (?,?,?,?) ON CONFLICT(car_park) DO UPDATE SET adjust = excluded.adjust,"
                " corrected_ms = excluded.corrected_ms, corrected_by = excluded.corrected_by",
                (car_park, inside - int(known), now_ms(), by),
            )
            return _parking(conn, car_park)

        result: dict[str, Any] = await self.writer.submit(op)
        return result

    async def parking(self, car_park: str) -> dict[str, Any]:
        return await self.reader.run(lambda c: _parking(c, car_park))

    async def parking_overstays(self, car_park: str, at_ms: int) -> list[dict[str, Any]]:
        """Visitor vehicles inside whose pass ended before `at_ms` and not yet alarmed."""

        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT * FROM parking_inside WHERE car_park = ? AND category = 'visitor'"
                " AND valid_until_ms IS NOT NULL AND valid_until_ms < ?"
                " AND overstay_alarmed = 0 ORDER BY entered_ms",
                (car_park, at_ms),
            )
            return [dict(r) for r in rows]

        return await self.reader.run(q)

    async def mark_overstay(self, car_park: str, vehicle: str) -> None:
        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.execute(
                "UPDATE parking_inside SET overstay_alarmed = 1 WHERE car_park = ? AND vehicle = ?",
                (car_park, vehicle),
            )

        await self.writer.submit(op)


def _parking(conn: sqlite3.Connection, car_park: str) -> dict[str, Any]:
    by = {"resident": 0, "visitor": 0, "unknown": 0}
    for r in conn.execute(
        "SELECT category, count(*) AS n FROM parking_inside WHERE car_park = ? GROUP BY category",
        (car_park,),
    ):
        key = r["category"] if r["category"] in by else "unknown"
        by[key] += int(r["n"])
    row = conn.execute("SELECT * FROM parking_counts WHERE car_park = ?", (car_park,)).fetchone()
    adjust = int(row["adjust"]) if row else 0
    known = sum(by.values())
    return {
        **by,
        "known": known,
        "adjust": adjust,
        "inside": max(known + adjust, 0),
        "unmatched_exits": int(row["unmatched_exits"]) if row else 0,
        "double_entries": int(row["double_entries"]) if row else 0,
        "corrected_ms": row["corrected_ms"] if row else None,
        "corrected_by": row["corrected_by"] if row else None,
    }
