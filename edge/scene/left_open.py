"""Zone-rule alarms a previous run left open, closed once at start.

A zone-rule alarm (key `scene:<camera>:<rule>`) is cleared only by the rule that raised
it. After a restart the rules watch afresh: the car may have left while the daemon was
down, the camera may be gone from the config or have lost its rules, and nothing would
ever clear those alarms, so the guards would carry them for good. One sweep before any
camera worker starts closes them all (a condition that still stands raises again after
its `min_s`); a worker the supervisor restarts later keeps its rules' state and the alarms
they hold. A falling object's alarm is the guards' to close. Light on purpose: it runs on
gateways without cameras too, without the vision imports.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.runtime import Runtime

log = logging.getLogger(__name__)

STALE_BY = "system:scene"
"""Who closed a scene alarm the previous run left open."""


async def close_left_open(rt: Runtime) -> int:
    """Close every zone-rule alarm still open; how many."""
    closed = 0
    for state in ("raised", "acknowledged"):
        for a in await rt.store.alarms(state=state, limit=10_000):
            if a["key"].startswith("scene:") and a["data"].get("type") != "falling_object":
                closed += await rt.store.close_alarm(a["id"], STALE_BY)
    if closed:
        log.info("scene rules: closed %d alarm(s) a previous run left open", closed)
    return closed
