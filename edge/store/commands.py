"""Downlink commands already handled, per destination: a repeated request ID gets the
first reply again and is not run twice (the hub retries; MQTT QoS 1 may redeliver)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from edge.store.reader import Reader
from edge.store.writer import Tx, Writer, dumps, now_ms


class CommandsMixin:
    writer: Writer
    reader: Reader

    async def command_reply(self, dest: str, request_id: str) -> dict[str, Any] | None:
        """The reply given the first time `request_id` came from `dest`, or None."""

        def q(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT reply FROM processed_commands WHERE dest = ? AND request_id = ?",
                (dest, request_id),
            ).fetchone()
            return json.loads(row["reply"]) if row else None

        return await self.reader.run(q)

    async def remember_command(
        self, dest: str, request_id: str, name: str, status: str, reply: dict[str, Any]
    ) -> None:
        """Keep the first reply for `request_id` (a second call for it changes nothing)."""

        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.execute(
                "INSERT OR IGNORE INTO processed_commands"
                "(request_id, dest, name, received_ms, status, reply) VALUES (?,?,?,?,?,?)",
                (request_id, dest, name, now_ms(), status, dumps(reply)),
            )

        await self.writer.submit(op)
