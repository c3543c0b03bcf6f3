"""Diagnostics on request: the health document, as `/api/health` and `edge status` show it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.actions.base import ActionResult, Actor, audited

if TYPE_CHECKING:
    from edge.runtime import Runtime


async def request_diag(rt: Runtime, *, actor: Actor, reason: str) -> ActionResult:
    from edge.health import summary

    async def run() -> ActionResult:
        return ActionResult(True, "health attached", {"health": await summary(rt)})

    return await audited(rt, "diag", "health", actor=actor, reason=reason, run=run)
