"""Starters for subsystems that are not per-device plugins.

Each subsystem appends `(name, starter)`; a starter receives the runtime and
spawns its own supervised tasks. Kept in one short list so start order is
readable in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from edge.runtime import Runtime

Starter = Callable[[Runtime], Awaitable[None]]

STARTERS: list[tuple[str, Starter]] = []
