"""Openings kept under way, so a daemon that dies while a gate opens still leaves a record.

A gate opens before its `access` event can be committed (the event says whether it
opened). A daemon killed between the two (a crash, the watchdog, a power cut with
`storage.synchronous: FULL`) would leave a car let in with no trace: no event, no hub
record, and for a guard's opening no audit row. So the event that would record the
opening is kept first (`store.begin_opening`), the gate is told, and the event that
records the outcome removes the kept row in its own transaction. At start, a row still
there is an opening whose outcome nobody knows: it is recorded as such (`opened` unset,
`gate_error` saying why), with an audit row, never as opened or refused.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from edge.events import Event
from edge.payloads import AccessPayload, PayloadError

if TYPE_CHECKING:
    from edge.runtime import Runtime

log = logging.getLogger(__name__)

UNKNOWN = "the daemon stopped while the gate was opening: whether it opened is not known"


async def begin(rt: Runtime, event: Event) -> int | None:
    """Keep `event` (the record of an opening about to be asked for). A store that cannot
    keep it (a full disk) does not keep the gate shut: the opening goes ahead, unguarded,
    and says so in the log."""
    try:
        return await rt.store.begin_opening(event)
    except Exception as exc:
        log.warning("access: opening of %s not kept before it starts: %s", event.source, exc)
        return None


async def recover(rt: Runtime) -> int:
    """Record every opening the daemon died during; returns how many."""
    left = await rt.store.openings_under_way()
    for opening, event in left:
        try:
            payload = AccessPayload.from_data(event.data)
        except PayloadError:
            payload = AccessPayload(extra=dict(event.data))
        payload = dataclasses.replace(payload, opened=None, gate_error=UNKNOWN)
        gate = payload.gate or event.source
        log.warning(
            "access: gate %s was opening for %s when the daemon stopped; recorded with its "
            "outcome unknown",
            gate,
            payload.actor or "?",
        )
        await rt.store.audit(
            payload.actor or "system:access",
            "gate.open",
            gate,
            {"reason": payload.reason or "", "outcome": "unknown", "message": UNKNOWN},
        )
        await rt.flow.emit(dataclasses.replace(event, data=payload.as_data()), settles=opening)
    return len(left)
