"""Subsystems that are not per-device plugins, in start order.

Each starter receives the runtime and spawns its own supervised tasks. The
heavy imports (OpenCV, onnxruntime) happen inside, so a gateway without
cameras never pays for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from edge.runtime import Runtime

Starter = Callable[[Runtime], Awaitable[None]]


async def start_access(rt: Runtime) -> None:
    from edge.access import start

    await start(rt)


async def start_gates(rt: Runtime) -> None:
    """The gatekeeper on the flow (after the lists are seeded, before the cameras pass)."""
    from edge.access.reactor import start

    await start(rt)


async def start_vision(rt: Runtime) -> None:
    from edge.scene.left_open import close_left_open

    await close_left_open(rt)  # before any camera worker: the rules start afresh
    if not any(c.enabled for c in rt.config.cameras):
        return
    from edge.vision.service import start

    await start(rt)


STARTERS: list[tuple[str, Starter]] = [
    ("access", start_access),
    ("gates", start_gates),
    ("vision", start_vision),
]
