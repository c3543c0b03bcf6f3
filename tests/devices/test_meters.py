"""DL/T 645 and CJ/T 188 drivers on one simulated line, as the daemon runs them."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from drivers.cjt188 import Cjt188Config
from drivers.dlt645 import Dlt645Config
from edge.codecs import dlt645
from edge.events import Reading
from edge.fieldbus.meters import value_reading
from edge.sim.meters import MeterSimulator, MeterSpec, Protocol, SimConfig

HEALTHY = ["000000000001", "000000000002", "000000000003"]
DEAD = "000000000009"


@pytest.fixture
async def sim() -> AsyncIterator[MeterSimulator]:
    meters = [
        MeterSpec(a, Protocol.DLT645_2007, energy_kwh=100.0 + k) for k, a in enumerate(HEALTHY)
    ]
    meters += [MeterSpec(DEAD), MeterSpec("00201809230001", Protocol.CJT188, flow_total_m3=7.5)]
    async with MeterSimulator(SimConfig(meters=[dataclasses.replace(m) for m in meters])) as s:
        yield s


def line(port: int, **kw: Any) -> dict[str, Any]:
    return {
        "id": "rs1",
        "type": "serial",
        "port": f"socket://127.0.0.1:{port}",
        "timeout_s": 0.25,
        "retries": 2,
        "inter_frame_gap_s": 0.005,
        **kw,
    }


def meter(address: str, interval: float = 0.1, **kw: Any) -> dict[str, Any]:
    return {
        "id": f"m{address[-1]}",
        "type": "dlt645",
        "bus": "rs1",
        "address": address,
        "poll_interval_s": interval,
        "points": ["energy_active_forward_total"],
        **kw,
    }


async def test_readings_are_stored_published_and_recorded_as_events(
    sim: MeterSimulator, make_runtime: Any, wait_for: Any
) -> None:
    _, port = await sim.start_tcp()
    water = {
        "id": "w1",
        "type": "cjt188",
        "bus": "rs1",
        "address": "00201809230001",
        "poll_interval_s": 0.1,
    }
    rt = await make_runtime([line(port)], [meter(HEALTHY[0], points=[]), water])
    sub = rt.hub.subscribe("reading/", name="test")
    seen: dict[str, list[Reading]] = {}
    async with asyncio.timeout(10):
        while len(seen) < 2:
            topic, item = await sub.get()
            seen[topic] = item
    points = {r.point: r for r in seen["reading/m1"]}
    assert {"energy_active_forward_total", "voltage_a", "current_b", "power_active_total"} <= set(
        points
    )
    assert points["energy_active_forward_total"].unit == "kWh"
    assert 100.0 <= float(points["energy_active_forward_total"].value or 0) < 101
    water_points = {r.point: r.value for r in seen["reading/w1"]}
    assert water_points["valve"] == "open" and water_points["battery_low"] is False
    assert 7.5 <= float(water_points["flow_total"] or 0) < 8  # type: ignore[arg-type]
    events = await wait_for(lambda: rt.store.events(kind="reading", source="w1"))
    assert events[0]["data"]["device"] == "w1"
    states = await wait_for(rt.store.device_states)
    assert {s["device"]: s["available"] for s in states} == {"m1": 1, "w1": 1}


async def test_a_silent_meter_delays_the_others_by_at_most_its_own_timeout(
    sim: MeterSimulator, make_runtime: Any, wait_for: Any
) -> None:
    """Three healthy meters and one that never answers share a 0.25 s-timeout line.

    Each healthy meter is polled every 0.1 s after its previous poll ends. Without
    isolation a dead meter with 2 retries would hold the line for 0.75 s at a time.
    With it, a healthy meter's gap between polls never exceeds its interval plus
    the other healthy polls plus one timeout, and the dead one gets a single
    attempt per backoff period.
    """
    sim.set_fault(DEAD, "silent")
    _, port = await sim.start_tcp()
    devices = [meter(a) for a in [*HEALTHY, DEAD]]
    rt = await make_runtime([line(port, backoff_initial_s=0.5, backoff_max_s=1.0)], devices)
    sub = rt.hub.subscribe("reading/", maxsize=10_000, name="test")
    dead = rt.services["device.m9"]
    stamps: dict[str, list[float]] = {f"m{a[-1]}": [] for a in HEALTHY}
    # Watch until the dead meter has used up several backoff periods.
    async with asyncio.timeout(20):
        while dead.failures < 5:
            topic, _ = await sub.get()
            stamps[topic.removeprefix("reading/")].append(time.monotonic())
    window = stamps["m1"][-1] - stamps["m1"][0]
    # interval + one timeout + the other meters' polls and scheduling slack on a busy CI box;
    # without isolation a gap is at least interval + 3 timeouts = 0.85 s
    bound = 0.1 + 0.25 + 0.25
    for device, ts in stamps.items():
        gaps = [b - a for a, b in itertools.pairwise(ts)]
        assert len(ts) >= window / bound, f"{device} polled {len(ts)} times in {window:.1f}s"
        assert max(gaps) < bound, f"{device}: longest gap {max(gaps):.3f}s"
    # One attempt per failed poll after the first (which had its retries), not 3 each.
    assert sim.stats.faults["silent"] <= 3 + (dead.failures - 1)
    status = rt.devices.status("m9")
    assert status.available is False and "BusTimeout" in (status.last_error or "")
    bus = rt.services["buses"].health()["rs1"]
    assert bus["open"] and bus["port_errors"] == 0

    # Healed, it is back within its backoff period and recorded as available again (the
    # tracker flips its flag before the store commits, so wait on what the store holds).
    sim.set_fault(DEAD, "none")

    async def m9_recorded_available() -> bool:
        states = {s["device"]: s["available"] for s in await rt.store.device_states()}
        return states.get("m9") == 1

    await wait_for(m9_recorded_available, timeout_s=5)
    assert rt.devices.status("m9").available is True
    changes = [
        e["data"]["available"] for e in reversed(await rt.store.events(kind="device", source="m9"))
    ]
    assert changes == [False, True]


async def test_first_polls_are_spread_over_the_interval(
    sim: MeterSimulator, make_runtime: Any, wait_for: Any
) -> None:
    _, port = await sim.start_tcp()
    devices = [meter(a, interval=1.0) for a in HEALTHY]
    rt = await make_runtime([line(port)], devices)
    sub = rt.hub.subscribe("reading/", name="test")
    began = time.monotonic()
    firsts: dict[str, float] = {}
    async with asyncio.timeout(5):
        while len(firsts) < 3:
            topic, _ = await sub.get()
            firsts.setdefault(topic, time.monotonic() - began)
    offsets = sorted(firsts.values())
    assert offsets[-1] - offsets[0] > 0.1, f"first polls bunched: {offsets}"


def test_meter_addresses_are_normalised_and_the_wildcard_is_refused() -> None:
    """An address as printed (spaces, an int) works; AA in it would take any meter's answer."""
    dlt = {"id": "m", "type": "dlt645", "bus": "rs1"}
    cjt = {"id": "w", "type": "cjt188", "bus": "rs1"}
    assert Dlt645Config.model_validate({**dlt, "address": 161}).address == "000000000161"
    assert Cjt188Config.model_validate({**cjt, "address": "0020 1809 2300 01"}).address == (
        "00201809230001"
    )
    with pytest.raises(ValidationError, match="wildcard AA"):
        Dlt645Config.model_validate({**dlt, "address": "0000000000AA"})
    with pytest.raises(ValidationError, match="wildcard AA"):
        Cjt188Config.model_validate({**cjt, "address": "AAAAAAAAAAAAAA"})
    with pytest.raises(ValidationError, match="12 BCD digits"):
        Dlt645Config.model_validate({**dlt, "address": "00000000016X"})


def test_a_field_the_meter_does_not_support_is_a_reading_marked_unsupported() -> None:
    """FF-filled phases of a single-phase meter stay visible (quality), not dropped or zero."""
    payload = dlt645.encode_data(0x0201FF00, [229.8, None, None])
    ts = datetime.now(UTC)
    readings = [value_reading("m1", v, ts) for v in dlt645.decode_data(0x0201FF00, payload)]
    assert [(r.point, r.value, r.quality) for r in readings] == [
        ("voltage_a", pytest.approx(229.8), "good"),
        ("voltage_b", None, "unsupported"),
        ("voltage_c", None, "unsupported"),
    ]
    assert {r.unit for r in readings} == {"V"}
