"""Fire mode: escape doors held open until someone clears it.

Turned on and off by the fire-alarm input (a `reading` of `access.fire.input_device`),
the hub or the page, always through the audited `set_fire_mode` action. While on, every
gate with `fire_open` is held open: a driver that can hold (`hold_open`, a relay kept
closed) is told once and reminded every `hold_s`; one that can only pulse is re-opened
every `hold_s`. The state is kept in the store, so a restart in a fire keeps the doors
open. A critical alarm says so on every screen while it lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from edge.access.gates import GateError, find_gate
from edge.events import Event
from edge.payloads import ReadingPayload

if TYPE_CHECKING:
    from edge.runtime import Runtime

log = logging.getLogger(__name__)

COUNTER = "access.fire_mode"
ALARM_KEY = "access:fire_mode"


class FireControl:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cfg = rt.config.access.fire
        self.on = False
        self.since: float | None = None
        self.by: str | None = None
        self.reason = ""
        self.failures: dict[str, str] = {}
        self.input_value: bool | None = None
        self.closing: set[str] = set()  # barriers to lower once clear of vehicles
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()

    def gates(self) -> list[tuple[str, str]]:
        return [(g.id, g.device) for g in self.rt.config.access.gates if g.fire_open]

    async def restore(self) -> None:
        """At start: back in fire mode if the daemon stopped in one."""
        if (await self.rt.store.counters()).get(COUNTER):
            await self.set(True, "system:restart", "fire mode was on when the daemon stopped")

    async def set(self, on: bool, by: str, reason: str) -> bool:
        """Change the mode; False when it already was so (nothing done). Changes are taken
        one at a time, in the order asked (the input's on then off stay in that order)."""
        async with self._lock:
            return await self._set(on, by, reason)

    async def _set(self, on: bool, by: str, reason: str) -> bool:
        if on == self.on:
            return False
        self.on, self.by, self.reason = on, by, reason
        self.since = time.time()
        await self.rt.store.set_counter(COUNTER, int(on))
        if on:
            await self.rt.store.raise_alarm(
                ALARM_KEY,
                "access",
                f"FIRE MODE: {len(self.gates())} door(s) held open ({reason})",
                severity="critical",
                data={"by": by, "gates": [g for g, _ in self.gates()]},
                urgent=True,
            )
        else:
            await self.rt.store.close_alarm_by_key(ALARM_KEY, by)
        log.warning("fire mode %s by %s: %s", "ON" if on else "off", by, reason)
        await self.apply()
        self._changed.set()
        return True

    async def apply(self) -> None:
        """Tell every fire door what the mode says; a door that does not answer is noted
        (and retried at the next `hold_s`), never stops the others. When cleared, a barrier
        that can be lowered is, but never over a vehicle: its driver refuses while the loop
        input says one is there, and it is tried again every `hold_s` until it is clear."""
        for gate_id, device in self.gates():
            try:
                driver: Any = find_gate(self.rt.services, device)
                if hasattr(driver, "hold_open"):
                    await driver.hold_open(self.on, reason="fire mode", actor=self.by or "fire")
                elif self.on:
                    await driver.open_gate(reason="fire mode", actor=self.by or "fire")
                if self.on:
                    self.closing.discard(gate_id)
                elif _can_close(driver):
                    self.closing.add(gate_id)
            except (GateError, LookupError, OSError, TimeoutError) as exc:
                self._failed(gate_id, exc)
            else:
                self.failures.pop(gate_id, None)
        await self._lower()

    async def _lower(self) -> None:
        for gate_id, device in self.gates():
            if gate_id not in self.closing or self.on:
                continue
            try:
                await find_gate(self.rt.services, device).close_gate(  # type: ignore[attr-defined]
                    reason="fire mode cleared", actor=self.by or "fire"
                )
            except (GateError, LookupError, OSError, TimeoutError) as exc:
                self._failed(gate_id, exc)
            else:
                self.closing.discard(gate_id)
                self.failures.pop(gate_id, None)

    def _failed(self, gate_id: str, exc: BaseException) -> None:
        if gate_id not in self.failures:
            log.error("fire mode: gate %s: %s", gate_id, exc)
        self.failures[gate_id] = str(exc) or type(exc).__name__

    async def run(self) -> None:
        """Supervised: while on, remind the doors every `hold_s`; after, lower the barriers
        still waiting for their loop to clear."""
        while True:
            self._changed.clear()
            if self.on:
                await self.apply()
            elif self.closing:
                await self._lower()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.cfg.hold_s)

    def input_changed(self, event: Event) -> bool | None:
        """The fire-alarm input's new value from a reading event, or None when this reading
        does not change it."""
        if event.source != self.cfg.input_device:
            return None
        reading = ReadingPayload.from_data(event.data)
        for point in reading.points:
            if point.point == self.cfg.input_point and point.quality == "good":
                value = bool(point.value)
                if value != self.input_value:
                    self.input_value = value
                    return value
        return None

    def health(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "on": self.on,
            "since": self.since,
            "by": self.by,
            "reason": self.reason,
            "input": self.input_value,
            "gates": [g for g, _ in self.gates()],
        }
        if self.failures:
            doc["not_answering"] = dict(self.failures)
        if self.closing:
            doc["waiting_to_close"] = sorted(self.closing)
        if self.on:
            doc["problems"] = [f"FIRE MODE: doors held open since {time.ctime(self.since)}"]
        return doc


def _can_close(driver: Any) -> bool:
    """A barrier with a close contact (the others fall by themselves when released)."""
    config = getattr(driver, "config", None)
    return hasattr(driver, "close_gate") and getattr(config, "close_coil", None) is not None
