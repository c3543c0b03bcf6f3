"""Every log line names the task it came from, in the format the config asks for."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from edge import log
from edge.supervisor import Supervisor


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    yield io.StringIO()
    logging.getLogger().handlers.clear()


@pytest.mark.parametrize("fmt", ["json", "human"])
async def test_lines_carry_the_supervised_task_name(fmt: str, captured: io.StringIO) -> None:
    log.setup(fmt, "INFO")
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(captured)
    done = asyncio.Event()

    async def poller() -> None:
        logging.getLogger("edge.tests.poller").info("meter 000000000161 answered")
        done.set()

    sup = Supervisor()
    sup.spawn("device.meter-b3-101", poller)
    await asyncio.wait_for(done.wait(), 5)
    await sup.stop()
    logging.getLogger("edge.tests.main").info("outside any task")
    lines = captured.getvalue().splitlines()
    if fmt == "json":
        docs = [json.loads(line) for line in lines]
        assert {
            "task": "device.meter-b3-101",
            "msg": "meter 000000000161 answered",
        }.items() <= docs[0].items()
        assert docs[-1]["task"] == "main" and docs[-1]["level"] == "INFO"
    else:
        assert "[device.meter-b3-101] edge.tests.poller: meter 000000000161 answered" in lines[0]
        assert "[main] edge.tests.main: outside any task" in lines[-1]
