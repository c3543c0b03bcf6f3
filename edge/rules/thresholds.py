"""Threshold alarms from readings: raise after a minimum duration, clear with hysteresis.

The alarm itself lives in the store (raised → acknowledged → closed, at most one
open per key), so this keeps only what it needs to decide: whether the condition
holds and since when. After a restart the first reading that is clearly normal
closes any alarm left open by the previous run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from edge.events import Reading
from edge.rules.config import ThresholdRule

log = logging.getLogger(__name__)

CLOSED_BY = "rule"


class AlarmSink(Protocol):
    async def raise_alarm(
        self,
        key: str,
        source: str,
        message: str,
        severity: str = "warning",
        data: dict[str, Any] | None = None,
    ) -> Any: ...

    async def close_alarm_by_key(self, key: str, who: str) -> bool: ...


@dataclass
class _State:
    active: bool | None = None  # None: not known since start
    since: float | None = None  # when the condition started holding


def alarm_key(device: str, rule: ThresholdRule) -> str:
    return f"threshold:{device}:{rule.key_name}"


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None


class ThresholdEngine:
    def __init__(
        self,
        device: str,
        rules: Iterable[ThresholdRule],
        sink: AlarmSink,
        *,
        label: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = device
        self.label = label or device
        self.rules = list(rules)
        self.sink = sink
        self.clock = clock
        self._state = {id(r): _State() for r in self.rules}

    def active(self, rule: ThresholdRule) -> bool:
        return bool(self._state[id(rule)].active)

    async def evaluate(self, readings: Iterable[Reading]) -> None:
        by_point = {r.point: r for r in readings}
        now = self.clock()
        for rule in self.rules:
            reading = by_point.get(rule.point)
            if reading is None:
                continue
            value = _number(reading.value)
            if value is None:
                continue
            await self._step(rule, value, reading.unit, now)

    async def _step(self, rule: ThresholdRule, value: float, unit: str, now: float) -> None:
        st = self._state[id(rule)]
        if rule.above is not None:
            limit = rule.above
            tripped = value > limit
            normal = value <= limit - rule.hysteresis
        else:
            assert rule.below is not None
            limit = rule.below
            tripped = value < limit
            normal = value >= limit + rule.hysteresis
        key = alarm_key(self.device, rule)
        if st.active:
            if normal:
                st.active, st.since = False, None
                log.info("%s: %s back to %g%s, alarm cleared", self.label, rule.point, value, unit)
                await self.sink.close_alarm_by_key(key, CLOSED_BY)
            return
        if not tripped:
            st.since = None
            if normal and st.active is None:
                await self.sink.close_alarm_by_key(key, CLOSED_BY)  # left open by a previous run
                st.active = False
            return
        if st.since is None:
            st.since = now
        if now - st.since < rule.min_duration_s:
            return
        st.active = True
        word = "above" if rule.above is not None else "below"
        message = (
            rule.message or f"{self.label}: {rule.point} {value:g}{unit} {word} {limit:g}{unit}"
        )
        log.warning("alarm %s: %s", key, message)
        await self.sink.raise_alarm(
            key,
            self.device,
            message,
            rule.severity,
            {
                "device": self.device,
                "point": rule.point,
                "value": value,
                "unit": unit,
                word: limit,
                "hysteresis": rule.hysteresis,
                "min_duration_s": rule.min_duration_s,
            },
        )
