"""The daemon's GB/T 28181 agent against the strict platform: register, live, answer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from gb_helpers import CHANNELS, DEVICE, DaemonFactory, file_camera
from gb_platform import Platform

from edge.codecs import manscdp


def _cameras(video: Path, tmp_path: Path) -> str:
    return "\n".join(
        [
            file_camera("north", video, CHANNELS[0], name="北门入口"),
            file_camera("south", video, CHANNELS[1], name="South gate"),
            file_camera("dead", tmp_path / "missing.mp4", CHANNELS[2], name="Broken"),
            file_camera("internal", video, None),
        ]
    )


async def test_registers_keeps_alive_and_answers_a_paged_catalog(
    platform: Platform, daemon: DaemonFactory, video: Path, tmp_path: Path
) -> None:
    platform.keepalive_s = 0.3  # the platform flags keepalives faster than half of this
    await daemon(platform, _cameras(video, tmp_path), keepalive_s=0.3)
    await platform.until(lambda: platform.registered(DEVICE), 10, "registration")
    assert [s for s, _, _ in platform.register_log[:2]] == [401, 200]
    await platform.until(lambda: len(platform.keepalives) >= 2, 10, "two keepalives")
    items = await platform.catalog(DEVICE)
    by_id = {i["DeviceID"]: i for i in items}
    # The gateway and every camera with a channel ID; the camera without one is not offered.
    assert set(by_id) == {DEVICE, *CHANNELS}
    assert by_id[CHANNELS[0]]["Name"] == "北门入口"
    assert by_id[CHANNELS[0]]["ParentID"] == DEVICE
    assert by_id[CHANNELS[2]]["Status"] == "OFF"  # its file does not exist
    assert platform.violations == []


async def test_status_is_the_cameras_real_state_and_queries_are_answered(
    udp_platform: Platform, daemon: DaemonFactory, video: Path, tmp_path: Path
) -> None:
    p = udp_platform
    p.clock_skew = timedelta(seconds=90)  # the platform's clock runs 90 s ahead
    d = await daemon(p, _cameras(video, tmp_path))
    await p.until(lambda: p.registered(DEVICE), 10, "registration")
    agent = d.rt.services["uplink.police"]
    await p.until(lambda: agent.state == "connected", 5, "the agent to take the answer")
    offset = agent.health()["time_offset_s"]
    assert 85 < offset < 95  # from the Date of the REGISTER answer (校时)

    async def statuses() -> dict[str, str]:
        return {i["DeviceID"]: i["Status"] for i in await p.catalog(DEVICE)}

    # The file cameras are playable (ON); the one whose file is missing is OFF.
    st = await statuses()
    assert st[CHANNELS[0]] == st[CHANNELS[1]] == "ON" and st[CHANNELS[2]] == "OFF"

    info = await p.answer_to(DEVICE, "DeviceInfo")
    assert info.text("Result") == "OK" and info.text("Channel") == "3"
    status = await p.answer_to(DEVICE, "DeviceStatus")
    assert status.text("Online") == "ONLINE" and len(status.text("DeviceTime")) == 19
    dead = await p.answer_to(DEVICE, "DeviceStatus", target=CHANNELS[2])
    assert dead.device_id == CHANNELS[2] and dead.text("Online") == "OFFLINE"
    records = await p.answer_to(DEVICE, "RecordInfo", target=CHANNELS[0])
    assert records.text("SumNum") == "0" and records.list_num("RecordList") == 0
    conf = await p.answer_to(
        DEVICE, "ConfigDownload", extra=[manscdp.Node("ConfigType", "BasicParam")]
    )
    assert conf.text("BasicParam/HeartBeatInterval") == "60"
    assert conf.text("BasicParam/HeartBeatCount") == "3"
    assert p.violations == []


async def test_refresh_keeps_call_id_and_shutdown_unregisters(
    platform: Platform, daemon: DaemonFactory, video: Path
) -> None:
    d = await daemon(platform, file_camera("north", video, CHANNELS[0]), expires_s=10)
    await platform.until(lambda: platform.registered(DEVICE), 10, "registration")
    reg = platform.registrations[DEVICE]
    # 80 % of 10 s: the refresh comes before the registration lapses.
    await platform.until(lambda: reg.refreshes >= 1, 15, "a refresh")
    assert platform.registrations[DEVICE].call_id == reg.call_id
    await daemon.stop(d)
    assert platform.unregistered == [DEVICE]
    assert platform.register_log[-1][2] == 0
    assert platform.violations == []  # CSeq increased, Call-ID kept (checked per REGISTER)
