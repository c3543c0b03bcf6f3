"""Opening a gate: whoever asks, the same lookup, the same audit line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.access.gates import find_gate
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


async def open_gate(rt: Runtime, gate_id: str, *, actor: Actor, reason: str) -> ActionResult:
    """Pulse `gate_id` open. Refused when there is no such gate or it cannot open."""

    async def run() -> ActionResult:
        try:
            gate = find_gate(rt.services, gate_device(rt, gate_id))
        except LookupError as exc:
            raise ActionRefused(str(exc.args[0])) from None
        outcome = await gate.open_gate(reason=reason, actor=str(actor))
        return ActionResult(True, f"gate {gate_id} opened", {"gate": gate_id, **outcome})

    return await audited(rt, "gate.open", gate_id, actor=actor, reason=reason, run=run)
