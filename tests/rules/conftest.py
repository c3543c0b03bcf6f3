from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "data")
    await s.open()
    task = asyncio.create_task(s.run_writer())
    yield s
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await s.close()
