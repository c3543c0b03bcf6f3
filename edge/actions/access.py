"""Changing the access lists: all changes in one transaction, or none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.access.lists import AccessLists, ListChange
from edge.actions.base import ActionRefused, ActionResult, Actor, audited

if TYPE_CHECKING:
    from edge.runtime import Runtime


async def change_access_lists(
    rt: Runtime, changes: list[ListChange], *, actor: Actor, reason: str
) -> ActionResult:
    """Replace or patch lists; a malformed entry refuses the whole change, naming it."""

    async def run() -> ActionResult:
        try:
            results = await AccessLists(rt.store).apply(changes, str(actor))
        except ValueError as exc:
            raise ActionRefused(str(exc)) from None
        return ActionResult(True, "access lists changed", {"lists": [r.as_dict() for r in results]})

    summary = [
        {
            "list": c.name,
            "mode": c.mode,
            "entries": len(c.entries),
            "add": len(c.add),
            "remove": len(c.remove),
        }
        for c in changes
    ]
    target = ",".join(c.name for c in changes)
    return await audited(
        rt,
        "access.change",
        target,
        actor=actor,
        reason=reason,
        run=run,
        detail={"changes": summary},
    )
