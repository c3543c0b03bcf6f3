"""Car park occupancy (智能停车) from the gates' passes that opened.

An in gate's opening counts a vehicle in, an out gate's counts it out, by plate. The count
is kept as rows (who is inside, since when, on which pass) so it survives a restart, and
a guard's head count is kept beside them as an adjustment. An exit never seen entering is
counted apart and never drives the count below zero; a second entry re-times the first.
Each change goes out as a `reading` of the device `parking.<id>` (points `inside`, `free`,
`resident`, `visitor`, `unknown`), so the hub charts it like a meter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from edge.config.access import CarPark
from edge.events import Reading, utcnow

if TYPE_CHECKING:
    from edge.runtime import Runtime

log = logging.getLogger(__name__)


def parking_device(car_park: str) -> str:
    return f"parking.{car_park}"


class Parking:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.parks: dict[str, CarPark] = {p.id: p for p in rt.config.access.car_parks}
        self.latest: dict[str, dict[str, Any]] = {}
        self.overstays = 0

    async def moved(
        self,
        car_park: str,
        direction: Literal["in", "out"],
        vehicle: str,
        category: str,
        visitor_id: str | None = None,
        valid_until: datetime | None = None,
    ) -> dict[str, Any]:
        until_ms = int(valid_until.timestamp() * 1000) if valid_until is not None else None
        move = await self.rt.store.park_move(
            car_park, direction, vehicle, category, visitor_id, until_ms
        )
        if not move.matched:
            what = "left without being seen entering" if direction == "out" else "entered twice"
            log.info("car park %s: %s %s (counted apart)", car_park, vehicle, what)
        return await self.publish(car_park)

    async def correct(self, car_park: str, inside: int, by: str) -> dict[str, Any]:
        if car_park not in self.parks:
            raise KeyError(car_park)
        await self.rt.store.correct_parking(car_park, inside, by)
        return await self.publish(car_park)

    async def publish(self, car_park: str) -> dict[str, Any]:
        """Read the count back, keep it for health, and send it as readings."""
        doc = await self.state(car_park)
        ts = utcnow()
        device = parking_device(car_park)
        await self.rt.flow.emit_readings(
            device,
            [
                Reading(device, point, doc[point], "", ts)
                for point in ("inside", "free", "resident", "visitor", "unknown")
            ],
        )
        return doc

    async def state(self, car_park: str) -> dict[str, Any]:
        park = self.parks[car_park]
        doc = await self.rt.store.parking(car_park)
        doc = {
            "car_park": car_park,
            "name": park.name,
            "capacity": park.capacity,
            **doc,
            "free": max(park.capacity - doc["inside"], 0),
        }
        self.latest[car_park] = doc
        return doc

    async def check_overstays(self) -> int:
        """Raise one alarm per visitor vehicle still inside after its pass ended."""
        raised = 0
        now_ms = int(time.time() * 1000)
        for car_park, park in self.parks.items():
            for row in await self.rt.store.parking_overstays(car_park, now_ms):
                vehicle = row["vehicle"]
                await self.rt.store.raise_alarm(
                    f"parking:overstay:{car_park}:{vehicle}",
                    parking_device(car_park),
                    f"visitor {vehicle} still inside {park.name or car_park} after its pass "
                    f"{row['visitor_id']} ended",
                    severity="warning",
                    data={"car_park": car_park, "vehicle": vehicle, "pass": row["visitor_id"]},
                )
                await self.rt.store.mark_overstay(car_park, vehicle)
                raised += 1
        self.overstays += raised
        return raised

    async def run(self) -> None:
        """Supervised: publish the counts once at start, then look for overstays."""
        for car_park in self.parks:
            await self.publish(car_park)
        every = min((p.overstay_check_s for p in self.parks.values()), default=60.0)
        while True:
            await self.check_overstays()
            await asyncio.sleep(every)

    def health(self) -> dict[str, Any]:
        return {"car_parks": dict(self.latest), "overstay_alarms": self.overstays}
