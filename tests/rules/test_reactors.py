"""The rules run as flow reactors: they see committed events, whoever produced them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge.app import Daemon
from edge.config import parse_config
from edge.events import Event, Reading
from edge.payloads import FaceMatch, FacePayload

CONFIG = """\
config_version: 1
site: {{name: 测试小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data}}}
web: {{listen: "127.0.0.1:0"}}
"""


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    d = Daemon(parse_config(CONFIG.format(data=tmp_path / "data"), "edge.yaml", {}))
    await d.start()
    yield d
    await d.stop()


def _face(result: str, person: str | None = None, name: str | None = None) -> Event:
    match = FaceMatch(result, "watchlist" if result == "watchlist" else None, name, person, 0.3)  # type: ignore[arg-type]
    return FacePayload(camera="gate1", match=match, confidence=0.99).event("gate1")


async def test_a_watchlist_face_raises_one_critical_alarm_per_person_and_camera(
    daemon: Daemon,
) -> None:
    flow = daemon.rt.flow
    first = await flow.emit(_face("watchlist", "w-7", "张三"))
    await flow.emit(_face("watchlist", "w-7", "张三"))  # seen again: the alarm is still open
    await flow.emit(_face("resident", "r-1", "李四"))
    await flow.emit(_face("unknown"))
    await flow.idle(timeout_s=10)
    [alarm] = await daemon.store.alarms()
    assert alarm["severity"] == "critical" and alarm["key"] == "watchlist:w-7:gate1"
    assert "张三" in alarm["message"] and alarm["data"]["event_id"] == first.id
    await flow.idle(timeout_s=10)
    raised = [e for e in await daemon.store.events(kind="alarm") if e["data"]["state"] == "raised"]
    assert len(raised) == 1


async def test_thresholds_see_readings_that_reach_the_flow(daemon: Daemon) -> None:
    from edge.rules.config import ThresholdRule
    from edge.rules.thresholds import ThresholdEngine

    rule = ThresholdRule(point="level", above=1.0, severity="critical")
    daemon.rt.thresholds.add(ThresholdEngine("wl-b2", [rule], daemon.store))
    flow = daemon.rt.flow
    await flow.emit_readings("wl-b2", [Reading("wl-b2", "level", 0.4, "m")])
    await flow.emit_readings("wl-b2", [Reading("wl-b2", "level", 1.6, "m")])
    await flow.emit_readings("other", [Reading("other", "level", 9.0, "m")])  # no rules
    await flow.idle(timeout_s=10)
    [alarm] = await daemon.store.alarms()
    assert alarm["key"] == "threshold:wl-b2:level_above" and alarm["data"]["value"] == 1.6
    assert flow.health()["reactors"]["rules.thresholds"]["seen"] == 3
