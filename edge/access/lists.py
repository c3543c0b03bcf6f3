"""The access lists in SQLite, changed atomically, versioned per list.

A change that touches several lists (a resident and their plate) commits in
one transaction, so a gate never sees half an update. Each list carries a
version that moves on every change; the hub reads it back in the reply.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Literal

from edge.config.access import AccessConfig
from edge.store import Store
from edge.store.writer import Tx, dumps, now_ms

ListName = Literal["plates", "plate_blocklist", "residents"]
LISTS: tuple[ListName, ...] = ("plates", "plate_blocklist", "residents")

_PLATE_NOISE = re.compile(r"[\s·•.\-_]")


def normalize_plate(text: str) -> str:
    """One spelling per plate: upper case, without the dots and spaces people type."""
    return _PLATE_NOISE.sub("", text).upper()


def entry_key(list_name: str, entry: Any) -> tuple[str, dict[str, Any]]:
    """The key an entry is stored under, and its data. Raises ValueError when malformed."""
    if list_name not in LISTS:
        raise ValueError(f"unknown list {list_name!r} (known: {', '.join(LISTS)})")
    if list_name == "residents":
        if not isinstance(entry, dict) or not str(entry.get("id", "")).strip():
            raise ValueError("a resident is an object with a non-empty 'id'")
        return str(entry["id"]).strip(), dict(entry)
    data = {"plate": entry} if isinstance(entry, str) else entry
    if not isinstance(data, dict) or not isinstance(data.get("plate"), str):
        raise ValueError("a plate entry is a string or an object with 'plate'")
    key = normalize_plate(data["plate"])
    if not 5 <= len(key) <= 10:
        raise ValueError(f"{data['plate']!r} is not a plate number")
    return key, {**data, "plate": key}


@dataclass(frozen=True)
class ListChange:
    """`replace` sets the whole list to `entries`; `patch` adds (or updates) `add`
    and deletes `remove` (keys, or entries whose key is taken)."""

    name: str
    mode: Literal["replace", "patch"]
    entries: list[Any] = field(default_factory=list)
    add: list[Any] = field(default_factory=list)
    remove: list[Any] = field(default_factory=list)


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


def _removal_key(list_name: str, item: Any) -> str:
    if isinstance(item, str):
        return normalize_plate(item) if list_name != "residents" else item.strip()
    return entry_key(list_name, item)[0]


def apply_changes(
    conn: sqlite3.Connection, changes: list[ListChange], actor: str
) -> list[ListResult]:
    """Apply in the caller's transaction; ValueError leaves nothing half-done
    because the writer rolls the operation back to its savepoint."""
    now = now_ms()
    results = []
    for ch in changes:
        if ch.mode == "replace":
            rows = dict(entry_key(ch.name, e) for e in ch.entries)
            before = conn.execute(
                "SELECT count(*) FROM access_entries WHERE list = ?", (ch.name,)
            ).fetchone()[0]
            conn.execute("DELETE FROM access_entries WHERE list = ?", (ch.name,))
            added, removed = len(rows), int(before)
        else:
            rows = dict(entry_key(ch.name, e) for e in ch.add)
            removed = 0
            for item in ch.remove:
                removed += conn.execute(
                    "DELETE FROM access_entries WHERE list = ? AND key = ?",
                    (ch.name, _removal_key(ch.name, item)),
                ).rowcount
            added = len(rows)
        conn.executemany(
            "INSERT INTO access_entries(list, key, data, updated_ms) VALUES (?,?,?,?)"
            " ON CONFLICT(list, key) DO UPDATE SET data = excluded.data,"
            " updated_ms = excluded.updated_ms",
            [(ch.name, k, dumps(v), now) for k, v in rows.items()],
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
        results.append(ListResult(ch.name, int(version), int(count), added, removed))
    return results


class AccessLists:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def apply(self, changes: list[ListChange], actor: str) -> list[ListResult]:
        """Validate and apply all changes in one transaction (all or nothing)."""
        for ch in changes:  # fail before touching the writer, with the entry at fault
            for e in [*ch.entries, *ch.add]:
                entry_key(ch.name, e)
            for item in ch.remove:
                _removal_key(ch.name, item)

        def op(conn: sqlite3.Connection, tx: Tx) -> list[ListResult]:
            return apply_changes(conn, changes, actor)

        result: list[ListResult] = await self.store.submit(op)
        return result

    async def seed(self, cfg: AccessConfig) -> list[str]:
        """Load the config's lists into the store, once: a list the hub (or an
        earlier seed) has set is left alone. Returns the lists seeded."""

        def op(conn: sqlite3.Connection, tx: Tx) -> list[str]:
            seeded = []
            for name, items in (
                ("plates", cfg.plate_allowlist),
                ("plate_blocklist", cfg.plate_blocklist),
            ):
                known = conn.execute("SELECT 1 FROM access_lists WHERE list = ?", (name,))
                if items and known.fetchone() is None:  # an empty list is not a decision
                    apply_changes(conn, [ListChange(name, "replace", list(items))], "config")
                    seeded.append(name)
            return seeded

        result: list[str] = await self.store.submit(op)
        return result

    async def entries(self, list_name: str) -> dict[str, dict[str, Any]]:
        def q(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            rows = conn.execute(
                "SELECT key, data FROM access_entries WHERE list = ? ORDER BY key", (list_name,)
            )
            return {r["key"]: json.loads(r["data"]) for r in rows}

        return await self.store.reader.run(q)

    async def contains(self, list_name: str, key: str) -> bool:
        k = normalize_plate(key) if list_name != "residents" else key

        def q(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM access_entries WHERE list = ? AND key = ?", (list_name, k)
            ).fetchone()
            return row is not None

        return await self.store.reader.run(q)

    async def versions(self) -> dict[str, dict[str, Any]]:
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

        return await self.store.reader.run(q)
