"""Threshold rules: raise after the minimum duration, clear with hysteresis, one alarm per key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge.events import Reading
from edge.rules.config import ThresholdRule
from edge.rules.thresholds import ThresholdEngine, alarm_key
from edge.store import Store


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def level(v: float) -> list[Reading]:
    return [Reading("wl1", "level", v, "m")]


async def open_alarms(store: Store) -> list[dict[str, object]]:
    return [a for a in await store.alarms() if a["state"] != "closed"]


async def test_alarm_after_min_duration_and_clear_past_hysteresis(store: Store) -> None:
    rule = ThresholdRule(point="level", above=0.30, hysteresis=0.05, min_duration_s=10)
    clock = Clock()
    engine = ThresholdEngine("wl1", [rule], store, clock=clock)
    await engine.evaluate(level(0.35))
    clock.t += 9
    await engine.evaluate(level(0.40))
    assert await open_alarms(store) == [], "not yet held for 10 s"
    clock.t += 1
    await engine.evaluate(level(0.40))
    (alarm,) = await open_alarms(store)
    assert alarm["key"] == alarm_key("wl1", rule) and alarm["source"] == "wl1"
    assert alarm["data"]["value"] == pytest.approx(0.40)  # type: ignore[index]
    # Inside the hysteresis band it stays raised; it does not raise a second one either.
    for v in (0.29, 0.31, 0.26):
        clock.t += 2
        await engine.evaluate(level(v))
    assert len(await open_alarms(store)) == 1
    clock.t += 2
    await engine.evaluate(level(0.24))
    assert await open_alarms(store) == []
    kinds = [e["data"]["state"] for e in reversed(await store.events(kind="alarm"))]
    assert kinds == ["raised", "closed"]


async def test_a_dip_restarts_the_minimum_duration(store: Store) -> None:
    rule = ThresholdRule(point="level", above=0.30, min_duration_s=5)
    clock = Clock()
    engine = ThresholdEngine("wl1", [rule], store, clock=clock)
    for v in (0.4, 0.4, 0.2, 0.4, 0.4):
        await engine.evaluate(level(v))
        clock.t += 3
    assert await open_alarms(store) == []
    await engine.evaluate(level(0.4))
    assert len(await open_alarms(store)) == 1


async def test_below_rules_and_bool_points(store: Store) -> None:
    low = ThresholdRule(point="temperature", below=2, hysteresis=1)
    smoke = ThresholdRule(point="alarm", above=0.5, severity="critical")
    engine = ThresholdEngine("x", [low, smoke], store)
    await engine.evaluate([Reading("x", "temperature", 1.5, "°C"), Reading("x", "alarm", True)])
    alarms = {a["key"]: a for a in await open_alarms(store)}
    assert set(alarms) == {"threshold:x:temperature_below", "threshold:x:alarm_above"}
    assert alarms["threshold:x:alarm_above"]["severity"] == "critical"
    await engine.evaluate([Reading("x", "temperature", 2.5, "°C"), Reading("x", "alarm", False)])
    assert set(a["key"] for a in await open_alarms(store)) == {"threshold:x:temperature_below"}
    await engine.evaluate([Reading("x", "temperature", 3.0, "°C")])
    assert await open_alarms(store) == []


async def test_an_alarm_left_open_by_a_previous_run_closes_once_normal(store: Store) -> None:
    rule = ThresholdRule(point="level", above=0.30)
    await ThresholdEngine("wl1", [rule], store).evaluate(level(0.5))
    assert len(await open_alarms(store)) == 1
    restarted = ThresholdEngine("wl1", [rule], store)
    await restarted.evaluate(level(0.1))
    assert await open_alarms(store) == []


def test_a_rule_needs_exactly_one_limit() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        ThresholdRule(point="x")
    with pytest.raises(ValidationError, match="exactly one"):
        ThresholdRule(point="x", above=1, below=0)
