"""What every action shares: who acts, what came of it, and the audit line it leaves."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from edge.runtime import Runtime

log = logging.getLogger(__name__)

ActorKind = Literal["user", "hub", "cli", "rule", "gb28181", "api", "system"]
ACTOR_KINDS: tuple[str, ...] = get_args(ActorKind)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked: a guard on the page (`user`), a hub operator (`hub`), a maintainer at
    the box (`cli`), a rule, the GB/T 28181 platform, a local system (`api`), the daemon."""

    kind: ActorKind
    name: str

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"actor kind {self.kind!r} is not one of {', '.join(ACTOR_KINDS)}")
        if not self.name.strip():
            raise ValueError("an actor needs a name")

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    message: str
    data: dict[str, Any] = field(default_factory=dict)


class ActionRefused(Exception):
    """Not done, for a reason the caller can show as is (no such gate, alarm already closed,
    a malformed list entry). Audited as `refused` before it is raised."""


async def audited(
    rt: Runtime,
    action: str,
    target: str,
    *,
    actor: Actor,
    reason: str,
    run: Callable[[], Awaitable[ActionResult]],
    detail: dict[str, Any] | None = None,
) -> ActionResult:
    """Run an action and write one audit row, whatever the outcome (done, refused, failed)."""
    base = {"reason": reason, **(detail or {})}
    try:
        result = await run()
    except ActionRefused as exc:
        await rt.store.audit(
            str(actor), action, target, {**base, "outcome": "refused", "message": str(exc)}
        )
        raise
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        await rt.store.audit(
            str(actor), action, target, {**base, "outcome": "failed", "message": message}
        )
        raise
    await rt.store.audit(
        str(actor),
        action,
        target,
        {**base, "outcome": "done" if result.ok else "failed", "message": result.message},
    )
    return result
