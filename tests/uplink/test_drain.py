"""The outbox drain's bookkeeping when a send fails, with the real store. The transport is
a stand-in here: a send failing with a socket error on one chosen record, in the middle of
a window, is a fault a real broker cannot be made to produce on demand (the broker-level
faults are in test_refusals.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from uplink_helpers import wait_until

from edge.events import Event
from edge.store import OutboxItem, Store
from edge.uplinks.outbox import DrainError, OutboxDrain, PeerRefused


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path, {"hub": lambda kind: True})
    await s.open()
    writer = asyncio.create_task(s.run_writer())
    yield s
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    await s.close()


async def prepare(items: Sequence[OutboxItem]) -> list[int]:
    return [i.seq for i in items]


def transport(fail: dict[int, BaseException]) -> tuple[list[int], Any]:
    sent: list[int] = []

    def issue(seq: int) -> asyncio.Future[Any]:
        sent.append(seq)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if seq in fail:
            fut.set_exception(fail[seq])
        else:
            fut.set_result(None)
        return fut

    return sent, issue


async def test_a_failed_send_is_not_acknowledged_and_goes_first_next_time(store: Store) -> None:
    for i in range(10):
        await store.add_event(Event("access", "door", {"n": i}))
    drain: OutboxDrain[int] = OutboxDrain(store, "hub", window=4, fetch_max=4)
    sent, issue = transport({3: ConnectionResetError("connection reset by peer")})
    with pytest.raises(DrainError, match="connection reset"):
        await asyncio.wait_for(drain.run(prepare, issue), 10)
    assert 3 in sent
    assert drain.failed == 1 and drain.acked_seq < 3, "a failed send counted as acknowledged"
    (stats,) = await store.outbox_stats()
    assert stats["acked_seq"] == 2 and stats["backlog"] >= 7  # 3 and what was never sent
    [first, *_] = await store.pending("hub", await store.acked_seq("hub"), 10)
    assert (first.seq, first.attempts) == (3, 1)
    # The next connection starts at the failed record.
    resent, issue = transport({})
    task = asyncio.create_task(drain.run(prepare, issue))
    await wait_until(lambda: drain.acked_seq >= 10, 10, "the rest")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # 4 was acknowledged out of order in the first run: not sent again.
    assert resent[0] == 3 and sorted(set(resent)) == [3, *range(5, 11)]


async def test_a_refused_record_is_parked_and_the_rest_delivered(store: Store) -> None:
    for i in range(6):
        await store.add_event(Event("access", "door", {"n": i}))
    drain: OutboxDrain[int] = OutboxDrain(store, "hub", window=4, fetch_max=4)
    _sent, issue = transport({2: PeerRefused("invalid object")})
    task = asyncio.create_task(drain.run(prepare, issue))
    await wait_until(lambda: drain.acked_seq >= 6, 10, "past the refused record")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert (drain.acked, drain.parked) == (5, 1)
    assert [(p["seq"], p["reason"]) for p in await store.parked("hub")] == [(2, "invalid object")]
    (stats,) = await store.outbox_stats()
    assert (stats["backlog"], stats["parked"]) == (0, 1)


async def test_an_idle_drain_sends_a_new_event_when_it_is_committed(store: Store) -> None:
    """Nothing owed, connection up: the next alarm is sent when it is committed, not at the
    drain's next wake-up for other reasons (the stall check, here an hour away)."""
    drain: OutboxDrain[int] = OutboxDrain(store, "hub", window=4, fetch_max=4, stall_s=3600)
    sent, issue = transport({})
    task = asyncio.create_task(drain.run(prepare, issue))
    try:
        await wait_until(lambda: drain.acked_seq == 0 and not drain.in_flight, 10, "idle")
        for n in range(3):  # each one while the drain waits for work
            await store.add_event(Event("alarm", "smoke-1", {"n": n}))
            await wait_until(lambda: drain.acked_seq == n + 1, 10, f"alarm {n} sent")  # noqa: B023
        assert sent == [1, 2, 3]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
