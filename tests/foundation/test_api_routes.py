"""The local API's other routes and refusals, as a guard's page or a bridge would meet them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from webauth import daemon_headers

from edge.app import Daemon
from edge.config import parse_config


@pytest.fixture
async def api(minimal_yaml: str) -> AsyncIterator[tuple[Daemon, aiohttp.ClientSession, str]]:
    d = Daemon(parse_config(minimal_yaml, "edge.yaml", {}))
    await d.start()
    async with aiohttp.ClientSession(headers=daemon_headers(d)) as http:
        yield d, http, f"http://127.0.0.1:{d.web.port}"
    await d.stop()


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kw: Any
) -> tuple[int, dict[str, Any]]:
    async with http.request(method, url, **kw) as resp:
        return resp.status, await resp.json()


async def test_an_event_is_fetched_by_id_and_an_unknown_id_is_404(
    api: tuple[Daemon, aiohttp.ClientSession, str],
) -> None:
    _, http, url = api
    body = {
        "kind": "access",
        "source": "door1",
        "data": {"card": "7"},
        "ts": "2026-01-02T03:04:05+08:00",
    }
    status, made = await call(http, "POST", f"{url}/api/events", json=body)
    assert status == 201
    status, ev = await call(http, "GET", f"{url}/api/events/{made['id']}")
    assert status == 200 and ev["data"] == {"card": "7"} and ev["source"] == "door1"
    assert ev["ts"].startswith("2026-01-02T03:04:05")
    status, doc = await call(http, "GET", f"{url}/api/events/0190d1d0-0000-7000-8000-000000000000")
    assert (status, doc) == (404, {"error": "no such event"})
    # The same id again is a duplicate, not a second event.
    again = {**body, "id": made["id"]}
    status, dup = await call(http, "POST", f"{url}/api/events", json=again)
    assert (status, dup) == (200, {"id": made["id"], "duplicate": True})


@pytest.mark.parametrize(
    ("body", "why"),
    [({"source": "door1"}, "kind"), ({"kind": "", "source": "x"}, "non-empty"),
     ({"kind": "a", "source": "x", "data": [1]}, "data must be an object"),
     ({"kind": "a", "source": "x", "ts": "2026-01-02T03:04:05"}, "ts needs an offset")],
)  # fmt: skip
async def test_a_bad_event_is_refused_with_the_reason(
    api: tuple[Daemon, aiohttp.ClientSession, str], body: dict[str, Any], why: str
) -> None:
    _, http, url = api
    status, doc = await call(http, "POST", f"{url}/api/events", json=body)
    assert status == 400 and doc["error"].startswith("bad event") and why in doc["error"]


@pytest.mark.parametrize(
    ("query", "why"), [("limit=0", "limit must be"), ("limit=x", "limit must be"),
                       ("limit=1001", "limit must be"), ("since=soonish", "since:")]
)  # fmt: skip
async def test_bad_list_queries_are_400(
    api: tuple[Daemon, aiohttp.ClientSession, str], query: str, why: str
) -> None:
    _, http, url = api
    status, doc = await call(http, "GET", f"{url}/api/events?{query}")
    assert status == 400 and doc["error"].startswith(why)


async def test_an_alarm_is_acknowledged_then_closed_and_not_closed_twice(
    api: tuple[Daemon, aiohttp.ClientSession, str],
) -> None:
    d, http, url = api
    alarm = await d.store.raise_alarm("smoke:b3", "smoke-b3", "3号楼烟感报警", severity="critical")
    base = f"{url}/api/alarms/{alarm.id}"
    assert (await call(http, "POST", f"{base}/close", data="not json"))[0] == 400
    assert (await call(http, "POST", f"{base}/close", json={"by": "  "}))[0] == 400
    status, doc = await call(http, "POST", f"{base}/ack", json={"by": "王五"})
    assert status == 200 and doc["ok"] is True
    status, doc = await call(http, "POST", f"{base}/close", json={"by": "王五"})
    assert status == 200 and doc["ok"] is True
    status, doc = await call(http, "POST", f"{base}/close", json={"by": "王五"})
    assert status == 409 and "cannot be closed" in doc["error"]
    status, doc = await call(http, "POST", f"{url}/api/alarms/nope/ack", json={"by": "王五"})
    assert status == 409 and "cannot be acknowledged" in doc["error"]
    status, doc = await call(http, "POST", f"{base}/silence", json={"by": "王五"})
    assert status == 404 and "ack or close" in doc["error"]
    status, doc = await call(http, "GET", f"{url}/api/alarms?state=closed")
    assert [(a["id"], a["closed_by"]) for a in doc["alarms"]] == [(alarm.id, "王五")]
    assert (await call(http, "GET", f"{url}/api/alarms?state=raised"))[1] == {"alarms": []}
    audit = reversed(await d.store.audit_entries())
    assert [(a["actor"], a["action"], a["target"], a["detail"]["outcome"]) for a in audit] == [
        ("cli:王五", "alarm.ack", alarm.id, "done"),
        ("cli:王五", "alarm.close", alarm.id, "done"),
        ("cli:王五", "alarm.close", alarm.id, "refused"),  # refusals are audited too
        ("cli:王五", "alarm.ack", "nope", "refused"),
    ]


async def test_devices_lists_recorded_and_live_state(
    api: tuple[Daemon, aiohttp.ClientSession, str],
) -> None:
    d, http, url = api
    assert await call(http, "GET", f"{url}/api/devices") == (200, {"devices": [], "live": []})
    await d.store.set_device_state("meter-1", available=False, error="BusTimeout: no answer")
    status, doc = await call(http, "GET", f"{url}/api/devices")
    assert status == 200
    [row] = doc["devices"]
    assert row["device"] == "meter-1" and row["available"] in (0, False)


async def test_queue_lists_each_destination(
    api: tuple[Daemon, aiohttp.ClientSession, str],
) -> None:
    _, http, url = api
    status, doc = await call(http, "GET", f"{url}/api/queue")
    assert status == 200 and doc == {"destinations": []}


async def test_an_event_posted_while_the_store_stops_is_503_not_a_hang(
    api: tuple[Daemon, aiohttp.ClientSession, str],
) -> None:
    d, http, url = api
    d.store.writer.closed = True  # the state a stopping writer is in once producers are gone
    status, doc = await call(
        http, "POST", f"{url}/api/events", json={"kind": "access", "source": "x"}
    )
    assert status == 503 and "stopped" in doc["error"]
    d.store.writer.closed = False
