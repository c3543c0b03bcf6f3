"""Store figures read from the database file alone, for the diag bundle: it must work with
the daemon stopped (a wedged daemon is when a maintainer needs it most), so it opens the file
read-only instead of asking the running store."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from edge.store.store import DB_NAME

PARKED_LISTED = 20  # per destination: the newest refusals say why; the count says how many


def offline_stats(data_dir: Path) -> dict[str, Any]:
    """Row counts per table and, per destination, what is unsent and how old (parked
    records are not unsent: the peer refused them for good) and the newest parked records
    with the peer's reason."""
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
                out["outbox"] = _outbox(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        out["error"] = str(exc)
    return out


def _outbox(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT o.dest, sum(o.acked = 0), min(CASE WHEN o.acked = 0 THEN e.ts_ms END),"
        " sum(o.acked = 2) FROM outbox o JOIN events e ON e.rowid = o.event_rowid"
        " WHERE o.acked != 1 GROUP BY o.dest ORDER BY o.dest"
    ).fetchall()
    now = time.time() * 1000
    out = []
    for dest, unsent, oldest, parked in rows:
        listed = conn.execute(
            "SELECT o.seq, e.id, e.kind, e.ts_ms, o.last_error FROM outbox o JOIN events e"
            " ON e.rowid = o.event_rowid WHERE o.dest = ? AND o.acked = 2"
            " ORDER BY o.seq DESC LIMIT ?",
            (dest, PARKED_LISTED),
        ).fetchall()
        out.append(
            {
                "dest": dest,
                "unsent": unsent or 0,
                "oldest_unsent_age_s": round((now - oldest) / 1000, 1) if oldest else None,
                "parked": parked or 0,
                "parked_recent": [
                    {"seq": s, "id": i, "kind": k, "ts_ms": t, "reason": r}
                    for s, i, k, t, r in listed
                ],
            }
        )
    return out
