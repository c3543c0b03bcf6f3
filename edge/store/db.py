"""Connections with the pragmas every part of the store relies on."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: Path, synchronous: str = "NORMAL", readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # Only a new database takes this (before WAL writes its header): pruned pages can then
        # go back to the filesystem, where images and the WAL need them (retention).
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        # FAST, not this build's ON: ON writes every freed page to the WAL, so deleting N MB
        # needs N MB of room, which a full disk does not have; freed pages are then vacuumed.
        conn.execute("PRAGMA secure_delete=FAST")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.row_factory = sqlite3.Row
    return conn
