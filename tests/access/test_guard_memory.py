"""An opening a guard approves counts like one the rule made: the same car read again within
the repeat window is not put to the guard a second time, a visitor let in by the guard is
inside for anti-passback at every gate of its group, and both survive a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from access_helpers import access_for, api, plate_pass, uhppote_device

from edge.sim.uhppote import UhppoteSimulator

VISITOR = "湘A11111"


def access(now: datetime) -> dict[str, Any]:
    gates = [
        # The east gate is guarded: every car, even a valid visitor, is put to the guard.
        {"id": "east-in", "device": "ctl-east", "cameras": ["cam-east"], "mode": "manual"},
        {"id": "west-in", "device": "ctl-east", "cameras": ["cam-west"]},
    ]
    for gate in gates:
        gate.update(direction="in", passback_group="estate")
    visitor = {
        "id": "v-1",
        "plate": VISITOR,
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(hours=3)).isoformat(),
        "entries": 5,
    }
    return {
        "gates": gates,
        "visitors": [visitor],
        "repeat_window_s": 60,
        "passback_memory_s": 3600,
    }


async def test_an_opening_the_guard_approved_counts_for_repeat_and_passback_across_a_restart(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    now = datetime.now(UTC)
    d = await make_daemon(access(now), [uhppote_device(controller)])
    asked = await plate_pass(d, "cam-east", VISITOR, ts=now)
    [rec] = await access_for(d, asked.id)
    assert rec["decision"] == "pending" and rec["category"] == "visitor"
    assert rec["visitor_id"] == "v-1"  # the guard's opening uses one of its entries
    status, reply = await api(
        d, "POST", f"/api/access/pending/{rec['pending_id']}/approve", {"by": "li"}
    )
    assert status == 200 and reply["ok"], reply
    assert controller.opened == [1]

    # The same car still at the barrier a few seconds later: not a second question.
    reread = await plate_pass(d, "cam-east", VISITOR, ts=now + timedelta(seconds=5))
    [rec] = await access_for(d, reread.id)
    assert rec["decision"] == "ignored" and rec["rule"] == "repeat"
    # In through the east gate, never out: the west gate of the same group refuses it.
    west = await plate_pass(d, "cam-west", VISITOR, ts=now + timedelta(minutes=2))
    [rec] = await access_for(d, west.id)
    assert rec["decision"] == "denied" and rec["rule"] == "anti_passback"
    await d.stop()

    d = await make_daemon(access(now), [uhppote_device(controller)])
    reread = await plate_pass(d, "cam-east", VISITOR, ts=now + timedelta(seconds=10))
    [rec] = await access_for(d, reread.id)
    assert rec["decision"] == "ignored" and rec["rule"] == "repeat"
    west = await plate_pass(d, "cam-west", VISITOR, ts=now + timedelta(minutes=5))
    [rec] = await access_for(d, west.id)
    assert rec["decision"] == "denied" and rec["rule"] == "anti_passback"
    assert controller.opened == [1]
    assert await d.rt.store.visitor_entries_used() == {"v-1": 1}


async def test_a_stranger_the_guard_let_in_is_not_asked_about_again_at_once(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    gate = {"id": "east-in", "device": "ctl-east", "cameras": ["cam-east"], "mode": "ask"}
    d = await make_daemon({"gates": [gate], "repeat_window_s": 60}, [uhppote_device(controller)])
    now = datetime.now(UTC)
    asked = await plate_pass(d, "cam-east", "苏A00001", ts=now)
    [rec] = await access_for(d, asked.id)
    assert (rec["decision"], rec["category"]) == ("pending", "unknown")
    status, reply = await api(
        d, "POST", f"/api/access/pending/{rec['pending_id']}/approve", {"by": "li"}
    )
    assert status == 200 and reply["ok"], reply
    # The reader sees the car again as it drives through: no second question for the guard.
    reread = await plate_pass(d, "cam-east", "苏A00001", ts=now + timedelta(seconds=8))
    [rec] = await access_for(d, reread.id)
    assert (rec["decision"], rec["rule"]) == ("ignored", "repeat")
    status, body = await api(d, "GET", "/api/access/pending")
    assert body["pending"] == []
    assert controller.opened == [1]
