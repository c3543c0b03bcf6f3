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


# --- order: a partly pruned store keeps its newest data ----------------------------------

MIXED = 30  # events whose times are shuffled against their insertion (and rowid) order
IMAGE_BYTES = 20_000


async def _mixed_age_store(store: Store, deliver: bool) -> dict[str, int]:
    """Events aged 1..MIXED days, inserted in shuffled order (so neither rowid nor insertion
    order is time order); returns event id -> age in days."""
    from datetime import UTC, datetime, timedelta
    from random import Random

    ages = list(range(1, MIXED + 1))
    Random(7).shuffle(ages)
    now = datetime.now(UTC)
    out = {}
    for age in ages:
        ref = await store.save_image(bytes(IMAGE_BYTES), "scene")
        ev = Event(
            "plate",
            "cam1",
            {"age": age, "pad": "x" * 2000},
            images=(ref,),
            ts=now - timedelta(days=age),
        )
        await store.add_event(ev)
        out[ev.id] = age
    if deliver:
        await store.ack("hub", list(range(1, MIXED + 1)))
        await store.ack("police", list(range(1, MIXED + 1)))
    return out


async def _used(store: Store) -> int:
    from edge.store.retention import used_bytes

    return await store.reader.run(used_bytes)


async def _ages_with_images(store: Store) -> tuple[set[int], set[int]]:
    """(ages of events still stored, ages of events whose image is still stored)"""
    rows = await store.events(limit=1000)
    return {r["data"]["age"] for r in rows}, {r["data"]["age"] for r in rows if r["images"]}


async def test_partial_prune_takes_the_oldest_delivered_images_first(
    store: Store, tmp_path: Path
) -> None:
    ages = await _mixed_age_store(store, deliver=True)
    used = await _used(store)
    # 10.5 images over budget: the 11 oldest images go, every record and newer image stays.
    cfg = _cfg(tmp_path, max_bytes=used - IMAGE_BYTES * 21 // 2, hard=10**12)
    res = await Retention(store, cfg).run_once()
    assert (res.images, res.delivered, res.owed) == (11, 0, 0)
    stored, with_image = await _ages_with_images(store)
    assert stored == set(ages.values()), "no record goes while images can make the room"
    assert with_image == set(range(1, 20)), "the 11 oldest images (ages 20..30 days) went"
    files = {p.name for p in (store.data_dir / "images").rglob("*.jpg")}
    assert len(files) == MIXED - 11, "their files are deleted, the others kept"


async def test_partial_prune_takes_the_oldest_delivered_records_after_all_images(
    store: Store, tmp_path: Path
) -> None:
    await _mixed_age_store(store, deliver=True)
    used = await _used(store)
    # Every image plus a few records' worth over budget: images all go, then the oldest records.
    cfg = _cfg(tmp_path, max_bytes=used - IMAGE_BYTES * MIXED - 20_000, hard=10**12)
    res = await Retention(store, cfg).run_once()
    assert res.images == MIXED and res.owed == 0
    assert 0 < res.delivered < MIXED // 2, res
    stored, with_image = await _ages_with_images(store)
    assert not with_image
    assert stored == set(range(1, MIXED + 1 - res.delivered)), "the oldest records went first"


async def test_past_the_hard_cap_the_oldest_owed_images_then_records_go_first(
    store: Store, tmp_path: Path
) -> None:
    await _mixed_age_store(store, deliver=False)
    used = await _used(store)
    cfg = _cfg(tmp_path, max_bytes=used - IMAGE_BYTES * 21 // 2, hard=used - IMAGE_BYTES * 21 // 2)
    res = await Retention(store, cfg).run_once()
    assert (res.images, res.delivered, res.owed) == (11, 0, 0)
    stored, with_image = await _ages_with_images(store)
    assert with_image == set(range(1, 20)) and stored == set(range(1, MIXED + 1))

    cfg = _cfg(tmp_path, max_bytes=1, hard=used - IMAGE_BYTES * MIXED - 20_000)
    res = await Retention(store, cfg).run_once()
    assert res.images == MIXED - 11 and 0 < res.owed < MIXED // 2, res
    stored, with_image = await _ages_with_images(store)
    assert stored == set(range(1, MIXED + 1 - res.owed)), "the oldest owed records went first"
