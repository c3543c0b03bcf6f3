"""A full disk is pruned, alarmed and survived, not a wall of tracebacks.

Everything here runs on a real 20 MB tmpfs (`small_disk`): the kernel's ENOSPC and SQLite's
"database or disk is full" are the real thing. Free space below `min_free_bytes` prunes
(images of delivered events, then delivered records) as soon as a write notices it, so the
disk does not fill; if it fills anyway, the retention pass still runs (a reserve file is given
back first), a `storage.disk_low` alarm is raised once and closed once, failed writes are
logged once per episode and answered 503, and no image file is left without its event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from edge.config.storage import StorageConfig
from edge.events import Event
from edge.store import StorageFull, Store
from edge.store.retention import Retention

if TYPE_CHECKING:
    from conftest import Daemons

POSTS = 2_500
PAYLOAD_BYTES = 16_000  # 2,500 x 16 KB = 40 MB posted at a 20 MB disk: two disks' worth
ALARM = "storage.disk_low"


async def test_daemon_on_a_small_disk_keeps_taking_events(
    daemons: Daemons, small_disk: Path
) -> None:
    daemons.data_dir = small_disk / "data"
    config = daemons.write_config({"min_free_bytes": "4MB", "prune_interval_s": 1})
    d = daemons.start(config)
    bodies = daemons.event_bodies(POSTS, payload_bytes=PAYLOAD_BYTES, tag="disk")
    burst = await d.post_burst(bodies, concurrency=20, timeout_s=120)
    log = d.log_text()
    tracebacks = log.count("Traceback")
    figures = (
        f"{len(burst.acked)}/{POSTS} answered 201, other answers {dict(burst.statuses)}, "
        f"{burst.errors} connection errors, {tracebacks} tracebacks in the log"
    )
    print(figures)
    assert burst.statuses[500] == 0 and tracebacks == 0, figures
    assert set(burst.statuses) <= {503}, figures
    assert len(burst.acked) >= POSTS * 9 // 10, "pruning ahead of the disk keeps ingest going"

    # The newest events are the ones kept; the alarm was raised once and closes by itself.
    code, doc = await asyncio.to_thread(d.get, "/api/events?limit=50")
    assert code == 200 and {e["id"] for e in doc["events"]} <= set(burst.acked[-200:])

    def alarm_states() -> list[str]:
        return [a["state"] for a in d.get("/api/alarms")[1]["alarms"] if a["key"] == ALARM]

    assert alarm_states(), "free space below min_free_bytes raised a storage alarm"
    try:
        await asyncio.to_thread(
            daemons.wait_for,
            lambda: alarm_states() == ["closed"],
            30,
            "the storage alarm to close, once",
        )
    except AssertionError as exc:
        health = d.get("/api/health")[1]["storage"]
        raise AssertionError(f"{exc}: {alarm_states()}, {health}") from None
    code, health = await asyncio.to_thread(d.get, "/api/health")
    assert code == 200 and health["storage"]["low_water_bytes"] == 4_000_000
    assert health["storage"]["reserve_held"] is True
    assert daemons.integrity(d.db_path) == "ok"


def _cfg(data_dir: Path, min_free: int) -> StorageConfig:
    return StorageConfig(
        data_dir=data_dir, max_bytes=10**12, min_free_bytes=min_free, prune_interval_s=3600
    )


async def _open(data_dir: Path) -> tuple[Store, asyncio.Task[None]]:
    store = Store(data_dir, destinations={"hub": lambda kind: True})
    await store.open()
    return store, asyncio.create_task(store.run_writer())


async def _close(store: Store, writer: asyncio.Task[None]) -> None:
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    await store.close()


def _orphans(store: Store) -> set[str]:
    on_disk = {
        str(p.relative_to(store.data_dir))
        for p in (store.data_dir / "images").rglob("*")
        if p.is_file()
    }
    conn = sqlite3.connect(store.db_path)
    try:
        referenced = {r[0] for r in conn.execute("SELECT path FROM event_images")}
    finally:
        conn.close()
    return on_disk - referenced


async def _camera_pass(store: Store, n: int) -> Event:
    """What a camera worker does: save the crop and the scene, then add the event."""
    crop = await store.save_image(os.urandom(30_000), "plate_crop")
    scene = await store.save_image(os.urandom(60_000), "scene")
    event = Event("plate", "gate-1", {"n": n, "pad": "x" * 2000}, images=(crop, scene))
    return await store.add_event(event)


async def test_camera_events_on_a_small_disk_prune_ahead_and_leave_no_orphans(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, writer = await _open(small_disk / "data")
    retention = Retention(store, _cfg(store.data_dir, min_free=4_000_000))
    pruner = asyncio.create_task(retention.run())
    caplog.set_level(logging.INFO)
    refused = 0
    try:
        acked = 0
        for n in range(600):  # 600 x 92 KB = 55 MB through a 20 MB disk
            try:
                await _camera_pass(store, n)
            except StorageFull:
                refused += 1
            if n % 50 == 49:  # the hub acknowledges now and then
                pending = await store.pending("hub", 0, 1000)
                acked = await store.ack("hub", [i.seq for i in pending])
        assert acked > 0
        print(f"{refused} of 600 camera passes refused, {retention.health()}")
        assert refused <= 600 // 10, f"{refused} of 600 passes refused"
        pruner.cancel()
        assert not [p for p in store.data_dir.rglob("*.tmp")], "no half-written image is left"
        # A refused event takes its images with it; only a crop whose scene was refused (the
        # camera pass never got to its event) is left, for the sweep.
        assert not [p for p in _orphans(store) if not p.endswith("-plate_crop.jpg")]
        # Nothing written: the next passes find room, and the second closes the alarm.
        await retention.run_once()
        await retention.run_once()
        # A refused pass may leave the crop it saved before its scene was refused: the sweep
        # deletes such files once they are older than the grace (here: at once).
        retention.orphan_grace_s = 0.0
        await retention.sweep()
        assert not _orphans(store)
        alarms = [a for a in await store.alarms() if a["key"] == ALARM]
        assert [a["state"] for a in alarms] == ["closed"], alarms
        assert (await store.counters())["dropped.images"] > 0
    finally:
        pruner.cancel()
        await asyncio.gather(pruner, return_exceptions=True)
        await _close(store, writer)


async def test_retention_frees_a_disk_the_store_filled_to_the_last_byte(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No retention task ran while a camera filled the disk (say it was busy): the next
    pass must still work on a disk with no byte left, and the store must take events again."""
    store, writer = await _open(small_disk / "data")
    caplog.set_level(logging.INFO)
    # No producer runs beside the passes here, so the sweep needs no grace.
    retention = Retention(store, _cfg(store.data_dir, min_free=4_000_000), orphan_grace_s=0)
    await retention.run_once()  # at start-up: takes its reserve while there is room
    try:
        delivered = 0
        refused = 0
        for n in range(400):
            try:
                await _camera_pass(store, n)
            except StorageFull:
                refused += 1
                if refused >= 20:
                    break
            if n % 20 == 19:
                pending = await store.pending("hub", 0, 1000)
                delivered = await store.ack("hub", [i.seq for i in pending])
        assert refused >= 20, "the disk never filled"
        assert delivered > 0
        with contextlib.suppress(StorageFull):  # to the last byte
            for n in range(10_000):
                await store.add_event(Event("access", "door", {"n": n}))
        failures = [r for r in caplog.records if "storage full" in r.getMessage()]
        assert len(failures) == 1, "failed writes are logged once per episode"
        assert not [p for p in store.data_dir.rglob("*.tmp")], "no half-written image is left"
        # A refused event takes its images with it; only a crop whose scene was refused (the
        # camera pass never got to its event) is left, for the sweep.
        assert not [p for p in _orphans(store) if not p.endswith("-plate_crop.jpg")]

        res = await retention.run_once()
        assert res.images > 0
        alarms = [a for a in await store.alarms() if a["key"] == ALARM]
        assert [a["state"] for a in alarms] == ["raised"], "the alarm itself was storable"
        await _camera_pass(store, -1)
        health = retention.health()
        assert health["failed_writes"] >= 20 and health["problems"], health
        # Room again: two quiet passes end the episode (one log line with the count), close
        # the alarm and sweep the crop a refused pass saved before its scene was refused.
        quiet = [await retention.run_once(), await retention.run_once()]
        alarms = [a for a in await store.alarms() if a["key"] == ALARM]
        assert [a["state"] for a in alarms] == ["closed"], (quiet, retention.health())
        assert not _orphans(store)
        assert not retention.health()["problems"]
        ended = [r for r in caplog.records if "writable again" in r.getMessage()]
        assert len(ended) == 1
        assert (await store.counters())["refused.writes_storage_full"] == health["failed_writes"]
    finally:
        await _close(store, writer)


async def test_retention_frees_a_disk_full_of_delivered_records(small_disk: Path) -> None:
    """No images to give back, only records: deleting them must fit the room there is (the
    reserve), so each step writes the pages it changes to the WAL, not every page it frees."""
    store, writer = await _open(small_disk / "data")
    retention = Retention(store, _cfg(store.data_dir, min_free=4_000_000))
    await retention.run_once()  # takes the reserve
    try:
        n = 0
        with contextlib.suppress(StorageFull):  # the hub acknowledges as they come
            while True:
                await store.add_event(Event("access", "door", {"n": n, "pad": "x" * 16_000}))
                n += 1
                if n % 20 == 0:
                    await store.ack("hub", [i.seq for i in await store.pending("hub", 0, 20)])
        res = await retention.run_once()
        assert res.delivered > 0 and res.owed == 0
        await store.add_event(Event("access", "door", {"n": n, "pad": "x" * 16_000}))
        assert store.space.fs_free() >= 4_000_000, "pruned records gave their bytes back"
    finally:
        await _close(store, writer)


async def test_a_low_disk_costs_delivered_data_and_only_a_full_one_owed_data(
    small_disk: Path,
) -> None:
    """The hub is offline, so everything is owed. Below `min_free_bytes` nothing owed goes
    (the alarm says so); below half of it the disk is about to fill, and then the oldest owed
    records go (counted per destination, a gap in seq) rather than every new event."""
    store, writer = await _open(small_disk / "data")
    retention = Retention(store, _cfg(store.data_dir, min_free=8_000_000))
    await retention.run_once()  # takes its 4 MB reserve

    def room() -> int:
        return store.space.fs_free() + store.space.db_free_bytes + retention.reserve.size_bytes

    try:
        n = 0
        while room() > 10_000_000:  # short of the 12 MB mark (8 MB + the reserve), above 8 MB
            await store.add_event(Event("access", "door", {"n": n, "pad": "x" * 16_000}))
            n += 1
        res = await retention.run_once()
        assert res.deficit > 0 and (res.images, res.delivered, res.owed) == (0, 0, 0)
        assert [a["state"] for a in await store.alarms() if a["key"] == ALARM] == ["raised"]

        with contextlib.suppress(StorageFull):
            while room() > 6_000_000:
                await store.add_event(Event("access", "door", {"n": n, "pad": "x" * 16_000}))
                n += 1
        res = await retention.run_once()
        assert res.owed > 0 and room() >= 8_000_000
        hub = {s["dest"]: s for s in await store.outbox_stats()}["hub"]
        assert hub["dropped"] == res.owed
        oldest = (await store.pending("hub", 0, 1))[0]
        assert oldest.seq == res.owed + 1, "the oldest owed went, the hub sees the gap"
    finally:
        await _close(store, writer)
