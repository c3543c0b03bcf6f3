"""Numbered schema steps. Each is small and runs once, in order, in a transaction,
after a copy of the database file is taken (`<db>.pre-v<N>.bak`)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "events, images, outbox, readings, alarms, device state, audit",
        """
        CREATE TABLE events (
            rowid_ INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            ts_ms INTEGER NOT NULL,
            kind TEXT NOT NULL,
            source TEXT NOT NULL,
            data TEXT NOT NULL,
            created_ms INTEGER NOT NULL
        );
        CREATE INDEX events_kind_ts ON events(kind, ts_ms);
        CREATE INDEX events_ts ON events(ts_ms);
        CREATE TABLE event_images (
            event_rowid INTEGER NOT NULL REFERENCES events(rowid_) ON DELETE CASCADE,
            role TEXT NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            PRIMARY KEY (event_rowid, path)
        ) WITHOUT ROWID;
        CREATE TABLE destinations (
            dest TEXT PRIMARY KEY,
            next_seq INTEGER NOT NULL DEFAULT 1,
            acked_seq INTEGER NOT NULL DEFAULT 0,
            dropped INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE outbox (
            dest TEXT NOT NULL,
            seq INTEGER NOT NULL,
            event_rowid INTEGER NOT NULL,
            acked INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            PRIMARY KEY (dest, seq)
        ) WITHOUT ROWID;
        CREATE INDEX outbox_event ON outbox(event_rowid);
        CREATE TABLE readings (
            id INTEGER PRIMARY KEY,
            ts_ms INTEGER NOT NULL,
            device TEXT NOT NULL,
            point TEXT NOT NULL,
            value,
            unit TEXT NOT NULL DEFAULT '',
            quality TEXT NOT NULL DEFAULT 'good'
        );
        CREATE INDEX readings_point_ts ON readings(device, point, ts_ms);
        CREATE INDEX readings_ts ON readings(ts_ms);
        CREATE TABLE alarms (
            id TEXT PRIMARY KEY,
            key TEXT NOT NULL,
            source TEXT NOT NULL,
            severity TEXT NOT NULL,
            message TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL CHECK (state IN ('raised', 'acknowledged', 'closed')),
            raised_ms INTEGER NOT NULL,
            acked_ms INTEGER, acked_by TEXT,
            closed_ms INTEGER, closed_by TEXT
        );
        CREATE UNIQUE INDEX alarms_open_key ON alarms(key) WHERE state != 'closed';
        CREATE INDEX alarms_state ON alarms(state, raised_ms);
        CREATE TABLE device_state (
            device TEXT PRIMARY KEY,
            available INTEGER NOT NULL,
            since_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            last_error TEXT,
            state TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            ts_ms INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE counters (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL DEFAULT 0
        );
        """,
    ),
    (
        2,
        "access lists (allowlist, blocklist, residents) and processed hub commands",
        """
        CREATE TABLE access_lists (
            list TEXT PRIMARY KEY,
            version INTEGER NOT NULL DEFAULT 0,
            updated_ms INTEGER NOT NULL,
            updated_by TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE access_entries (
            list TEXT NOT NULL,
            key TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            updated_ms INTEGER NOT NULL,
            PRIMARY KEY (list, key)
        ) WITHOUT ROWID;
        CREATE TABLE processed_commands (
            request_id TEXT NOT NULL,
            dest TEXT NOT NULL,
            name TEXT NOT NULL,
            received_ms INTEGER NOT NULL,
            status TEXT NOT NULL,
            reply TEXT NOT NULL,
            PRIMARY KEY (dest, request_id)
        ) WITHOUT ROWID;
        CREATE INDEX processed_commands_received ON processed_commands(received_ms);
        """,
    ),
    (
        3,
        "image roles from the one list: a `crop` becomes `face_crop` or `plate_crop` by its event",
        # Face crops were stored as `crop`, which a policy withholding `face_crop` let through.
        """
        UPDATE event_images SET role = CASE
            (SELECT kind FROM events WHERE events.rowid_ = event_images.event_rowid)
            WHEN 'face' THEN 'face_crop' WHEN 'plate' THEN 'plate_crop' ELSE 'object_crop' END
        WHERE role = 'crop'
        """,
    ),
    (
        4,
        "access control: pending approvals, visitor entries used, car park occupancy",
        """
        CREATE TABLE IF NOT EXISTS access_pending (
            id TEXT PRIMARY KEY,
            ts_ms INTEGER NOT NULL,
            gate TEXT NOT NULL,
            pass_event TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL DEFAULT 'pending',
            decided_by TEXT,
            decided_ms INTEGER,
            note TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX IF NOT EXISTS access_pending_state ON access_pending(state, ts_ms);
        CREATE TABLE IF NOT EXISTS visitor_entries_used (
            pass_id TEXT PRIMARY KEY,
            used INTEGER NOT NULL DEFAULT 0,
            last_ms INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS parking_inside (
            car_park TEXT NOT NULL,
            vehicle TEXT NOT NULL,
            category TEXT NOT NULL,
            visitor_id TEXT,
            valid_until_ms INTEGER,
            entered_ms INTEGER NOT NULL,
            overstay_alarmed INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (car_park, vehicle)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS parking_counts (
            car_park TEXT PRIMARY KEY,
            adjust INTEGER NOT NULL DEFAULT 0,
            unmatched_exits INTEGER NOT NULL DEFAULT 0,
            double_entries INTEGER NOT NULL DEFAULT 0,
            corrected_ms INTEGER,
            corrected_by TEXT
        ) WITHOUT ROWID;
        """,
    ),
    (
        5,
        "access control's memory across restarts: recent openings, who is inside",
        """
        CREATE TABLE IF NOT EXISTS access_memory (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL DEFAULT '',
            ts_ms INTEGER NOT NULL,
            PRIMARY KEY (scope, key)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS access_memory_ts ON access_memory(ts_ms);
        """,
    ),
    (
        6,
        "gate openings under way: one the daemon died during is recorded at the next start",
        """
        CREATE TABLE IF NOT EXISTS gate_openings (
            id INTEGER PRIMARY KEY,
            ts_ms INTEGER NOT NULL,
            gate TEXT NOT NULL,
            record TEXT NOT NULL
        );
        """,
    ),
]

LATEST = MIGRATIONS[-1][0]


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, db_path: Path) -> int:
    """Bring the schema to LATEST; returns the number of steps run."""
    version = current_version(conn)
    if version > LATEST:
        raise RuntimeError(
            f"{db_path} has schema v{version}, newer than this build (v{LATEST}): refusing to run"
        )
    pending = [m for m in MIGRATIONS if m[0] > version]
    if not pending:
        return 0
    if version > 0:
        backup = db_path.with_name(f"{db_path.name}.pre-v{pending[0][0]}.bak")
        dst = sqlite3.connect(backup)
        try:
            conn.backup(dst)
        finally:
            dst.close()
        log.info("database backed up to %s before migrating", backup)
    for number, title, sql in pending:
        log.info("migrating database to v%d: %s", number, title)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(pending)
