"""The guard's and the site's actions on access control: answer a pass put to the guard,
fire mode, and the car park's head count. Each is audited like every action."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edge.access import guard
from edge.actions.base import ActionRefused, ActionResult, Actor, audited

if TYPE_CHECKING:
    from edge.access.reactor import Gatekeeper
    from edge.runtime import Runtime
    from edge.store.gatekeeping import PendingState


def _keeper(rt: Runtime) -> Gatekeeper:
    keeper = rt.services.get("access")
    if keeper is None:
        raise ActionRefused("access control is not running on this gateway")
    return keeper


async def _answer(
    rt: Runtime, pending_id: str, approve: bool, actor: Actor, reason: str
) -> ActionResult:
    keeper = _keeper(rt)
    state: PendingState = "approved" if approve else "denied"
    pending = await rt.store.decide_pending(
        pending_id, state, str(actor), reason, asked_after_ms=keeper.expiry.asked_until_ms()
    )
    if pending is None:
        raise ActionRefused(await _not_waiting(rt, keeper, pending_id))
    try:
        opened, error = await guard.answer_pending(keeper, pending, approve, actor, reason)
    except LookupError as exc:
        raise ActionRefused(str(exc.args[0])) from None
    data: dict[str, Any] = {"pending_id": pending_id, "gate": pending["gate"], "state": state}
    if not approve:
        return ActionResult(True, f"pass {pending_id} refused", data)
    data.update(opened=opened, gate_error=error)
    if opened:
        message = f"pass {pending_id} approved: gate {pending['gate']} opened"
        return ActionResult(True, message, data)
    return ActionResult(
        False, f"pass {pending_id} approved but gate {pending['gate']} did not open: {error}", data
    )


async def _not_waiting(rt: Runtime, keeper: Gatekeeper, pending_id: str) -> str:
    """Why a pass cannot be answered, in words a guard acts on. One whose time ran out is
    expired here and now if the expiry task has not got to it yet."""
    row = await rt.store.pending_pass(pending_id)
    if row is not None and row["state"] == "pending":
        await expire_passes(rt)
        row = await rt.store.pending_pass(pending_id)
    if row is None:
        return f"no pass {pending_id} waiting for a guard"
    if row["state"] == "expired":
        return (
            f"pass {pending_id} expired ({row['note']}): the gate was not opened; if the "
            "vehicle is still there, open the gate by hand with a reason"
        )
    return f"pass {pending_id} was already answered ({row['state']} by {row['decided_by']})"


async def expire_passes(rt: Runtime) -> list[dict[str, Any]]:
    """Expire every pass whose guard's answer time ran out: one audit line each (actor
    `system:access`, action `access.expire`) and one `access` event, `decision: expired`."""
    from edge.access.expiry import EXPIRED_BY

    expiry = _keeper(rt).expiry
    expired: list[dict[str, Any]] = []
    for asked_until_ms, note in expiry.notes():
        expired += await rt.store.expire_pending(asked_until_ms, EXPIRED_BY, note)
    for pending in expired:

        async def run(pending: dict[str, Any] = pending) -> ActionResult:
            await expiry.record(pending)
            return ActionResult(True, f"pass {pending['id']} expired", {"gate": pending["gate"]})

        await audited(
            rt,
            "access.expire",
            pending["id"],
            actor=Actor("system", "access"),
            reason=pending["note"],
            run=run,
        )
    return expired


async def approve_pass(
    rt: Runtime, pending_id: str, *, actor: Actor, reason: str = ""
) -> ActionResult:
    """Let a pass that waits for the guard through: the gate opens (ok=False when it
    did not answer). Refused when nothing with that id waits."""

    async def run() -> ActionResult:
        return await _answer(rt, pending_id, True, actor, reason)

    return await audited(rt, "access.approve", pending_id, actor=actor, reason=reason, run=run)


async def deny_pass(
    rt: Runtime, pending_id: str, *, actor: Actor, reason: str = ""
) -> ActionResult:
    """Refuse a pass that waits for the guard (recorded as an `access` event)."""

    async def run() -> ActionResult:
        return await _answer(rt, pending_id, False, actor, reason)

    return await audited(rt, "access.deny", pending_id, actor=actor, reason=reason, run=run)


async def set_fire_mode(rt: Runtime, on: bool, *, actor: Actor, reason: str) -> ActionResult:
    """Hold the fire doors open (on) or let them close again (off)."""

    async def run() -> ActionResult:
        fire = _keeper(rt).fire
        changed = await fire.set(on, str(actor), reason)
        state = "on" if on else "off"
        message = f"fire mode {state}" if changed else f"fire mode was already {state}"
        return ActionResult(True, message, {"fire_mode": fire.health(), "changed": changed})

    target = "on" if on else "off"
    return await audited(rt, "access.fire_mode", target, actor=actor, reason=reason, run=run)


async def correct_parking_count(
    rt: Runtime, car_park: str, inside: int, *, actor: Actor, reason: str
) -> ActionResult:
    """A guard's head count replaces the car park's count (kept as an adjustment beside
    the vehicles seen entering)."""

    async def run() -> ActionResult:
        if inside < 0:
            raise ActionRefused("a car park cannot hold fewer than 0 vehicles")
        parking = _keeper(rt).parking
        if car_park not in parking.parks:
            raise ActionRefused(f"no car park {car_park!r} (known: {sorted(parking.parks)})")
        doc = await parking.correct(car_park, inside, str(actor))
        return ActionResult(True, f"car park {car_park}: {doc['inside']} inside", doc)

    return await audited(
        rt,
        "parking.correct",
        car_park,
        actor=actor,
        reason=reason,
        run=run,
        detail={"inside": inside},
    )
