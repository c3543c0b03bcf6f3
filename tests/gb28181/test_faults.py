"""Faults a platform causes: wrong password, restart, silence, 404; alarms and catalog changes."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from gb_helpers import CHANNELS, DEVICE, DaemonFactory, file_camera
from gb_platform import Platform

from edge.app import Daemon
from edge.codecs import manscdp
from edge.uplinks.gb28181.agent import Gb28181Agent


def _agent(d: Daemon) -> Gb28181Agent:
    agent = d.rt.services["uplink.police"]
    assert isinstance(agent, Gb28181Agent)
    return agent


async def test_wrong_password_is_refused_reported_and_retried(
    udp_platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    p = udp_platform
    p.password = "not-the-one"
    d = await daemon(p, file_camera("north", video, CHANNELS[0]))
    await p.until(
        lambda: [s for s, _, _ in p.register_log].count(403) >= 2,
        10,
        "two refused attempts (retried with backoff)",
    )
    agent = _agent(d)
    assert not p.registered(DEVICE)
    assert agent.state != "connected" and "403" in (agent.last_error or "")
    assert "12345678" not in str(agent.health())
    assert "problems" not in agent.health()  # a short outage is not yet a problem
    assert agent.disconnected_since is not None
    agent.disconnected_since -= 301  # as if it had failed for five minutes
    [problem] = agent.health()["problems"]
    assert "disconnected since" in problem and "403" in problem
    p.password = "12345678"  # the operator fixes the platform side
    await p.until(lambda: p.registered(DEVICE), 10, "registration once the password matches")
    await p.until(lambda: agent.state == "connected", 5, "the agent to say so")
    assert "problems" not in agent.health()


async def test_qop_challenge(daemon: DaemonFactory, video: Path) -> None:
    p = Platform("udp", qop=True)
    await p.start()
    try:
        await daemon(p, file_camera("north", video, CHANNELS[0]))
        await p.until(lambda: p.registered(DEVICE), 10, "registration with qop=auth")
        assert p.violations == []
    finally:
        await p.stop()


async def test_platform_restart_loses_state_and_the_device_registers_again(
    platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    await daemon(platform, file_camera("north", video, CHANNELS[0]), keepalive_s=0.3)
    await platform.until(lambda: platform.registered(DEVICE), 10, "registration")
    await platform.restart()
    assert not platform.registered(DEVICE)
    # UDP: the next keepalive gets 404 from the amnesic platform; TCP: the connection dropped.
    await platform.until(lambda: platform.registered(DEVICE), 10, "registration after restart")
    await platform.until(lambda: len(platform.keepalives) >= 1, 10, "keepalives again")
    items = await platform.catalog(DEVICE)
    assert {i["DeviceID"] for i in items} == {DEVICE, CHANNELS[0]}
    assert platform.violations == []


async def test_keepalive_404_triggers_register_with_the_same_call_id(
    udp_platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    p = udp_platform
    await daemon(p, file_camera("north", video, CHANNELS[0]), keepalive_s=0.3)
    await p.until(lambda: p.registered(DEVICE), 10, "registration")
    first_call_id = p.registrations[DEVICE].call_id
    ok_before = len(p.register_log)
    p.keepalive_status = 404
    await p.until(lambda: len(p.register_log) > ok_before, 10, "a REGISTER after the 404")
    p.keepalive_status = 200
    assert p.registrations[DEVICE].call_id == first_call_id
    assert p.violations == []


async def test_unanswered_keepalives_lead_to_register_again(
    udp_platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    p = udp_platform
    d = await daemon(
        p,
        file_camera("north", video, CHANNELS[0]),
        keepalive_s=0.2,
        keepalive_max_missed=2,
        connect_timeout_s=0.3,
    )
    await p.until(lambda: p.registered(DEVICE), 10, "registration")
    before = len(p.register_log)
    p.answer_keepalives = False
    await p.until(
        lambda: len(p.register_log) > before, 15, "a REGISTER after two unanswered keepalives"
    )
    assert _agent(d).health()["keepalives_missed"] >= 2
    p.answer_keepalives = True


async def test_keepalives_answered_again_after_a_miss_register_again(
    udp_platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    # wvp with gb-device-online: 0 marks a device offline when its keepalives stop for
    # interval x count, then answers later keepalives 200 without bringing it back: only a
    # REGISTER does. After keepalives went unanswered the device cannot know, so it
    # registers again (same Call-ID) once they are answered again.
    p = udp_platform
    d = await daemon(
        p,
        file_camera("north", video, CHANNELS[0]),
        keepalive_s=0.3,
        keepalive_max_missed=5,
        connect_timeout_s=0.3,
    )
    await p.until(lambda: p.registered(DEVICE), 10, "registration")
    call_id = p.registrations[DEVICE].call_id
    p.answer_keepalives = False
    await p.until(lambda: _agent(d).health()["keepalives_missed"] >= 1, 10, "a missed keepalive")
    p.mark_offline(DEVICE)
    p.answer_keepalives = True
    await p.until(lambda: p.registered(DEVICE), 10, "a REGISTER once keepalives are answered")
    assert p.registrations[DEVICE].call_id == call_id
    assert _agent(d).health()["keepalives_missed"] < 5
    assert p.violations == []


async def test_alarm_events_become_alarm_notify(
    udp_platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    p = udp_platform
    d = await daemon(p, file_camera("north", video, CHANNELS[0]))
    await p.until(lambda: p.registered(DEVICE), 10, "registration")
    await d.store.raise_alarm(
        "watchlist:1:north", "north", "布控人员 at north gate", severity="critical"
    )
    await d.store.raise_alarm("meter:tamper", "meter-7", "meter cover opened")
    await p.until(lambda: len(p.docs("Alarm")) >= 2, 10, "two Alarm notifies")
    cam, dev = p.docs("Alarm")
    assert cam.doc.device_id == CHANNELS[0] and cam.doc.text("AlarmPriority") == "1"
    assert cam.doc.text("AlarmMethod") == "5" and "布控人员" in cam.doc.text("AlarmDescription")
    assert dev.doc.device_id == DEVICE and dev.doc.text("AlarmPriority") == "3"
    assert len(cam.doc.text("AlarmTime")) == 19
    agent = _agent(d)
    await p.until(lambda: agent.drain.acked >= 2, 5, "the outbox acknowledged")
    assert p.violations == []


async def test_camera_going_offline_is_notified_as_a_catalog_change(
    udp_platform: Platform, daemon: DaemonFactory, video: Path, tmp_path: Path
) -> None:
    p = udp_platform
    clip = shutil.copy(video, tmp_path / "north.mp4")
    await daemon(p, file_camera("north", Path(clip), CHANNELS[0]))
    await p.until(lambda: p.registered(DEVICE), 10, "registration")
    [north] = [i for i in await p.catalog(DEVICE) if i["DeviceID"] == CHANNELS[0]]
    assert north["Status"] == "ON"
    await asyncio.to_thread(Path(clip).unlink)  # the file camera fails at its next loop
    await p.until(
        lambda: any(
            i.get("Event") == "OFF"
            for m in p.docs("Catalog", "Notify")
            for i in m.doc.items("DeviceList")
        ),
        20,
        "an OFF notify",
    )
    assert p.violations == []


async def test_an_empty_server_host_keeps_the_entry_idle(
    udp_platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    d = await daemon(udp_platform, file_camera("north", video, CHANNELS[0]), server_host="")
    agent = _agent(d)
    await udp_platform.until(lambda: agent.state == "off", 5, "the idle state")
    assert "no server_host" in agent.health()["detail"]
    await d.store.raise_alarm("k", "north", "queued, not sent")
    assert udp_platform.register_log == [] and udp_platform.messages == []


async def test_an_alarm_the_platform_refuses_is_parked_with_its_reason(
    udp_platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    p = udp_platform
    p.alarm_status = 488
    d = await daemon(p, file_camera("north", video, CHANNELS[0]))
    await p.until(lambda: p.registered(DEVICE), 10, "registration")
    await d.store.raise_alarm("refused", "north", "the platform will refuse this one")
    agent = _agent(d)
    await p.until(lambda: agent.drain.stats().get("parked_since_start", 0) >= 1, 10, "parked")
    [parked] = await d.store.parked("police")
    assert "488" in parked["reason"] and parked["kind"] == "alarm"
    p.alarm_status = 200
    await d.store.raise_alarm("accepted", "north", "this one goes through")
    await p.until(lambda: len(p.docs("Alarm")) == 1, 10, "the next alarm delivered")
    assert "accepted" not in p.docs("Alarm")[0].doc.text("AlarmDescription")
    assert p.docs("Alarm")[0].doc.text("AlarmDescription") == "this one goes through"


async def test_reset_alarm_acknowledges_the_channels_alarms_as_an_audited_action(
    udp_platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    p = udp_platform
    d = await daemon(p, file_camera("north", video, CHANNELS[0]))
    await p.until(lambda: p.registered(DEVICE), 10, "registration")
    await d.store.raise_alarm("watch:north", "north", "watchlist face at north")
    await d.store.raise_alarm("meter:tamper", "meter-7", "meter cover opened")
    sn = await p.control(DEVICE, CHANNELS[0], [manscdp.Node("AlarmCmd", "ResetAlarm")])

    def result(sn: int) -> str | None:
        found = [m for m in p.docs("DeviceControl", "Response") if m.doc.sn == sn]
        return found[0].doc.text("Result") if found else None

    await p.until(lambda: result(sn) is not None, 5, "the DeviceControl answer")
    assert result(sn) == "OK"
    states = {a["source"]: a for a in await d.store.alarms()}
    assert states["north"]["state"] == "acknowledged"
    assert states["north"]["acked_by"] == "34020000002000000001"  # the platform, audited
    assert states["meter-7"]["state"] == "raised"  # another source's alarm is untouched
    [audit] = await d.store.audit_entries(action="alarm.ack")
    assert audit["target"] == states["north"]["id"] and "gb28181" in audit["actor"]
    reboot = await p.control(DEVICE, DEVICE, [manscdp.Node("TeleBoot", "Boot")])
    await p.until(lambda: result(reboot) is not None, 5, "the refusal")
    assert result(reboot) == "ERROR"
    assert p.violations == []
