"""The gatekeeper in a running daemon: passes at a gate's camera open the simulated UHPPOTE
controller (or not), each leaving one `access` event, alarms and audit lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from access_helpers import access_for, api, face_pass, plate_pass, uhppote_device

from edge.sim.uhppote import UhppoteSimulator

RESIDENT = "粤B12345"
BANNED = "粤B66666"


def access(**extra: Any) -> dict[str, Any]:
    gate = {
        "id": "east-in",
        "name": "东门入口",
        "device": "ctl-east",
        "cameras": ["cam-east"],
        "direction": "in",
        **extra.pop("gate", {}),
    }
    return {
        "plate_allowlist": [RESIDENT],
        "plate_blocklist": [BANNED],
        "gates": [gate],
        **extra,
    }


async def test_a_resident_plate_opens_the_gate_and_is_recorded_once(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(access(), [uhppote_device(controller)])
    ev = await plate_pass(d, "cam-east", "粤B 12345")
    [rec] = await access_for(d, ev.id)
    assert controller.opened == [1]
    assert rec["decision"] == "granted" and rec["opened"] is True
    assert rec["rule"] == "resident_plate" and rec["category"] == "resident"
    assert rec["decided_by"] == "rule:access.east-in" and rec["gate"] == "east-in"
    [audit] = await d.rt.store.audit_entries(action="gate.open")
    assert audit["actor"] == "rule:access.east-in" and audit["target"] == "east-in"
    assert audit["detail"]["outcome"] == "done"
    assert await d.rt.store.openings_under_way() == []  # settled with the event


async def test_a_pass_at_a_camera_that_watches_no_gate_does_nothing(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(access(), [uhppote_device(controller)])
    await plate_pass(d, "cam-elsewhere", RESIDENT)
    await d.rt.flow.idle(5)
    await d.rt.services["access"].idle(5)
    assert controller.opened == []
    assert await d.rt.store.events(kind="access") == []


async def test_the_same_plate_within_the_repeat_window_does_not_reopen(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(access(repeat_window_s=30), [uhppote_device(controller)])
    t0 = datetime.now(UTC)
    first = await plate_pass(d, "cam-east", RESIDENT, ts=t0)
    again = await plate_pass(d, "cam-east", RESIDENT, ts=t0 + timedelta(seconds=5))
    later = await plate_pass(d, "cam-east", RESIDENT, ts=t0 + timedelta(seconds=40))
    assert (await access_for(d, first.id))[0]["decision"] == "granted"
    assert (await access_for(d, again.id))[0]["decision"] == "ignored"
    assert (await access_for(d, later.id))[0]["decision"] == "granted"
    assert controller.opened == [1, 1]


async def test_an_unknown_plate_at_an_auto_gate_is_refused(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(access(), [uhppote_device(controller)])
    ev = await plate_pass(d, "cam-east", "苏A00001")
    [rec] = await access_for(d, ev.id)
    assert rec["decision"] == "denied" and rec["rule"] == "unknown"
    assert "opened" not in rec
    assert controller.opened == []


async def test_a_blacklisted_plate_is_refused_with_a_critical_alarm(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(access(), [uhppote_device(controller)])
    ev = await plate_pass(d, "cam-east", BANNED)
    [rec] = await access_for(d, ev.id)
    assert rec["decision"] == "denied" and rec["rule"] == "blacklist"
    assert controller.opened == []
    [alarm] = await d.rt.store.alarms(state="raised")
    assert alarm["severity"] == "critical" and BANNED in alarm["message"]


async def test_a_near_miss_to_the_blacklist_alerts_the_guard_without_deciding(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(access(), [uhppote_device(controller)])
    ev = await plate_pass(d, "cam-east", "粤B66668")
    [rec] = await access_for(d, ev.id)
    assert rec["decision"] == "denied" and rec["rule"] == "unknown"
    assert BANNED in rec["alert"]
    [alarm] = await d.rt.store.alarms(state="raised")
    assert alarm["severity"] == "warning"


async def test_a_resident_face_opens_a_door_that_takes_faces(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(
        access(gate={"id": "door-1", "cameras": ["cam-door"], "passes": ["face"]}),
        [uhppote_device(controller)],
    )
    ev = await face_pass(d, "cam-door", "张三")
    [rec] = await access_for(d, ev.id)
    assert rec["rule"] == "resident_face" and rec["opened"] is True
    plate = await plate_pass(d, "cam-door", RESIDENT)  # a door does not take plates
    await d.rt.flow.idle(5)
    await d.rt.services["access"].idle(5)
    assert [
        r for r in await d.rt.store.events(kind="access") if r["data"].get("pass_event") == plate.id
    ] == []


async def test_a_visitor_pass_opens_inside_its_window_until_its_entries_are_used(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    now = datetime.now(UTC)
    visitors = [
        {
            "id": "v-1",
            "plate": "湘A11111",
            "name": "王五",
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(hours=3)).isoformat(),
            "entries": 1,
        },
        {
            "id": "v-2",
            "plate": "湘A22222",
            "valid_from": (now + timedelta(days=1)).isoformat(),
            "valid_until": (now + timedelta(days=2)).isoformat(),
        },
    ]
    d = await make_daemon(access(visitors=visitors), [uhppote_device(controller)])
    first = await plate_pass(d, "cam-east", "湘A11111", ts=now)
    [rec] = await access_for(d, first.id)
    assert rec["decision"] == "granted" and rec["rule"] == "visitor_pass"
    assert rec["visitor_id"] == "v-1"
    second = await plate_pass(d, "cam-east", "湘A11111", ts=now + timedelta(minutes=10))
    [rec] = await access_for(d, second.id)
    assert rec["decision"] == "denied" and rec["rule"] == "visitor_used_up"
    early = await plate_pass(d, "cam-east", "湘A22222", ts=now)
    [rec] = await access_for(d, early.id)
    assert rec["decision"] == "denied" and rec["rule"] == "visitor_not_yet"
    late = await plate_pass(d, "cam-east", "湘A11111", ts=now + timedelta(hours=4))
    [rec] = await access_for(d, late.id)
    assert rec["rule"] == "visitor_expired"
    assert controller.opened == [1]
    assert await d.rt.store.visitor_entries_used() == {"v-1": 1}


async def test_a_list_change_is_seen_by_the_next_pass_without_reloading_per_pass(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(access(), [uhppote_device(controller)])
    keeper = d.rt.services["access"]
    for plate in ("苏A00001", "苏A00002", "苏A00003"):
        await access_for(d, (await plate_pass(d, "cam-east", plate)).id)
    loads = keeper.stats["lists_loaded"]
    status, reply = await api(
        d,
        "POST",
        "/api/access/lists",
        {"by": "li", "reason": "new tenant", "changes": [
            {"list": "plates", "mode": "patch", "add": ["苏A00009"]}]},
    )  # fmt: skip
    assert status == 200, reply
    [rec] = await access_for(d, (await plate_pass(d, "cam-east", "苏A00009")).id)
    assert rec["decision"] == "granted"
    assert keeper.stats["lists_loaded"] == loads + 1
    [audit] = await d.rt.store.audit_entries(action="access.change")
    assert audit["actor"] == "cli:li" and audit["detail"]["reason"] == "new tenant"


async def test_a_gate_that_does_not_answer_is_an_alarm_and_the_event_says_not_opened(
    make_daemon: Any, controller: UhppoteSimulator, wait_for: Any
) -> None:
    d = await make_daemon(access(), [uhppote_device(controller)])
    await wait_for(lambda: d.rt.devices.status("ctl-east").available)
    controller.silent = True
    ev = await plate_pass(d, "cam-east", RESIDENT)
    [rec] = await access_for(d, ev.id)
    assert rec["decision"] == "granted" and rec["opened"] is False
    assert "did not answer" in rec["gate_error"]
    assert d.rt.devices.status("ctl-east").available is False
    [alarm] = await d.rt.store.alarms(state="raised")
    assert "did not open" in alarm["message"] and alarm["severity"] == "critical"
    controller.silent = False  # back: the next pass opens (not a repeat: the first failed)
    again = await plate_pass(d, "cam-east", RESIDENT)
    [rec] = await access_for(d, again.id)
    assert rec["opened"] is True
    assert await d.rt.store.alarms(state="raised") == []


async def test_an_ask_gate_puts_a_stranger_to_the_guard_who_approves_or_denies(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(access(gate={"mode": "ask"}), [uhppote_device(controller)])
    one = await plate_pass(d, "cam-east", "苏A00001")
    two = await plate_pass(d, "cam-east", "苏A00002")
    [rec1] = await access_for(d, one.id)
    [rec2] = await access_for(d, two.id)
    assert rec1["decision"] == rec2["decision"] == "pending"
    assert controller.opened == []
    status, body = await api(d, "GET", "/api/access/pending")
    assert status == 200
    waiting = {p["plate"]: p for p in body["pending"]}
    assert set(waiting) == {"苏A00001", "苏A00002"}
    assert waiting["苏A00001"]["pass_event"] == one.id
    assert waiting["苏A00001"]["id"] == rec1["pending_id"]

    status, reply = await api(
        d, "POST", f"/api/access/pending/{rec1['pending_id']}/approve",
        {"by": "li", "reason": "delivery for 3-201"},
    )  # fmt: skip
    assert status == 200 and reply["ok"], reply
    assert controller.opened == [1]
    status, reply = await api(
        d, "POST", f"/api/access/pending/{rec2['pending_id']}/deny", {"by": "li", "reason": "no"}
    )
    assert status == 200, reply
    assert controller.opened == [1]
    _, granted = await access_for(d, one.id, 2)
    assert granted["decision"] == "granted" and granted["decided_by"] == "cli:li"
    assert granted["opened"] is True and granted["rule"] == "guard_approved"
    _, denied = await access_for(d, two.id, 2)
    assert denied["decision"] == "denied" and denied["decided_by"] == "cli:li"
    status, body = await api(d, "GET", "/api/access/pending")
    assert body["pending"] == []
    status, body = await api(d, "GET", "/api/access")
    assert status == 200 and body["gates"][0]["mode"] == "ask"
    assert (body["granted"], body["denied"], body["pending"]) == (1, 1, 2)
    # Answered once: a second guard's click is refused, and audited as such.
    status, reply = await api(
        d, "POST", f"/api/access/pending/{rec1['pending_id']}/approve", {"by": "wang"}
    )
    assert status == 409 and "already answered" in reply["error"]
    outcomes = [
        a["detail"]["outcome"] for a in await d.rt.store.audit_entries(action="access.approve")
    ]
    assert outcomes == ["refused", "done"]
    [deny_audit] = await d.rt.store.audit_entries(action="access.deny")
    assert deny_audit["actor"] == "cli:li" and deny_audit["detail"]["reason"] == "no"
    assert await d.rt.store.openings_under_way() == []


async def test_manual_open_maps_the_gate_to_its_device_and_is_audited(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(access(), [uhppote_device(controller)])
    status, reply = await api(
        d, "POST", "/api/gates/east-in/open", {"by": "li", "client": "cli", "reason": "ambulance"}
    )
    assert status == 200, reply
    assert controller.opened == [1]
    [audit] = await d.rt.store.audit_entries(action="gate.open")
    assert audit["actor"] == "cli:li" and audit["detail"]["reason"] == "ambulance"
    status, reply = await api(d, "POST", "/api/gates/no-such/open", {"by": "li", "reason": "test"})
    assert status == 409
    # The gate's history (and the hub) see the opening by hand like a pass's.
    [rec] = await manual_openings(d)
    assert (rec["gate"], rec["decision"], rec["decided_by"]) == ("east-in", "granted", "cli:li")
    assert rec["reason"] == "ambulance" and rec["opened"] is True

    controller.silent = True
    status, reply = await api(d, "POST", "/api/gates/east-in/open", {"by": "li", "reason": "taxi"})
    assert status == 409 and "did not answer" in reply["error"], reply
    _, rec = await manual_openings(d)
    assert rec["opened"] is False and "did not answer" in rec["gate_error"]
    [alarm] = await d.rt.store.alarms(state="raised")
    assert alarm["key"] == "access:gate_not_opening:east-in"
    assert await d.rt.store.openings_under_way() == []  # opened or not, each was recorded


async def manual_openings(d: Any) -> list[dict[str, Any]]:
    rows = await d.rt.store.events(kind="access", limit=100)
    return [r["data"] for r in rows[::-1] if r["data"].get("rule") == "manual"]


async def test_a_visitor_pass_added_from_the_cli_opens_and_a_bad_one_is_refused(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    import asyncio
    import json

    from edge.cli.main import main as cli

    d = await make_daemon(access(), [uhppote_device(controller)])
    url = f"http://127.0.0.1:{d.web.port}"
    now = datetime.now(UTC)
    visitor = {
        "id": "v-9",
        "plate": "湘A99999",
        "host": "5-101",
        "valid_from": (now - timedelta(minutes=5)).isoformat(),
        "valid_until": (now + timedelta(hours=2)).isoformat(),
    }
    argv = ["access", "add", "visitors", json.dumps(visitor), "--reason", "party", "--url", url,
            "--token-file", str(d.web.token_file)]  # fmt: skip
    assert await asyncio.to_thread(cli, [*argv, "--by", "li"]) == 0
    [rec] = await access_for(d, (await plate_pass(d, "cam-east", "湘A99999")).id)
    assert rec["decision"] == "granted" and rec["visitor_id"] == "v-9"
    bad = {**visitor, "id": "v-10", "valid_until": visitor["valid_from"]}
    argv = ["access", "add", "visitors", json.dumps(bad), "--reason", "x", "--url", url,
           "--token-file", str(d.web.token_file)]  # fmt: skip
    assert await asyncio.to_thread(cli, [*argv, "--by", "li"]) == 1
    entries = await d.rt.store.access_entries("visitors")
    assert set(entries) == {"v-9"}
    outcomes = [
        a["detail"]["outcome"] for a in await d.rt.store.audit_entries(action="access.change")
    ]
    assert outcomes == ["refused", "done"]


async def test_edge_gate_open_from_the_cli_opens_by_gate_id_audited_with_the_user(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    import asyncio

    from edge.cli.main import main as cli

    d = await make_daemon(access(), [uhppote_device(controller)])
    url = f"http://127.0.0.1:{d.web.port}"
    argv = ["gate", "open", "east-in", "--reason", "fire brigade", "--by", "zhao", "--url", url,
            "--token-file", str(d.web.token_file)]  # fmt: skip
    assert await asyncio.to_thread(cli, argv) == 0
    assert controller.opened == [1]
    [audit] = await d.rt.store.audit_entries(action="gate.open")
    assert (audit["actor"], audit["target"]) == ("cli:zhao", "east-in")
    assert audit["detail"]["reason"] == "fire brigade"


async def test_a_visitor_face_pass_opens_a_door_and_anti_passback_refuses_a_second_entry(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    now = datetime.now(UTC)
    door = {"id": "door-1", "cameras": ["cam-door"], "passes": ["face"], "passback_group": "b3"}
    visitors = [
        {
            "id": "v-face",
            "face": "王五",
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(hours=1)).isoformat(),
            "entries": None,
        }
    ]
    d = await make_daemon(access(gate=door, visitors=visitors), [uhppote_device(controller)])
    first = await face_pass(d, "cam-door", "王五", gallery="visitors", ts=now)
    [rec] = await access_for(d, first.id)
    assert rec["rule"] == "visitor_pass" and rec["opened"] is True
    resident = await face_pass(d, "cam-door", "张三", ts=now)
    assert (await access_for(d, resident.id))[0]["opened"] is True
    # Half an hour later (past the repeat window) without leaving through an out door: refused.
    later = now + timedelta(minutes=30)
    again = await face_pass(d, "cam-door", "王五", gallery="visitors", ts=later)
    [rec] = await access_for(d, again.id)
    assert rec["decision"] == "denied" and rec["rule"] == "anti_passback"
    assert controller.opened == [1, 1]


async def test_the_guard_works_from_the_cli_too(
    make_daemon: Any, controller: UhppoteSimulator, capsys: Any
) -> None:
    import asyncio

    from edge.cli.main import main as cli

    d = await make_daemon(access(gate={"mode": "ask"}), [uhppote_device(controller)])
    url = f"http://127.0.0.1:{d.web.port}"

    async def run(*argv: str) -> tuple[int, str]:
        code = await asyncio.to_thread(
            cli, [*argv, "--url", url, "--token-file", str(d.web.token_file)]
        )
        return code, capsys.readouterr().out

    code, out = await run("access", "list", "plates")
    assert code == 0 and RESIDENT in out and "1 entries" in out
    [rec] = await access_for(d, (await plate_pass(d, "cam-east", "苏A00001")).id)
    code, out = await run("access", "pending")
    assert code == 0 and rec["pending_id"] in out and "苏A00001" in out
    code, out = await run("access", "approve", rec["pending_id"], "--by", "li", "--reason", "ok")
    assert code == 0 and "opened" in out
    assert controller.opened == [1]
    code, out = await run("access", "pending")
    assert "nothing waiting" in out
    code, _ = await run("access", "deny", rec["pending_id"], "--by", "li")
    assert code == 1  # answered already
