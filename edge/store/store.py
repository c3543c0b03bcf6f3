"""The store's public face: what drivers, rules, uplinks and the API call
(access lists, alarms, processed commands and the outbox live in their own
modules, mixed in here). All of the daemon's SQL is under `edge/store/`.

Writes go through the single writer (`Writer`), reads through `Reader`. An
event is committed together with one outbox row per destination that is owed
it; uplinks fetch pending rows in `seq` order and acknowledge them, and only a
contiguous acknowledged prefix moves a destination's cursor.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.events import Event, ImageRef, ImageRole, Reading
from edge.ids import new_id
from edge.payloads import DevicePayload, PointValue, ReadingPayload
from edge.store.access import AccessMixin
from edge.store.alarms import AlarmsMixin
from edge.store.commands import CommandsMixin
from edge.store.db import connect
from edge.store.gatekeeping import GatekeepingMixin
from edge.store.migrations import migrate
from edge.store.outbox import OutboxMixin
from edge.store.reader import Reader, event_row, images_for
from edge.store.space import Space, StorageFull, is_full
from edge.store.writer import Tx, Wants, Writer, dumps, now_ms

log = logging.getLogger(__name__)

DB_NAME = "edge.db"


class Store(AccessMixin, AlarmsMixin, CommandsMixin, GatekeepingMixin, OutboxMixin):
    def __init__(
        self,
        data_dir: Path,
        destinations: dict[str, Wants] | None = None,
        synchronous: str = "NORMAL",
        batch_max: int = 2000,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / DB_NAME
        self.images_dir = self.data_dir / "images"
        # Called on the loop with each committed batch's events, in commit order: the
        # flow's dispatcher (reactors, then the live hub) hangs here.
        self.on_events: Callable[[list[Event]], None] | None = None
        self.destinations = dict(destinations or {})
        self.space = Space(self.data_dir)
        self.writer = Writer(
            self.db_path, synchronous, self.destinations, batch_max, space=self.space
        )
        self.reader = Reader(self.db_path)
        self._signals: dict[str, asyncio.Event] = {d: asyncio.Event() for d in self.destinations}
        self.writer.on_commit = self._committed

    # --- lifecycle --------------------------------------------------------

    async def open(self) -> None:
        """Create the data dir, migrate (with a backup) and open the writer."""
        loop = asyncio.get_running_loop()
        self.space.bind(loop)
        await loop.run_in_executor(None, self._prepare)
        await self.writer.open()

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.images_dir.mkdir(exist_ok=True)
        conn = connect(self.db_path)
        try:
            migrate(conn, self.db_path)
        finally:
            conn.close()

    async def run_writer(self) -> None:
        await self.writer.run()

    async def close(self) -> None:
        await self.writer.drain()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.writer.close)
        await loop.run_in_executor(None, self.reader.close)

    def _committed(self, tx: Tx) -> None:
        for dest in tx.dests_touched:
            self._signals[dest].set()
        if self.on_events is not None and tx.events:
            self.on_events(tx.events)

    @property
    def stalled_since(self) -> float | None:
        """Since when (monotonic) work has waited for a successful commit; None: all done."""
        return self.writer.stalled_since

    def writer_health(self) -> dict[str, Any]:
        w = self.writer
        return {
            "queue_depth": w.depth,
            "commits": w.commits,
            "committed_ops": w.committed_ops,
            "failed_batches": w.failed_batches,
            "last_commit_ms": round(w.last_commit_s * 1000, 2),
        }

    def outbox_signal(self, dest: str) -> asyncio.Event:
        """Set whenever something new is owed to `dest`; the uplink clears it."""
        return self._signals[dest]

    # --- events and images --------------------------------------------------

    async def add_event(
        self,
        event: Event,
        *,
        counter: tuple[str, int] | None = None,
        settles: int | None = None,
    ) -> Event:
        """Commit `event`, and set `counter` (name, value) in the same transaction if given
        (a source's position in its own numbered log: both or neither survive a crash);
        `settles` removes the gate opening (`begin_opening`) the event records, likewise.
        Refused for lack of space (`StorageFull`), it takes its image files with it: nothing
        would ever reference them (a retry saves them again)."""
        try:
            if counter is None and settles is None:
                await self.writer.add_event(event)
            else:
                await self.writer.submit(_event_with(event, counter, settles))
        except StorageFull:
            if event.images:
                await asyncio.get_running_loop().run_in_executor(
                    None, self.discard_images, [im.path for im in event.images]
                )
            raise
        return event

    def discard_images(self, paths: list[str]) -> None:
        """Delete image files (blocking) that no committed event references."""
        for rel in paths:
            try:
                (self.data_dir / rel).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not delete %s: %s", rel, exc)

    async def save_image(self, data: bytes, role: ImageRole | str, ext: str = "jpg") -> ImageRef:
        """Write an image file durably; reference it from an event added afterwards.
        An unknown role is refused (ValueError) before anything is written; `StorageFull`
        (leaving no file behind) when the disk has no room."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._write_image, data, ImageRole(role), ext)

    def _write_image(self, data: bytes, role: ImageRole, ext: str) -> ImageRef:
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        rel = f"images/{day}/{new_id()}-{role}.{ext}"
        path = self.data_dir / rel
        tmp = path.with_suffix(path.suffix + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if not is_full(exc):
                raise
            self.space.write_failed(exc, f"an image of {len(data)} bytes")
            raise StorageFull(f"storage full: {exc}") from exc
        try:
            self.space.check()
        except OSError as exc:
            log.warning("could not measure free space: %s", exc)
        content_type = {"jpg": "image/jpeg", "png": "image/png"}.get(
            ext, "application/octet-stream"
        )
        return ImageRef(role, rel, hashlib.sha256(data).hexdigest(), len(data), content_type)

    async def add_readings(self, device: str, readings: list[Reading]) -> Event | None:
        """Store readings for charts, and one `reading` event for the uplinks."""
        if not readings:
            return None
        event = ReadingPayload(
            device, [PointValue(r.point, r.value, r.unit, r.quality) for r in readings]
        ).event(device, ts=max(r.ts for r in readings))

        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.executemany(
                "INSERT INTO readings(ts_ms, device, point, value, unit, quality)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (int(r.ts.timestamp() * 1000), r.device, r.point, r.value, r.unit, r.quality)
                    for r in readings
                ],
            )
            tx.emit([event])

        await self.writer.submit(op)
        return event

    # --- devices and audit ---------------------------------------------------

    async def set_device_state(
        self,
        device: str,
        available: bool,
        error: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> bool:
        """Record availability; a change emits a `device` event. Returns True on a change."""

        def op(conn: sqlite3.Connection, tx: Tx) -> bool:
            now = now_ms()
            row = conn.execute(
                "SELECT available FROM device_state WHERE device = ?", (device,)
            ).fetchone()
            changed = row is None or bool(row["available"]) != available
            conn.execute(
                "INSERT INTO device_state"
                "(device, available, since_ms, updated_ms, last_error, state)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(device) DO UPDATE SET"
                " available = excluded.available, updated_ms = excluded.updated_ms,"
                " last_error = excluded.last_error, state = excluded.state,"
                " since_ms = CASE WHEN device_state.available = excluded.available"
                " THEN device_state.since_ms ELSE excluded.since_ms END",
                (device, int(available), now, now, error, dumps(state or {})),
            )
            if changed:
                tx.emit([DevicePayload(device, available, error).event(device)])
            return changed

        changed: bool = await self.writer.submit(op)
        return changed

    async def device_states(self) -> list[dict[str, Any]]:
        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute("SELECT * FROM device_state ORDER BY device")
            return [{**dict(r), "state": json.loads(r["state"])} for r in rows]

        return await self.reader.run(q)

    async def audit(
        self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None
    ) -> None:
        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.execute(
                "INSERT INTO audit(ts_ms, actor, action, target, detail) VALUES (?,?,?,?,?)",
                (now_ms(), actor, action, target, dumps(detail or {})),
            )

        await self.writer.submit(op)

    async def audit_entries(
        self, limit: int = 100, action: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first: who did what to what, why, and how it went."""

        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            sql, args = "SELECT * FROM audit", []
            if action:
                sql += " WHERE action = ?"
                args.append(action)
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
            return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

        return await self.reader.run(q)

    async def bump(self, counter: str, by: int = 1) -> None:
        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            conn.execute(
                "INSERT INTO counters(name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (counter, by),
            )

        await self.writer.submit(op)

    async def set_counter(self, counter: str, value: int) -> None:
        """A named position that must survive a restart (a controller's last event index)."""

        def op(conn: sqlite3.Connection, tx: Tx) -> None:
            _set_counter(conn, counter, value)

        await self.writer.submit(op)

    async def submit(self, fn: Callable[[sqlite3.Connection, Tx], Any]) -> Any:
        """Run a custom write in the writer's next transaction (for subsystems' own tables)."""
        return await self.writer.submit(fn)

    # --- reads -------------------------------------------------------------------

    async def events(
        self,
        kind: str | None = None,
        since_ms: int | None = None,
        limit: int = 100,
        source: str | None = None,
        plate: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first. `plate`: part of the plate's text, any case (a guard types "e999"
        for 苏E99999), in plate and access events alike."""

        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            where: list[str] = []
            args: list[Any] = []
            if plate:
                where.append("instr(upper(json_extract(data, '$.plate')), ?) > 0")
                args.append(plate.upper())
            if kind:
                where.append("kind = ?")
                args.append(kind)
            if since_ms is not None:
                where.append("ts_ms >= ?")
                args.append(since_ms)
            if source:
                where.append("source = ?")
                args.append(source)
            sql = "SELECT * FROM events"
            if where:
                sql += " WHERE " + " AND ".join(where)
            sql += " ORDER BY ts_ms DESC, rowid_ DESC LIMIT ?"
            rows = conn.execute(sql, [*args, limit]).fetchall()
            imgs = images_for(conn, [r["rowid_"] for r in rows])
            return [event_row(r, imgs.get(r["rowid_"])) for r in rows]

        return await self.reader.run(q)

    async def event(self, event_id: str) -> dict[str, Any] | None:
        def q(conn: sqlite3.Connection) -> dict[str, Any] | None:
            r = conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
            if r is None:
                return None
            return event_row(r, images_for(conn, [r["rowid_"]]).get(r["rowid_"]))

        return await self.reader.run(q)

    async def counters(self) -> dict[str, int]:
        return await self.reader.run(
            lambda c: {r["name"]: r["value"] for r in c.execute("SELECT * FROM counters")}
        )


def _set_counter(conn: sqlite3.Connection, counter: str, value: int) -> None:
    conn.execute(
        "INSERT INTO counters(name, value) VALUES (?, ?)"
        " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (counter, value),
    )


def _event_with(
    event: Event, counter: tuple[str, int] | None, settles: int | None
) -> Callable[[sqlite3.Connection, Tx], None]:
    """One write: the event (with its outbox rows), the counter and the settled opening."""

    def op(conn: sqlite3.Connection, tx: Tx) -> None:
        tx.emit([event])
        if counter is not None:
            _set_counter(conn, *counter)
        if settles is not None:
            conn.execute("DELETE FROM gate_openings WHERE id = ?", (settles,))

    return op
