"""Shared by the uplink tests (a uniquely named module: every test folder has a conftest)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from edge.app import Daemon

SECRET = "s3cret-shared-with-the-hub"
SITE = "32010600002160000001"
GATEWAY = "32010600001180000001"

DaemonFactory = Callable[..., Awaitable[Daemon]]


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll a condition (no fixed sleeps): fail with `what` if it is not met in time."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


def assert_complete_in_order(received: list[dict[str, Any]], ids: list[str]) -> None:
    """Every committed id arrived; a resend carries the same seq; first arrivals are in
    seq order (duplicates are allowed only as resends of what was unacknowledged)."""
    seq_of: dict[str, int] = {}
    first: list[int] = []
    for m in received:
        if m["id"] in seq_of:
            assert seq_of[m["id"]] == m["seq"], f"{m['id']} resent with another seq"
            continue
        seq_of[m["id"]] = m["seq"]
        first.append(m["seq"])
    missing = set(ids) - set(seq_of)
    assert not missing, f"{len(missing)} events never arrived"
    assert first == sorted(first), "events arrived out of seq order"
    assert len(set(first)) == len(first)


def config_text(data_dir: Path, url: str, uplink_extra: str = "", web: str = "127.0.0.1:0") -> str:
    return f"""
config_version: 1
site:
  name: Test Compound
  site_id: "{SITE}"
  gateway_id: "{GATEWAY}"
  utc_offset: "+08:00"
storage:
  data_dir: {data_dir}
web:
  listen: "{web}"
logging:
  level: WARNING
uplinks:
  hub:
    type: mqtt
    url: "{url}"
    keepalive_s: 5
    connect_timeout_s: 2
    reconnect_initial_s: 0.05
    reconnect_max_s: 0.5
    health_interval_s: 3600
    commands:
      secret: {SECRET}
{uplink_extra}
"""
