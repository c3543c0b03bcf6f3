"""Car park counts through a day of passes at an in and an out barrier (two doors of one
simulated UHPPOTE controller), driven by committed plate events as the cameras commit
them: residents and a visitor in and out, an exit never seen entering, an entry seen
twice, a visitor staying past their pass, and a guard's correction from the CLI."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from access_helpers import access_for, api, plate_pass, uhppote_device

from edge.cli.main import main as cli
from edge.sim.uhppote import UhppoteSimulator

RESIDENTS = ["粤B10001", "粤B10002", "粤B10003"]


def site(now: datetime) -> dict[str, Any]:
    return {
        "plate_allowlist": RESIDENTS,
        "repeat_window_s": 30,
        "visitors": [
            {
                "id": "v-7",
                "plate": "湘A77777",
                "host": "3-201",
                "valid_from": (now - timedelta(hours=10)).isoformat(),
                "valid_until": (now - timedelta(hours=1)).isoformat(),
                "entries": 2,
            }
        ],
        "car_parks": [{"id": "P1", "name": "地下车库", "capacity": 4, "overstay_check_s": 3600}],
        "gates": [
            {"id": "p-in", "device": "door-in", "cameras": ["cam-in"], "car_park": "P1"},
            {
                "id": "p-out",
                "device": "door-out",
                "cameras": ["cam-out"],
                "direction": "out",
                "car_park": "P1",
            },
        ],
    }


async def test_a_day_of_passes_counts_the_car_park(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    now = datetime.now(UTC)
    d = await make_daemon(
        site(now),
        [uhppote_device(controller, "door-in"), uhppote_device(controller, "door-out", door=2)],
    )
    day = now - timedelta(hours=9)  # the simulated day starts at 07:00-ish, 9 hours ago
    steps = [
        (0, "in", "粤B10001"),
        (10, "in", "粤B10002"),
        (25, "in", "湘A77777"),  # the visitor, on a valid pass
        (60, "out", "粤B10001"),
        (90, "out", "粤B10003"),  # never seen entering: counted apart, not below zero
        (120, "in", "粤B10002"),  # seen entering twice (the exit was missed)
        (300, "in", "粤B10001"),
    ]
    for minute, where, plate in steps:
        ev = await plate_pass(d, f"cam-{where}", plate, ts=day + timedelta(minutes=minute))
        [rec] = await access_for(d, ev.id)
        assert rec["opened"] is True, (minute, plate, rec)
    assert controller.opened == [1, 1, 1, 2, 2, 1, 1]
    keeper = d.rt.services["access"]
    p1 = await keeper.parking.state("P1")
    assert (p1["resident"], p1["visitor"], p1["unknown"]) == (2, 1, 0)
    assert (p1["inside"], p1["free"], p1["capacity"]) == (3, 1, 4)
    assert (p1["unmatched_exits"], p1["double_entries"]) == (1, 1)

    # The hub gets it as readings of the device parking.P1.
    readings = await d.rt.store.events(kind="reading", source="parking.P1")
    latest = {p["point"]: p["value"] for p in readings[0]["data"]["points"]}
    assert latest == {"inside": 3, "free": 1, "resident": 2, "visitor": 1, "unknown": 0}

    # The visitor's pass ended an hour ago and the car is still inside: one alarm.
    assert await keeper.parking.check_overstays() == 1
    assert await keeper.parking.check_overstays() == 0
    [alarm] = await d.rt.store.alarms(state="raised")
    assert "湘A77777" in alarm["message"] and "v-7" in alarm["message"]

    # A guard counts 5 cars (one came in behind another): the CLI corrects it, audited.
    url = f"http://127.0.0.1:{d.web.port}"
    argv = ["access", "parking", "P1", "--set", "5", "--reason", "head count", "--url", url,
            "--token-file", str(d.web.token_file)]  # fmt: skip
    assert await asyncio.to_thread(cli, [*argv, "--by", "zhao"]) == 0
    p1 = await keeper.parking.state("P1")
    assert (p1["inside"], p1["free"], p1["adjust"]) == (5, 0, 2)
    [audit] = await d.rt.store.audit_entries(action="parking.correct")
    assert audit["actor"] == "cli:zhao" and audit["detail"]["inside"] == 5

    # Exits never seen entering first use up the correction, then are only counted.
    for i, plate in enumerate(["粤C00001", "粤C00002", "粤C00003"]):
        await d.rt.store.park_move("P1", "out", plate, "unknown")
        assert (await keeper.parking.state("P1"))["inside"] == [4, 3, 3][i]
    for plate in ["粤B10001", "粤B10002", "湘A77777", "粤B10001"]:
        await keeper.parking.moved("P1", "out", plate, "resident")
    p1 = await keeper.parking.state("P1")
    assert p1["inside"] == 0 and p1["free"] == 4  # never negative

    status, body = await api(d, "GET", "/api/access/parking")
    assert status == 200 and body["car_parks"][0]["inside"] == 0
    status, body = await api(
        d, "POST", "/api/access/parking/P9/correct", {"by": "zhao", "inside": 1, "reason": "x"}
    )
    assert status == 409 and "no car park" in body["error"]
