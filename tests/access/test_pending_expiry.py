"""A pass put to the guard does not wait for ever: the car that asked has usually gone when
nobody answered within `pending_expiry_s`. The pass is recorded as expired (audited as the
daemon, one more `access` event for the console and the hub) and a late approve is refused,
so the barrier never opens for a car that left. A restart keeps a pass that still has time
and expires the ones whose time ran out while the daemon was stopped."""

from __future__ import annotations

from typing import Any

from access_helpers import access_for, api, plate_pass, uhppote_device

from edge.sim.uhppote import UhppoteSimulator

STRANGER = "苏A00001"


def ask_gate(expiry_s: float) -> dict[str, Any]:
    gate = {"id": "east-in", "device": "ctl-east", "cameras": ["cam-east"], "mode": "ask"}
    return {"gates": [gate], "pending_expiry_s": expiry_s}


async def test_an_unanswered_pass_expires_and_a_late_approve_does_not_open(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(ask_gate(0.5), [uhppote_device(controller)])
    ev = await plate_pass(d, "cam-east", STRANGER)
    asked, expired = await access_for(d, ev.id, 2)
    assert asked["decision"] == "pending"
    assert expired["decision"] == "expired" and expired["rule"] == "pending_expired"
    assert expired["pending_id"] == asked["pending_id"] and expired["plate"] == STRANGER
    assert expired["decided_by"] == "system:access" and "opened" not in expired
    assert "not answered within 0.5s" in expired["reason"]
    status, body = await api(d, "GET", "/api/access/pending")
    assert body["pending"] == []
    status, body = await api(d, "GET", "/api/access/pending?state=expired")
    assert [p["id"] for p in body["pending"]] == [asked["pending_id"]]
    assert body["pending"][0]["decided_by"] == "system:access"

    status, reply = await api(
        d, "POST", f"/api/access/pending/{asked['pending_id']}/approve", {"by": "li"}
    )
    assert status == 409 and "expired" in reply["error"] and "not opened" in reply["error"]
    assert controller.opened == []
    [expire_audit] = await d.rt.store.audit_entries(action="access.expire")
    assert expire_audit["actor"] == "system:access"
    assert expire_audit["target"] == asked["pending_id"]
    [approve_audit] = await d.rt.store.audit_entries(action="access.approve")
    assert approve_audit["detail"]["outcome"] == "refused"
    status, doc = await api(d, "GET", "/api/access")
    assert doc["expired"] == 1 and doc["granted"] == 0


async def test_a_restart_keeps_a_pass_with_time_left_and_expires_one_without(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(ask_gate(3600), [uhppote_device(controller)])
    one = await plate_pass(d, "cam-east", "苏A00001")
    two = await plate_pass(d, "cam-east", "苏A00002")
    [asked_one] = await access_for(d, one.id)
    [asked_two] = await access_for(d, two.id)
    await d.stop()

    # Back within the hour: both still wait, and the guard's answer opens the gate.
    d = await make_daemon(ask_gate(3600), [uhppote_device(controller)])
    status, body = await api(d, "GET", "/api/access/pending")
    assert {p["id"] for p in body["pending"]} == {asked_one["pending_id"], asked_two["pending_id"]}
    status, reply = await api(
        d, "POST", f"/api/access/pending/{asked_one['pending_id']}/approve", {"by": "li"}
    )
    assert status == 200 and reply["ok"] and controller.opened == [1]
    await d.stop()

    # Back after the second pass's time ran out (a shorter expiry stands in for a long
    # stop): it is expired at start, saying so, and cannot be approved any more.
    d = await make_daemon(ask_gate(0.01), [uhppote_device(controller)])
    _, expired = await access_for(d, two.id, 2)
    assert expired["decision"] == "expired"
    assert "while the daemon was stopped" in expired["reason"]
    status, reply = await api(
        d, "POST", f"/api/access/pending/{asked_two['pending_id']}/approve", {"by": "li"}
    )
    assert status == 409 and "expired" in reply["error"]
    assert controller.opened == [1]
