"""Alarms: raised → acknowledged → closed, with who and when; one open alarm per key.

Every transition is also an `alarm` event in the same transaction, so the hub
sees the lifecycle, not just the current state.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from edge.events import Event, ImageRef
from edge.ids import new_id
from edge.payloads import AlarmPayload, AlarmState
from edge.store.reader import Reader
from edge.store.writer import Tx, Writer, dumps, now_ms


@dataclass(frozen=True)
class Alarm:
    id: str
    created: bool


class AlarmsMixin:
    writer: Writer
    reader: Reader

    async def raise_alarm(
        self,
        key: str,
        source: str,
        message: str,
        severity: str = "warning",
        data: dict[str, Any] | None = None,
        urgent: bool = False,
        images: tuple[ImageRef, ...] = (),
    ) -> Alarm:
        """Raise an alarm unless one with this key is already open (no duplicates).
        `urgent`: in a transaction of its own, ahead of queued writes (storage alarms).
        `images` (saved with `save_image`) travel on the raised event: the evidence."""

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
            tx.emit(
                [
                    _alarm_event(
                        alarm_id, key, source, "raised", severity, message, data, images=images
                    )
                ]
            )
            return Alarm(alarm_id, True)

        submit = self.writer.submit_urgent if urgent else self.writer.submit
        result: Alarm = await submit(op)
        return result

    async def acknowledge_alarm(self, alarm_id: str, who: str) -> bool:
        return await self._alarm_transition(alarm_id, who, "acknowledged", ("raised",))

    async def acknowledge_cleared(self, alarm_id: str, who: str) -> bool:
        """A guard has seen an alarm that cleared by itself (closed, never acknowledged): the
        console keeps it listed until then. The state stays `closed`; no event (the uplinks
        already had the close), the action's audit row records it."""

        def op(conn: sqlite3.Connection, tx: Tx) -> bool:
            cur = conn.execute(
                "UPDATE alarms SET acked_ms = ?, acked_by = ?"
                " WHERE id = ? AND state = 'closed' AND acked_ms IS NULL",
                (now_ms(), who, alarm_id),
            )
            return cur.rowcount == 1

        done: bool = await self.writer.submit(op)
        return done

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
        self, alarm_id: str, who: str, to: AlarmState, allowed_from: tuple[str, ...]
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


def _alarm_event(
    alarm_id: str,
    key: str,
    source: str,
    state: AlarmState,
    severity: str,
    message: str,
    data: dict[str, Any] | None,
    by: str | None = None,
    images: tuple[ImageRef, ...] = (),
) -> Event:
    payload = AlarmPayload(alarm_id, key, state, severity, message, data or {}, by)
    return payload.event(source, images=images)
