"""The daemon end to end: a lift camera (a composed MP4 of a real motorcycle entering,
standing, leaving) with the e-bike rule; the alarm carries its crop and scene, the lift
relay on the Modbus simulator is held while the e-bike is inside and released after."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import videos
from harness import FACADE, LANE, LIFT
from prereqs import MODELS as MODELS_NEEDED
from prereqs import SHARED_MIRROR, needs

from edge.app import Daemon
from edge.config import parse_config
from edge.sim.modbus import ModbusSimulator, RelaySpec
from edge.store import Store

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"

pytestmark = [
    pytest.mark.slow,
    needs((MODELS / "manifest.yaml").exists(), *MODELS_NEEDED),
    needs(videos.OBJECTS.is_dir(), *SHARED_MIRROR),
]

CONFIG = """\
config_version: 1
site: {{name: 测试小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data}}}
web: {{listen: "127.0.0.1:0"}}
vision: {{models_dir: {models}, manifest: {models}/manifest.yaml, cpu_workers: 1}}
buses:
  - {{id: lift-bus, type: modbus_tcp, host: "{host}", port: {port}, timeout_s: 0.5}}
devices:
  - {{id: lift1, type: modbus_relay, bus: lift-bus, unit: 7, coil: 1, pulse_s: 0.2,
      poll_interval_s: 0.5}}
cameras:
  - id: lift-a
    kind: file
    path: {video}
    fps: 4
    loop: false
    analysis_fps: 4
    pipelines: [objects]
    object_classes: [person, bicycle, motorcycle]
    motion_gate: {{enabled: false}}
    rules:
      - type: ebike_in_lift
        zone: {{name: lift car, points: {zone}}}
        min_s: 2
        clear_s: 2
        relay: lift1
"""


async def until(fn: Callable[[], Awaitable[Any]], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = await fn()
        if got:
            return got
        await asyncio.sleep(0.1)
    pytest.fail(f"no {what} after {timeout_s}s")


async def test_ebike_in_lift_alarm_and_relay(tmp_path: Path) -> None:
    video = tmp_path / "lift.mp4"
    videos.write_mp4(videos.enters_and_leaves("motorcycle", "lift", stay_s=5.0), video, 4.0)
    async with ModbusSimulator([], relays=[RelaySpec(7)]) as sim:
        host, port = await sim.start_tcp()
        text = CONFIG.format(
            data=tmp_path / "data", models=MODELS, host=host, port=port, video=video, zone=LIFT
        )
        d = Daemon(parse_config(text, "edge.yaml", {}))
        board = sim.relay(7)
        await d.start()
        try:

            async def raised() -> list[dict[str, Any]]:
                return [
                    e
                    for e in await d.store.events(kind="alarm", limit=50)
                    if e["data"]["state"] == "raised"
                ]

            (alarm,) = await until(raised, 60, "e-bike alarm")
            await until(lambda: _true(board.coils[1]), 10, "relay held")

            async def closed() -> list[dict[str, Any]]:
                return [
                    e
                    for e in await d.store.events(kind="alarm", limit=50)
                    if e["data"]["state"] == "closed"
                ]

            await until(closed, 60, "alarm cleared")
            await until(lambda: _true(not board.coils[1]), 10, "relay released")
            audit = await d.store.audit_entries(20)
        finally:
            await d.stop()
    assert alarm["data"]["key"] == "scene:lift-a:ebike_in_lift"
    assert alarm["data"]["data"]["label"] == "motorcycle"
    assert {im["role"] for im in alarm["images"]} == {"object_crop", "scene"}
    for im in alarm["images"]:
        assert (tmp_path / "data" / im["path"]).stat().st_size > 1000
    actions = [a["action"] for a in audit]
    assert "gate.hold" in actions and "gate.release" in actions


async def _true(v: bool) -> bool:
    return v


async def test_a_relay_left_on_is_released_at_start_and_a_held_one_at_stop(
    tmp_path: Path,
) -> None:
    """A crash left the lift relay on: the daemon releases it at start (no rule holds it
    yet); a rule then holds it for an e-bike standing in the lift, and a stop while the
    e-bike is still there releases it (nothing would, once the daemon is gone)."""
    from pymodbus.client import AsyncModbusTcpClient

    video = tmp_path / "lift.mp4"
    videos.write_mp4(videos.stands("motorcycle", "lift", seconds=120, fps=4.0), video, 4.0)
    async with ModbusSimulator([], relays=[RelaySpec(7)]) as sim:
        host, port = await sim.start_tcp()
        board = sim.relay(7)
        other = AsyncModbusTcpClient(host, port=port)  # the run that crashed
        await other.connect()
        await other.write_coil(1, True, device_id=7)
        other.close()
        assert board.coils[1]
        text = CONFIG.format(
            data=tmp_path / "data", models=MODELS, host=host, port=port, video=video, zone=LIFT
        )
        d = Daemon(parse_config(text, "edge.yaml", {}))
        await d.start()
        try:

            async def audit(action: str) -> list[dict[str, Any]]:
                return await d.store.audit_entries(action=action)

            [released] = await until(lambda: audit("gate.release"), 10, "release at start")
            assert released["actor"] == "system:scene" and released["target"] == "lift1"
            assert "daemon start" in released["detail"]["reason"]
            await until(lambda: audit("gate.hold"), 60, "relay held for the e-bike")
            assert board.coils[1]
            writes_before_stop = len(board.writes)
        finally:
            await d.stop()
        assert not board.coils[1], "the lift relay stayed on after the daemon stopped"
        assert board.writes[writes_before_stop:][-1][1:] == (1, False)
    store = Store(tmp_path / "data")  # the audit the stop left behind
    await store.open()
    writer = asyncio.create_task(store.run_writer())
    try:
        releases = await store.audit_entries(action="gate.release")
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await store.close()
    last = releases[0]  # newest first
    assert last["actor"] == "system:scene" and "daemon stopping" in last["detail"]["reason"]
    assert last["detail"]["outcome"] == "done"


FACADES = """\
config_version: 1
site: {{name: 测试小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data}}}
web: {{listen: "127.0.0.1:0"}}
cameras:
{cameras}
"""

FACADE_CAMERA = """\
  - id: {id}
    kind: file
    path: {video}
    fps: 25
    loop: false
    rules:
      - type: falling_object
        zone: {{name: tower A, points: {zone}}}
        metres_per_px: 0.05
"""


async def test_falling_object_alarm_with_a_frame_strip_and_the_bird_ignored(
    tmp_path: Path,
) -> None:
    cams = []
    for cid, frames in (("tower-a", videos.drop()), ("tower-b", videos.bird())):
        video = tmp_path / f"{cid}.mp4"
        videos.write_mp4(frames, video, 25.0)
        cams.append(FACADE_CAMERA.format(id=cid, video=video, zone=FACADE))
    text = FACADES.format(data=tmp_path / "data", cameras="".join(cams))
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    try:

        async def raised() -> list[dict[str, Any]]:
            return [
                e
                for e in await d.store.events(kind="alarm", limit=50)
                if e["data"]["state"] == "raised"
            ]

        (alarm,) = await until(raised, 60, "falling-object alarm")

        async def played() -> bool:
            health = d.rt.services["cameras"]
            return all(w.falling.frames + w.falling.dropped >= 40 for w in health.values())

        await until(played, 60, "both façades played")
        alarms = await raised()
    finally:
        await d.stop()
    assert len(alarms) == 1, alarms
    assert alarm["source"] == "tower-a"
    assert alarm["data"]["key"].startswith("scene:tower-a:falling_object:")
    assert 4.9 <= alarm["data"]["data"]["accel_m_s2"] <= 14.7
    assert {im["role"] for im in alarm["images"]} == {"object_crop", "scene"}


DWELL_CAMERA = """\
  - id: {id}
    kind: file
    path: {video}
    fps: 2
    loop: false
    analysis_fps: 2
    pipelines: {pipelines}
    motion_gate: {{enabled: false}}
    rules:
      - type: {rule}
        zone: {{name: {zone_name}, points: {zone}}}
        min_s: 4
        clear_s: 2
"""


async def test_fire_lane_and_loitering_raise_and_clear(tmp_path: Path) -> None:
    """The fire lane's alarm names the parked car's plate: read while it stands there (its
    plate pass only ends when it leaves, long after the alarm)."""
    cams = []
    for cid, rule, frames, zone, pipelines in (
        ("lane-n", "fire_lane", videos.parked(seconds=8.0), LANE, "[objects, plates]"),
        ("stair-2", "loitering", videos.stands("person", "lift", seconds=8.0), LIFT, "[objects]"),
    ):
        video = tmp_path / f"{cid}.mp4"
        videos.write_mp4(frames, video, 2.0)
        cams.append(
            DWELL_CAMERA.format(
                id=cid, video=video, rule=rule, zone_name=rule, zone=zone, pipelines=pipelines
            )
        )
    text = FACADES.format(data=tmp_path / "data", cameras="".join(cams)).replace(
        "storage:", f"vision: {{models_dir: {MODELS}, manifest: {MODELS}/manifest.yaml}}\nstorage:"
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    try:

        async def both_closed() -> list[dict[str, Any]]:
            events = await d.store.events(kind="alarm", limit=50)
            closed = {e["data"]["key"] for e in events if e["data"]["state"] == "closed"}
            return events if len(closed) == 2 else []

        events = await until(both_closed, 90, "both alarms raised and cleared")
    finally:
        await d.stop()
    steps = sorted((e["data"]["key"], e["data"]["state"]) for e in events)
    assert steps == [
        ("scene:lane-n:fire_lane", "closed"),
        ("scene:lane-n:fire_lane", "raised"),
        ("scene:stair-2:loitering", "closed"),
        ("scene:stair-2:loitering", "raised"),
    ]
    lane = next(e for e in events if e["source"] == "lane-n" and e["data"]["state"] == "raised")
    assert {im["role"] for im in lane["images"]} == {"vehicle_crop", "scene"}
    assert lane["data"]["data"]["plate"] == videos.PARKED[1]


async def test_an_alarm_left_open_by_the_previous_run_is_closed_at_start(tmp_path: Path) -> None:
    """The daemon stopped while a car stood in the fire lane; it left before the restart.
    Nothing would ever clear that alarm (the rule starts watching afresh and never raises
    it), so the guards would see a blocked lane for good: the start closes it, and a rule
    whose condition still stands raises again after its `min_s`. A camera no longer in
    the config (lane-s) leaves its zone-rule alarm to the same sweep; falling objects stay."""
    store = Store(tmp_path / "data")
    await store.open()
    writer = asyncio.create_task(store.run_writer())
    try:
        await store.raise_alarm("scene:lane-n:fire_lane", "lane-n", "消防通道占用 car", "warning")
        fall = {"type": "falling_object"}  # the guards close those
        await store.raise_alarm("scene:lane-n:drop:1", "lane-n", "高空抛物", "critical", fall)
        await store.raise_alarm("scene:lane-s:fire_lane", "lane-s", "a removed camera", "warning")
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await store.close()
    video = tmp_path / "lane.mp4"
    videos.write_mp4(videos.stands("car", "lane", seconds=0.0), video, 2.0)  # the empty lane
    camera = DWELL_CAMERA.format(
        id="lane-n", video=video, rule="fire_lane", zone_name="lane", zone=LANE,
        pipelines="[objects]",
    )  # fmt: skip
    text = FACADES.format(data=tmp_path / "data", cameras=camera).replace(
        "storage:", f"vision: {{models_dir: {MODELS}, manifest: {MODELS}/manifest.yaml}}\nstorage:"
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    try:

        async def closed() -> list[dict[str, Any]]:
            return [
                a for a in await d.store.alarms(limit=10) if a["key"] == "scene:lane-n:fire_lane"
                and a["state"] == "closed"
            ]  # fmt: skip

        [gone] = await until(closed, 30, "the stale fire-lane alarm closed")
        alarms = {a["key"]: a for a in await d.store.alarms(limit=10)}
    finally:
        await d.stop()
    assert gone["closed_by"] == "system:scene"
    assert alarms["scene:lane-n:drop:1"]["state"] == "raised"
    assert alarms["scene:lane-s:fire_lane"]["state"] == "closed"
    assert alarms["scene:lane-s:fire_lane"]["closed_by"] == "system:scene"
