"""A door controller that drops off the network and comes back, through the daemon with a
gate on it: the outage is visible in the health document, a resident who arrives during it
is recorded as "gate did not open" (with the critical alarm a guard sees), and when the
controller answers again the cards swiped at its readers in the meantime are fetched from
its log by index, each exactly once, and the health is green again."""

from __future__ import annotations

from typing import Any

from access_helpers import access_for, api, plate_pass, uhppote_device

from edge import health
from edge.sim.uhppote import UhppoteSimulator

RESIDENT = "粤B12345"


async def _device(d: Any, device: str) -> dict[str, Any]:
    doc = await health.summary(d.rt)
    [dev] = [x for x in doc["devices"] if x["device"] == device]
    return dev


async def _controller_events(d: Any) -> list[dict[str, Any]]:
    rows = await d.rt.store.events(kind="access", limit=1000)
    return [r["data"] for r in rows if r["data"].get("origin") == "controller"]


async def test_a_controller_outage_is_seen_and_the_swipes_meanwhile_are_fetched_once(
    make_daemon: Any, controller: UhppoteSimulator, wait_for: Any
) -> None:
    gate = {"id": "east-in", "name": "东门入口", "device": "ctl-east", "cameras": ["cam-east"]}
    device = uhppote_device(controller, listener="127.0.0.1:0")
    d = await make_daemon({"plate_allowlist": [RESIDENT], "gates": [gate]}, [device])
    await wait_for(lambda: d.rt.devices.status("ctl-east").available)
    before = controller.swipe(8165537)  # taken while the controller is up
    await wait_for(lambda: _has_indices(d, {before.index}))

    controller.silent = True
    await wait_for(lambda: _down(d), 10)
    dev = await _device(d, "ctl-east")
    assert dev["available"] is False and dev["last_error"]
    doc = await health.summary(d.rt)
    assert doc["status"] == "degraded"
    assert any("东门入口" in p and "ctl-east" in p for p in doc["problems"]), doc["problems"]
    gap = [controller.swipe(8165538 + i) for i in range(3)]  # heard by nobody

    ev = await plate_pass(d, "cam-east", RESIDENT)
    [rec] = await access_for(d, ev.id)
    assert rec["decision"] == "granted" and rec["opened"] is False
    assert "did not answer" in rec["gate_error"]
    [alarm] = await d.rt.store.alarms(state="raised")
    assert alarm["key"] == "access:gate_not_opening:east-in"
    assert "东门入口 did not open" in alarm["message"] and alarm["severity"] == "critical"
    assert controller.opened == []

    controller.silent = False
    await wait_for(lambda: d.rt.devices.status("ctl-east").available, 20)
    want = {before.index, *(e.index for e in gap)}
    await wait_for(lambda: _has_indices(d, want), 10)
    status, doc = await api(d, "GET", "/api/health")
    assert status == 200
    [dev] = [x for x in doc["devices"] if x["device"] == "ctl-east"]
    assert dev["available"] is True
    assert doc["status"] == "ok", doc["problems"]
    # Once more through a status poll: nothing fetched twice.
    await wait_for(lambda: d.rt.devices.status("ctl-east").polls >= 3)
    after = controller.swipe(8165599)
    await wait_for(lambda: _has_indices(d, {*want, after.index}), 10)
    taken = [e["controller_index"] for e in await _controller_events(d)]
    assert sorted(taken) == sorted({*want, after.index}), taken
    cards = {e["card"] for e in await _controller_events(d) if e["event_type"] == "card"}
    assert cards == {8165537, *(e.card for e in gap), 8165599}
    # The resident's pass stays recorded as not opened; the next opening clears the alarm.
    again = await plate_pass(d, "cam-east", RESIDENT)
    assert (await access_for(d, again.id))[0]["opened"] is True
    assert await d.rt.store.alarms(state="raised") == []


async def _down(d: Any) -> bool:
    return d.rt.devices.status("ctl-east").available is False


async def _has_indices(d: Any, indices: set[int]) -> bool:
    taken = {e["controller_index"] for e in await _controller_events(d)}
    return indices <= taken
