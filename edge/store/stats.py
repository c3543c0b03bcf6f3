"""Store figures read from the database file alone, for the diag bundle: it must work with
the daemon stopped (a wedged daemon is when a maintainer needs it most), so it opens the file
read-only instead of asking the running store."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from edge.store.store import DB_NAME


def offline_stats(data_dir: Path) -> dict[str, Any]:
    """Row counts per table and, per destination, what is unsent, parked and how old."""
    db = data_dir / DB_NAME
    out: dict[str, Any] = {"db": str(db), "tables": {}, "outbox": []}
    if not db.exists():
        return out
    out["db_bytes"] = db.stat().st_size
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
                )
            ]
            for name in names:
                (n,) = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()
                out["tables"][name] = n
            if "outbox" in names:
                rows = conn.execute(
                    "SELECT o.dest, count(*), min(e.ts_ms), sum(o.acked = 2) FROM outbox o "
                    "JOIN events e ON e.rowid = o.event_rowid WHERE o.acked != 1 "
                    "GROUP BY o.dest"
                ).fetchall()
                now = time.time() * 1000
                out["outbox"] = [
                    {
                        "dest": d,
                        "unsent": n,
                        "parked": p or 0,
                        "oldest_unsent_age_s": round((now - t) / 1000, 1) if t else None,
                    }
                    for d, n, t, p in rows
                ]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        out["error"] = str(exc)
    return out
