"""Who may pass: the plate allowlist and blocklist and the resident list.

The lists live in the store (so a restart keeps what the hub last sent); the
config's `access:` section seeds them once, and the hub's `cmd/allowlist`, the CLI and the
API replace or patch them. The gatekeeper (`edge.access.reactor`) decides each pass at a
gate's cameras.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from edge.access.gates import GateOpener, find_gate
from edge.access.lists import LISTS, AccessLists, ListChange, ListResult, normalize_plate

if TYPE_CHECKING:
    from edge.runtime import Runtime

log = logging.getLogger(__name__)


async def start(rt: Runtime) -> None:
    """Daemon start-up step: seed the lists from `access:` the first time only."""
    seeded = await AccessLists(rt.store).seed(rt.config.access)
    if seeded:
        log.info("access lists seeded from the config: %s", ", ".join(seeded))


__all__ = [
    "LISTS",
    "AccessLists",
    "GateOpener",
    "ListChange",
    "ListResult",
    "find_gate",
    "normalize_plate",
    "start",
]
