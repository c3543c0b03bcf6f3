from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from webauth import MINIMAL

from edge.store import Store


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "edge.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def minimal_yaml(tmp_path: Path) -> str:
    return MINIMAL.format(data_dir=tmp_path / "data")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    import asyncio

    s = Store(
        tmp_path / "data",
        destinations={"hub": lambda kind: kind != "reading", "police": lambda k: k == "plate"},
    )
    await s.open()
    task = asyncio.create_task(s.run_writer())
    yield s
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await s.close()
