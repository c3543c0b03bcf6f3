"""Read-side queries, each on a connection of its own thread (WAL lets them run
beside the writer without blocking it)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from edge.store.db import connect

T = TypeVar("T")


class Reader:
    def __init__(self, db_path: Path, threads: int = 2) -> None:
        self.db_path = db_path
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="store-reader")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.db_path, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._conn()))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()


def event_row(row: sqlite3.Row, images: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "ts_ms": row["ts_ms"],
        "kind": row["kind"],
        "source": row["source"],
        "data": json.loads(row["data"]),
        "images": images or [],
    }


def images_for(conn: sqlite3.Connection, rowids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    if not rowids:
        return out
    marks = ",".join("?" * len(rowids))
    for r in conn.execute(
        "SELECT event_rowid, role, path, sha256, size_bytes, content_type FROM event_images"
        f" WHERE event_rowid IN ({marks})",
        rowids,
    ):
        out.setdefault(r["event_rowid"], []).append(
            {k: r[k] for k in ("role", "path", "sha256", "size_bytes", "content_type")}
        )
    return out
