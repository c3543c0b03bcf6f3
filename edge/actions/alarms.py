"""Acknowledging and closing alarms (raised → acknowledged → closed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.actions.base import ActionRefused, ActionResult, Actor, audited

if TYPE_CHECKING:
    from edge.runtime import Runtime


async def ack_alarm(rt: Runtime, alarm_id: str, *, actor: Actor, note: str = "") -> ActionResult:
    """Someone has seen it. Refused unless the alarm is raised, or closed by itself (a rule
    or the system cleared it) and not yet acknowledged: the console keeps those listed."""

    async def run() -> ActionResult:
        if not await rt.store.acknowledge_alarm(
            alarm_id, actor.name
        ) and not await rt.store.acknowledge_cleared(alarm_id, actor.name):
            raise ActionRefused(
                f"alarm {alarm_id} cannot be acknowledged: it does not exist or is not raised"
            )
        return ActionResult(True, "alarm acknowledged", {"alarm_id": alarm_id})

    return await audited(rt, "alarm.ack", alarm_id, actor=actor, reason=note, run=run)


async def close_alarm(rt: Runtime, alarm_id: str, *, actor: Actor, note: str = "") -> ActionResult:
    """Dealt with. Refused when the alarm does not exist or is already closed."""

    async def run() -> ActionResult:
        if not await rt.store.close_alarm(alarm_id, actor.name):
            raise ActionRefused(
                f"alarm {alarm_id} cannot be closed: it does not exist or is already closed"
            )
        return ActionResult(True, "alarm closed", {"alarm_id": alarm_id})

    return await audited(rt, "alarm.close", alarm_id, actor=actor, reason=note, run=run)
