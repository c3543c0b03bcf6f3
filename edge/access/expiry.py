"""Passes put to the guard run out of time.

The car that asked has usually turned away when nobody answered within
`access.pending_expiry_s`, and a barrier that opened for it minutes later would let in
whoever is there then. So each pass expires when its time is up: the store moves it to
`expired` once (a guard's click racing it loses cleanly), `actions.expire_passes` audits it
as `system:access`, and one more `access` event (`decision: expired`) tells the console and
the hub. A pass whose time ran out while the daemon was stopped is expired at start, saying
so; one that still has time is waiting again, answerable, expiring at its original time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from edge.config.access import GateConfig
from edge.payloads import AccessPayload

if TYPE_CHECKING:
    from edge.runtime import Runtime

EXPIRED_BY = "system:access"


def _now_ms() -> int:
    return int(time.time() * 1000)


class PendingExpiry:
    """The expiry of the passes waiting for a guard (the gatekeeper's `expiry`)."""

    def __init__(self, rt: Runtime, gates: dict[str, GateConfig], expiry_s: float) -> None:
        self.rt = rt
        self.gates = gates
        self.expiry_s = expiry_s
        self.expiry_ms = round(expiry_s * 1000)
        self.started_ms = _now_ms()
        self.asked = asyncio.Event()
        """Set when a pass is put to the guard: the sleeper looks at the oldest again."""
        self.expired = 0

    def asked_until_ms(self) -> int:
        """Passes put to the guard at or before this time have run out of time."""
        return _now_ms() - self.expiry_ms

    def notes(self) -> list[tuple[int, str]]:
        """(asked at or before, why) for the passes due now: first those whose time ran out
        while the daemon was stopped, then those that ran out while it watched."""
        limit = f"{self.expiry_s:g}s"
        due = self.asked_until_ms()
        return [
            (
                min(due, self.started_ms - self.expiry_ms),
                f"not answered within {limit}: expired while the daemon was stopped",
            ),
            (due, f"not answered within {limit}: expired (the vehicle has likely left)"),
        ]

    async def run(self) -> None:
        """Supervised: expire each pass when its time runs out (at start, those whose time
        ran out while the daemon was stopped). Sleeps until the oldest one is due, woken
        early when a new one is put to the guard."""
        from edge import actions

        while True:
            self.asked.clear()
            oldest = await self.rt.store.oldest_pending_ms()
            if oldest is None:
                await self.asked.wait()
                continue
            due_s = (oldest + self.expiry_ms - _now_ms()) / 1000
            if due_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.asked.wait(), due_s)
                continue
            await actions.expire_passes(self.rt)

    async def record(self, pending: dict[str, Any]) -> None:
        """An expired pass's last `access` event (seen like every other answer)."""
        gate = self.gates.get(pending["gate"])
        self.expired += 1
        payload = AccessPayload(
            gate=pending["gate"],
            direction=gate.direction if gate is not None else pending.get("direction"),
            decision="expired",
            reason=pending.get("note") or "expired",
            plate=pending.get("plate"),
            person_id=pending.get("person"),
            actor=EXPIRED_BY,
            pass_event=pending["pass_event"],
            camera=pending.get("camera"),
            rule="pending_expired",
            category=pending.get("category"),
            decided_by=EXPIRED_BY,
            pending_id=pending["id"],
            visitor_id=pending.get("visitor_id"),
        )
        await self.rt.flow.emit(payload.event(f"gate.{pending['gate']}"))
