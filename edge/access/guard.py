"""What people at a gate do beside the rule: a guard answers a pass put to them, or opens a
gate by hand. Both go through the gatekeeper's opening (alarm when the gate is silent) and
leave their own `access` event; an approval also counts in the repeat and anti-passback
memory like the rule's opening."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any

from edge.access import openings
from edge.payloads import AccessPayload

if TYPE_CHECKING:
    from edge.access.reactor import Gatekeeper
    from edge.actions import Actor


async def answer_pending(
    keeper: Gatekeeper, pending: dict[str, Any], approve: bool, actor: Actor, reason: str
) -> tuple[bool | None, str | None]:
    """A guard answered a pending pass: open (approve) or record the refusal."""
    gate = keeper.gates.get(pending["gate"])
    if gate is None:
        raise LookupError(f"gate {pending['gate']!r} is no longer configured")
    decision = "granted" if approve else "denied"
    payload = AccessPayload(
        gate=gate.id,
        direction=gate.direction,
        decision=decision,
        reason=reason or ("approved by the guard" if approve else "refused by the guard"),
        plate=pending.get("plate"),
        person_id=pending.get("person"),
        actor=str(actor),
        pass_event=pending["pass_event"],
        camera=pending.get("camera"),
        rule="guard_approved" if approve else "guard_denied",
        category=pending.get("category"),
        decided_by=str(actor),
        pending_id=pending["id"],
        visitor_id=pending.get("visitor_id"),
    )
    opened: bool | None = None
    error: str | None = None
    opening = None
    if approve:
        opening = await openings.begin(keeper.rt, payload.event(f"gate.{gate.id}"))
        # Counts like the rule's opening (repeat window, anti-passback), noted before
        # it is on the wire so a second read meanwhile is not put to the guard again.
        key, when = _pending_key(pending), datetime.now(keeper.tz)
        undo = keeper.memory.opened(gate, key, when) if key is not None else None
        opened, error = await keeper.open(gate, actor, reason or "approved by the guard")
        if not opened and undo is not None:
            undo()
        if opened:
            if key is not None:
                await keeper.memory.keep(keeper.rt.store, gate, key, when)
            vehicle = pending.get("plate") or f"face:{pending.get('person')}"
            category = pending.get("category") or "unknown"
            await keeper.after_opening(gate, vehicle, category, pending.get("visitor_id"))
    keeper.stats[decision] += 1
    payload = dataclasses.replace(payload, opened=opened, gate_error=error)
    await keeper.rt.flow.emit(payload.event(f"gate.{gate.id}"), settles=opening)
    return opened, error


def _by_hand(keeper: Gatekeeper, gate_id: str, actor: Actor, reason: str) -> AccessPayload:
    gate = keeper.gates[gate_id]
    return AccessPayload(
        gate=gate.id,
        direction=gate.direction,
        decision="granted",
        reason=reason,
        actor=str(actor),
        rule="manual",
        decided_by=str(actor),
    )


async def begin_by_hand(keeper: Gatekeeper, gate_id: str, actor: Actor, reason: str) -> int | None:
    """Keep the record of an opening by hand before the gate is told (`openings`)."""
    return await openings.begin(
        keeper.rt, _by_hand(keeper, gate_id, actor, reason).event(f"gate.{gate_id}")
    )


async def opened_by_hand(
    keeper: Gatekeeper,
    gate_id: str,
    actor: Actor,
    reason: str,
    error: str | None,
    opening: int | None = None,
) -> None:
    """Someone opened a gate by hand (`actions.open_gate`, already audited): its
    `access` event (rule `manual`, who and why, the gate's answer), and the alarm if the
    gate did not answer. Tied to no pass, so no one's repeat or passback memory moves."""
    gate = keeper.gates[gate_id]
    opened = error is None
    await keeper.gate_answered(gate, opened, error)
    keeper.stats["manual"] += 1
    payload = _by_hand(keeper, gate_id, actor, reason)
    payload = dataclasses.replace(payload, opened=opened, gate_error=error)
    await keeper.rt.flow.emit(payload.event(f"gate.{gate.id}"), settles=opening)


def _pending_key(pending: dict[str, Any]) -> str | None:
    """Who a pending pass was for, as the repeat and anti-passback memory knows them (a
    pass put to the guard before the key was kept with it: its plate, if it had one)."""
    key = pending.get("key")
    if isinstance(key, str) and key:
        return None if key == "face:?" else key  # a face nobody knows is no one to remember
    plate = pending.get("plate")
    return f"plate:{plate}" if plate else None
