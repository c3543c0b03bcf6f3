"""The rules as flow reactors: they see every committed event once, in commit order.

Thresholds evaluate each committed `reading` event of a device that has rules;
the watchlist reactor raises a critical alarm for each face pass matched to
the watchlist gallery. Both raise alarms through the store, whose alarm
transitions are events again (seen by the reactors after them, and the hub).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.events import Event, EventKind, Reading
from edge.payloads import FacePayload, ReadingPayload
from edge.rules.thresholds import ThresholdEngine

if TYPE_CHECKING:
    from edge.runtime import Runtime


class Thresholds:
    """One reactor for every device's threshold engine (by device id)."""

    def __init__(self) -> None:
        self.engines: dict[str, ThresholdEngine] = {}

    def add(self, engine: ThresholdEngine) -> None:
        if engine.rules:
            self.engines[engine.device] = engine

    async def __call__(self, event: Event) -> None:
        engine = self.engines.get(event.source)
        if engine is None:
            return
        p = ReadingPayload.from_data(event.data)
        await engine.evaluate(
            Reading(p.device, v.point, v.value, v.unit, event.ts, v.quality) for v in p.points
        )


class WatchlistAlarm:
    """A face pass matched to the watchlist raises one open alarm per person and camera."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def __call__(self, event: Event) -> None:
        face = FacePayload.from_data(event.data)
        m = face.match
        if m.result != "watchlist":
            return
        camera = face.camera or event.source
        cam = next((c for c in self.rt.config.cameras if c.id == camera), None)
        where = (cam.name if cam is not None else "") or camera
        await self.rt.store.raise_alarm(
            f"watchlist:{m.person_id}:{camera}",
            event.source,
            f"布控人员 watchlist face: {m.name} at {where}",
            severity="critical",
            data={"event_id": event.id, **m.as_data()},
        )


def install(rt: Runtime) -> None:
    """The rules' reactors, in the order they run: thresholds, then the watchlist."""
    rt.flow.add_reactor("rules.thresholds", rt.thresholds, kinds={EventKind.READING})
    rt.flow.add_reactor("rules.watchlist", WatchlistAlarm(rt), kinds={EventKind.FACE})
