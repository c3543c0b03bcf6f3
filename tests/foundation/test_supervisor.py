"""A background task can fail; it cannot vanish, and its state is visible."""

from __future__ import annotations

import asyncio
import logging

import pytest

from edge.supervisor import Supervisor


async def test_a_failing_task_is_logged_once_restarted_with_backoff_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sup = Supervisor(backoff_initial_s=0.01, backoff_max_s=0.04)
    runs = 0
    recovered = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 6:
            raise ConnectionError("meter bus unplugged")
        sup.mark_recovered("bus.line1")
        recovered.set()
        await asyncio.Event().wait()

    caplog.set_level(logging.INFO)
    health = sup.spawn("bus.line1", flaky)
    await asyncio.wait_for(recovered.wait(), 5)
    assert health.restarts == 6 and health.state == "running"
    assert health.last_error == "ConnectionError: meter bus unplugged"
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1, "the traceback is logged once per failure episode"
    assert any("recovered" in r.getMessage() for r in caplog.records)
    await sup.stop()
    assert health.state == "stopped"


async def test_repeated_failures_show_as_failed_while_still_retrying() -> None:
    sup = Supervisor(backoff_initial_s=0.001, backoff_max_s=0.002)
    attempts = 0
    enough = asyncio.Event()

    async def dead() -> None:
        nonlocal attempts
        attempts += 1
        if attempts >= 8:
            enough.set()
        raise TimeoutError("no answer")

    health = sup.spawn("device.m1", dead)
    await asyncio.wait_for(enough.wait(), 5)
    assert health.state == "failed" and health.consecutive_failures >= 5
    await sup.stop()


async def test_stop_cancels_newest_first() -> None:
    sup = Supervisor()
    order: list[str] = []

    def make(name: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                order.append(name)

        return run

    for name in ("store.writer", "web", "device.m1", "uplink.hub"):
        sup.spawn(name, make(name))
    await asyncio.sleep(0)
    await sup.stop()
    assert order == ["uplink.hub", "device.m1", "web", "store.writer"]
