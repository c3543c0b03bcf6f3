"""Storage stays within budget, and what is still owed upstream goes last."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.config.storage import StorageConfig
from edge.events import Event
from edge.store import Store
from edge.store.retention import Retention


async def _fill(store: Store, n: int, image_bytes: int) -> list[Event]:
    events = []
    for i in range(n):
        ref = await store.save_image(bytes(image_bytes), "scene")
        ev = Event("plate", "cam1", {"n": i, "pad": "x" * 2000}, images=(ref,))
        await store.add_event(ev)
        events.append(ev)
    return events


def _cfg(tmp_path: Path, max_bytes: int, hard: int | None = None) -> StorageConfig:
    return StorageConfig(
        data_dir=tmp_path, max_bytes=max_bytes, hard_max_bytes=hard, min_free_bytes=0
    )


async def test_over_budget_prunes_delivered_images_then_delivered_records_never_owed(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events = await _fill(store, 40, 20_000)
    await store.ack("hub", list(range(1, 21)))  # first 20 delivered to the hub ...
    await store.ack("police", list(range(1, 21)))  # ... and to the police
    retention = Retention(store, _cfg(tmp_path, max_bytes=500_000, hard=10**9))
    caplog.set_level(logging.INFO)
    res = await retention.run_once()
    assert res.images == 20 and res.owed == 0
    left = {e["id"] for e in await store.events(limit=1000)}
    assert {e.id for e in events[20:]} <= left, "owed records are all kept"
    assert all(not (store.data_dir / f).exists() for f in res.files)
    owed_images = [e["images"] for e in await store.events(limit=1000) if e["data"]["n"] >= 20]
    assert all(owed_images), "images of owed events are kept below the hard cap"
    res2 = await retention.run_once()
    assert res2.owed == 0
    counters = await store.counters()
    assert counters["dropped.images"] == 20
    warnings = [r for r in caplog.records if "over budget" in r.getMessage()]
    assert len(warnings) == 1, "one log line per episode, not per run"


async def test_hard_cap_prunes_owed_records_and_counts_them_per_destination(
    store: Store, tmp_path: Path
) -> None:
    for i in range(30):
        ref = await store.save_image(bytes(1000), "scene")
        await store.add_event(Event("plate", "cam1", {"n": i, "pad": "x" * 8000}, images=(ref,)))
    retention = Retention(store, _cfg(tmp_path, max_bytes=150_000, hard=250_000))
    res = await retention.run_once()
    assert 0 < res.owed < 30, "only as many owed records as the hard cap requires"
    stats = {s["dest"]: s for s in await store.outbox_stats()}
    assert stats["hub"]["dropped"] == res.owed
    remaining = await store.pending("hub", 0, 1000)
    assert remaining and remaining[0].seq > 1, "the hub will see the gap in seq"
    assert (await store.counters())["dropped.events_owed"] == res.owed


async def test_age_prunes_only_delivered_records(store: Store, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    old = datetime.now(UTC) - timedelta(days=100)
    for i in range(4):
        await store.add_event(Event("access", "door", {"n": i}, ts=old))
    await store.ack("hub", [1, 2])
    res = await Retention(store, _cfg(tmp_path, max_bytes=10**12)).run_once()
    assert res.aged == 2
    assert sorted(e["data"]["n"] for e in await store.events()) == [2, 3]
