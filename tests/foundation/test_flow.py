"""The event flow: every committed event reaches every reactor once, in commit order."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from edge.events import Event
from edge.flow import Flow
from edge.hub import Hub
from edge.store import Store

N = 10_000
STREAMS = 50


@pytest.fixture
async def flow(tmp_path: Path) -> AsyncIterator[Flow]:
    store = Store(tmp_path / "data", destinations={"hub": lambda kind: True})
    await store.open()
    writer = asyncio.create_task(store.run_writer())
    f = Flow(store, Hub(), backlog_max=500)  # small: the burst must meet back-pressure
    dispatcher = asyncio.create_task(f.run())
    yield f
    dispatcher.cancel()
    writer.cancel()
    await asyncio.gather(dispatcher, writer, return_exceptions=True)
    await store.close()


def _commit_order(store: Store) -> list[str]:
    conn = sqlite3.connect(store.db_path)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM events ORDER BY rowid_")]
    finally:
        conn.close()


async def test_a_burst_reaches_every_reactor_once_in_commit_order(
    flow: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    seen: dict[str, list[str]] = {"first": [], "last": []}
    plates: list[str] = []

    full = asyncio.Event()  # a producer found the backlog full (and is about to wait)

    async def first(ev: Event) -> None:
        # The dispatcher falls behind until producers have had to wait (not drop): the
        # first event is held until back-pressure happens, whatever the box's speed.
        if not seen["first"]:
            await asyncio.wait_for(full.wait(), 30)
        seen["first"].append(ev.id)

    async def broken(ev: Event) -> None:
        raise RuntimeError("rule bug")

    async def last(ev: Event) -> None:
        seen["last"].append(ev.id)

    async def only_plates(ev: Event) -> None:
        plates.append(ev.id)

    flow.add_reactor("first", first)
    flow.add_reactor("broken", broken)
    flow.add_reactor("last", last)
    flow.add_reactor("plates", only_plates, kinds={"plate"})
    hub_feed = flow.hub.subscribe("event/", maxsize=N + 100, name="feed")

    async def produce(stream: int) -> None:  # 50 producers, each emitting as fast as it can
        for i in range(stream, N, STREAMS):
            kind = "plate" if i % 2 else "access"
            if flow.backlog >= flow.backlog_max:
                full.set()
            await flow.emit(Event(kind, "gate", {"n": i}))
            if i % 1000 == 0:  # events the store commits itself reach the reactors too
                await flow.store.raise_alarm(f"k{i}", "gate", "test")

    with caplog.at_level(logging.ERROR, logger="edge.flow"):
        await asyncio.gather(*(produce(s) for s in range(STREAMS)))
        await flow.idle(timeout_s=60)

    order = _commit_order(flow.store)
    assert len(order) == N + 10
    assert seen["first"] == order
    assert seen["last"] == order, "a failing reactor stopped the ones after it"
    kinds = {r[0]: r[1] for r in _kinds(flow.store)}
    assert plates == [i for i in order if kinds[i] == "plate"]
    assert flow.stats.waits > 0, "the burst never met back-pressure: the test proves less"
    assert flow.stats.max_backlog <= 500 + 2 * STREAMS  # bounded by back-pressure
    # logged once for the whole episode, counted every time
    failures = [r for r in caplog.records if "reactor broken failed" in r.getMessage()]
    assert len(failures) == 1
    broken_health = flow.health()["reactors"]["broken"]
    assert broken_health["failures"] == N + 10
    assert broken_health["failing"] is True
    assert flow.health()["problems"] == ["reactor broken is failing"]
    fed = []
    while (item := hub_feed.get_nowait()) is not None:
        fed.append(item[1].id)
    assert fed == order, "the live hub gets events after the reactors, in the same order"


def _kinds(store: Store) -> list[tuple[str, str]]:
    conn = sqlite3.connect(store.db_path)
    try:
        return list(conn.execute("SELECT id, kind FROM events"))
    finally:
        conn.close()


async def test_a_reactor_that_recovers_ends_its_episode(
    flow: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    fail = True

    async def flaky(ev: Event) -> None:
        if fail:
            raise ValueError("flaky")

    flow.add_reactor("flaky", flaky)
    with caplog.at_level(logging.INFO, logger="edge.flow"):
        for _ in range(3):
            await flow.emit(Event("access", "door", {}))
        await flow.idle(timeout_s=10)
        fail = False
        await flow.emit(Event("access", "door", {}))
        await flow.idle(timeout_s=10)
        fail = True
        await flow.emit(Event("access", "door", {}))
        await flow.idle(timeout_s=10)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("reactor flaky failed" in m for m in messages) == 2  # two episodes
    assert any("reactor flaky recovered after 3 failed event(s)" in m for m in messages)


async def test_a_reactor_emitting_events_does_not_wait_for_itself(flow: Flow) -> None:
    echoes: list[str] = []
    all_echoed = asyncio.Event()

    async def echo(ev: Event) -> None:
        if ev.kind == "access":
            await flow.emit(Event("alarm_echo_src", "r", {}))  # nested emit under back-pressure
            echoes.append(ev.id)
            if len(echoes) == 2000:
                all_echoed.set()

    flow.add_reactor("echo", echo)
    await asyncio.gather(*(flow.emit(Event("access", "d", {"n": i})) for i in range(2000)))
    await asyncio.wait_for(all_echoed.wait(), 60)
    await flow.idle(timeout_s=60)
    assert len(_commit_order(flow.store)) == 4000


async def test_reactors_run_in_the_order_added_and_finish_an_event_before_the_next(
    flow: Flow,
) -> None:
    """Order between reactors is part of the contract (docs/architecture.md): thresholds and
    the watchlist raise their alarms before the gatekeeper decides on the same sighting,
    and an event has been through every reactor before the next one starts."""
    trail: list[tuple[str, str]] = []

    def recorder(name: str) -> Callable[[Event], Awaitable[None]]:
        async def react(ev: Event) -> None:
            trail.append((name, ev.id))
            await asyncio.sleep(0)  # a reactor that yields must still not be overtaken

        return react

    for name in ("thresholds", "watchlist", "gates"):
        flow.add_reactor(name, recorder(name))
    await asyncio.gather(*(flow.emit(Event("plate", "cam", {"n": i})) for i in range(200)))
    await flow.idle(timeout_s=30)
    order = _commit_order(flow.store)
    assert trail == [(n, i) for i in order for n in ("thresholds", "watchlist", "gates")]
