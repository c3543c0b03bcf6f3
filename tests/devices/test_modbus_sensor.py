"""Modbus sensors from profiles, polled over TCP and RTU, raising and clearing alarms."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from modbus_bus import modbus_bus
from pydantic import ValidationError

from edge.config import config_model
from edge.sim.modbus import ModbusSimulator, SensorSpec


@pytest.fixture
async def sim() -> AsyncIterator[ModbusSimulator]:
    async with ModbusSimulator(
        [
            SensorSpec(2, "water_level"),
            SensorSpec(3, "combustible_gas"),
            SensorSpec(1, "smoke_detector"),
        ]
    ) as s:
        yield s


def sensor(dev_id: str, bus: str, unit: int, profile: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": dev_id,
        "type": "modbus",
        "bus": bus,
        "unit": unit,
        "profile": profile,
        "poll_interval_s": 0.1,
        **kw,
    }


async def open_alarms(rt: Any) -> list[dict[str, Any]]:
    return [a for a in await rt.store.alarms() if a["state"] != "closed"]


@pytest.mark.parametrize("framing", ["tcp", "rtu"])
async def test_water_level_crossing_raises_then_clears_with_hysteresis(
    sim: ModbusSimulator, make_runtime: Any, wait_for: Any, framing: str
) -> None:
    host, port = await sim.start_tcp(rtu=framing == "rtu")
    bus = modbus_bus(framing, host, port)
    rule = {"point": "level", "above": 0.30, "hysteresis": 0.05, "min_duration_s": 0.5}
    sim.force(2, "level", 0.10)
    rt = await make_runtime(
        [bus],
        [
            sensor("wl", "b", 2, "water_level", thresholds=[rule]),
            sensor("gas", "b", 3, "combustible_gas"),
        ],
    )
    readings = await wait_for(lambda: rt.store.events(kind="reading", source="wl"))
    points = {p["point"]: p for p in readings[0]["data"]["points"]}
    assert points["level"]["value"] == pytest.approx(0.10) and points["level"]["unit"] == "m"
    assert points["level_mm"]["value"] == 100

    sim.force(2, "level", 0.42)
    crossed = time.monotonic()
    (alarm,) = await wait_for(lambda: open_alarms(rt), timeout_s=5)
    assert 0.5 <= time.monotonic() - crossed < 3.0, "raised after the minimum duration"
    assert alarm["key"] == "threshold:wl:level_above" and alarm["severity"] == "warning"
    # Within the hysteresis band the alarm stays; below it, it closes.
    sim.force(2, "level", 0.27)
    polls = rt.services["device.wl"].polls
    await wait_for(lambda: rt.services["device.wl"].polls >= polls + 5)
    assert len(await open_alarms(rt)) == 1
    sim.force(2, "level", 0.20)
    await wait_for(lambda: _none(open_alarms(rt)), timeout_s=5)
    states = [e["data"]["state"] for e in reversed(await rt.store.events(kind="alarm"))]
    assert states == ["raised", "closed"]
    assert rt.devices.status("gas").available is True


async def _none(coro: Any) -> bool:
    return not await coro


async def test_profile_thresholds_apply_by_default_and_smoke_alarm_is_critical(
    sim: ModbusSimulator, make_runtime: Any, wait_for: Any
) -> None:
    host, port = await sim.start_tcp()
    bus = {"id": "t", "type": "modbus_tcp", "host": host, "port": port, "timeout_s": 0.3}
    rt = await make_runtime([bus], [sensor("smoke", "t", 1, "smoke_detector")])
    sim.force(1, "alarm", True)
    (alarm,) = await wait_for(lambda: open_alarms(rt), timeout_s=5)
    assert alarm["severity"] == "critical" and "烟感" in alarm["message"]
    hub_alarm = await wait_for(lambda: rt.store.events(kind="alarm", source="smoke"))
    assert hub_alarm[0]["data"]["state"] == "raised"


def base(devices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "config_version": 1,
        "site": {
            "name": "t",
            "site_id": "32010600002160000001",
            "gateway_id": "32010600001180000001",
        },
        "storage": {"data_dir": "/tmp/unused"},
        "buses": [{"id": "t", "type": "modbus_tcp", "host": "127.0.0.1"}],
        "devices": devices,
    }


def test_config_errors_an_installer_can_act_on() -> None:
    with pytest.raises(ValidationError, match=r"unknown profile 'flood'.*water_level"):
        config_model().model_validate(base([sensor("a", "t", 1, "flood")]))
    with pytest.raises(ValidationError, match="unknown point 'depth'"):
        config_model().model_validate(
            base([sensor("a", "t", 1, "water_level", thresholds=[{"point": "depth", "above": 1}])])
        )
    with pytest.raises(ValidationError, match="no bus with id 'nope'"):
        config_model().model_validate(base([sensor("a", "nope", 1, "water_level")]))
    with pytest.raises(ValidationError, match=r"registers: or a profile"):
        config_model().model_validate(base([{"id": "a", "type": "modbus", "bus": "t"}]))
    # A device's own thresholds replace the profile's.
    cfg = config_model().model_validate(
        base([sensor("a", "t", 1, "water_level", thresholds=[{"point": "level", "above": 1}])])
    )
    assert [r.above for r in cfg.devices[0].thresholds] == [1]
