"""Scene alarms no camera will ever clear, closed at start.

A zone-rule alarm (key `scene:<camera>:<rule>`) is cleared by the rule that raised it. When
its camera is removed or disabled, or loses its zone rules, no worker watches it again and
the guards would carry the alarm for good. A camera that still has zone rules closes its
own left-over alarms when its worker starts (`SceneActions.close_stale`); a falling
object's alarm is the guards' to close. Light on purpose: it runs on gateways without
cameras too, before (and without) the vision imports.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.runtime import Runtime

log = logging.getLogger(__name__)

STALE_BY = "system:scene"
"""Who closed a scene alarm the previous run left open."""


async def close_orphaned(rt: Runtime) -> int:
    """Close the zone-rule alarms of cameras that have no zone rule now; how many."""
    watched = {
        c.id
        for c in rt.config.cameras
        if c.enabled and c.pipelines and any(r.type != "falling_object" for r in c.rules)
    }
    closed = 0
    for state in ("raised", "acknowledged"):
        for a in await rt.store.alarms(state=state, limit=10_000):
            parts = a["key"].split(":", 2)
            if parts[0] != "scene" or len(parts) < 3 or parts[1] in watched:
                continue
            if a["data"].get("type") != "falling_object":
                closed += await rt.store.close_alarm(a["id"], STALE_BY)
    if closed:
        log.info("scene rules: closed %d alarm(s) of cameras no longer watched", closed)
    return closed
