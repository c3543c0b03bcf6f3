"""The rate limit: objects beyond the burst wait for their tokens (clock and sleep faked,
so the test asserts the waits the limiter asks for, not how long a loaded box took)."""

from __future__ import annotations

import pytest

from edge.uplinks.gat1400 import batcher


async def test_token_bucket_paces_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    waits: list[float] = []

    async def fake_sleep(s: float) -> None:
        waits.append(round(s, 3))
        now[0] += s

    monkeypatch.setattr(batcher.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(batcher.asyncio, "sleep", fake_sleep)
    bucket = batcher.TokenBucket(rate_per_s=10, burst=4)
    await bucket.take(4)  # the burst goes at once
    assert waits == []
    await bucket.take(4)  # the next four need 0.4 s of tokens
    assert waits == [0.4]
    now[0] += 10  # idle: the bucket refills only up to its burst
    await bucket.take(4)
    assert waits == [0.4]


async def test_no_limit_never_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_sleep(s: float) -> None:
        raise AssertionError("slept")

    monkeypatch.setattr(batcher.asyncio, "sleep", no_sleep)
    bucket = batcher.TokenBucket(rate_per_s=0, burst=4)
    for _ in range(100):
        await bucket.take(8)
