"""Opening a gate: whoever asks, the same lookup, the same audit line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.access import guard
from edge.access.gates import GateError, find_gate
from edge.actions.base import ActionRefused, ActionResult, Actor, audited

if TYPE_CHECKING:
    from edge.runtime import Runtime


def gate_device(rt: Runtime, gate_id: str) -> str:
    """The device that drives `gate_id`: from `access.gates`, else a gate device named
    directly (a door controller used without a gate entry)."""
    for gate in rt.config.access.gates:
        if gate.id == gate_id:
            return gate.device
    return gate_id


async def open_gate(
    rt: Runtime, gate_id: str, *, actor: Actor, reason: str, record: bool = True
) -> ActionResult:
    """Pulse `gate_id` open. Refused when there is no such gate or it cannot open.

    Someone opening a gate of `access.gates` by hand (the page, `edge gate open`, the hub)
    also leaves an `access` event, opened or not, like a pass does: the gate's history and
    the hub see every opening, not only the rule's. The gatekeeper, which records its own
    decision for the pass, asks with `record=False`."""

    async def run() -> ActionResult:
        try:
            gate = find_gate(rt.services, gate_device(rt, gate_id))
        except LookupError as exc:
            raise ActionRefused(str(exc.args[0])) from None
        try:
            outcome = await gate.open_gate(reason=reason, actor=str(actor))
        except GateError as exc:  # silent, refusing, stuck: the guard is told why, as is
            raise ActionRefused(str(exc)) from None
        return ActionResult(True, f"gate {gate_id} opened", {"gate": gate_id, **outcome})

    keeper = rt.services.get("access") if record else None
    if keeper is None or gate_id not in keeper.gates:
        return await audited(rt, "gate.open", gate_id, actor=actor, reason=reason, run=run)
    opening = await guard.begin_by_hand(keeper, gate_id, actor, reason)
    try:
        result = await audited(rt, "gate.open", gate_id, actor=actor, reason=reason, run=run)
    except Exception as exc:
        error = str(exc) or type(exc).__name__
        await guard.opened_by_hand(keeper, gate_id, actor, reason, error, opening)
        raise
    await guard.opened_by_hand(keeper, gate_id, actor, reason, None, opening)
    return result


async def hold_gate(
    rt: Runtime, gate_id: str, on: bool, *, actor: Actor, reason: str
) -> ActionResult:
    """Hold `gate_id`'s relay closed (on) or release it: a lift kept open while an e-bike
    is inside, for instance. Refused when the gate has no hold (a pulse-only opener)."""

    async def run() -> ActionResult:
        try:
            gate = find_gate(rt.services, gate_id)
        except LookupError as exc:
            raise ActionRefused(str(exc.args[0])) from None
        hold = getattr(gate, "hold_open", None)
        if hold is None:
            raise ActionRefused(f"gate {gate_id} cannot be held open")
        outcome = await hold(on, reason=reason, actor=str(actor))
        word = "held" if on else "released"
        return ActionResult(True, f"gate {gate_id} {word}", {"gate": gate_id, **outcome})

    return await audited(
        rt, "gate.hold" if on else "gate.release", gate_id, actor=actor, reason=reason, run=run
    )
