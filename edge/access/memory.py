"""What the gates remember between passes, across restarts: recent openings (the repeat
window) and who went in without coming out (anti-passback).

The pure rule reads it (`edge.access.decide`); the gatekeeper notes an opening (the rule's,
or one a guard approved for a pass) before it is on the wire (so a second read meanwhile
does not open twice), forgets it if the gate did not open, and keeps a done one in the store.
A restart reads the store back, so a restarted daemon neither opens again for the car it just
let in nor lets a plate or face that entered in again without an exit. Bounded: an opening is
forgotten after the repeat window, an entry after `passback_memory_s`, here and in the store,
at start and every PRUNE_EVERY_S.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from edge.access.decide import GateMemory, PassbackMemory
from edge.config.access import GateConfig

PRUNE_EVERY_S = 60.0


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _put(d: dict[Any, Any], key: Any, value: Any) -> None:
    """Put back what a key held before (None: it was absent)."""
    if value is None:
        d.pop(key, None)
    else:
        d[key] = value


class GateMemories:
    """Every gate's repeat memory and the anti-passback groups' memory."""

    def __init__(
        self,
        gate_ids: Iterable[str],
        repeat_window: timedelta,
        passback_keep: timedelta,
        tz: tzinfo,
    ) -> None:
        self.gates: dict[str, GateMemory] = {g: GateMemory() for g in gate_ids}
        self.passback = PassbackMemory(keep=passback_keep)
        self.repeat_window = repeat_window
        self.passback_keep = passback_keep
        self.tz = tz

    def opened(self, gate: GateConfig, key: str, when: datetime) -> Callable[[], None]:
        """Note an opening for `key` (a `Sighting.key`) before it is on the wire; returns
        how to forget it."""
        memory = self.gates[gate.id]
        before_open = memory.last_open.get(key)
        memory.last_open[key] = when
        group = (gate.passback_group or "", key)
        before_dir = self.passback.last.get(group)
        before_at = self.passback.at.get(group)
        if gate.passback_group:
            self.passback.last[group] = gate.direction
            self.passback.at[group] = when

        def undo() -> None:
            _put(memory.last_open, key, before_open)
            if gate.passback_group:
                _put(self.passback.last, group, before_dir)
                _put(self.passback.at, group, before_at)

        return undo

    async def keep(self, store: Any, gate: GateConfig, key: str, when: datetime) -> None:
        """The gate opened: keep it in the store for the next run."""
        at = _ms(when)
        rows = [(f"open:{gate.id}", key, "", at)]
        if gate.passback_group:
            rows.append((f"passback:{gate.passback_group}", key, gate.direction, at))
        await store.remember_passes(rows)

    async def restore(self, store: Any) -> None:
        """Forget (in the store and here) what is past its time, and take back what is
        left: at start, the previous run's memory."""
        now = datetime.now(UTC)
        rows = await store.prune_access_memory(
            _ms(now - self.repeat_window), _ms(now - self.passback_keep)
        )
        for memory in self.gates.values():
            memory.last_open = {
                k: when for k, when in memory.last_open.items() if now - when < self.repeat_window
            }
        for group, when in list(self.passback.at.items()):
            if now - when >= self.passback_keep:
                self.passback.at.pop(group, None)
                self.passback.last.pop(group, None)
        for scope, key, value, ts_ms in rows:
            when = datetime.fromtimestamp(ts_ms / 1000, self.tz)
            kind, _, name = scope.partition(":")
            if kind == "open" and name in self.gates:
                last = self.gates[name].last_open.get(key)
                if last is None or last < when:
                    self.gates[name].last_open[key] = when
            elif kind == "passback":
                last_at = self.passback.at.get((name, key))
                if last_at is None or last_at < when:
                    self.passback.last[(name, key)] = value
                    self.passback.at[(name, key)] = when

    def health(self) -> dict[str, int]:
        return {
            "repeat": sum(len(m.last_open) for m in self.gates.values()),
            "passback": len(self.passback.last),
        }
