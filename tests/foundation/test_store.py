"""The store keeps every event, owes it to the right destinations in order, and says so."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.events import Event, ImageRole, Reading
from edge.store import Store, migrations


async def test_committed_events_are_owed_gap_free_to_destinations_that_want_them(
    store: Store,
) -> None:
    kinds = ["plate", "reading", "face", "plate", "alarm"] * 40
    await asyncio.gather(
        *(store.add_event(Event(k, "cam1", {"n": i})) for i, k in enumerate(kinds))
    )
    hub = await store.pending("hub", 0, 1000)
    police = await store.pending("police", 0, 1000)
    assert [i.seq for i in hub] == list(range(1, 161))  # every kind but readings
    assert [i.seq for i in police] == list(range(1, 81))  # plates only
    assert all(i.event.kind == "plate" for i in police)
    ids = [i.event.id for i in hub]
    assert ids == sorted(ids), "seq order follows commit order (UUIDv7 ids sort with time)"


async def test_ack_moves_the_cursor_only_over_a_contiguous_prefix(store: Store) -> None:
    for i in range(6):
        await store.add_event(Event("plate", "cam1", {"n": i}))
    assert await store.ack("hub", [1, 2, 4]) == 2
    assert [i.seq for i in await store.pending("hub", 0, 10)] == [3, 5, 6]
    assert await store.ack("hub", [3]) == 4
    assert await store.acked_seq("hub") == 4
    stats = {s["dest"]: s for s in await store.outbox_stats()}
    assert stats["hub"]["backlog"] == 2 and stats["hub"]["acked_seq"] == 4


async def test_outbox_survives_a_reopen_and_resumes_after_the_acked_seq(tmp_path: Path) -> None:
    dests = {"hub": lambda k: True}
    s = Store(tmp_path, dests)
    await s.open()
    task = asyncio.create_task(s.run_writer())
    for i in range(5):
        await s.add_event(Event("access", "door", {"n": i}))
    await s.ack("hub", [1, 2])
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await s.close()

    s = Store(tmp_path, dests)
    await s.open()
    task = asyncio.create_task(s.run_writer())
    await s.add_event(Event("access", "door", {"n": 5}))
    pending = await s.pending("hub", await s.acked_seq("hub"), 10)
    assert [(i.seq, i.event.data["n"]) for i in pending] == [(3, 2), (4, 3), (5, 4), (6, 5)]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await s.close()


async def test_a_duplicate_id_fails_alone_and_the_rest_of_the_batch_commits(store: Store) -> None:
    first = Event("plate", "cam1", {"n": 0})
    await store.add_event(first)
    dup = Event("plate", "cam1", {"n": 1}, id=first.id)
    others = [Event("plate", "cam1", {"n": i}) for i in range(2, 12)]
    results = await asyncio.gather(
        *(store.add_event(e) for e in [*others[:5], dup, *others[5:]]), return_exceptions=True
    )
    assert isinstance(results[5], sqlite3.IntegrityError)
    assert sum(1 for r in results if isinstance(r, Event)) == 10
    seqs = [i.seq for i in await store.pending("hub", 0, 100)]
    assert seqs == list(range(1, 12)), "no seq gap from the rejected duplicate"


async def test_alarm_lifecycle_records_who_and_when_without_duplicates(store: Store) -> None:
    a = await store.raise_alarm("smoke:b3", "smoke-b3", "烟感报警 3号楼", severity="critical")
    again = await store.raise_alarm("smoke:b3", "smoke-b3", "烟感报警 3号楼", severity="critical")
    assert a.created and not again.created and again.id == a.id
    assert not await store.close_alarm("nope", "guard")
    assert await store.acknowledge_alarm(a.id, "王保安")
    assert not await store.acknowledge_alarm(a.id, "王保安"), "already acknowledged"
    assert await store.close_alarm(a.id, "王保安")
    [row] = await store.alarms()
    assert row["state"] == "closed" and row["acked_by"] == "王保安" and row["closed_by"] == "王保安"
    assert row["acked_ms"] <= row["closed_ms"]
    states = [e["data"]["state"] for e in reversed(await store.events(kind="alarm"))]
    assert states == ["raised", "acknowledged", "closed"]
    b = await store.raise_alarm("smoke:b3", "smoke-b3", "again")
    assert b.created and b.id != a.id, "a closed alarm does not swallow a new one"


async def test_device_state_changes_are_events_and_repeats_are_not(store: Store) -> None:
    assert await store.set_device_state("meter-1", True)
    assert not await store.set_device_state("meter-1", True)
    assert await store.set_device_state("meter-1", False, "timeout")
    assert not await store.set_device_state("meter-1", False, "timeout")
    events = await store.events(kind="device")
    assert [e["data"]["available"] for e in reversed(events)] == [True, False]
    [state] = await store.device_states()
    assert state["available"] == 0 and state["last_error"] == "timeout"


async def test_readings_are_stored_and_owed_as_one_event_per_poll(store: Store) -> None:
    event = await store.add_readings(
        "meter-1",
        [Reading("meter-1", "energy_kwh", 12.5, "kWh"), Reading("meter-1", "v_a", 220.1, "V")],
    )
    assert event is not None
    [got] = await store.events(kind="reading")
    assert got["data"]["points"][0] == {
        "point": "energy_kwh",
        "value": 12.5,
        "unit": "kWh",
        "quality": "good",
    }
    assert [i.event.kind for i in await store.pending("hub", 0, 10)] == [], "hub takes no readings"


async def test_images_are_written_with_their_checksum(store: Store) -> None:
    import hashlib

    ref = await store.save_image(b"\xff\xd8jpeg-bytes", ImageRole.FACE_CROP)
    await store.add_event(Event("face", "cam2", {}, images=(ref,)))
    [ev] = await store.events(kind="face")
    assert ev["images"][0]["sha256"] == hashlib.sha256(b"\xff\xd8jpeg-bytes").hexdigest()
    assert (store.data_dir / ev["images"][0]["path"]).read_bytes() == b"\xff\xd8jpeg-bytes"


async def test_migration_takes_a_backup_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Store(tmp_path)
    await s.open()
    await s.close()
    step = (migrations.LATEST + 1, "test step", "CREATE TABLE extra (x INTEGER)")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, step])
    monkeypatch.setattr(migrations, "LATEST", step[0])
    s = Store(tmp_path)
    await s.open()
    await s.close()
    backup = tmp_path / f"edge.db.pre-v{step[0]}.bak"
    assert backup.exists()
    conn = sqlite3.connect(backup)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == step[0] - 1
    conn.close()


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    s = Store(tmp_path)
    await s.open()
    await s.close()
    conn = sqlite3.connect(tmp_path / "edge.db")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this build"):
        await Store(tmp_path).open()


async def test_a_full_disk_fails_the_writes_clearly_and_the_writer_recovers(store: Store) -> None:
    """SQLITE_FULL (a full disk, simulated by capping the database's pages) fails only the
    batch that hit it, with the real error; what was committed before stays, and writes
    succeed again once there is room."""
    await store.add_event(Event("access", "door", {"n": 0}))
    pages = await store.reader.run(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
    await store.submit(lambda conn, tx: conn.execute(f"PRAGMA max_page_count = {pages + 2}"))
    results = await asyncio.gather(
        *(store.add_event(Event("access", "door", {"pad": "x" * 4000})) for _ in range(50)),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures and all("full" in str(f) for f in failures)
    assert store.writer.failed_batches >= 1
    await store.submit(lambda conn, tx: conn.execute("PRAGMA max_page_count = 1073741823"))
    await store.add_event(Event("access", "door", {"n": 1}))
    kept = [e["data"].get("n") for e in await store.events(kind="access", limit=1000)]
    assert 0 in kept and 1 in kept
    seqs = [i.seq for i in await store.pending("hub", 0, 1000)]
    assert seqs == list(range(1, len(seqs) + 1)), "no seq gap from the failed batches"


async def test_an_image_role_outside_the_one_list_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.save_image(b"\xff\xd8", "crop")  # ambiguous: whose crop? (face data)
    assert not any(p.is_file() for p in (store.data_dir / "images").rglob("*"))


async def test_crops_stored_before_the_role_list_are_named_by_their_event(
    tmp_path: Path,
) -> None:
    s = Store(tmp_path)
    await s.open()
    await s.close()
    conn = sqlite3.connect(tmp_path / "edge.db")
    with conn:
        for rowid, kind in ((1, "face"), (2, "plate")):
            conn.execute(
                "INSERT INTO events(rowid_, id, ts_ms, kind, source, data, created_ms)"
                " VALUES (?, ?, 0, ?, 'cam', '{}', 0)",
                (rowid, f"e{rowid}", kind),
            )
            for role in ("crop", "scene"):
                conn.execute(
                    "INSERT INTO event_images"
                    "(event_rowid, role, path, sha256, size_bytes, content_type)"
                    " VALUES (?, ?, ?, 'x', 1, 'image/jpeg')",
                    (rowid, role, f"images/{rowid}-{role}.jpg"),
                )
        conn.execute("PRAGMA user_version = 2")  # as the first wave left it
    conn.close()
    s = Store(tmp_path)
    await s.open()
    task = asyncio.create_task(s.run_writer())
    try:
        roles = {e["kind"]: {im["role"] for im in e["images"]} for e in await s.events()}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await s.close()
    assert roles == {"face": {"face_crop", "scene"}, "plate": {"plate_crop", "scene"}}


async def test_urgent_work_runs_ahead_of_queued_writes_in_a_transaction_of_its_own(
    store: Store,
) -> None:
    """Retention's way to make room on a full disk: a write that jumps the queue and does not
    share a transaction (and so a failing commit) with the inserts waiting behind it."""
    import threading

    entered, gate = threading.Event(), threading.Event()
    order: list[str] = []

    def blocking(conn: sqlite3.Connection, tx: object) -> None:
        entered.set()
        gate.wait(10)  # holds the writer thread until the queue below is built

    def op(name: str) -> Callable[[sqlite3.Connection, object], None]:
        def run(conn: sqlite3.Connection, tx: object) -> None:
            order.append(name)
            conn.execute("INSERT INTO counters(name, value) VALUES (?, 1)", (name,))

        return run

    held = asyncio.create_task(store.submit(blocking))
    assert await asyncio.to_thread(entered.wait, 10)
    queued = [asyncio.create_task(store.submit(op(f"queued-{i}"))) for i in range(3)]
    urgent = asyncio.create_task(store.writer.submit_urgent(op("urgent")))
    await asyncio.sleep(0)  # one turn of the loop: all four are handed to the writer
    assert store.writer.depth == 3
    gate.set()
    await asyncio.gather(held, urgent, *queued)
    assert order == ["urgent", "queued-0", "queued-1", "queued-2"]
    assert store.writer.commits >= 3, "the urgent write committed on its own"


async def test_an_event_refused_for_lack_of_space_takes_its_images_with_it(store: Store) -> None:
    """The camera saved its images, then the database had no room for the event: nothing
    will ever reference those files, so they go (a full disk full of orphans helps nobody)."""
    from edge.store import StorageFull

    await store.add_event(Event("access", "door", {"n": 0}))
    pages = await store.reader.run(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
    await store.submit(lambda conn, tx: conn.execute(f"PRAGMA max_page_count = {pages + 1}"))
    refs = (await store.save_image(b"crop", "plate_crop"), await store.save_image(b"s", "scene"))
    assert all((store.data_dir / r.path).exists() for r in refs)
    with pytest.raises(StorageFull):
        await store.add_event(Event("plate", "gate-1", {"pad": "x" * 20_000}, images=refs))
    assert not any((store.data_dir / r.path).exists() for r in refs)


async def test_a_write_that_fills_the_database_fails_its_batch_as_storage_full(
    store: Store,
) -> None:
    """SQLite rolls the whole transaction back on SQLITE_FULL; the writer must not then try to
    roll back to a savepoint that is gone (which failed every later write as "no such
    savepoint"), but fail the batch as StorageFull and go on."""
    from edge.store import StorageFull

    await store.add_event(Event("access", "door", {"n": 0}))
    pages = await store.reader.run(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
    await store.submit(lambda conn, tx: conn.execute(f"PRAGMA max_page_count = {pages + 1}"))

    def big(conn: sqlite3.Connection, tx: object) -> None:
        conn.execute("INSERT INTO audit(ts_ms, actor, action) VALUES (0, 'x', ?)", ("y" * 50_000,))

    with pytest.raises(StorageFull):
        await store.submit(big)
    await store.submit(lambda conn, tx: conn.execute("PRAGMA max_page_count = 1073741823"))
    await store.submit(big)


async def test_an_event_and_its_source_counter_are_committed_together_or_not_at_all(
    store: Store,
) -> None:
    """A controller's log position travels with the event taken at it: when the event is
    refused, the position does not move (the event is taken again, not skipped)."""
    first = Event("access", "door", {"controller_index": 1})
    await store.add_event(first, counter=("uhppote.door.event_index", 1))
    assert (await store.counters())["uhppote.door.event_index"] == 1
    with pytest.raises(sqlite3.IntegrityError):  # the same event id again
        await store.add_event(first, counter=("uhppote.door.event_index", 2))
    assert (await store.counters())["uhppote.door.event_index"] == 1
    assert [i.event.id for i in await store.pending("hub", 0, 10)] == [first.id]
