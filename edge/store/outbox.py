"""What each destination is owed: pending items in `seq` order, acknowledgements, and
the cursor that only a contiguous acknowledged prefix moves.

`outbox.acked` is 0 (owed), 1 (acknowledged by the peer) or 2 (parked: the peer
refused the record for good, `last_error` holds its reason). A parked record no
longer holds the cursor back, and it stays listed (`parked()`, `edge queue`)
until retention prunes its event, so a refusal is never a silent loss."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edge.events import Event, ImageRef
from edge.store.reader import Reader, images_for
from edge.store.writer import Tx, Wants, Writer, now_ms

OWED, ACKED, PARKED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One record owed to a destination. The event is decoded for this caller alone
    (its `data` is a fresh object), so an uplink's data policy may edit it in place."""

    seq: int
    event: Event
    attempts: int


def _event(row: sqlite3.Row, images: list[dict[str, Any]] | None) -> Event:
    return Event(
        row["kind"],
        row["source"],
        json.loads(row["data"]),
        tuple(ImageRef(**im) for im in images or ()),
        datetime.fromtimestamp(row["ts_ms"] / 1000, UTC),
        row["id"],
    )


class OutboxMixin:
    writer: Writer
    reader: Reader
    destinations: dict[str, Wants]

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
                OutboxItem(r["seq"], _event(r, imgs.get(r["rowid_"])), r["attempts"]) for r in rows
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

    async def park(self, dest: str, seq: int, reason: str) -> None:
        """The peer refused this record for good: keep it, with the reason, out of the
        way of the rest (the cursor moves over it at the next acknowledgement)."""

        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.execute(
                "UPDATE outbox SET acked = 2, attempts = attempts + 1, last_error = ?"
                " WHERE dest = ? AND seq = ? AND acked = 0",
                (reason[:500], dest, seq),
            )

        await self.writer.submit(op)

    async def parked(self, dest: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest parked records of `dest`, with the peer's reason."""

        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT o.seq, o.last_error, e.id, e.kind, e.ts_ms FROM outbox o JOIN events e"
                " ON e.rowid_ = o.event_rowid WHERE o.dest = ? AND o.acked = 2"
                " ORDER BY o.seq DESC LIMIT ?",
                (dest, limit),
            ).fetchall()
            return [
                {
                    "seq": r["seq"],
                    "id": r["id"],
                    "kind": r["kind"],
                    "ts_ms": r["ts_ms"],
                    "reason": r["last_error"],
                }
                for r in rows
            ]

        return await self.reader.run(q)

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
                parked = conn.execute(
                    "SELECT count(*) FROM outbox WHERE dest = ? AND acked = 2", (d["dest"],)
                ).fetchone()[0]
                out.append(
                    {
                        "dest": d["dest"],
                        "configured": d["dest"] in self.destinations,
                        "backlog": pending,
                        "next_seq": d["next_seq"],
                        "acked_seq": d["acked_seq"],
                        "dropped": d["dropped"],
                        "parked": parked,
                        "oldest_unacked_age_s": (now - oldest) / 1000 if oldest else None,
                    }
                )
            return out

        return await self.reader.run(q)
