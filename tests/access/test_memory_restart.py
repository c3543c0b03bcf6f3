"""What the gates remember survives a restart: a daemon restarted (an update, a power cut)
neither re-opens for a car it just let in (the repeat window) nor lets a plate or face that
entered back in without leaving (anti-passback). The memory is kept in the store, bounded:
an opening is forgotten after the repeat window, an entry after `passback_memory_s`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from access_helpers import access_for, face_pass, plate_pass, uhppote_device

from edge.sim.uhppote import UhppoteSimulator

RESIDENT = "粤B12345"


def access(**gate: Any) -> dict[str, Any]:
    door = {"id": "east-in", "device": "ctl-east", "cameras": ["cam-east"], **gate}
    return {"plate_allowlist": [RESIDENT], "gates": [door], "repeat_window_s": 60}


async def test_a_restart_does_not_reopen_within_the_repeat_window(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    d = await make_daemon(access(), [uhppote_device(controller)])
    now = datetime.now(UTC)
    first = await plate_pass(d, "cam-east", RESIDENT, ts=now)
    assert (await access_for(d, first.id))[0]["opened"] is True
    await d.stop()

    d = await make_daemon(access(), [uhppote_device(controller)])
    again = await plate_pass(d, "cam-east", RESIDENT, ts=now + timedelta(seconds=5))
    [rec] = await access_for(d, again.id)
    assert rec["decision"] == "ignored" and rec["rule"] == "repeat"
    assert controller.opened == [1]
    # Past the window it opens again: the memory is the window, not for ever.
    later = await plate_pass(d, "cam-east", RESIDENT, ts=now + timedelta(seconds=61))
    assert (await access_for(d, later.id))[0]["opened"] is True


async def test_a_restart_does_not_let_an_entry_in_again_without_an_exit(
    make_daemon: Any, controller: UhppoteSimulator
) -> None:
    cfg = access(passes=["face"], passback_group="b3")
    cfg["passback_memory_s"] = 3600
    d = await make_daemon(cfg, [uhppote_device(controller)])
    now = datetime.now(UTC)
    long_ago = await face_pass(d, "cam-east", "张三", ts=now - timedelta(hours=2))
    assert (await access_for(d, long_ago.id))[0]["opened"] is True
    entered = await face_pass(d, "cam-east", "李四", ts=now)
    assert (await access_for(d, entered.id))[0]["opened"] is True
    assert d.rt.services["access"].health()["memory"]["passback"] == 2
    await d.stop()

    d = await make_daemon(cfg, [uhppote_device(controller)])
    # Only what is still within its memory came back (the two-hour-old entry was pruned).
    assert d.rt.services["access"].health()["memory"] == {"repeat": 1, "passback": 1}
    again = await face_pass(d, "cam-east", "李四", ts=now + timedelta(minutes=30))
    [rec] = await access_for(d, again.id)
    assert rec["decision"] == "denied" and rec["rule"] == "anti_passback"
    back = await face_pass(d, "cam-east", "张三", ts=now + timedelta(minutes=30))
    assert (await access_for(d, back.id))[0]["opened"] is True
    assert controller.opened == [1, 1, 1]
