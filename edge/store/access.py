"""The access lists' tables: entries per list, and a version per list that moves on
every change (the hub reads it back). Keys and entry shapes are `edge.access.lists`'s
business; this module gets them already normalised and only stores them."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Literal

from edge.store.reader import Reader
from edge.store.writer import Tx, Writer, dumps, now_ms


@dataclass(frozen=True)
class ListRows:
    """A normalised change: `replace` sets the whole list to `rows`; `patch` upserts
    `rows` and deletes `remove` (keys)."""

    name: str
    mode: Literal["replace", "patch"]
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ListResult:
    name: str
    version: int
    count: int
    added: int
    removed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "list": self.name,
            "version": self.version,
            "count": self.count,
            "added": self.added,
            "removed": self.removed,
        }


def _apply(conn: sqlite3.Connection, changes: list[ListRows], actor: str) -> list[ListResult]:
    now = now_ms()
    results = []
    for ch in changes:
        if ch.mode == "replace":
            before = conn.execute(
                "SELECT count(*) FROM access_entries WHERE list = ?", (ch.name,)
            ).fetchone()[0]
            conn.execute("DELETE FROM access_entries WHERE list = ?", (ch.name,))
            removed = int(before)
        else:
            removed = 0
            for key in ch.remove:
                removed += conn.execute(
                    "DELETE FROM access_entries WHERE list = ? AND key = ?", (ch.name, key)
                ).rowcount
        conn.executemany(
            "INSERT INTO access_entries(list, key, data, updated_ms) VALUES (?,?,?,?)"
            " ON CONFLICT(list, key) DO UPDATE SET data = excluded.data,"
            " updated_ms = excluded.updated_ms",
            [(ch.name, k, dumps(v), now) for k, v in ch.rows.items()],
        )
        conn.execute(
            "INSERT INTO access_lists(list, version, updated_ms, updated_by) VALUES (?, 1, ?, ?)"
            " ON CONFLICT(list) DO UPDATE SET version = version + 1,"
            " updated_ms = excluded.updated_ms, updated_by = excluded.updated_by",
            (ch.name, now, actor),
        )
        version, count = conn.execute(
            "SELECT version, (SELECT count(*) FROM access_entries WHERE list = ?)"
            " FROM access_lists WHERE list = ?",
            (ch.name, ch.name),
        ).fetchone()
        results.append(ListResult(ch.name, int(version), int(count), len(ch.rows), removed))
    return results


class AccessMixin:
    writer: Writer
    reader: Reader
    # Moves (in this process) after every committed change to the lists: the gate reactor
    # rebuilds its lookup tables when it moved, never per pass.
    access_generation: int = 0

    async def apply_access_changes(self, changes: list[ListRows], actor: str) -> list[ListResult]:
        """All changes in one transaction, so a gate never sees half an update."""

        def op(conn: sqlite3.Connection, tx: Tx) -> list[ListResult]:
            return _apply(conn, changes, actor)

        result: list[ListResult] = await self.writer.submit(op)
        self.access_generation += 1
        return result

    async def seed_access_lists(self, seeds: list[ListRows], actor: str = "config") -> list[str]:
        """Replace each list with its seed only if no one ever set it (an empty seed is
        not a decision). Returns the lists seeded."""

        def op(conn: sqlite3.Connection, tx: Tx) -> list[str]:
            seeded = []
            for seed in seeds:
                known = conn.execute("SELECT 1 FROM access_lists WHERE list = ?", (seed.name,))
                if seed.rows and known.fetchone() is None:
                    _apply(conn, [seed], actor)
                    seeded.append(seed.name)
            return seeded

        result: list[str] = await self.writer.submit(op)
        if result:
            self.access_generation += 1
        return result

    async def access_entries(self, list_name: str) -> dict[str, dict[str, Any]]:
        def q(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            rows = conn.execute(
                "SELECT key, data FROM access_entries WHERE list = ? ORDER BY key", (list_name,)
            )
            return {r["key"]: json.loads(r["data"]) for r in rows}

        return await self.reader.run(q)

    async def access_contains(self, list_name: str, key: str) -> bool:
        def q(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM access_entries WHERE list = ? AND key = ?", (list_name, key)
            ).fetchone()
            return row is not None

        return await self.reader.run(q)

    async def access_versions(self) -> dict[str, dict[str, Any]]:
        def q(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            out = {}
            for r in conn.execute("SELECT * FROM access_lists ORDER BY list"):
                count = conn.execute(
                    "SELECT count(*) FROM access_entries WHERE list = ?", (r["list"],)
                ).fetchone()[0]
                out[r["list"]] = {
                    "version": r["version"],
                    "count": count,
                    "updated_ms": r["updated_ms"],
                    "updated_by": r["updated_by"],
                }
            return out

        return await self.reader.run(q)
