"""The local API of a running daemon: health, events in and out, alarms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from webauth import daemon_headers

from edge.app import Daemon
from edge.config import parse_config
from edge.events import ImageRole
from edge.payloads import PlatePayload


@pytest.fixture
async def daemon(minimal_yaml: str) -> AsyncIterator[tuple[Daemon, str]]:
    d = Daemon(parse_config(minimal_yaml, "edge.yaml", {}))
    await d.start()
    yield d, f"http://127.0.0.1:{d.web.port}"
    await d.stop()


async def test_health_lists_every_task(daemon: tuple[Daemon, str]) -> None:
    _, url = daemon
    async with (
        aiohttp.ClientSession(headers=daemon_headers(daemon[0])) as http,
        http.get(f"{url}/api/health") as resp,
    ):
        doc = await resp.json()
    assert resp.status == 200 and doc["status"] == "ok"
    names = {t["name"] for t in doc["tasks"]}
    assert {"store.writer", "store.retention", "web", "watchdog"} <= names
    assert all(t["state"] == "running" for t in doc["tasks"])


async def test_health_is_degraded_when_a_task_keeps_failing(daemon: tuple[Daemon, str]) -> None:
    d, url = daemon

    async def broken() -> None:
        raise RuntimeError("camera gone")

    d.supervisor.spawn("camera.gate1", broken)
    async with aiohttp.ClientSession(headers=daemon_headers(daemon[0])) as http:
        for _ in range(200):
            async with http.get(f"{url}/api/health") as resp:
                doc = await resp.json()
            if doc["status"] == "degraded":
                break
    assert resp.status == 503
    assert "task camera.gate1 is restarting" in doc["problems"]


async def test_events_posted_are_listed_with_filters(daemon: tuple[Daemon, str]) -> None:
    _, url = daemon
    async with aiohttp.ClientSession(headers=daemon_headers(daemon[0])) as http:
        ids = []
        plate = {"camera": "door1", "plate": "苏A12345", "confidence": 0.97}
        for i, kind in enumerate(["access", "plate", "access"]):
            data = plate if kind == "plate" else {"n": i}  # access keeps fields of its own
            body = {"kind": kind, "source": "door1", "data": data}
            async with http.post(f"{url}/api/events", json=body) as resp:
                assert resp.status == 201
                ids.append((await resp.json())["id"])
        async with http.get(f"{url}/api/events", params={"kind": "access", "limit": "1"}) as resp:
            doc = await resp.json()
        assert [e["id"] for e in doc["events"]] == [ids[2]]
        assert doc["events"][0]["ts"].endswith("+08:00")
        async with http.get(f"{url}/api/events", params={"since": "1h"}) as resp:
            assert len((await resp.json())["events"]) == 3
        async with http.get(f"{url}/api/events", params={"limit": "0"}) as resp:
            assert resp.status == 400
        async with http.post(f"{url}/api/events", json={"kind": "x"}) as resp:
            assert resp.status == 400 and "source" in (await resp.json())["error"]
        for bad, word in (
            ({"kind": "plates", "source": "door1", "data": plate}, "unknown event kind"),
            ({"kind": "plate", "source": "door1", "data": {"n": 1}}, "plate"),
            ({"kind": "plate", "source": "door1", "data": {**plate, "plate": 7}}, "'plate'"),
        ):
            async with http.post(f"{url}/api/events", json=bad) as resp:
                assert resp.status == 400 and word in (await resp.json())["error"], bad
        body = {"id": ids[0], "kind": "access", "source": "door1", "data": {}}
        async with http.post(f"{url}/api/events", json=body) as resp:
            assert resp.status == 200 and (await resp.json())["duplicate"] is True


async def test_alarm_acknowledged_through_the_api_is_audited(
    daemon: tuple[Daemon, str], tmp_path: Path
) -> None:
    d, url = daemon
    alarm = await d.store.raise_alarm("water:b2", "wl-b2", "地下车库水位超限", severity="critical")
    async with aiohttp.ClientSession(headers=daemon_headers(daemon[0])) as http:
        async with http.post(f"{url}/api/alarms/{alarm.id}/ack", json={}) as resp:
            assert resp.status == 400
        async with http.post(f"{url}/api/alarms/{alarm.id}/ack", json={"by": "李四"}) as resp:
            assert resp.status == 200
        async with http.post(f"{url}/api/alarms/{alarm.id}/ack", json={"by": "李四"}) as resp:
            assert resp.status == 409
        async with http.get(f"{url}/api/alarms") as resp:
            [row] = (await resp.json())["alarms"]
    assert row["state"] == "acknowledged" and row["acked_by"] == "李四"
    audit = await d.store.audit_entries()
    assert [(a["actor"], a["action"], a["detail"]["outcome"]) for a in audit] == [
        ("cli:李四", "alarm.ack", "refused"),
        ("cli:李四", "alarm.ack", "done"),
    ]


async def test_the_page_and_event_images_are_served_by_event_and_nothing_outside(
    daemon: tuple[Daemon, str],
) -> None:
    d, url = daemon
    ref = await d.store.save_image(b"\xff\xd8crop", ImageRole.PLATE_CROP)
    assert ref.path.startswith("images/")
    plate = PlatePayload(camera="gate1", plate="苏A12345", confidence=0.9)
    event = await d.rt.flow.emit(plate.event("gate1", images=(ref,)))
    async with aiohttp.ClientSession(headers=daemon_headers(d)) as http:
        async with http.get(f"{url}/") as resp:
            assert resp.status == 200 and "<html" in await resp.text()
        async with http.get(f"{url}/api/events/{event.id}/images/0") as resp:
            assert resp.status == 200 and await resp.read() == b"\xff\xd8crop"
        (d.store.data_dir / "secret.txt").write_text("no")
        for probe in (
            f"/api/events/{event.id}/images/1",
            f"/api/events/{event.id}/images/-1",
            f"/api/events/{event.id}/images/%2e%2e",
            "/api/events/nope/images/0",
            f"/api/{ref.path}",
            "/api/images/../secret.txt",
        ):
            async with http.get(f"{url}{probe}") as resp:
                assert resp.status == 404, probe
