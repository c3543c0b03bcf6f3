"""The UHPPOTE bytes, against the shared vectors (uhppoted-codegen's captured packets).

Two independent sides are checked: the `uhppoted` package the driver speaks through (its
requests must be the vectors' bytes and its decoding the vectors' values), and the simulator
the demo and the tests run (its replies to the vectors' requests must be the vectors'
replies). A mistake in either cannot hide behind the other.
"""

from __future__ import annotations

import datetime as dt
import json
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from uhppoted import decode, encode

from edge.sim.uhppote import UhppoteSimulator

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SERIAL = 405419896


def _vectors() -> dict[str, dict[str, Any]]:
    path = SHARED / "protocols" / "vectors" / "access_control.json"
    entries = json.loads(path.read_text(encoding="utf-8"))
    return {
        e["name"].removeprefix("UHPPOTE/WG short packet: "): e
        for e in entries
        if e["name"].startswith("UHPPOTE")
    }


VECTORS = _vectors()


def _req(name: str) -> bytes:
    return bytes.fromhex(VECTORS[name]["hex"]["request"])


def _resp(name: str) -> bytes:
    return bytes.fromhex(VECTORS[name]["hex"]["response"])


def _dt(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


REQUESTS = {
    "get controller": lambda v: encode.get_controller_request(SERIAL),
    "set IPv4": lambda v: encode.set_ip_request(
        SERIAL, IPv4Address(v["address"]), IPv4Address(v["netmask"]), IPv4Address(v["gateway"])
    ),
    "get time": lambda v: encode.get_time_request(SERIAL),
    "set time": lambda v: encode.set_time_request(SERIAL, _dt(v["datetime"])),
    "get listener": lambda v: encode.get_listener_request(SERIAL),
    "set listener": lambda v: encode.set_listener_request(
        SERIAL, IPv4Address(v["address"]), int(v["port"]), int(v["interval"])
    ),
    "get door": lambda v: encode.get_door_control_request(SERIAL, int(v["door"])),
    "set door": lambda v: encode.set_door_control_request(
        SERIAL, int(v["door"]), int(v["mode"]), int(v["delay"])
    ),
    "open door": lambda v: encode.open_door_request(SERIAL, int(v["door"])),
    "get event index": lambda v: encode.get_event_index_request(SERIAL),
    "set event index": lambda v: encode.set_event_index_request(SERIAL, int(v["index"])),
    "delete card": lambda v: encode.delete_card_request(SERIAL, int(v["card"])),
    "get card at index": lambda v: encode.get_card_by_index_request(SERIAL, int(v["index"])),
    "record special events": lambda v: encode.record_special_events_request(
        SERIAL, v["enabled"] == "true"
    ),
    "get antipassback": lambda v: encode.get_antipassback_request(SERIAL),
    "set antipassback": lambda v: encode.set_antipassback_request(SERIAL, int(v["antipassback"])),
    "set interlock": lambda v: encode.set_interlock_request(SERIAL, int(v["interlock"])),
    "set pc control": lambda v: encode.set_pc_control_request(SERIAL, v["enabled"] == "true"),
    "restore default parameters": lambda v: encode.restore_default_parameters_request(SERIAL),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_uhppoted_builds_the_vector_request(name: str) -> None:
    values = VECTORS[name]["decoded"]["request_values"]
    assert bytes(REQUESTS[name](values)) == _req(name)


def test_every_vector_the_gateway_sends_is_checked() -> None:
    used = {"get controller", "set time", "set listener", "open door", "get event index"}
    assert used <= set(REQUESTS)
    assert len(VECTORS) == 30


def test_uhppoted_decodes_the_vector_replies() -> None:
    info = decode.get_controller_response(_resp("get controller"))
    want = VECTORS["get controller"]["decoded"]["response_values"]
    assert info.controller == SERIAL
    assert str(info.ip_address) == want["ip address"]
    assert info.mac_address == want["MAC address"]
    assert info.version == want["version"]
    assert str(info.date) == want["date"]

    t = decode.get_time_response(_resp("get time"))
    assert t.datetime == _dt(VECTORS["get time"]["decoded"]["response_values"]["date time"])

    lst = decode.get_listener_response(_resp("get listener"))
    want = VECTORS["get listener"]["decoded"]["response_values"]
    assert (str(lst.address), lst.port, lst.interval) == (
        want["address"],
        int(want["port"]),
        int(want["interval"]),
    )

    door = decode.get_door_control_response(_resp("get door"))
    assert (door.door, door.mode, door.delay) == (3, 2, 10)
    assert decode.open_door_response(_resp("open door")).opened is True
    assert decode.get_event_index_response(_resp("get event index")).event_index == 37
    assert decode.set_listener_response(_resp("set listener")).ok is True


def _sim() -> UhppoteSimulator:
    sim = UhppoteSimulator(serial=SERIAL, host="192.168.1.100")
    sim.listener = ("192.168.1.100", 60001)
    sim.listener_interval_s = 15
    sim.door_mode[3] = (2, 10)
    sim.index_marker = 37
    return sim


@pytest.mark.parametrize(
    "name",
    ["get listener", "set listener", "get door", "set door", "get event index", "set event index"],
)
def test_simulator_answers_like_the_vector(name: str) -> None:
    sim = _sim()
    sim._push = lambda event: None  # type: ignore[method-assign]  # no socket here
    assert sim.handle(_req(name)) == _resp(name)


def test_simulator_get_controller_and_set_time_match_the_vector_layout() -> None:
    sim = _sim()
    reply = sim.handle(_req("get controller"))
    assert reply is not None
    # Network, MAC, version and date fields at the vector's offsets (the gateway differs).
    assert reply[:16] == _resp("get controller")[:16]
    assert reply[20:32] == _resp("get controller")[20:32]
    assert sim.handle(_req("set time")) == _resp("set time")
    assert sim.now().strftime("%Y-%m-%d %H:%M") == "2022-08-23 09:49"


async def test_simulator_opens_a_door_like_the_vector() -> None:
    sim = _sim()
    sim._push = lambda event: None  # type: ignore[method-assign]
    assert sim.handle(_req("open door")) == _resp("open door")
    assert sim.opened == [3]
    assert sim.door_open(3)


def test_simulator_ignores_other_controllers_and_garbage() -> None:
    sim = _sim()
    other = bytearray(_req("get time"))
    other[4:8] = (1).to_bytes(4, "little")
    assert sim.handle(bytes(other)) is None
    assert sim.handle(b"\x17\x32" + b"\x00" * 10) is None
    bad_magic = bytearray(_req("set event index"))
    bad_magic[12:16] = b"\x00\x00\x00\x00"
    assert sim.handle(bytes(bad_magic)) is None
