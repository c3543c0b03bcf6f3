"""Every fault the 视图库 peer can inject, and what the installer sees for it."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest
from daemons import Daemons
from gat_helpers import (
    GATEWAY_DEVICE,
    DaemonFactory,
    add_face,
    add_plate,
    backlog,
    face_jpeg,
    scene_jpeg,
    wait_backlog,
)
from viid_peer import ViidPeer, wait_for

from edge.app import Daemon
from edge.codecs import gat1400 as g
from edge.events import Event


def health(d: Daemon) -> dict[str, Any]:
    doc: dict[str, Any] = d.rt.health_providers["uplink.viid"]()
    return doc


async def test_wrong_password_is_reported_and_nothing_is_lost(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    d = await daemon(peer.url, password="not-the-password")
    await add_plate(d, 1)
    await wait_for(lambda: health(d)["failed_attempts"] >= 2, 10, "failed registrations")
    h = health(d)
    assert h["state"] in ("disconnected", "connecting")
    assert "wrong user name or password" in h["last_error"]
    assert peer.calls["bad_password"] >= 2 and not peer.received
    assert await backlog(d) == 1
    peer.password = "not-the-password"  # the installer fixes the account on the 视图库
    await wait_backlog(d, 0, 10)
    assert len(peer.ids()) == 1 and not peer.violations


async def test_busy_objects_are_resent_with_the_same_ids(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    peer.next_codes = [2, 2]  # the first two objects: 设备忙
    d = await daemon(peer.url)
    for i in range(4):
        await add_plate(d, i)
    await wait_backlog(d, 0, 15)
    busy = [r.object_id for r in peer.received if r.code == 2]
    assert len(busy) == 2
    assert set(busy) <= set(peer.ids(code=0)), "a busy object was not resent with its ID"
    assert len(set(peer.ids(code=0))) == 4
    assert health(d)["objects_parked"] == 0 and not peer.violations
    assert health(d)["registrations"] == 1, "a busy object must pause the drain, not re-register"


async def test_invalid_objects_are_parked_with_the_servers_reason(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    peer.next_codes = [0, 4]  # the second object: 无效操作
    d = await daemon(peer.url)
    events = [await add_plate(d, i) for i in range(3)]
    await wait_backlog(d, 0, 15)
    # Kept in the store's outbox with the 视图库's reason, for `edge queue`, across restarts.
    (parked,) = await d.store.parked("viid")
    assert "StatusCode 4" in parked["reason"] and "无效操作" in parked["reason"]
    assert parked["id"] in {e.id for e in events}
    invalid = [r.object_id for r in peer.received if r.code == 4]
    assert len(invalid) == 1 and parked["reason"].startswith(invalid[0])
    assert invalid[0] not in peer.ids(code=0), "an invalid object was sent again"
    assert len(peer.ids(code=0)) == 2
    assert health(d)["objects_parked"] == 1


async def test_status_codes_as_strings_and_digest_without_qop(daemon: DaemonFactory) -> None:
    p = ViidPeer(codes_as_strings=True, qop=False, basic_too=True)
    await p.start()
    try:
        p.next_codes = [4]
        d = await daemon(p.url)
        await add_plate(d, 1)
        await add_plate(d, 2)
        await wait_backlog(d, 0, 15)
        assert len(await d.store.parked("viid")) == 1 and len(p.ids(code=0)) == 1
        assert not p.violations
    finally:
        await p.stop()


async def test_401_mid_session_re_registers(peer: ViidPeer, daemon: DaemonFactory) -> None:
    d = await daemon(peer.url)
    await add_plate(d, 1)
    await wait_backlog(d, 0, 10)
    assert health(d)["registrations"] == 1
    peer.forget()  # the 视图库 restarted: it answers 401 to the next POST
    await add_plate(d, 2)
    await wait_backlog(d, 0, 10)
    assert health(d)["registrations"] == 2
    assert len(set(peer.ids())) == 2 and not peer.violations
    assert peer.calls["nonce_reuse"] == 0


async def test_failed_keepalive_re_registers(peer: ViidPeer, daemon: DaemonFactory) -> None:
    d = await daemon(peer.url, "    keepalive_s: 0.1\n")
    await wait_for(lambda: health(d)["keepalives"] >= 1, 10, "a keepalive")
    peer.forget()
    await wait_for(lambda: health(d)["registrations"] >= 2, 10, "a second registration")
    await wait_for(lambda: health(d)["keepalives"] >= 2, 10, "keepalives after it")
    assert not peer.violations


async def test_a_nonce_is_good_for_one_request(peer: ViidPeer) -> None:
    """The peer's own rule, which the client must live with: a replayed Authorization fails."""
    from edge.codecs import http_digest as hd

    body = json.dumps(g.register_body(GATEWAY_DEVICE)).encode()
    headers = g.headers(GATEWAY_DEVICE)
    async with aiohttp.ClientSession() as http:
        async with http.post(peer.url + g.REGISTER, data=body, headers=headers) as r1:
            ch = hd.Challenge.parse(r1.headers["WWW-Authenticate"])
        auth = hd.authorization(
            ch, method="POST", uri=g.REGISTER, username="hik", password="hik12345"
        )
        statuses = []
        for _ in range(2):
            async with http.post(
                peer.url + g.REGISTER, data=body, headers={**headers, "Authorization": auth}
            ) as r:
                statuses.append(r.status)
    assert statuses == [200, 401]
    assert peer.calls["nonce_reuse"] == 1


async def test_server_down_for_many_retries_loses_nothing(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    d = await daemon(peer.url, "    degraded_after_s: 0\n")
    await add_plate(d, 0)
    await wait_backlog(d, 0, 10)
    await peer.stop()
    events = [await add_plate(d, i) for i in range(1, 21)] + [await add_face(d)]
    # Down long enough for the backoff to reach its ceiling several times over.
    await wait_for(lambda: health(d)["failed_attempts"] >= 6, 20, "repeated failed attempts")
    h = health(d)
    assert h["state"] in ("disconnected", "connecting") and h["last_error"]
    assert any("disconnected since" in p for p in h["problems"]), h  # the daemon is degraded
    assert await backlog(d) == len(events)
    await peer.start()  # same port
    await wait_backlog(d, 0, 20)
    assert len(set(peer.ids())) == len(events) + 1
    assert not peer.violations
    assert "problems" not in health(d)


async def test_slow_server_times_out_and_the_resend_carries_the_same_ids(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    peer.delay_s = 3.0  # beyond connect_timeout_s: 2
    d = await daemon(peer.url)
    for i in range(3):
        await add_plate(d, i)
    await wait_for(lambda: len(peer.received) >= 3, 15, "the slow peer to take the objects")
    await wait_for(lambda: "no answer" in (health(d)["last_error"] or ""), 10, "a timeout")
    first = set(peer.ids())
    peer.delay_s = 0
    await wait_backlog(d, 0, 20)
    assert set(peer.ids()) == first, "the resend carried other IDs"
    assert len(peer.ids()) > len(first), "nothing was resent after the timeout"


async def test_clock_offset_corrects_shot_time_and_raises_an_alarm(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    peer.skew_s = -120  # the 视图库 is two minutes behind the gateway
    d = await daemon(peer.url)
    await add_plate(d, 1)
    await wait_backlog(d, 0, 10)
    h = health(d)
    assert -121.5 < h["time_offset_s"] < -118.5
    assert any("clock differs" in p for p in h["problems"])
    alarms = await d.store.alarms(state="raised")
    assert any(a["key"] == "gat1400:viid:clock" for a in alarms)
    # ShotTime was moved to the 视图库's clock, so it accepted the record.
    assert len(peer.ids(code=0)) == 1 and not peer.violations


async def test_without_time_sync_a_skewed_clock_gets_records_refused(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    peer.skew_s = -120
    d = await daemon(peer.url, "    time_sync: false\n")
    await add_plate(d, 1)
    await wait_backlog(d, 0, 10)
    (parked,) = await d.store.parked("viid")
    assert "future" in parked["reason"]


async def test_batches_respect_the_object_and_byte_caps(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    d = await daemon(peer.url, "    batch_max_objects: 3\n    posts_in_flight: 1\n")
    await peer.stop()  # let a backlog build, so batches fill up
    for i in range(7):
        await add_plate(d, i)
    await peer.start()
    await wait_backlog(d, 0, 15)
    sizes = [n for path, n, _ in peer.batches if path == "/VIID/MotorVehicles"]
    assert max(sizes) == 3 and sum(sizes) >= 7
    assert not peer.violations


async def test_data_policy_withholds_face_crops(peer: ViidPeer, daemon: DaemonFactory) -> None:
    d = await daemon(peer.url, "    policy:\n      drop_image_roles: [face_crop]\n")
    await add_face(d)
    await wait_backlog(d, 0, 10)
    (face,) = [r.obj for r in peer.received]
    types = [im["Type"] for im in face["SubImageList"]["SubImageInfoObject"]]
    assert types == ["14"]


async def test_a_plates_only_uplink_is_owed_no_face(peer: ViidPeer, daemon: DaemonFactory) -> None:
    d = await daemon(peer.url, "    kinds: [plate]\n")
    await add_face(d)
    await add_plate(d, 1)
    await wait_backlog(d, 0, 10)
    assert [r.endpoint for r in peer.received] == ["/VIID/MotorVehicles"]
    assert not peer.violations


async def test_who_the_gallery_says_a_face_is_never_goes_out(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    d = await daemon(peer.url)
    scene = await d.store.save_image(scene_jpeg(), "scene")
    crop = await d.store.save_image(face_jpeg(), "face_crop")
    match = {"result": "resident", "gallery": "residents", "name": "张三", "person_id": "r-1017"}
    body = {"camera": "gate-in", "match": match, "confidence": 0.93, "box": [10, 20, 110, 140]}
    await d.store.add_event(Event("face", "gate-in", body, (crop, scene)))
    await wait_backlog(d, 0, 10)
    (face,) = [r.obj for r in peer.received]
    wire = json.dumps(face, ensure_ascii=False)
    assert "张三" not in wire and "r-1017" not in wire and "residents" not in wire
    assert not peer.violations


async def test_unregisters_on_shutdown_and_logs_a_403(
    peer: ViidPeer, daemon: DaemonFactory, daemons: Daemons, caplog: pytest.LogCaptureFixture
) -> None:
    d = await daemon(peer.url)
    await wait_for(lambda: health(d)["state"] == "connected", 10, "registration")
    await daemons.stop(d)
    assert peer.unregistered == [GATEWAY_DEVICE]

    d2 = await daemon(peer.url)
    await wait_for(lambda: health(d2)["registrations"] == 1, 10, "registration")
    peer.forget()
    with caplog.at_level(logging.INFO, logger="edge.uplinks.gat1400.sender"):
        await daemons.stop(d2)
    assert any("403" in r.getMessage() for r in caplog.records)


async def test_edge_queue_shows_parked_objects_and_the_clock_offset(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    import asyncio
    import subprocess
    import sys

    from gat_helpers import REPO

    peer.next_codes = [4]
    d = await daemon(peer.url)
    await add_plate(d, 1)
    await wait_backlog(d, 0, 10)
    assert len(await d.store.parked("viid")) == 1
    # The health section refreshes its outbox figures every few seconds.
    await wait_for(lambda: bool(health(d)["parked_recent"]), 15, "parked records in health")
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "edge", "queue", "--url", f"http://127.0.0.1:{d.web.port}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    (row,) = [line for line in out.stdout.splitlines() if line.startswith("viid ")]
    assert row.split()[1] == "connected" and row.split()[8] == "1"  # PARKED
    assert "clock offset to the peer: " in out.stdout
    assert "StatusCode 4 (invalid_operation) 无效操作" in out.stdout


async def test_a_register_refused_with_a_status_code_is_retried(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    peer.register_code = 9  # rebooting
    d = await daemon(peer.url)
    await add_plate(d, 1)
    await wait_for(lambda: health(d)["failed_attempts"] >= 2, 10, "refused registrations")
    assert "StatusCode 9 (rebooting)" in health(d)["last_error"]
    peer.register_code = 0
    await wait_backlog(d, 0, 10)
    assert health(d)["state"] == "connected"


async def test_a_keepalive_answered_with_a_status_code_re_registers(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    d = await daemon(peer.url, "    keepalive_s: 0.1\n")
    await wait_for(lambda: health(d)["keepalives"] >= 1, 10, "a keepalive")
    peer.keepalive_code = 4
    await wait_for(lambda: health(d)["failed_attempts"] >= 1, 10, "the keepalive failure")
    peer.keepalive_code = 0
    await wait_for(lambda: health(d)["registrations"] >= 2, 10, "a second registration")


async def test_the_clock_alarm_closes_when_the_clocks_agree_again(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    peer.skew_s = 60
    d = await daemon(peer.url, "    time_sync_interval_s: 0.1\n")

    async def open_clock_alarms() -> int:
        return sum(a["key"] == "gat1400:viid:clock" for a in await d.store.alarms(state="raised"))

    await wait_for(lambda: (health(d)["time_offset_s"] or 0) > 58, 10, "the offset measured")
    deadline = asyncio.get_running_loop().time() + 10
    while await open_clock_alarms() != 1:
        assert asyncio.get_running_loop().time() < deadline, "no clock alarm"
        await asyncio.sleep(0.05)
    peer.skew_s = 0
    await wait_for(lambda: abs(health(d)["time_offset_s"]) < 2, 10, "the offset back to 0")
    while await open_clock_alarms() != 0:
        assert asyncio.get_running_loop().time() < deadline + 10, "the clock alarm stayed open"
        await asyncio.sleep(0.05)
    assert "problems" not in health(d)
